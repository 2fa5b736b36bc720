"""The evaluator keeps the rules between ticks: an edit in the admin (or anything that saves a rule,
a channel or a rule's channels) takes effect on the next tick; an edit that sends no signal within
RULES_MAX_AGE."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apps.alerts import evaluator
from apps.alerts.evaluator import evaluate
from apps.alerts.models import Alert, AlertRule, Notification, NotificationChannel
from apps.alerts.tests.helpers import T0, change, make_monitored_site, seconds
from apps.sites.models import Site

pytestmark = pytest.mark.django_db


def _rules_loaded_by_a_tick(site: Site) -> None:
    """A tick with work, so the evaluator has loaded (and keeps) the rules as they are now."""
    _, sensors = make_monitored_site(site, 1)
    change(sensors, "offline", T0, reason="missed 3 heartbeats")
    evaluate(now=T0 + seconds(1))
    change(sensors, "online", T0 + seconds(2), reason="listed in heartbeat")
    evaluate(now=T0 + seconds(3))
    assert not Alert.objects.exists()


def test_a_rule_edited_in_the_admin_takes_effect_on_the_next_tick(make_site: Callable[..., Site]) -> None:
    _rules_loaded_by_a_tick(make_site(code="A"))
    rule = AlertRule.objects.get(kind="sensor_offline")
    rule.for_seconds = 0  # was 300
    rule.save()
    _, sensors = make_monitored_site(make_site(code="B"), 1)
    change(sensors, "offline", T0 + seconds(10), reason="missed 3 heartbeats")

    evaluate(now=T0 + seconds(11))

    assert list(Alert.objects.values_list("kind", flat=True)) == ["sensor_offline"]


def test_a_channel_added_to_a_rule_is_notified_from_the_next_tick(make_site: Callable[..., Site]) -> None:
    _rules_loaded_by_a_tick(make_site(code="A"))
    channel = NotificationChannel.objects.create(name="ops", kind="email", email_addresses="o@example.com")
    AlertRule.objects.get(kind="sensor_offline").channels.add(channel)
    _, sensors = make_monitored_site(make_site(code="B"), 1)
    change(sensors, "offline", T0 + seconds(10), reason="missed 3 heartbeats")

    evaluate(now=T0 + seconds(400))

    assert list(Notification.objects.values_list("channel__name", flat=True)) == ["ops"]


def test_a_disabled_channel_is_no_longer_notified_from_the_next_tick(make_site: Callable[..., Site]) -> None:
    channel = NotificationChannel.objects.create(name="ops", kind="email", email_addresses="o@example.com")
    AlertRule.objects.get(kind="sensor_offline").channels.add(channel)
    _rules_loaded_by_a_tick(make_site(code="A"))
    channel.enabled = False
    channel.save()
    _, sensors = make_monitored_site(make_site(code="B"), 1)
    change(sensors, "offline", T0 + seconds(10), reason="missed 3 heartbeats")

    evaluate(now=T0 + seconds(400))

    assert Alert.objects.count() == 1
    assert not Notification.objects.exists()


def test_a_rule_changed_without_a_signal_takes_effect_once_the_loaded_rules_are_too_old(
    make_site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    _rules_loaded_by_a_tick(make_site(code="A"))
    AlertRule.objects.filter(kind="sensor_offline").update(for_seconds=0)  # no signal
    _, sensors = make_monitored_site(make_site(code="B"), 2)
    change(sensors[:1], "offline", T0 + seconds(10), reason="missed 3 heartbeats")
    evaluate(now=T0 + seconds(11))
    assert not Alert.objects.exists()  # the loaded rules still say 300 s

    later = evaluator.time.monotonic() + evaluator.RULES_MAX_AGE + 1
    monkeypatch.setattr(evaluator.time, "monotonic", lambda: later)
    change(sensors[1:], "offline", T0 + seconds(20), reason="missed 3 heartbeats")
    evaluate(now=T0 + seconds(21))

    assert Alert.objects.filter(kind="sensor_offline").count() == 2
