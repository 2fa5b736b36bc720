"""The one shape of a sensor that clients see: the site snapshot, the ``sensors_update`` deltas and
the REST API's sensor list all build it here, so a client loads a snapshot and merges deltas into
it key for key.

A sensor: ``id``, ``device_name``, ``device_type``, ``is_active``, ``status`` (online / stale /
offline), ``is_online``, ``status_changed_at``, ``last_seen_at`` (the last heartbeat that listed
it), ``last_reading_at`` (when its newest reading arrived, server clock), ``consecutive_misses``,
``total_messages`` and ``readings``, newest first. In a snapshot or the API, ``readings`` holds the
retained ones; in a delta, only those the flush stored (none when the datalogger repeated its
``ts``), which the client puts in front of those it holds.

Times are ISO 8601 text in UTC. Built by plain functions, not a DRF serializer: the ingest path
builds one per listed sensor per heartbeat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from apps.mqtt.parser import READING_COLUMNS

if TYPE_CHECKING:
    from apps.mqtt.models import SensorData, SensorDevice

SENSOR_KEYS = (
    "id",
    "device_name",
    "device_type",
    "is_active",
    "status",
    "is_online",
    "status_changed_at",
    "last_seen_at",
    "last_reading_at",
    "consecutive_misses",
    "total_messages",
    "readings",
)
READING_KEYS = ("timestamp", "received_at", *READING_COLUMNS)
ONLINE = "online"


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def reading_state(timestamp: str | None, received_at: str | None, values: Sequence[Any]) -> dict[str, Any]:
    """A reading: its own time, its arrival, and the reading columns (numbers or None)."""
    return dict(zip(READING_KEYS, (timestamp, received_at, *values), strict=True))


def sensor_state(
    *,
    id: int,
    device_name: str,
    device_type: str,
    is_active: bool,
    status: str,
    status_changed_at: str | None,
    last_seen_at: str | None,
    last_reading_at: str | None,
    consecutive_misses: int,
    total_messages: int,
    readings: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "id": id,
        "device_name": device_name,
        "device_type": device_type,
        "is_active": is_active,
        "status": status,
        "is_online": status == ONLINE,
        "status_changed_at": status_changed_at,
        "last_seen_at": last_seen_at,
        "last_reading_at": last_reading_at,
        "consecutive_misses": consecutive_misses,
        "total_messages": total_messages,
        "readings": readings,
    }


def reading_state_of(reading: SensorData) -> dict[str, Any]:
    return reading_state(
        iso(reading.timestamp),
        iso(reading.received_at),
        [getattr(reading, column) for column in READING_COLUMNS],
    )


def sensor_state_of(sensor: SensorDevice, readings: Iterable[SensorData]) -> dict[str, Any]:
    """A stored sensor with its retained readings (pass them newest first)."""
    return sensor_state(
        id=sensor.pk,
        device_name=sensor.device_name,
        device_type=sensor.device_type,
        is_active=sensor.is_active,
        status=sensor.status,
        status_changed_at=iso(sensor.status_changed_at),
        last_seen_at=iso(sensor.last_seen_at),
        last_reading_at=iso(sensor.last_reading_at),
        consecutive_misses=sensor.consecutive_misses,
        total_messages=sensor.total_messages,
        readings=[reading_state_of(reading) for reading in readings],
    )


def merge_sensor_states(older: dict[str, Any], newer: dict[str, Any], retention: int) -> dict[str, Any]:
    """Two deltas of one sensor folded into one (later flushes, or several heartbeats of a site in
    one flush): the newer state, with the readings of both, newest first."""
    readings = newer["readings"] + older["readings"]
    return {**newer, "readings": readings[:retention]}


def sensor_counts(statuses: Iterable[str]) -> dict[str, int]:
    """Sensors counted by status, as every client gets them: total, online, stale, offline."""
    counts = {"total": 0, "online": 0, "stale": 0, "offline": 0}
    for status in statuses:
        counts[status] += 1
    counts["total"] = counts["online"] + counts["stale"] + counts["offline"]
    return counts
