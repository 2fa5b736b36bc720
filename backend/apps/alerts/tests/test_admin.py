"""The admin of channels and rules: secrets write-only, the test notification, default rules."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from apps.alerts.models import AlertRule, Notification, NotificationChannel

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def test_a_webhook_secret_is_stored_encrypted_and_never_shown_back(admin: Client) -> None:
    response = admin.post(
        "/admin/alerts/notificationchannel/add/",
        {"name": "hook", "kind": "webhook", "enabled": "on", "webhook_url": "https://example.org/h",
         "new_secret": "top-secret-42"},
    )  # fmt: skip
    assert response.status_code == 302, response.content
    channel = NotificationChannel.objects.get()
    assert channel.get_secret() == "top-secret-42"
    page = admin.get(f"/admin/alerts/notificationchannel/{channel.pk}/change/").content.decode()
    assert "top-secret-42" not in page
    assert channel.secret_encrypted not in page
    assert "stored (encrypted)" in page


def test_a_webhook_without_a_secret_is_refused(admin: Client) -> None:
    response = admin.post(
        "/admin/alerts/notificationchannel/add/",
        {"name": "hook", "kind": "webhook", "webhook_url": "https://example.org/h"},
    )
    assert response.status_code == 200
    assert "needs a secret" in response.content.decode()
    assert not NotificationChannel.objects.exists()


def test_the_send_test_notification_action_sends_and_records_it(admin: Client) -> None:
    channel = NotificationChannel.objects.create(name="mail", kind="email", email_addresses="ops@x.org")
    response = admin.post(
        "/admin/alerts/notificationchannel/",
        {"action": "send_test_notification", "_selected_action": [channel.pk]},
        follow=True,
    )
    assert "test notification sent" in response.content.decode()
    assert mail.outbox[0].to == ["ops@x.org"]
    assert Notification.objects.get().event == "test"


def test_a_fresh_install_has_default_rules_without_channels() -> None:
    kinds = set(AlertRule.objects.values_list("kind", flat=True))
    assert kinds == {"connection_down", "heartbeat_missing", "sensor_offline", "sensor_stale", "flapping"}
    assert not AlertRule.objects.filter(channels__isnull=False).exists()
    assert AlertRule.objects.get(kind="connection_down").for_seconds == 60
