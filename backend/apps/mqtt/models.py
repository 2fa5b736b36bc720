"""The monitoring data model: one MQTT connection per site, its sensors, their last readings (a ring
of 3), and the facts of every state change (connection log, sensor status changes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.mqtt import crypto
from apps.mqtt.validators import (
    SITE_CODE_PLACEHOLDER,
    certificate_matches_key,
    validate_broker_host,
    validate_client_id_prefix,
    validate_pem_certificates,
    validate_topic_filter,
)
from apps.sites.models import Site

# Readings kept per sensor at most; the database enforces it (see SensorData).
READING_RING_SIZE = 3


class KeepsObservedState(models.Model):
    """A model whose observed fields belong to the MQTT worker (written with SQL). Saving an
    existing object from a form or the shell never writes them back, so an operator's edit cannot
    overwrite a newer status with the one loaded when the form opened."""

    OBSERVED_FIELDS: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in self.OBSERVED_FIELDS
            ]
        super().save(*args, **kwargs)


class HeartbeatState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    OK = "ok", "OK"
    LATE = "late", "Late"
    MISSING = "missing", "Missing"


def client_id(prefix: str, site_id: int) -> str:
    """``<prefix>_<install>_<site id>``: unique per site within an install, and the install's part
    (settings.MQTT_CLIENT_ID_INSTANCE) keeps two installs sharing a broker from taking each other's
    client ids; stable across restarts, and the same in every worker of the install."""
    return f"{prefix}_{settings.MQTT_CLIENT_ID_INSTANCE}_{site_id}"


def heartbeat_missing_after(*, interval: float, timeout: float) -> float:
    """Seconds of silence after which a heartbeat is missing: the timeout, or two intervals when the
    datalogger beats slower than that."""
    return max(timeout, 2 * interval)


def heartbeat_state(
    *,
    last_heartbeat_at: dt.datetime | None,
    since: dt.datetime | None,
    interval: float,
    timeout: float,
    now: dt.datetime,
) -> HeartbeatState:
    """Late after 1.5 intervals; missing after the heartbeat timeout, or two intervals when the
    datalogger beats slower than that (so a 60 s datalogger is not 'missing' at 30 s). ``since``
    (when the current connection was made) starts the clock when no heartbeat came on it yet, so
    a connection back after an outage is not called missing before it had a chance."""
    missing_after = heartbeat_missing_after(interval=interval, timeout=timeout)
    if last_heartbeat_at is None or (since is not None and last_heartbeat_at < since):
        if since is None:
            return HeartbeatState.UNKNOWN
        waited = (now - since).total_seconds()
        return HeartbeatState.MISSING if waited > missing_after else HeartbeatState.UNKNOWN
    age = (now - last_heartbeat_at).total_seconds()
    if age > missing_after:
        return HeartbeatState.MISSING
    if age > 1.5 * interval:
        return HeartbeatState.LATE
    return HeartbeatState.OK


def default_retry_delay() -> int:
    """New connections' first reconnection delay: MQTT_RECONNECT_DELAY."""
    return int(settings.MQTT_SETTINGS["RECONNECT_DELAY"])


def default_max_retry_delay() -> int:
    """New connections' longest reconnection delay: MQTT_MAX_RECONNECT_DELAY."""
    return int(settings.MQTT_SETTINGS["MAX_RECONNECT_DELAY"])


class MqttConnection(KeepsObservedState):
    """How to reach one site's datalogger. ``enabled`` is the desired state, set by operators;
    ``status`` is the observed state, written by the MQTT worker only."""

    class Status(models.TextChoices):
        DISCONNECTED = "disconnected", "Disconnected"
        CONNECTING = "connecting", "Connecting"
        CONNECTED = "connected", "Connected"
        ERROR = "error", "Error"
        DISABLED = "disabled", "Disabled"

    OBSERVED_FIELDS = (
        "status",
        "status_changed_at",
        "last_connected_at",
        "last_heartbeat_at",
        "connection_errors",
        "error_message",
        "heartbeat_state",
        "reported_heartbeat_interval",
    )

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="mqtt_connection")
    enabled = models.BooleanField(
        default=True, help_text="Desired state: the worker connects only enabled connections."
    )
    restart_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set by an operator's restart; the worker reconnects when it changes.",
    )

    broker_host = models.CharField(max_length=255, validators=[validate_broker_host])
    broker_port = models.PositiveIntegerField(
        default=1883, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    username = models.CharField(max_length=100, blank=True)
    # Fernet token of the broker password, never the clear text; see set_password().
    password_encrypted = models.TextField(blank=True, editable=False)
    client_id_prefix = models.CharField(
        max_length=50,
        default="dlmon",
        validators=[validate_client_id_prefix],
        help_text="The client id is this prefix, this install's part (MQTT_CLIENT_ID_INSTANCE) and the "
        "site's id, joined by underscores (e.g. dlmon_3f9a1c2b_42): stable, and never shared by two "
        "clients, even of two installs on one broker.",
    )

    keep_alive_interval = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(65535)],
        help_text="Seconds between MQTT pings when the link is otherwise idle.",
    )
    retry_attempts = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Failures in a row before the status turns to 'error' (retries go on).",
    )
    retry_delay = models.PositiveIntegerField(
        default=default_retry_delay,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="First reconnection delay in seconds; it doubles (with jitter) up to the maximum.",
    )
    max_retry_delay = models.PositiveIntegerField(
        default=default_max_retry_delay,
        validators=[MinValueValidator(1), MaxValueValidator(86400)],
        help_text="Longest reconnection delay in seconds.",
    )
    expected_heartbeat_interval = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(86400)],
        help_text="Seconds between the datalogger's heartbeats, unless the heartbeat states its own "
        "(message_interval_seconds).",
    )

    ssl_enabled = models.BooleanField("TLS enabled", default=False)
    ca_certificate = models.TextField(
        "CA certificate (PEM)",
        blank=True,
        validators=[validate_pem_certificates],
        help_text="Certificate(s) of the authority that signed the broker's. Blank: use the "
        "system's trusted authorities (or the path below).",
    )
    ca_cert_path = models.CharField(
        "CA certificate path",
        max_length=500,
        blank=True,
        help_text="Absolute path of a PEM file on the MQTT worker's machine, instead of the text.",
    )
    client_certificate = models.TextField(
        "client certificate (PEM)",
        blank=True,
        validators=[validate_pem_certificates],
        help_text="For brokers that authenticate clients by certificate; needs the key as well.",
    )
    # Fernet token of the client's private key (PEM), never the clear text.
    client_key_encrypted = models.TextField(blank=True, editable=False)
    tls_insecure = models.BooleanField(
        "skip certificate verification",
        default=False,
        help_text="Accept any broker certificate and host name. Unsafe: for tests only.",
    )

    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DISCONNECTED, db_index=True
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_connected_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    connection_errors = models.PositiveIntegerField(
        default=0, help_text="Failed connection attempts in a row."
    )
    error_message = models.TextField(blank=True)
    heartbeat_state = models.CharField(
        max_length=10, choices=HeartbeatState.choices, default=HeartbeatState.UNKNOWN
    )
    reported_heartbeat_interval = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds between heartbeats as the datalogger states it (message_interval_seconds).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "MQTT connection"
        ordering = ["site__name"]

    def __str__(self) -> str:
        return f"{self.site.code} @ {self.broker_host}:{self.broker_port}"

    @property
    def client_id(self) -> str:
        return client_id(self.client_id_prefix, self.site_id)

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def set_password(self, raw_password: str) -> None:
        self.password_encrypted = crypto.encrypt(raw_password) if raw_password else ""

    def get_password(self) -> str:
        """The clear-text password, for the worker's connect call only. Never log or render it."""
        return crypto.decrypt(self.password_encrypted) if self.password_encrypted else ""

    @property
    def has_client_key(self) -> bool:
        return bool(self.client_key_encrypted)

    def set_client_key(self, key_pem: str) -> None:
        self.client_key_encrypted = crypto.encrypt(key_pem) if key_pem else ""

    def get_client_key(self) -> str:
        return crypto.decrypt(self.client_key_encrypted) if self.client_key_encrypted else ""

    def change_secrets(
        self,
        *,
        password: str | None = None,
        clear_password: bool = False,
        client_key: str | None = None,
        clear_client_key: bool = False,
    ) -> list[str]:
        """Write-only secrets, as the admin and the API take them: blank keeps the stored one, a clear
        removes it, a value replaces it. The model fields it changed."""
        changed = []
        if clear_password or password:
            self.set_password("" if clear_password else password or "")
            changed.append("password_encrypted")
        if clear_client_key or client_key:
            self.set_client_key("" if clear_client_key else (client_key or "").strip() + "\n")
            changed.append("client_key_encrypted")
        return changed

    @property
    def heartbeat_interval(self) -> float:
        """The interval the datalogger states, else the configured one."""
        return self.reported_heartbeat_interval or float(self.expected_heartbeat_interval)

    def heartbeat_missing_after(self, timeout: float) -> float:
        return heartbeat_missing_after(interval=self.heartbeat_interval, timeout=timeout)

    def heartbeat_state_at(self, now: dt.datetime, *, timeout: float) -> HeartbeatState:
        return heartbeat_state(
            last_heartbeat_at=self.last_heartbeat_at,
            since=self.last_connected_at if self.status == self.Status.CONNECTED else None,
            interval=self.heartbeat_interval,
            timeout=timeout,
            now=now,
        )

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.retry_delay and self.max_retry_delay and self.retry_delay > self.max_retry_delay:
            errors["max_retry_delay"] = "The maximum delay may not be shorter than the first delay."
        if self.ca_certificate and self.ca_cert_path:
            errors["ca_cert_path"] = "Give the CA certificate as text or as a path, not both."
        if self.ca_cert_path and not self.ca_cert_path.startswith("/"):
            errors["ca_cert_path"] = "Give an absolute path (starting with /)."
        if not self.ssl_enabled and (
            self.ca_certificate or self.ca_cert_path or self.client_certificate or self.tls_insecure
        ):
            errors["ssl_enabled"] = "TLS settings are filled in but TLS is off: turn it on or clear them."
        if self.client_certificate and not self.client_key_encrypted:
            errors["client_certificate"] = "A client certificate needs its private key."
        if self.client_key_encrypted and not self.client_certificate:
            errors["client_certificate"] = "A client key needs its certificate."
        if (
            self.client_certificate
            and self.client_key_encrypted
            and "client_certificate" not in errors
            and not certificate_matches_key(self.client_certificate, self.get_client_key())
        ):
            errors["client_certificate"] = "The client certificate does not match the private key."
        if errors:
            raise ValidationError(errors)


class MqttTopic(models.Model):
    """A subscription of a connection. ``{code}`` in the pattern stands for the site's code, so
    the default topics follow the site when its code changes."""

    class MessageType(models.TextChoices):
        AUTO = "auto", "Detect from topic and payload"
        HEARTBEAT = "heartbeat", "Heartbeat"
        SYS_INFO = "sys_info", "System information"

    connection = models.ForeignKey(MqttConnection, on_delete=models.CASCADE, related_name="topics")
    pattern = models.CharField(
        max_length=255,
        validators=[validate_topic_filter],
        help_text="MQTT topic filter; '+' and '#' are wildcards and {code} is the site's code.",
    )
    message_type = models.CharField(max_length=20, choices=MessageType.choices, default=MessageType.AUTO)

    class Meta:
        verbose_name = "subscribed topic"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "pattern"], name="uniq_topic_per_connection")
        ]

    def __str__(self) -> str:
        return self.pattern

    def resolve(self, site_code: str) -> str:
        return self.pattern.replace(SITE_CODE_PLACEHOLDER, site_code)


DEFAULT_TOPICS: tuple[tuple[str, str], ...] = (
    ("{code}/datalogger_o/heartbeat", MqttTopic.MessageType.HEARTBEAT),
    ("{code}/sys_info", MqttTopic.MessageType.SYS_INFO),
)


class SensorDevice(KeepsObservedState):
    """A sensor of a site, registered the first time a heartbeat lists it."""

    class Status(models.TextChoices):
        ONLINE = "online", "Online"
        STALE = "stale", "Stale"
        OFFLINE = "offline", "Offline"

    OBSERVED_FIELDS = (
        "status",
        "status_changed_at",
        "last_seen_at",
        "consecutive_misses",
        "total_messages",
        "reading_seq",
        "last_reading_ts",
        "last_reading_at",
    )

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="sensors")
    device_name = models.CharField(max_length=100)
    device_type = models.CharField(max_length=50, blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive sensors are kept but not expected in heartbeats."
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFLINE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    consecutive_misses = models.PositiveIntegerField(default=0)
    total_messages = models.BigIntegerField(default=0, help_text="Heartbeats that listed it.")
    # Readings stored so far; the next one goes to slot reading_seq % retention.
    reading_seq = models.BigIntegerField(default=0, editable=False)
    last_reading_ts = models.DateTimeField(null=True, blank=True, editable=False)
    # When that newest reading arrived (server clock): how long a ts has stood still is measured
    # from here, so a datalogger clock running slow or fast cannot make a sensor look stale.
    last_reading_at = models.DateTimeField(null=True, blank=True, editable=False)
    # No stored uptime: apps/analytics computes it from the status changes for any window.

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "device_name"]
        constraints = [models.UniqueConstraint(fields=["site", "device_name"], name="uniq_device_per_site")]
        indexes = [models.Index(fields=["site", "status"])]

    def __str__(self) -> str:
        return f"{self.device_name} ({self.site.code})"

    @property
    def is_online(self) -> bool:
        return self.status == self.Status.ONLINE


class SensorData(models.Model):
    """One of the last readings of a sensor. A ring: slot = sequence mod retention, unique per
    sensor, so the table never holds more than RING_SIZE rows per sensor and needs no delete."""

    RING_SIZE = READING_RING_SIZE

    sensor_device = models.ForeignKey(SensorDevice, on_delete=models.CASCADE, related_name="readings")
    slot = models.PositiveSmallIntegerField()
    timestamp = models.DateTimeField(help_text="The reading's own time (the payload's ts).")
    raw_data = models.JSONField()
    acc_x = models.FloatField(null=True, blank=True)
    acc_y = models.FloatField(null=True, blank=True)
    acc_z = models.FloatField(null=True, blank=True)
    incli_x = models.FloatField(null=True, blank=True)
    incli_y = models.FloatField(null=True, blank=True)
    mag_x = models.FloatField(null=True, blank=True)
    mag_y = models.FloatField(null=True, blank=True)
    mag_z = models.FloatField(null=True, blank=True)
    gyro_x = models.FloatField(null=True, blank=True)
    gyro_y = models.FloatField(null=True, blank=True)
    gyro_z = models.FloatField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "sensor reading"
        ordering = ["-timestamp"]
        constraints = [
            models.UniqueConstraint(fields=["sensor_device", "slot"], name="uniq_reading_slot"),
            models.CheckConstraint(
                condition=Q(slot__gte=0) & Q(slot__lt=READING_RING_SIZE), name="reading_slot_in_ring"
            ),
        ]
        # No index on timestamp: a sensor has at most 3 rows (found through the unique slot index),
        # and without it PostgreSQL can update the ring in place (HOT), with no index work.

    def __str__(self) -> str:
        return f"{self.sensor_device_id}[{self.slot}] @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class ConnectionLog(models.Model):
    """One fact about a connection: a status change, a missed heartbeat or an operator's action."""

    class EventType(models.TextChoices):
        CONNECTING = "connecting", "Connecting"
        CONNECTED = "connected", "Connected"
        DISCONNECTED = "disconnected", "Disconnected"
        ERROR = "error", "Error"
        DISABLED = "disabled", "Disabled"
        HEARTBEAT_MISSED = "heartbeat_missed", "Heartbeat missed"
        HEARTBEAT_RESUMED = "heartbeat_resumed", "Heartbeat resumed"
        STARTED = "started", "Started by operator"
        STOPPED = "stopped", "Stopped by operator"
        RESTARTED = "restarted", "Restarted by operator"

    mqtt_connection = models.ForeignKey(MqttConnection, on_delete=models.CASCADE, related_name="logs")
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    message = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The user who caused the event, for operator actions.",
    )
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["-timestamp"], name="connlog_recent"),
            models.Index(fields=["mqtt_connection", "-timestamp"], name="connlog_by_connection"),
            models.Index(fields=["event_type", "-timestamp"], name="connlog_by_event"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class SensorStatusChange(models.Model):
    """One change of a sensor's status, with its reason. Uptime and alerts derive from these."""

    sensor_device = models.ForeignKey(SensorDevice, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=10, choices=SensorDevice.Status.choices, blank=True)
    new_status = models.CharField(max_length=10, choices=SensorDevice.Status.choices)
    reason = models.CharField(max_length=200, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["sensor_device", "-timestamp"], name="sensorchange_by_sensor"),
            models.Index(fields=["-timestamp"], name="sensorchange_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.old_status or '-'} → {self.new_status} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class SystemInfo(models.Model):
    """The latest sys_info of a site's datalogger: parsed fields plus the raw payload."""

    # The parsed fields (ingest writes them, the API shows them).
    TEXT_FIELDS = ("hostname", "firmware_version", "ip_address")
    NUMBER_FIELDS = (
        "uptime_seconds",
        "cpu_load",
        "temperature_c",
        "memory_total_bytes",
        "memory_free_bytes",
        "disk_total_bytes",
        "disk_free_bytes",
    )

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="system_info")
    hostname = models.CharField(max_length=255, blank=True)
    firmware_version = models.CharField(max_length=100, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    uptime_seconds = models.BigIntegerField(null=True, blank=True)
    cpu_load = models.FloatField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    memory_total_bytes = models.BigIntegerField(null=True, blank=True)
    memory_free_bytes = models.BigIntegerField(null=True, blank=True)
    disk_total_bytes = models.BigIntegerField(null=True, blank=True)
    disk_free_bytes = models.BigIntegerField(null=True, blank=True)
    raw_data = models.JSONField(default=dict)
    reported_at = models.DateTimeField(null=True, blank=True, help_text="The payload's own time.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "system information"
        verbose_name_plural = "system information"

    def __str__(self) -> str:
        return f"System information of {self.site.code}"


class RejectedMessage(models.Model):
    """Messages (or parts of messages) the parser could not use, counted per site, topic and
    reason with the last sample, so operators can see what a datalogger sends that we do not read."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="rejected_messages")
    topic = models.CharField(max_length=255)
    reason = models.CharField(max_length=40)
    count = models.BigIntegerField(default=0)
    last_detail = models.TextField(blank=True)
    last_sample = models.TextField(blank=True, help_text="The start of the last such payload.")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "topic", "reason"], name="uniq_rejection_kind")
        ]

    def __str__(self) -> str:
        return f"{self.reason} on {self.topic} ({self.count} times)"


class WorkerHeartbeat(models.Model):
    """The MQTT worker's own sign of life, written every few seconds by each running worker."""

    worker_id = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    connections = models.PositiveIntegerField(default=0, help_text="Client tasks it runs.")

    # Seconds without a tick before a worker counts as down (it ticks every few seconds).
    STALE_AFTER = 15.0

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"worker {self.worker_id} on {self.hostname}"

    def is_alive(self, now: dt.datetime, *, within: float = STALE_AFTER) -> bool:
        return (now - self.last_seen_at).total_seconds() <= within


class ConnectionLease(models.Model):
    """Which worker runs a connection (PostgreSQL), or the whole install (SQLite: one row, key
    ``install``). ``token`` grows by one on every new claim: the fencing token."""

    INSTALL = "install"

    key = models.CharField(max_length=50, unique=True)
    connection = models.OneToOneField(
        MqttConnection, on_delete=models.CASCADE, null=True, blank=True, related_name="lease"
    )
    worker_id = models.CharField(max_length=100, blank=True, default="")
    token = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"lease {self.key} held by {self.worker_id or 'nobody'}"

    @staticmethod
    def key_for(connection_id: int) -> str:
        return f"connection:{connection_id}"
