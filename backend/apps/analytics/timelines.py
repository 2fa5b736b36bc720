"""The raw rows of a stretch of time → each object's spans (apps/analytics/intervals.py), with a fixed
number of queries whatever the number of sensors: the rows inside the stretch, plus each object's
last row before it (its state at the start; pruning keeps that row, apps/analytics/services.py)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import OuterRef, Q, Subquery

from apps.analytics import intervals as iv
from apps.analytics.intervals import Change, Span
from apps.analytics.states import (
    CONNECTION_EVENTS,
    HEARTBEAT_EVENTS,
    connection_change,
    heartbeat_changes,
    heartbeat_state,
    sensor_change,
)
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, SensorStatusChange
from apps.sites.selectors import maintenance_windows_overlapping

Intervals = list[tuple[dt.datetime, dt.datetime]]


@dataclass(slots=True)
class ConnectionTimeline:
    """A connection's states and its site heartbeat's, over a stretch, before maintenance."""

    connection: list[Span]
    heartbeat: list[Span]

    @property
    def disabled(self) -> Intervals:
        return [(s.start, s.end) for s in self.connection if s.state == iv.DISABLED]


@dataclass(slots=True)
class Stretch:
    """A stretch of time [start, end) read from the raw rows; ``now`` bounds what is known."""

    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    maintenance: dict[int, Intervals] = field(default_factory=dict)  # site id → windows (union)

    def spans(self, changes: Sequence[Change], initial: Change | None) -> list[Span]:
        return iv.spans(changes, initial=initial, start=self.start, end=self.end, until=self.now)


def maintenance_by_site(
    site_ids: Sequence[int], start: dt.datetime, end: dt.datetime
) -> dict[int, Intervals]:
    """Each site's maintenance windows over [start, end), merged (one query)."""
    found: dict[int, Intervals] = defaultdict(list)
    for site_id, starts_at, ends_at in maintenance_windows_overlapping(
        site_ids=site_ids, start=start, end=end
    ).values_list("site_id", "starts_at", "ends_at"):
        found[site_id].append((starts_at, ends_at))
    return {site_id: iv.union(windows) for site_id, windows in found.items()}


def connection_timelines(connection_ids: Sequence[int], stretch: Stretch) -> dict[int, ConnectionTimeline]:
    """Connections' and heartbeats' spans over the stretch (three queries)."""
    if not connection_ids:
        return {}
    rows: dict[int, list[tuple[dt.datetime, str, str]]] = defaultdict(list)
    for connection_id, at, event_type, message in (
        ConnectionLog.objects.filter(
            mqtt_connection_id__in=connection_ids, timestamp__gte=stretch.start, timestamp__lt=stretch.end
        )
        .order_by("mqtt_connection_id", "timestamp", "id")
        .values_list("mqtt_connection_id", "timestamp", "event_type", "message")
    ):
        rows[connection_id].append((at, event_type, message))
    last_connection = _last_log_before(connection_ids, stretch.start, CONNECTION_EVENTS)
    last_heartbeat = _last_log_before(connection_ids, stretch.start, HEARTBEAT_EVENTS)
    result = {}
    for connection_id in connection_ids:
        own = rows.get(connection_id, [])
        before = last_connection.get(connection_id)
        initial = connection_change(before[0], before[1], before[2]) if before else None
        changes = [c for c in (connection_change(*row) for row in own) if c is not None]
        hb_before = last_heartbeat.get(connection_id)
        # With no heartbeat row before, a connection monitored before had never missed one.
        hb_state = heartbeat_state(hb_before[1], None) if hb_before else (iv.UP if before else None)
        hb_initial = Change(stretch.start, hb_state, "") if hb_state else None
        result[connection_id] = ConnectionTimeline(
            connection=stretch.spans(changes, initial),
            heartbeat=stretch.spans(heartbeat_changes(own, initial=hb_state), hb_initial),
        )
    return result


def _last_log_before(
    connection_ids: Sequence[int], moment: dt.datetime, events: frozenset[str]
) -> dict[int, tuple[dt.datetime, str, str]]:
    """Each connection's last log row of these kinds before ``moment`` (one query: a subquery per
    connection on the (connection, -timestamp) index)."""
    last = ConnectionLog.objects.filter(
        mqtt_connection_id=OuterRef("pk"), timestamp__lt=moment, event_type__in=events
    ).order_by("-timestamp", "-id")
    ids = (
        MqttConnection.objects.filter(pk__in=connection_ids)
        .annotate(last_id=Subquery(last.values("id")[:1]))
        .values("last_id")
    )
    return {
        connection_id: (at, event_type, message)
        for connection_id, at, event_type, message in ConnectionLog.objects.filter(id__in=ids).values_list(
            "mqtt_connection_id", "timestamp", "event_type", "message"
        )
    }


def sensor_timelines(sensors: Q, stretch: Stretch) -> dict[int, tuple[int, list[Span]]]:
    """Sensor id → (site id, spans) of the sensors matching ``sensors`` (a Q on SensorDevice) over the
    stretch, before maintenance and disabled time are laid over them (two queries)."""
    last = SensorStatusChange.objects.filter(
        sensor_device_id=OuterRef("pk"), timestamp__lt=stretch.start
    ).order_by("-timestamp", "-id")
    initial: dict[int, tuple[int, Change | None]] = {
        sensor_id: (site_id, sensor_change(stretch.start, status, reason or "") if status else None)
        for sensor_id, site_id, status, reason in SensorDevice.objects.filter(sensors)
        .annotate(
            initial_status=Subquery(last.values("new_status")[:1]),
            initial_reason=Subquery(last.values("reason")[:1]),
        )
        .values_list("id", "site_id", "initial_status", "initial_reason")
    }
    changes: dict[int, list[Change]] = defaultdict(list)
    for sensor_id, at, status, reason in (
        SensorStatusChange.objects.filter(
            sensor_device__in=SensorDevice.objects.filter(sensors).values("id"),
            timestamp__gte=stretch.start,
            timestamp__lt=stretch.end,
        )
        .order_by("sensor_device_id", "timestamp", "id")
        .values_list("sensor_device_id", "timestamp", "new_status", "reason")
    ):
        changes[sensor_id].append(sensor_change(at, status, reason))
    return {
        sensor_id: (site_id, stretch.spans(changes.get(sensor_id, []), start_state))
        for sensor_id, (site_id, start_state) in initial.items()
    }
