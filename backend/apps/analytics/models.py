"""Compact counters that outlive the raw rows: heartbeats received per site per hour, and up / down /
excluded seconds per monitored object per hour and per day (roll-ups), so long windows stay exact to
the hour once raw logs and status changes are pruned (apps/analytics/rollups.py)."""

from __future__ import annotations

from django.db import models

from apps.sites.models import Site


class HeartbeatHour(models.Model):
    """Heartbeats received from a site in one UTC hour (server clock). The ingest batch writer adds
    to it with one upsert per flush, whatever the number of heartbeats."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    received = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "hour"], name="uniq_heartbeat_hour")]

    def __str__(self) -> str:
        return f"site {self.site_id} {self.hour:%Y-%m-%d %H}:00: {self.received}"


class UptimeRollup(models.Model):
    """Seconds up / down / excluded (maintenance included in excluded) of one object over one closed
    hour or day. ``object_id`` is a sensor's id (kind sensor) or a connection's (heartbeat,
    connection); no foreign key, so the roll-up outlives nothing but its site."""

    class Kind(models.TextChoices):
        SENSOR = "sensor", "Sensor"
        HEARTBEAT = "heartbeat", "Site heartbeat"
        CONNECTION = "connection", "Connection"

    class Period(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    period = models.CharField(max_length=4, choices=Period.choices)
    object_id = models.BigIntegerField()
    # No index of its own: "rollup_by_site" starts with it (one index less on the largest table).
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    start = models.DateTimeField()
    up_seconds = models.FloatField(default=0)
    down_seconds = models.FloatField(default=0)
    excluded_seconds = models.FloatField(default=0)
    maintenance_seconds = models.FloatField(default=0)

    class Meta:
        # Period and start first: the job's replace of an hour and its prune of old hours or days
        # read this index by them.
        constraints = [
            models.UniqueConstraint(
                fields=["period", "start", "kind", "object_id"], name="uniq_uptime_rollup_period_start"
            )
        ]
        indexes = [models.Index(fields=["site", "kind", "period", "start"], name="rollup_by_site")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} {self.period} {self.start:%Y-%m-%d %H}:00"


class RollupProgress(models.Model):
    """How far the roll-up job got: every hour before ``rolled_until`` is rolled up (one row)."""

    key = models.CharField(max_length=20, unique=True)
    rolled_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: rolled up until {self.rolled_until:%Y-%m-%d %H}:00"


class MaintenanceChange(models.Model):
    """A maintenance window's time that was added, moved or removed (apps/analytics/signals.py): the
    roll-up job rolls that time's closed hours up again for the site, then deletes the row."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return (
            f"site {self.site_id} maintenance changed {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%H:%M}"
        )
