"""Sending the pending notifications: each channel in its own thread (a slow or failing channel
never holds up the others), 5 s per attempt, retried after 10 s, 60 s and 5 min, then failed with the
error. Only the sending threads touch the network, only the calling thread the database."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db.models import Min
from django.utils import timezone

from apps.alerts import channels
from apps.alerts.models import Alert, Notification, NotificationChannel

logger = logging.getLogger(__name__)

RETRY_DELAYS = (10, 60, 300)  # seconds after the 1st, 2nd and 3rd failed attempt; the 4th is final
BATCH = 200


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    next_due: dt.datetime | None = None  # the earliest pending notification left, if any


def document(notification: Notification, *, now: dt.datetime) -> dict[str, Any]:
    """The webhook's JSON body (signed as sent)."""
    alert = notification.alert
    return {
        "event": notification.event,
        "sent_at": now.isoformat(),
        "alert": None if alert is None else _alert_document(alert),
    }


def _alert_document(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "site": alert.site_id,
        "site_name": alert.site.name,
        "site_code": alert.site.code,
        "kind": alert.kind,
        "severity": alert.severity,
        "state": alert.state,
        "title": alert.title,
        "message": alert.message,
        "affected_sensors": alert.affected_sensors,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "in_maintenance": alert.in_maintenance,
    }


def _words(notification: Notification) -> tuple[str, str]:
    alert = notification.alert
    if alert is None:
        return "Test notification", "This is a test of the alert channel. It works."
    if notification.event == Notification.Event.RESOLVED:
        return (
            f"Resolved: {alert.title}",
            f"{alert.title}: resolved at {alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC.",
        )
    return f"[{alert.severity}] {alert.title}", alert.message


def _attempt(notification: Notification, now: dt.datetime) -> str | None:
    """One attempt; the error text, or None when sent. Runs in a sending thread."""
    title, text = _words(notification)
    try:
        channels.send(notification.channel, title=title, text=text, document=document(notification, now=now))
    except channels.DeliveryError as exc:
        return str(exc)[:1000]
    except Exception as exc:  # a bug or a library's surprise: recorded like any failure
        logger.exception("notification %s: unexpected error", notification.pk)
        return f"{type(exc).__name__}: {exc}"[:1000]
    return None


def _send_group(group: list[Notification], now: dt.datetime) -> list[tuple[Notification, str | None]]:
    return [(notification, _attempt(notification, now)) for notification in group]


def record(notification: Notification, error: str | None, *, now: dt.datetime) -> str:
    notification.attempts += 1
    if error is None:
        notification.status, notification.sent_at, notification.last_error = Notification.Status.SENT, now, ""
        notification.next_attempt_at = None
    elif notification.attempts > len(RETRY_DELAYS):
        notification.status, notification.last_error = Notification.Status.FAILED, error
        notification.next_attempt_at = None
    else:
        notification.last_error = error
        notification.next_attempt_at = now + dt.timedelta(seconds=RETRY_DELAYS[notification.attempts - 1])
    return notification.status if error is None or notification.next_attempt_at is None else "retrying"


def deliver_due(*, now: dt.datetime, pool: ThreadPoolExecutor) -> DeliveryReport:
    """Send what is due, one thread per channel, and record each outcome (one UPDATE)."""
    due = list(
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=now)
        .select_related("channel", "alert__site")
        .order_by("next_attempt_at", "id")[:BATCH]
    )
    report = DeliveryReport()
    if due:
        _send(due, report, now=now, pool=pool)
    report.next_due = Notification.objects.filter(status=Notification.Status.PENDING).aggregate(
        due=Min("next_attempt_at")
    )["due"]
    return report


def _send(
    due: list[Notification], report: DeliveryReport, *, now: dt.datetime, pool: ThreadPoolExecutor
) -> None:
    groups: dict[int, list[Notification]] = defaultdict(list)
    for notification in due:
        groups[notification.channel_id].append(notification)
    futures = [pool.submit(_send_group, group, now) for group in groups.values()]
    for future in futures:
        for notification, error in future.result():
            outcome = record(notification, error, now=timezone.now() if error is None else now)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if error is not None:
                logger.warning(
                    "notification %s on channel %s: %s", notification.pk, notification.channel.name, error
                )
    Notification.objects.bulk_update(due, ["status", "attempts", "last_error", "next_attempt_at", "sent_at"])


def send_test(channel: NotificationChannel, *, now: dt.datetime) -> Notification:
    """The admin's "send test notification": at once, recorded like any other."""
    notification = Notification(channel=channel, event=Notification.Event.TEST, created_at=now)
    record(notification, _attempt(notification, now), now=now)
    if notification.status == Notification.Status.PENDING:  # no retries for a test
        notification.status, notification.next_attempt_at = Notification.Status.FAILED, None
    notification.save()
    return notification
