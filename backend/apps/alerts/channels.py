"""The three ways out: email (Django's backend), a signed JSON webhook, Apprise URLs (Slack, Telegram,
Teams, …). Each call has a 5 s budget and raises DeliveryError with a message that never holds the
channel's secret. No database access here: dispatch.py calls these from its sending threads."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from typing import Any

import orjson
from django.conf import settings
from django.core.mail import get_connection, send_mail

from apps.alerts.models import NotificationChannel

TIMEOUT = 5.0
SIGNATURE_HEADER = "X-Signature-SHA256"
TIMESTAMP_HEADER = "X-Timestamp"


class DeliveryError(Exception):
    """The channel did not take the message; the text is what the notification row records."""


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body: what a receiver recomputes with the shared secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(channel: NotificationChannel, *, title: str, text: str, document: dict[str, Any]) -> None:
    kind = channel.kind
    if kind == NotificationChannel.ChannelKind.EMAIL:
        _email(channel, title=title, text=text)
    elif kind == NotificationChannel.ChannelKind.WEBHOOK:
        _webhook(channel, document)
    elif kind == NotificationChannel.ChannelKind.APPRISE:
        _apprise(channel, title=title, text=text)
    else:
        raise DeliveryError(f"unknown channel kind {kind!r}")


def _email(channel: NotificationChannel, *, title: str, text: str) -> None:
    try:
        send_mail(
            title,
            text,
            settings.DEFAULT_FROM_EMAIL,
            channel.recipients,
            connection=get_connection(timeout=TIMEOUT),
        )
    except Exception as exc:  # SMTP, DNS, refused: recorded and retried
        raise DeliveryError(f"email: {type(exc).__name__}: {exc}") from None


def _webhook(channel: NotificationChannel, document: dict[str, Any]) -> None:
    body = orjson.dumps(document)
    request = urllib.request.Request(
        channel.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "datalogger-monitor-alerts",
            SIGNATURE_HEADER: sign(channel.get_secret(), body),
            TIMESTAMP_HEADER: str(int(time.time())),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"webhook: {type(exc).__name__}: {reason}") from None


def _apprise(channel: NotificationChannel, *, title: str, text: str) -> None:
    import apprise  # imported when used: it loads many plugins

    notifier = apprise.Apprise()
    # The URL holds the service's tokens: its text appears in no message.
    if not notifier.add(channel.get_apprise_url()):
        raise DeliveryError("apprise: the URL is not one Apprise understands")
    if not notifier.notify(title=title, body=text):
        raise DeliveryError("apprise: the service did not take the message (see the worker's log)")
