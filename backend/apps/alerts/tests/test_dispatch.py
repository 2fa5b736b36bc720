"""Sending notifications against a real local HTTP server: the webhook's signature and payload, a
channel answering 500 retried with backoff and recorded while the others deliver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from apps.alerts.dispatch import deliver_due, send_test
from apps.alerts.models import Alert, Notification, NotificationChannel
from apps.alerts.tests.helpers import T0, seconds
from apps.sites.models import Site

pytestmark = pytest.mark.django_db

SECRET = "wh-s3cret-value"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if self.path == "/broken" else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Receiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def webhook(name: str, url: str) -> NotificationChannel:
    channel = NotificationChannel(name=name, kind="webhook", webhook_url=url)
    channel.set_secret(SECRET)
    channel.save()
    return channel


def alert_for(site: Site) -> Alert:
    return Alert.objects.create(
        site=site,
        kind="heartbeat_missing",
        severity="critical",
        title=f"{site.name}: site silent",
        message="No heartbeat.",
        affected_sensors=["S001", "S002"],
        opened_at=T0,
    )


def queue(alert: Alert, *channels: NotificationChannel) -> None:
    Notification.objects.bulk_create(
        Notification(alert=alert, channel=channel, event="opened", next_attempt_at=T0, created_at=T0)
        for channel in channels
    )


def test_a_webhook_is_signed_with_the_channels_secret_and_carries_the_alert(
    make_site: Callable[..., Site], receiver, pool
) -> None:
    url, received = receiver
    alert = alert_for(make_site(name="Dam"))
    queue(alert, webhook("hook", f"{url}/ok"))

    report = deliver_due(now=T0, pool=pool)

    assert report.sent == 1
    ((path, headers, body),) = received
    assert path == "/ok"
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-signature-sha256"], expected)
    assert headers["x-timestamp"].isdigit()
    assert headers["content-type"] == "application/json"
    document = json.loads(body)
    assert document["event"] == "opened"
    assert document["alert"]["id"] == alert.pk
    assert document["alert"]["site_name"] == "Dam"
    assert document["alert"]["affected_sensors"] == ["S001", "S002"]
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts, notification.sent_at) == (
        "sent",
        1,
        notification.sent_at,
    )
    assert notification.sent_at is not None


def test_a_channel_answering_500_is_retried_with_backoff_and_recorded_while_the_others_deliver(
    make_site: Callable[..., Site], receiver, pool
) -> None:
    url, received = receiver
    broken = webhook("broken", f"{url}/broken")
    good = webhook("good", f"{url}/ok")
    email = NotificationChannel.objects.create(name="mail", kind="email", email_addresses="a@x.org, b@x.org")
    queue(alert_for(make_site()), broken, good, email)

    deliver_due(now=T0, pool=pool)

    by_channel = {row.channel.name: row for row in Notification.objects.select_related("channel")}
    assert by_channel["good"].status == "sent"
    assert by_channel["mail"].status == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["a@x.org", "b@x.org"]
    failing = by_channel["broken"]
    assert (failing.status, failing.attempts) == ("pending", 1)
    assert "HTTP 500" in failing.last_error
    assert failing.next_attempt_at == T0 + seconds(10)

    assert deliver_due(now=T0 + seconds(9), pool=pool).retrying == 0  # not due yet
    moments = [T0 + seconds(10), T0 + seconds(70), T0 + seconds(370)]
    for moment in moments:
        deliver_due(now=moment, pool=pool)
    failing.refresh_from_db()
    assert (failing.status, failing.attempts) == ("failed", 4)
    assert "HTTP 500" in failing.last_error
    assert [path for path, _, _ in received].count("/broken") == 4
    assert [path for path, _, _ in received].count("/ok") == 1  # sent once, never again


def test_an_unreachable_webhook_is_recorded_with_its_error(make_site: Callable[..., Site], pool) -> None:
    queue(alert_for(make_site()), webhook("nowhere", "http://127.0.0.1:9/hook"))
    deliver_due(now=T0, pool=pool)
    notification = Notification.objects.get()
    assert notification.status == "pending"
    assert "webhook" in notification.last_error


def test_the_test_notification_of_a_channel_is_sent_at_once_and_recorded(receiver) -> None:
    url, received = receiver
    notification = send_test(webhook("hook", f"{url}/ok"), now=T0)
    assert notification.status == "sent"
    assert json.loads(received[0][2])["event"] == "test"
    failed = send_test(webhook("bad", f"{url}/broken"), now=T0)
    assert failed.status == "failed"
    assert "HTTP 500" in failed.last_error


def test_the_webhook_secret_and_the_apprise_url_are_encrypted_at_rest() -> None:
    channel = webhook("hook", "https://example.org/hook")
    apprise = NotificationChannel(name="chat", kind="apprise")
    apprise.set_apprise_url("tgram://123456:token-abc/987")
    apprise.save()
    assert SECRET not in channel.secret_encrypted
    assert "token-abc" not in apprise.apprise_url_encrypted
    assert NotificationChannel.objects.get(pk=channel.pk).get_secret() == SECRET
    assert NotificationChannel.objects.get(pk=apprise.pk).get_apprise_url() == "tgram://123456:token-abc/987"


def test_an_apprise_url_it_does_not_understand_fails_without_showing_the_url(pool) -> None:
    channel = NotificationChannel(name="chat", kind="apprise")
    channel.set_apprise_url("nosuchservice://secret-token-xyz")
    channel.save()
    notification = send_test(channel, now=T0)
    assert notification.status == "failed"
    assert "secret-token-xyz" not in notification.last_error
