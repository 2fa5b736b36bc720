"""The evaluator with controlled time: one alert per silent site naming its sensors, one flapping
alert, suppression under a broader outage, maintenance silence, a fixed number of queries."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from apps.alerts.evaluator import evaluate
from apps.alerts.models import Alert, Condition, Notification
from apps.alerts.tests.helpers import (
    T0,
    change,
    channel_on_every_rule,
    log,
    make_monitored_site,
    seconds,
    site_comes_back,
    site_goes_silent,
)
from apps.sites.models import MaintenanceWindow, Site

pytestmark = pytest.mark.django_db


def test_a_site_going_silent_with_100_sensors_yields_one_alert_naming_them_and_one_recovery_notice(
    make_site: Callable[..., Site],
) -> None:
    channel_on_every_rule()
    site = make_site(name="Bridge")
    connection, sensors = make_monitored_site(site, 100)
    site_goes_silent(connection, sensors, T0)

    evaluate(now=T0 + seconds(2))
    evaluate(now=T0 + seconds(400))  # past the sensors' own 5 minutes: still the one alert

    (alert,) = Alert.objects.all()
    assert alert.kind == "heartbeat_missing"
    assert alert.severity == "critical"
    assert "Bridge" in alert.title
    assert alert.affected_sensors == [f"S{index:03d}" for index in range(100)]
    assert "S000" in alert.message
    assert list(Notification.objects.values_list("event", flat=True)) == ["opened"]

    site_comes_back(connection, sensors, T0 + seconds(600))
    evaluate(now=T0 + seconds(602))
    evaluate(now=T0 + seconds(1200))

    (alert,) = Alert.objects.all()
    assert alert.state == "resolved"
    assert alert.resolved_at == T0 + seconds(602)
    assert list(Notification.objects.values_list("event", flat=True)) == ["opened", "resolved"]


def test_a_sensor_flapping_10_times_in_5_minutes_yields_one_flapping_alert(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    _, sensors = make_monitored_site(site, 3)
    flapper = sensors[:1]
    for index in range(10):  # offline, online, … every 25 s, evaluated every 5 s
        at = T0 + seconds(25 * index)
        change(flapper, "offline" if index % 2 == 0 else "online", at, reason="missed 3 heartbeats")
        for tick in range(5):
            evaluate(now=at + seconds(5 * tick))

    (alert,) = Alert.objects.all()
    assert alert.kind == "flapping"
    assert alert.affected_sensors == ["S000"]
    assert "10 changes in 5 min" in alert.message

    evaluate(now=T0 + seconds(225 + 301))  # quiet for the whole window
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert Alert.objects.count() == 1


def test_a_sensor_offline_longer_than_its_rule_alerts_once_and_not_before(
    make_site: Callable[..., Site],
) -> None:
    _, sensors = make_monitored_site(make_site(), 5)
    change(sensors[2:3], "offline", T0, reason="missed 3 heartbeats")

    evaluate(now=T0 + seconds(299))
    assert not Alert.objects.exists()
    evaluate(now=T0 + seconds(301))
    evaluate(now=T0 + seconds(306))

    (alert,) = Alert.objects.all()
    assert (alert.kind, alert.affected_sensors, alert.severity) == ("sensor_offline", ["S002"], "warning")


def test_a_connection_down_raises_one_alert_and_no_heartbeat_or_sensor_alerts(
    make_site: Callable[..., Site],
) -> None:
    connection, sensors = make_monitored_site(make_site(), 20)
    log(connection, "disconnected", T0)
    log(connection, "connecting", T0 + seconds(1))
    evaluate(now=T0 + seconds(10))
    site_goes_silent(connection, sensors, T0 + seconds(30))
    evaluate(now=T0 + seconds(61))
    evaluate(now=T0 + seconds(400))

    (alert,) = Alert.objects.all()
    assert alert.kind == "connection_down"
    assert len(alert.affected_sensors) == 20

    log(connection, "connected", T0 + seconds(500))
    evaluate(now=T0 + seconds(501))  # the heartbeat has not resumed yet: it gets its timeout
    site_comes_back(connection, sensors, T0 + seconds(505))
    evaluate(now=T0 + seconds(506))
    evaluate(now=T0 + seconds(700))

    (alert,) = Alert.objects.all()
    assert alert.state == "resolved"


def test_a_connection_back_within_its_delay_raises_nothing(make_site: Callable[..., Site]) -> None:
    connection, _ = make_monitored_site(make_site(), 2)
    log(connection, "connecting", T0)
    evaluate(now=T0 + seconds(5))
    log(connection, "connected", T0 + seconds(40))
    evaluate(now=T0 + seconds(65))
    assert not Alert.objects.exists()


def test_alerts_during_maintenance_are_recorded_and_not_notified(make_site: Callable[..., Site]) -> None:
    channel_on_every_rule()
    site = make_site()
    connection, sensors = make_monitored_site(site, 10)
    MaintenanceWindow.objects.create(site=site, starts_at=T0 - seconds(60), ends_at=T0 + seconds(3600))
    site_goes_silent(connection, sensors, T0)
    evaluate(now=T0 + seconds(2))
    site_comes_back(connection, sensors, T0 + seconds(100))
    evaluate(now=T0 + seconds(102))

    (alert,) = Alert.objects.all()
    assert alert.in_maintenance
    assert alert.state == "resolved"
    assert not Notification.objects.exists()


def test_a_site_connection_flapping_10_times_in_5_minutes_yields_one_flapping_alert_for_the_site(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(name="Dock")
    connection, _ = make_monitored_site(site, 3)
    for index in range(10):  # disconnected, connected, … every 25 s, evaluated every 5 s
        at = T0 + seconds(25 * index)
        log(connection, "disconnected" if index % 2 == 0 else "connected", at)
        for tick in range(5):
            evaluate(now=at + seconds(5 * tick))

    (alert,) = Alert.objects.filter(kind="flapping")
    assert alert.sensor_id is None
    assert "Dock" in alert.title
    assert "10 changes in 5 min" in alert.message

    evaluate(now=T0 + seconds(225 + 301))  # quiet for the whole window
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_an_operator_stop_is_not_an_outage(make_site: Callable[..., Site]) -> None:
    connection, sensors = make_monitored_site(make_site(), 4)
    log(connection, "stopped", T0)
    log(connection, "disabled", T0)
    change(sensors, "offline", T0 + seconds(2), reason="monitoring disabled")
    evaluate(now=T0 + seconds(3))
    evaluate(now=T0 + seconds(3600))
    assert not Alert.objects.exists()


def _queries_for_a_tick(make_site: Callable[..., Site], *, sites: int, sensors: int) -> int:
    """Half the sites go silent (an alert each), in the other half every sensor goes offline on its
    own (a condition each, timed)."""
    at = T0 + seconds(sites * 10_000)  # each run later than the previous one's rows
    Condition.objects.all().delete()  # the previous run's sensors would be due now: not this run's load
    for index in range(sites):
        connection, devices = make_monitored_site(make_site(), sensors)
        if index % 2 == 0:
            site_goes_silent(connection, devices, at)
        else:
            change(devices, "offline", at, reason="missed 3 heartbeats")
    with CaptureQueriesContext(db) as queries:
        evaluate(now=at + seconds(5))
    return len(queries)


def _insert_batches(rows: int) -> int:
    """SQLite caps a statement's parameters (999): Django splits a bulk insert into batches of
    this many rows; PostgreSQL takes them in one."""
    fields = [field for field in Condition._meta.concrete_fields if not field.primary_key]
    return math.ceil(rows / db.ops.bulk_batch_size(fields, [Condition()] * rows))


def test_a_tick_runs_the_same_number_of_queries_whatever_the_number_of_sites_and_sensors(
    make_site: Callable[..., Site],
) -> None:
    channel_on_every_rule()
    evaluate(now=T0)  # the evaluator's row exists
    # The rules and their channels (two queries) are loaded by the first tick with work and kept
    # while unchanged (test_rules_reload.py): both measured ticks find them loaded.
    _queries_for_a_tick(make_site, sites=1, sensors=1)
    small = _queries_for_a_tick(make_site, sites=2, sensors=5)
    large = _queries_for_a_tick(make_site, sites=20, sensors=50)
    assert large - small == _insert_batches(10 + 10 * 50) - _insert_batches(1 + 1 * 5)
    assert Alert.objects.count() == 12


def test_sensors_still_offline_after_their_site_recovers_alert_on_their_own_from_the_recovery(
    make_site: Callable[..., Site],
) -> None:
    connection, sensors = make_monitored_site(make_site(), 10)
    site_goes_silent(connection, sensors, T0)
    evaluate(now=T0 + seconds(1))
    site_comes_back(connection, sensors[:8], T0 + seconds(600))  # two sensors stay offline
    evaluate(now=T0 + seconds(601))
    evaluate(now=T0 + seconds(600 + 299))
    assert set(Alert.objects.values_list("kind", "state")) == {("heartbeat_missing", "resolved")}

    evaluate(now=T0 + seconds(600 + 301))

    sensor_alerts = Alert.objects.filter(kind="sensor_offline").order_by("affected_sensors")
    assert [alert.affected_sensors for alert in sensor_alerts] == [["S008"], ["S009"]]


def test_a_quiet_tick_with_nothing_down_reads_two_things_and_writes_nothing(
    make_site: Callable[..., Site],
) -> None:
    make_monitored_site(make_site(), 100)
    evaluate(now=T0)
    with CaptureQueriesContext(db) as queries:
        evaluate(now=T0 + seconds(5))
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    # The evaluator's row; the new logs and changes and the conditions, one statement since they
    # are read together (it was 4: each of the three on its own).
    assert statements.count("SELECT") == 2
    assert set(statements) == {"SAVEPOINT", "SELECT", "RELEASE"}
