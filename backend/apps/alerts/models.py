"""Alerts: the rules that say when a state change becomes an alert, the channels that carry it, the
alerts themselves, one row per notification, and the evaluator's own state (its cursor over the state
change rows, the conditions it is timing, its lease)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from apps.mqtt import crypto
from apps.mqtt.models import SensorDevice
from apps.sites.models import Customer, Site


class Kind(models.TextChoices):
    CONNECTION_DOWN = "connection_down", "Connection down"
    HEARTBEAT_MISSING = "heartbeat_missing", "Heartbeat missing"
    SENSOR_OFFLINE = "sensor_offline", "Sensor offline"
    SENSOR_STALE = "sensor_stale", "Sensor stale"
    FLAPPING = "flapping", "Flapping"


SITE_KINDS = (Kind.CONNECTION_DOWN, Kind.HEARTBEAT_MISSING)
SENSOR_KINDS = (Kind.SENSOR_OFFLINE, Kind.SENSOR_STALE)


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"


class NotificationChannel(models.Model):
    """Where notifications go. The webhook's secret and the Apprise URL (which holds tokens) are
    encrypted at rest like broker passwords, and never shown back."""

    class ChannelKind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Signed webhook"
        APPRISE = "apprise", "Apprise URL"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    enabled = models.BooleanField(default=True)
    email_addresses = models.TextField(
        blank=True, help_text="Email: the recipients, separated by commas, spaces or new lines."
    )
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Webhook: the URL that receives a signed JSON POST."
    )
    secret_encrypted = models.TextField(blank=True, editable=False)
    apprise_url_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def set_secret(self, raw: str) -> None:
        self.secret_encrypted = crypto.encrypt(raw) if raw else ""

    def get_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @property
    def has_apprise_url(self) -> bool:
        return bool(self.apprise_url_encrypted)

    def set_apprise_url(self, raw: str) -> None:
        self.apprise_url_encrypted = crypto.encrypt(raw) if raw else ""

    def get_apprise_url(self) -> str:
        return crypto.decrypt(self.apprise_url_encrypted) if self.apprise_url_encrypted else ""

    @property
    def recipients(self) -> list[str]:
        return [address for address in re.split(r"[\s,;]+", self.email_addresses) if address]

    def clean(self) -> None:
        super().clean()
        if self.kind == self.ChannelKind.EMAIL and not self.recipients:
            raise ValidationError({"email_addresses": "An email channel needs at least one address."})
        if self.kind == self.ChannelKind.WEBHOOK:
            if not self.webhook_url:
                raise ValidationError({"webhook_url": "A webhook channel needs a URL."})
            if not self.secret_encrypted:
                raise ValidationError("A webhook channel needs a secret to sign its requests.")
        if self.kind == self.ChannelKind.APPRISE and not self.apprise_url_encrypted:
            raise ValidationError("An Apprise channel needs an Apprise URL.")


class AlertRule(models.Model):
    """When a condition becomes an alert. Scope: every site (no customer, no site), a customer's sites,
    or one site. Several rules may match one condition: it still makes one alert, opened when the
    shortest of their delays has passed, notified on every channel of every matching rule."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    for_seconds = models.PositiveIntegerField(
        default=0, help_text="Alert only when the condition lasts longer than this (0: at once)."
    )
    flap_changes = models.PositiveIntegerField(default=10, help_text="Flapping: this many status changes …")
    flap_minutes = models.PositiveIntegerField(default=5, help_text="… within this many minutes.")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules"
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules"
    )
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="rules")
    notify_recovery = models.BooleanField(default=True, help_text="Also notify when the alert resolves.")

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.customer_id and self.site_id:
            raise ValidationError("Scope a rule to a customer or to one site, not both.")
        if self.kind == Kind.FLAPPING and (self.flap_changes < 2 or self.flap_minutes < 1):
            raise ValidationError("Flapping needs at least 2 changes within at least 1 minute.")

    def applies_to(self, *, site_id: int, customer_id: int | None) -> bool:
        if self.site_id is not None:
            return self.site_id == site_id
        if self.customer_id is not None:
            return self.customer_id == customer_id
        return True


class Alert(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="alerts")
    sensor = models.ForeignKey(
        SensorDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    state = models.CharField(max_length=15, choices=State.choices, default=State.OPEN)
    title = models.CharField(max_length=300)
    message = models.TextField(blank=True)
    affected_sensors = models.JSONField(default=list, blank=True)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    in_maintenance = models.BooleanField(
        default=False, help_text="Opened during a maintenance window: recorded, not notified."
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["-opened_at"], name="alert_recent"),
            models.Index(fields=["site", "-opened_at"], name="alert_by_site"),
            models.Index(fields=["state", "-opened_at"], name="alert_by_state"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_resolved(self) -> bool:
        return self.state == self.State.RESOLVED

    def acknowledge(self, *, by: models.Model, at: dt.datetime) -> None:
        if self.is_resolved:
            raise ValidationError("This alert is resolved already: there is nothing to acknowledge.")
        self.state = self.State.ACKNOWLEDGED
        self.acknowledged_at = at
        self.acknowledged_by = by  # type: ignore[assignment]  # the user model

    def resolve(self, *, at: dt.datetime) -> None:
        self.state = self.State.RESOLVED
        self.resolved_at = at


class Notification(models.Model):
    """One message of one alert on one channel: sent, or failed with the error, retried with backoff."""

    class Event(models.TextChoices):
        OPENED = "opened", "Opened"
        RESOLVED = "resolved", "Resolved"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10, choices=Event.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.event} on {self.channel_id}: {self.status}"


class Condition(models.Model):
    """Something down that the evaluator is timing: a site's connection or heartbeat, a sensor's
    status, or a flapping sensor or site. Deleted when it clears (its alert, if any, resolves)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    sensor = models.ForeignKey(
        SensorDevice, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    since = models.DateTimeField()
    last_change_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    alert = models.ForeignKey(Alert, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["since", "id"]
        indexes = [models.Index(fields=["site", "kind"], name="condition_by_site")]

    def __str__(self) -> str:
        return f"{self.kind} at site {self.site_id} since {self.since:%Y-%m-%d %H:%M:%S}"


def new_rules_version() -> str:
    return uuid.uuid4().hex


class EvaluatorState(models.Model):
    """The one row of the evaluator: how far it has read the state change rows (their ids), which
    worker evaluates (a lease, so several workers never evaluate twice), and the version of the
    rules and channels (a new random value on each change: the evaluator keeps them between ticks
    while it is unchanged)."""

    SINGLETON = 1

    log_cursor = models.BigIntegerField(default=0)
    change_cursor = models.BigIntegerField(default=0)
    holder = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    rules_version = models.CharField(max_length=32, default=new_rules_version, editable=False)

    def __str__(self) -> str:
        return f"evaluator at log {self.log_cursor}, change {self.change_cursor}"
