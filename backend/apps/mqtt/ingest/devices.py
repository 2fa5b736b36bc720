"""The sensors of a flush's sites: loaded in one ``SELECT`` (devices seen for the first time are
registered with one ``INSERT … ON CONFLICT DO NOTHING`` and loaded again, as long as their site is
under its sensor cap), in the form the flush compares and writes, never as ORM objects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection as db

from apps.mqtt.ingest.items import HeartbeatItem
from apps.mqtt.ingest.policy import OFFLINE
from apps.mqtt.ingest.sql import REGISTER_DEVICES, write_rows


class Device:
    """One sensor during a flush. Only what the flush decides on is read from the database: the
    newest reading's time as a comparison key and when it arrived (both in the database's cheapest
    form, see ``_load``). The three timestamps below are what the flush writes, None meaning
    "keep the stored value", so the stored ones are never read, converted and written back; a
    status change is written apart, from the flush's transitions."""

    __slots__ = (
        "changed_iso",
        "id",
        "is_active",
        "last_reading_at",
        "last_reading_iso",
        "last_reading_ts",
        "last_seen_at",
        "last_seen_iso",
        "misses",
        "name",
        "seq",
        "since",
        "status",
        "total",
        "touched",
        "ts_key",
        "type",
    )

    def __init__(self, row: tuple[Any, ...]) -> None:
        (
            self.id,
            _site_id,
            self.name,
            self.status,
            self.misses,
            self.total,
            self.seq,
            self.ts_key,
            self.since,
            self.is_active,
            self.type,
            # The stored times as ISO text (made by the database), for the real-time sensor shape.
            self.changed_iso,
            self.last_seen_iso,
            self.last_reading_iso,
        ) = row
        self.last_seen_at = self.last_reading_ts = self.last_reading_at = None
        self.touched = False


# The newest reading's ts as a key that equals the key of the same moment computed in Python, and
# when it arrived: text on SQLite (as stored); on PostgreSQL integer microseconds and float seconds
# since the epoch, because psycopg's timestamptz parsing was 30 % of the worker's time (profile).
_DEVICE_SELECT = {
    "sqlite": "CAST(last_reading_ts AS TEXT), CAST(last_reading_at AS TEXT)",
    "postgresql": "(extract(epoch FROM last_reading_ts) * 1000000)::int8,"
    " extract(epoch FROM last_reading_at)::float8",
}
# Stored times as ISO 8601 text in UTC, written by the database: cheaper than parsing them in Python.
_ISO_TEXT = {
    "sqlite": "replace(CAST({0} AS TEXT), ' ', 'T') || '+00:00'",
    "postgresql": "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')",
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def ts_key_function() -> Callable[[dt.datetime], int] | None:
    """The comparison key of a reading's ts, in the form ``_load`` reads it; None when it is the
    adapted value itself (SQLite's text)."""
    if db.vendor == "sqlite":
        return None
    memo: dict[dt.datetime, int] = {}

    def key(value: dt.datetime) -> int:
        micros = memo.get(value)
        if micros is None:
            micros = memo[value] = (value - _EPOCH) // _MICROSECOND
        return micros

    return key


def seconds_since(since: dt.datetime | str | float | None, now: dt.datetime) -> float:
    """Seconds from a device's ``since`` (loaded: SQLite text, PostgreSQL epoch seconds; or set
    during the flush) to ``now``; 0 when it has none."""
    if since is None:
        return 0.0
    if isinstance(since, str):
        since = dt.datetime.fromisoformat(since).replace(tzinfo=dt.UTC)
    elif not isinstance(since, dt.datetime):
        since = dt.datetime.fromtimestamp(since, dt.UTC)
    return (now - since).total_seconds()


def _iso_columns() -> str:
    iso_text = _ISO_TEXT[db.vendor]
    return ", ".join(
        iso_text.format(column) for column in ("status_changed_at", "last_seen_at", "last_reading_at")
    )


def _load(site_ids: Iterable[int]) -> dict[int, dict[str, Device]]:
    ids = list(site_ids)
    by_site: dict[int, dict[str, Device]] = {}
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT id, site_id, device_name, status, consecutive_misses, total_messages, reading_seq, "
            f"{_DEVICE_SELECT[db.vendor]}, is_active, device_type, {_iso_columns()} FROM mqtt_sensordevice"
            f" WHERE site_id IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        for row in cursor.fetchall():
            by_site.setdefault(row[1], {})[row[2]] = Device(row)
    return by_site


@dataclass(slots=True)
class Refused:
    """New device names of one site and topic that a flush did not register: the site was at its
    sensor cap (``IngestPolicy.max_sensors_per_site``). Their readings are dropped and counted."""

    readings: int
    sample: str  # the first refused name, for the tally's detail
    at: dt.datetime


def load_devices(
    items: list[HeartbeatItem], *, now: dt.datetime, adapt: Callable[[dt.datetime], Any], cap: int
) -> tuple[dict[int, dict[str, Device]], dict[tuple[int, str], Refused]]:
    """Site id → device name → the device, for every sensor of the heartbeats' sites; a device
    named in a heartbeat for the first time is registered (offline, until this flush says) while
    its site has fewer than ``cap`` sensors. The names refused at the cap, per (site id, topic),
    are returned beside: their readings are not written (the site's known sensors are)."""
    site_ids = {item.site_id for item in items}
    devices = _load(site_ids)
    for item in items:
        known = devices.get(item.site_id, {})
        if any(reading.device_name not in known for reading in item.heartbeat.readings):
            break
    else:  # the steady state: every name known
        return devices, {}
    admitted, refused = _admit(items, devices, cap)
    if admitted:
        with db.cursor() as cursor:
            stamp = adapt(now)
            write_rows(
                cursor,
                REGISTER_DEVICES,
                [(site_id, name, "", True, OFFLINE, 0, 0, 0, stamp, stamp) for site_id, name in admitted],
            )
        devices = _load(site_ids)
    return devices, refused


def _admit(
    items: list[HeartbeatItem], devices: dict[int, dict[str, Device]], cap: int
) -> tuple[list[tuple[int, str]], dict[tuple[int, str], Refused]]:
    """The new names to register, in the order they arrive, while each site has room under the
    cap; the rest refused. Only a flush with new names comes here, so only it pays for this."""
    admitted: dict[tuple[int, str], None] = {}  # an ordered set
    room: dict[int, int] = {}
    refused: dict[tuple[int, str], Refused] = {}
    for item in items:
        site_id = item.site_id
        known = devices.get(site_id, {})
        left = room.get(site_id, cap - len(known))
        for reading in item.heartbeat.readings:
            name = reading.device_name
            if name in known or (site_id, name) in admitted:
                continue
            if left > 0:
                admitted[(site_id, name)] = None
                left -= 1
                continue
            held = refused.get((site_id, item.topic))
            if held is None:
                refused[(site_id, item.topic)] = Refused(1, name, item.received_at)
            else:
                held.readings += 1
                held.at = item.received_at
        room[site_id] = left
    return list(admitted), refused
