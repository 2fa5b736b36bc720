"""Flapping: N status changes within M minutes make one flapping condition per sensor (or per site,
from its connection and heartbeat coming and going), held until the subject has been quiet for M
minutes. Counted from the rows in the database (one query per kind of subject), so a restarted
evaluator still sees the changes before it started."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.db.models import Count

from apps.alerts.board import SITE_REASONS, Board
from apps.alerts.models import AlertRule, Kind
from apps.mqtt.models import ConnectionLog, SensorStatusChange

SITE_FLAP_EVENTS = ("connected", "disconnected", "heartbeat_missed", "heartbeat_resumed")

RulesFor = Callable[[str, int], list[AlertRule]]  # kind, site id → the enabled rules that apply


def detect_flapping(
    board: Board,
    *,
    now: dt.datetime,
    rules_for: RulesFor,
    window_minutes: int,
    min_changes: int,
    sensors: dict[int, tuple[int, dt.datetime]],
    change_ids: tuple[int, int],
    sites: Iterable[int],
) -> None:
    """``sensors`` (sensor id → its site and its latest change) and ``sites`` changed in this tick;
    ``change_ids`` the ids of this tick's status change rows (after, up to); ``window_minutes`` and
    ``min_changes`` the largest window and the fewest changes of the rules."""
    since = now - dt.timedelta(minutes=window_minutes)
    fresh: dict[int, int] = {}
    for sensor_id, (site_id, latest) in sensors.items():
        existing = board.get(site_id, Kind.FLAPPING, sensor_id)
        if existing is None:
            fresh[sensor_id] = site_id
        elif latest > existing.last_change_at:  # still flapping: its quiet time starts again
            existing.last_change_at = latest
            board.mark(existing)
    if fresh:
        # The sensors of this tick's rows by their id range, not by a list of ids: the statement's
        # size (and the CPU to build it) stays the same however many sensors changed.
        changed = SensorStatusChange.objects.filter(id__gt=change_ids[0], id__lte=change_ids[1])
        recent = SensorStatusChange.objects.filter(
            sensor_device_id__in=changed.values("sensor_device_id"), timestamp__gt=since
        ).exclude(reason__in=SITE_REASONS)
        # One grouped count, usually empty; the timestamps only of sensors with enough changes (of
        # those the tick judges: the others already flap or their site's events count instead).
        candidates = [
            sensor_id
            for sensor_id in recent.values("sensor_device_id")
            .annotate(count=Count("id"))
            .filter(count__gte=min_changes)
            .values_list("sensor_device_id", flat=True)
            if sensor_id in fresh
        ]
        times: dict[int, list[dt.datetime]] = defaultdict(list)
        if candidates:
            for sensor_id, at in recent.filter(sensor_device_id__in=candidates).values_list(
                "sensor_device_id", "timestamp"
            ):
                times[sensor_id].append(at)
        for sensor_id, moments in times.items():
            _judge(
                board,
                site_id=fresh[sensor_id],
                sensor_id=sensor_id,
                moments=moments,
                now=now,
                rules_for=rules_for,
            )
    site_ids = list(sites)
    if site_ids:
        site_times: dict[int, list[dt.datetime]] = defaultdict(list)
        logs = ConnectionLog.objects.filter(
            mqtt_connection__site_id__in=site_ids, timestamp__gt=since, event_type__in=SITE_FLAP_EVENTS
        ).values_list("mqtt_connection__site_id", "timestamp")
        for site_id, at in logs:
            site_times[site_id].append(at)
        for site_id, moments in site_times.items():
            _judge(board, site_id=site_id, sensor_id=None, moments=moments, now=now, rules_for=rules_for)


def _judge(
    board: Board,
    *,
    site_id: int,
    sensor_id: int | None,
    moments: list[dt.datetime],
    now: dt.datetime,
    rules_for: RulesFor,
) -> None:
    latest = max(moments)
    existing = board.get(site_id, Kind.FLAPPING, sensor_id)
    if existing is not None:
        existing.last_change_at = max(existing.last_change_at, latest)
        board.mark(existing)
        return
    for rule in rules_for(Kind.FLAPPING, site_id):
        recent = [moment for moment in moments if moment > now - dt.timedelta(minutes=rule.flap_minutes)]
        if len(recent) >= rule.flap_changes:
            condition = board.start(site_id, Kind.FLAPPING, now, sensor_id=sensor_id)
            condition.last_change_at = latest
            condition.reason = f"{len(recent)} changes in {rule.flap_minutes} min"
            return


def settle_flapping(board: Board, *, now: dt.datetime, window_minutes: int) -> None:
    """A subject quiet for the whole window is no longer flapping."""
    quiet_since = now - dt.timedelta(minutes=window_minutes)
    for (site_id, kind, sensor_id), condition in list(board.conditions.items()):
        if kind == Kind.FLAPPING and condition.last_change_at <= quiet_since:
            board.clear(site_id, kind, sensor_id)
