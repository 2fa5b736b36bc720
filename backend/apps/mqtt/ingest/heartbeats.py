"""Heartbeats → the ring of readings, the sensors' counters and states, the connections' heartbeat
fields, with one statement of each kind per flush whatever the number of heartbeats and sensors.

Readings are ordered by their ts: a reading whose ts equals the newest stored one is a repeat, and
one whose ts is older (a datalogger replaying its buffer after a reconnect) is a replay; both are
counted, not stored, and not sent as new readings (the sensor is stale once its ts has stood still
longer than the policy allows). A replay newer than the ring's oldest reading is dropped too, not
inserted in order: the ring is the sensor's last readings for display, not its history, and
inserting in the middle would need the ring's oldest ts per sensor on this hot path and a delta
that inserts in the middle of the clients' readings; by the time it arrives, a newer one is shown.
A sensor missing from ``max_consecutive_misses`` heartbeats in a row goes offline. A retained
heartbeat older than the timeout (``proves_alive=False``) stores its readings but does not make the
site look alive. New device names beyond the site's sensor cap are refused (ingest/devices.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from django.db import connection as db

from apps.mqtt import metrics
from apps.mqtt.ingest.changes import ChangeSet, SiteChanges
from apps.mqtt.ingest.completeness import write_heartbeat_hours
from apps.mqtt.ingest.devices import Device, Refused, load_devices, seconds_since, ts_key_function
from apps.mqtt.ingest.items import HeartbeatItem
from apps.mqtt.ingest.policy import OFFLINE, ONLINE, STALE, IngestPolicy
from apps.mqtt.ingest.sql import (
    INSERT_LOG_SQL,
    INSERT_STATUS_CHANGES,
    UPDATE_CONNECTION_HEARTBEATS_SQL,
    UPDATE_DEVICE_STATUS,
    UPDATE_DEVICES,
    UPDATE_READINGS,
    UPSERT_READINGS,
    datetime_adapter,
    json_column,
    write_rows,
)
from apps.mqtt.models import ConnectionLog, HeartbeatState
from apps.mqtt.parser import READING_COLUMNS
from apps.mqtt.sensor_shape import merge_sensor_states, reading_state, sensor_counts, sensor_state

# The reading columns of a SensorReading in one call.
_READING_VALUES = attrgetter(*READING_COLUMNS)

_iso_memo: dict[dt.datetime, str] = {}


def _iso(moment: dt.datetime) -> str:
    """ISO text of a reading's time; the sensors of a heartbeat share it, so it is memoised (the
    memo is emptied when it grows, so it stays small)."""
    text = _iso_memo.get(moment)
    if text is None:
        if len(_iso_memo) > 4096:
            _iso_memo.clear()
        text = _iso_memo[moment] = moment.isoformat()
    return text


def write_heartbeats(
    items: list[HeartbeatItem], *, now: dt.datetime, policy: IngestPolicy, changes: ChangeSet
) -> dict[tuple[int, str], Refused]:
    """Write the heartbeats; returns the new device names refused at the sites' sensor cap, per
    (site id, topic), for the rejection tallies."""
    adapt = datetime_adapter()
    devices, refused = load_devices(items, now=now, adapt=adapt, cap=policy.max_sensors_per_site)
    flush = _HeartbeatFlush(now=now, policy=policy, changes=changes, adapt=adapt)
    for item in items:
        flush.add(item, devices.get(item.site_id, {}))
    resumed_logs = _resume_heartbeats(flush.connection_rows, items, changes)
    _count_sensors(devices, changes)
    with db.cursor() as cursor:
        flush.write(cursor, devices)
        if resumed_logs:
            cursor.executemany(INSERT_LOG_SQL, resumed_logs)
        write_heartbeat_hours(cursor, items, adapt)
    metrics.READINGS_STORED.inc(flush.stored)
    metrics.READINGS_REPEATED.inc(flush.repeated)
    if flush.replayed:
        metrics.READINGS_REPLAYED.inc(flush.replayed)
    return refused


class _HeartbeatFlush:
    """What a flush's heartbeats write, gathered heartbeat by heartbeat (the devices are updated in
    place), then written with one statement of each kind."""

    __slots__ = (
        "adapt",
        "changes",
        "connection_rows",
        "filled",
        "json_value",
        "now",
        "policy",
        "readings",
        "repeated",
        "replayed",
        "stored",
        "transitions",
        "ts_key",
    )

    def __init__(
        self,
        *,
        now: dt.datetime,
        policy: IngestPolicy,
        changes: ChangeSet,
        adapt: Callable[[dt.datetime | None], Any],
    ) -> None:
        self.now, self.policy, self.changes, self.adapt = now, policy, changes, adapt
        self.ts_key = ts_key_function()
        self.json_value = json_column()
        self.readings: dict[tuple[int, int], tuple[Any, ...]] = {}  # (device id, slot) → ring row
        self.filled: set[tuple[int, int]] = set()  # ring slots that already hold a reading
        self.transitions: list[tuple[Any, ...]] = []
        self.connection_rows: dict[int, tuple[Any, ...]] = {}
        self.stored = self.repeated = self.replayed = 0

    def add(self, item: HeartbeatItem, site_devices: dict[str, Device]) -> None:
        site = self.changes.site(item.site_id)
        listed = self._add_readings(item, site, site_devices)
        if item.proves_alive:
            self._count_misses(item, site, site_devices, listed)
            self._heartbeat_received(item, site)

    def _transition(self, device: Device, site: SiteChanges, new: str, reason: str, at: dt.datetime) -> None:
        if device.status == new:
            return
        self.transitions.append((device.id, device.status, new, reason, self.adapt(at)))
        device.changed_iso = at_iso = at.isoformat()
        site.sensor_status.append(
            {"device_name": device.name, "old": device.status, "new": new, "reason": reason, "at": at_iso}
        )
        device.status, device.touched = new, True

    def _add_readings(
        self, item: HeartbeatItem, site: SiteChanges, site_devices: dict[str, Device]
    ) -> set[str]:
        """The hot loop, once per listed sensor: its reading into the ring when its ts is the newest
        (a repeat or a replay is counted, not stored), its status, and its state for the broadcast.
        Returns the names listed."""
        adapt, ts_key, now, json_value = self.adapt, self.ts_key, self.now, self.json_value
        retention, stale_after = self.policy.retention, self.policy.stale_after
        readings, filled, transition, sensors = self.readings, self.filled, self._transition, site.sensors
        reading_values = _READING_VALUES
        alive = item.proves_alive
        received = item.received_at
        received_db = adapt(received)
        received_iso = received.isoformat()
        device_named = site_devices.get
        listed: set[str] = set()
        stored = repeated = replayed = 0
        for reading in item.heartbeat.readings:
            device = device_named(reading.device_name)
            if device is None:  # a new name refused at the site's sensor cap (ingest/devices.py)
                continue
            listed.add(device.name)
            device.touched = True
            if alive:
                device.misses = 0
                device.total += 1
                device.last_seen_at = received_db
                device.last_seen_iso = received_iso
            ts_db = adapt(reading.ts)
            key = ts_db if ts_key is None else ts_key(reading.ts)
            newest = device.ts_key
            new_readings: list[dict[str, Any]] = []
            if newest is None or key > newest or (key == newest and not reading.ts_from_payload):
                stored += 1
                slot = device.seq % retention
                if device.seq >= retention:
                    filled.add((device.id, slot))
                device.seq += 1
                device.ts_key, device.since = key, received
                device.last_reading_ts = ts_db
                device.last_reading_at = received_db
                device.last_reading_iso = received_iso
                values = reading_values(reading)
                new_readings.append(reading_state(_iso(reading.ts), received_iso, values))
                readings[(device.id, slot)] = (
                    ts_db,
                    json_value(reading.raw),
                    *values,
                    received_db,
                    device.id,
                    slot,
                )
                new_status, reason = ONLINE, "listed in heartbeat"
            else:  # a repeat (the same ts) or a replay (older): the ts has not advanced
                if key < newest:
                    replayed += 1
                else:
                    repeated += 1
                new_status, reason = _not_advanced(device, now, stale_after)
            if alive and device.status != new_status:
                transition(device, site, new_status, reason, received)
            # The sensor as the real-time pages get it (apps/mqtt/sensor_shape.py), ready for JSON.
            state = sensor_state(
                id=device.id,
                device_name=device.name,
                device_type=device.type,
                is_active=device.is_active,
                status=device.status,
                status_changed_at=device.changed_iso,
                last_seen_at=device.last_seen_iso,
                last_reading_at=device.last_reading_iso,
                consecutive_misses=device.misses,
                total_messages=device.total,
                readings=new_readings,
            )
            held = sensors.get(device.name)  # an earlier heartbeat of the site in this batch
            sensors[device.name] = state if held is None else merge_sensor_states(held, state, retention)
        self.stored += stored
        self.repeated += repeated
        self.replayed += replayed
        return listed

    def _count_misses(
        self, item: HeartbeatItem, site: SiteChanges, site_devices: dict[str, Device], listed: set[str]
    ) -> None:
        """Every active sensor of the site the heartbeat did not list missed it; offline after
        ``max_consecutive_misses`` in a row."""
        limit, transition, received = self.policy.max_consecutive_misses, self._transition, item.received_at
        for device in site_devices.values():
            if device.name in listed or not device.is_active:
                continue
            device.misses += 1
            device.touched = True
            if device.misses >= limit:
                transition(
                    device, site, OFFLINE, f"missing from {device.misses} heartbeats in a row", received
                )

    def _heartbeat_received(self, item: HeartbeatItem, site: SiteChanges) -> None:
        """The connection's heartbeat fields: the last heartbeat wins, a reported interval is kept
        until a newer one."""
        received = item.received_at
        interval = item.heartbeat.message_interval_seconds
        previous = self.connection_rows.get(item.connection_id)
        self.connection_rows[item.connection_id] = (
            self.adapt(received),
            interval if interval is not None else (previous[1] if previous else None),
            HeartbeatState.OK.value,
            item.connection_id,
        )
        # heartbeat_state travels only when it changes (_resume_heartbeats): not on every heartbeat.
        site.connection["last_heartbeat_at"] = received
        if interval is not None:
            site.connection["reported_heartbeat_interval"] = interval

    def write(self, cursor: Any, devices: dict[int, dict[str, Device]]) -> None:
        """One statement of each kind present: ring updates and inserts, sensor rows, the status
        changes (sensor rows and log), the connections' heartbeat fields."""
        if self.readings:
            _write_readings(cursor, self.readings, self.filled)
        touched = [
            device for site_devices in devices.values() for device in site_devices.values() if device.touched
        ]
        if touched:
            now_db = self.adapt(self.now)
            write_rows(
                cursor,
                UPDATE_DEVICES,
                [
                    (
                        d.last_seen_at,
                        d.misses,
                        d.total,
                        d.seq,
                        d.last_reading_ts,
                        d.last_reading_at,
                        now_db,
                        d.id,
                    )
                    for d in touched
                ],
            )
        if self.transitions:
            changed = {row[0]: row for row in self.transitions}  # the last change of each sensor wins
            write_rows(
                cursor,
                UPDATE_DEVICE_STATUS,
                [(new, at, device_id) for device_id, _, new, _, at in changed.values()],
            )
            write_rows(cursor, INSERT_STATUS_CHANGES, self.transitions)
        if self.connection_rows:
            cursor.executemany(UPDATE_CONNECTION_HEARTBEATS_SQL, list(self.connection_rows.values()))


def _not_advanced(device: Device, now: dt.datetime, stale_after: float) -> tuple[str, str]:
    """The status of a listed sensor whose ts has not advanced (a repeat or a replay): stale once it
    has stood still longer than ``stale_after`` seconds, on the server's clock."""
    frozen_for = seconds_since(device.since, now)
    if frozen_for > stale_after:
        return STALE, f"ts has not advanced for {frozen_for:.0f} s"
    return ONLINE, "ts advancing"


def _resume_heartbeats(
    connection_rows: dict[int, tuple[Any, ...]], items: list[HeartbeatItem], changes: ChangeSet
) -> list[tuple[Any, ...]]:
    """A heartbeat makes the state ``ok``: the change is broadcast for the connections that were not
    (so the pages hear of it once, not on every heartbeat), and a heartbeat from a site whose
    heartbeat was missing is a fact worth a log row (returned, to be written)."""
    logs: list[tuple[Any, ...]] = []
    if not connection_rows:
        return logs
    ids = list(connection_rows)
    # Raw SQL: through the ORM this one small query cost an eighth of the worker's time (profile).
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT id, heartbeat_state FROM mqtt_mqttconnection WHERE heartbeat_state <> %s"
            f" AND id IN ({', '.join(['%s'] * len(ids))})",
            [HeartbeatState.OK.value, *ids],
        )
        previous = dict(cursor.fetchall())
    adapt = datetime_adapter()
    for item in items:
        state = previous.pop(item.connection_id, None) if item.proves_alive else None
        if state is None:
            continue
        changes.site(item.site_id).connection["heartbeat_state"] = HeartbeatState.OK.value
        if state == HeartbeatState.MISSING.value:
            logs.append(
                (
                    item.connection_id,
                    ConnectionLog.EventType.HEARTBEAT_RESUMED.value,
                    "Heartbeat received again",
                    adapt(item.received_at),
                )
            )
    return logs


def _count_sensors(devices: dict[int, dict[str, Device]], changes: ChangeSet) -> None:
    for site_id, site_devices in devices.items():
        changes.site(site_id).sensor_counts = sensor_counts(device.status for device in site_devices.values())


def _write_readings(
    cursor: Any, readings: dict[tuple[int, int], tuple[Any, ...]], filled: set[tuple[int, int]]
) -> None:
    """Overwrite the filled slots, insert into the others. A slot the ring's sequence says is
    filled but is not (retention raised, rows deleted by hand) is found by the row count and
    written by the upsert, so no reading is lost; that costs one more statement, never one per row."""
    updates = [row for key, row in readings.items() if key in filled]
    inserts = [row for key, row in readings.items() if key not in filled]
    if updates:
        write_rows(cursor, UPDATE_READINGS, updates)
        if cursor.rowcount != len(updates):
            inserts += updates
    if inserts:
        write_rows(cursor, UPSERT_READINGS, inserts)
