"""Flapping: N status changes within M minutes make one flapping condition per sensor (or per site,
from its connection and heartbeat coming and going), held until the subject has been quiet for M
minutes. Counted in the database with the tick's rows (reads.py), so a restarted evaluator still
sees the changes before it started."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from apps.alerts.board import SITE_FLAP_EVENTS, SITE_REASONS, Board
from apps.alerts.models import AlertRule, Condition, Kind
from apps.mqtt.models import ConnectionLog, SensorStatusChange

RulesFor = Callable[[str, int], list[AlertRule]]  # kind, site id → the enabled rules that apply


def detect_flapping(
    board: Board,
    *,
    now: dt.datetime,
    rules_for: RulesFor,
    window_minutes: int,
    min_changes: int,
    sensors: dict[int, tuple[int, dt.datetime, int]],
    sites: dict[int, tuple[dt.datetime | None, int]],
) -> None:
    """``sensors`` (sensor id → its site, its latest change, its changes within the window) and
    ``sites`` (site → its latest connection or heartbeat event in this tick if any, its events within
    the window) changed in this tick, the counts as read with the rows; ``window_minutes`` and
    ``min_changes`` the largest window and the fewest changes of the rules. The timestamps are read
    only for subjects whose count reaches ``min_changes`` (usually none)."""
    since = now - dt.timedelta(minutes=window_minutes)
    fresh: dict[int, int] = {}  # sensor → site
    for sensor_id, (site_id, latest, recent) in sensors.items():
        if _still_flapping(board, site_id, sensor_id, latest) is None and recent >= min_changes:
            fresh[sensor_id] = site_id
    candidates = [
        site_id
        for site_id, (latest, recent) in sites.items()
        if _still_flapping(board, site_id, None, latest) is None and recent >= min_changes
    ]
    moments: dict[tuple[int, int | None], list[dt.datetime]] = defaultdict(list)  # by (site, sensor)
    if fresh:
        for sensor_id, at in (
            SensorStatusChange.objects.filter(sensor_device_id__in=list(fresh), timestamp__gt=since)
            .exclude(reason__in=SITE_REASONS)
            .values_list("sensor_device_id", "timestamp")
        ):
            moments[(fresh[sensor_id], sensor_id)].append(at)
    if candidates:
        for log_site, at in ConnectionLog.objects.filter(
            mqtt_connection__site_id__in=candidates, timestamp__gt=since, event_type__in=SITE_FLAP_EVENTS
        ).values_list("mqtt_connection__site_id", "timestamp"):
            moments[(log_site, None)].append(at)
    for (site, sensor), times in moments.items():
        _judge(board, site_id=site, sensor_id=sensor, moments=times, now=now, rules_for=rules_for)


def _still_flapping(
    board: Board, site_id: int, sensor_id: int | None, latest: dt.datetime | None
) -> Condition | None:
    """The subject's flapping condition, if any; a change in this tick starts its quiet time again."""
    existing = board.get(site_id, Kind.FLAPPING, sensor_id)
    if existing is not None and latest is not None and latest > existing.last_change_at:
        existing.last_change_at = latest
        board.mark(existing)
    return existing


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
