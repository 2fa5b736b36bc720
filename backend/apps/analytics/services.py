"""Writes of the analytics: roll-ups of closed hours (and of whole days from them) and retention.

``run_rollups`` is the periodic job (``manage.py rollup_analytics`` and the MQTT worker): it rolls up
every closed hour since the last run (at most ``max_hours`` a run, so a long catch-up is spread
over runs), re-rolls the hours of maintenance windows added, moved or deleted since, then
prunes raw rows past ANALYTICS_RAW_RETENTION_DAYS that are rolled up, keeping each object's last row
before the cut so its state there stays known, hourly roll-ups past ANALYTICS_HOURLY_RETENTION_DAYS
(their days are summed in daily rows by then) and daily ones past ANALYTICS_ROLLUP_RETENTION_DAYS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, QuerySet

from apps.analytics.intervals import DAY, HOUR
from apps.analytics.models import HeartbeatHour, MaintenanceChange, RollupProgress, UptimeRollup
from apps.analytics.selectors import (
    ROLLUP_KEY,
    Window,
    floor_day,
    floor_hour,
    hourly_kept_from,
    site_totals,
)
from apps.analytics.states import CONNECTION_EVENTS, HEARTBEAT_EVENTS
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorStatusChange
from apps.sites.models import Site

PRUNE_BATCH = 10_000
Kind = UptimeRollup.Kind
_FIELDS = ("up_seconds", "down_seconds", "excluded_seconds", "maintenance_seconds")


@dataclass(slots=True)
class RollupReport:
    hours: int = 0
    rerolled_hours: int = 0
    pruned: dict[str, int] = field(default_factory=dict)


def roll_up_hour(*, hour: dt.datetime, site_ids: Sequence[int] | None = None) -> int:
    """Write the hour's roll-ups (every site, or these), replacing any; the rows written."""
    connections = dict(
        (
            MqttConnection.objects.filter(site_id__in=site_ids)
            if site_ids is not None
            else MqttConnection.objects
        ).values_list("id", "site_id")
    )
    sites = list(site_ids) if site_ids is not None else _all_site_ids()
    end = hour + HOUR
    window = Window(start=hour, end=end, bucket="hour", now=end)
    totals = site_totals(
        site_ids=sites, connections=connections, window=window, edges=[hour, end], raw_only=True
    )
    sensor_sites = totals.sensor_sites
    rows = [
        UptimeRollup(
            kind=kind,
            period=UptimeRollup.Period.HOUR,
            object_id=object_id,
            site_id=site_of(object_id),
            start=hour,
            up_seconds=t.up,
            down_seconds=t.down,
            excluded_seconds=t.excluded,
            maintenance_seconds=t.maintenance,
        )
        for kind, per_object, site_of in (
            (Kind.CONNECTION, totals.connection, connections.__getitem__),
            (Kind.HEARTBEAT, totals.heartbeat, connections.__getitem__),
            (Kind.SENSOR, totals.sensors, sensor_sites.__getitem__),
        )
        for object_id, [t] in per_object.items()
    ]
    with transaction.atomic():
        _rollups(UptimeRollup.Period.HOUR, hour, site_ids).delete()
        UptimeRollup.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _all_site_ids() -> list[int]:
    return list(Site.objects.values_list("id", flat=True))


def _rollups(period: str, start: dt.datetime, site_ids: Sequence[int] | None) -> QuerySet[UptimeRollup]:
    rows = UptimeRollup.objects.filter(period=period, start=start)
    return rows.filter(site_id__in=site_ids) if site_ids is not None else rows


def roll_up_day(*, day: dt.datetime, site_ids: Sequence[int] | None = None) -> None:
    """The day's roll-ups: the sums of its hourly ones, in one INSERT ... SELECT."""
    table = UptimeRollup._meta.db_table
    adapt = db.ops.adapt_datetimefield_value
    sums = ", ".join(f"SUM({name})" for name in _FIELDS)
    params: list[Any] = [UptimeRollup.Period.DAY.value, adapt(day)]
    params += [UptimeRollup.Period.HOUR.value, adapt(day), adapt(day + DAY)]
    where = "period = %s AND start >= %s AND start < %s"
    if site_ids is not None:
        where += f" AND site_id IN ({', '.join(['%s'] * len(site_ids))})"
        params += list(site_ids)
    with transaction.atomic():
        _rollups(UptimeRollup.Period.DAY, day, site_ids).delete()
        with db.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (kind, period, object_id, site_id, start, {', '.join(_FIELDS)})"
                f" SELECT kind, %s, object_id, site_id, %s, {sums} FROM {table} WHERE {where}"
                " GROUP BY kind, object_id, site_id",
                params,
            )


def _first_hour() -> dt.datetime | None:
    """The hour of the oldest raw row: where a first run starts."""
    oldest = [
        SensorStatusChange.objects.aggregate(first=Min("timestamp"))["first"],
        ConnectionLog.objects.aggregate(first=Min("timestamp"))["first"],
    ]
    known = [moment for moment in oldest if moment is not None]
    return floor_hour(min(known)) if known else None


def _progress(key: str, default: dt.datetime) -> RollupProgress:
    progress, _ = RollupProgress.objects.get_or_create(key=key, defaults={"rolled_until": default})
    return progress


def roll_up_closed_hours(*, now: dt.datetime, max_hours: int) -> int:
    """Roll up the closed hours since the last run (at most ``max_hours``); whole days as they close."""
    end = floor_hour(now)
    first = _first_hour()
    if first is None:
        return 0
    # Hours past the roll-up retention would be pruned at once: never rolled up.
    first = max(first, floor_hour(now - dt.timedelta(days=settings.ANALYTICS_ROLLUP_RETENTION_DAYS)))
    progress = _progress(ROLLUP_KEY, first)
    hours = 0
    while progress.rolled_until < end and hours < max_hours:
        hour = progress.rolled_until
        roll_up_hour(hour=hour)
        progress.rolled_until = hour + HOUR
        progress.save(update_fields=["rolled_until"])
        hours += 1
        if progress.rolled_until == floor_day(progress.rolled_until):
            roll_up_day(day=progress.rolled_until - DAY)
    return hours


def reroll_maintenance_changes(*, now: dt.datetime) -> int:
    """Closed hours a maintenance window added, moved or removed since they were rolled up
    (``MaintenanceChange``, apps/analytics/signals.py) are rolled up again for its site, with their
    days, while their day's hourly roll-ups are kept (an older day's daily row would be summed from
    the re-rolled hours alone); the change rows are then deleted. The hours re-rolled."""
    rolled = RollupProgress.objects.filter(key=ROLLUP_KEY).values_list("rolled_until", flat=True).first()
    changes = list(
        MaintenanceChange.objects.order_by("id").values_list("id", "site_id", "starts_at", "ends_at")
    )
    hours: set[tuple[int, dt.datetime]] = set()
    # Nothing rolled up yet (rolled is None): the first roll-up sees the windows as they are then.
    until = rolled or dt.datetime.min.replace(tzinfo=dt.UTC)
    for _, site_id, starts_at, ends_at in changes:
        hour = max(floor_hour(starts_at), hourly_kept_from(now))
        while hour < min(ends_at, until):
            hours.add((site_id, hour))
            hour += HOUR
    for site_id, hour in sorted(hours):
        roll_up_hour(hour=hour, site_ids=[site_id])
    for site_id, day in sorted({(site_id, floor_day(hour)) for site_id, hour in hours}):
        if day + DAY <= until:
            roll_up_day(day=day, site_ids=[site_id])
    MaintenanceChange.objects.filter(id__in=[row[0] for row in changes]).delete()
    return len(hours)


def _delete_in_batches(rows: QuerySet[Any]) -> int:
    deleted = 0
    while True:
        ids = list(rows.values_list("id", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted
        deleted += rows.model._default_manager.filter(id__in=ids).delete()[0]


def prune(*, now: dt.datetime) -> dict[str, int]:
    """Raw rows older than the raw retention (and rolled up), except each object's last before the
    cut; hourly roll-ups older than the hourly retention (whole days, summed in daily rows); daily
    roll-ups and heartbeat counters older than the roll-up retention. In batches."""
    rolled = RollupProgress.objects.filter(key=ROLLUP_KEY).values_list("rolled_until", flat=True).first()
    if rolled is None:
        return {}
    cut = min(floor_hour(now - dt.timedelta(days=settings.ANALYTICS_RAW_RETENTION_DAYS)), rolled)
    newer_change = SensorStatusChange.objects.filter(
        sensor_device_id=OuterRef("sensor_device_id"), timestamp__lt=cut, timestamp__gt=OuterRef("timestamp")
    )
    pruned = {
        "status_changes": _delete_in_batches(
            SensorStatusChange.objects.filter(timestamp__lt=cut).filter(Exists(newer_change))
        ),
        "connection_logs": _prune_logs(cut),
    }
    hourly_cut = min(hourly_kept_from(now), floor_day(rolled))
    pruned["hourly_rollups"] = _delete_in_batches(
        UptimeRollup.objects.filter(period=UptimeRollup.Period.HOUR, start__lt=hourly_cut)
    )
    old = now - dt.timedelta(days=settings.ANALYTICS_ROLLUP_RETENTION_DAYS)
    pruned["rollups"] = _delete_in_batches(
        UptimeRollup.objects.filter(period=UptimeRollup.Period.DAY, start__lt=old)
    )
    pruned["heartbeat_hours"] = _delete_in_batches(HeartbeatHour.objects.filter(hour__lt=old))
    return pruned


def _prune_logs(cut: dt.datetime) -> int:
    """Log rows before the cut with a newer one of each kind of state they set (connection,
    heartbeat) before the cut: the last of each kind stays."""

    def newer(events: frozenset[str]) -> Exists:
        return Exists(
            ConnectionLog.objects.filter(
                mqtt_connection_id=OuterRef("mqtt_connection_id"),
                timestamp__lt=cut,
                timestamp__gt=OuterRef("timestamp"),
                event_type__in=events,
            )
        )

    old = ConnectionLog.objects.filter(timestamp__lt=cut)
    both = CONNECTION_EVENTS & HEARTBEAT_EVENTS
    deleted = _delete_in_batches(
        old.filter(event_type__in=CONNECTION_EVENTS - both).filter(newer(CONNECTION_EVENTS))
    )
    deleted += _delete_in_batches(
        old.filter(event_type__in=HEARTBEAT_EVENTS - both).filter(newer(HEARTBEAT_EVENTS))
    )
    deleted += _delete_in_batches(
        old.filter(event_type__in=both).filter(newer(CONNECTION_EVENTS)).filter(newer(HEARTBEAT_EVENTS))
    )
    return deleted


def run_rollups(*, now: dt.datetime, max_hours: int = 48, prune_always: bool = True) -> RollupReport:
    """The job. The worker runs it every minute with ``prune_always=False``: it prunes only when an
    hour was rolled up, so a run with nothing to do costs a few small queries."""
    report = RollupReport()
    report.hours = roll_up_closed_hours(now=now, max_hours=max_hours)
    report.rerolled_hours = reroll_maintenance_changes(now=now)
    if prune_always or report.hours:
        report.pruned = prune(now=now)
    return report
