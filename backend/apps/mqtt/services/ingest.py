"""The batch writer: parsed messages and connection events → the database in one transaction with a
fixed number of statements, whatever the number of heartbeats and sensors → a change set.

Reads use the ORM (one query per kind); writes use parameterised ``executemany`` of
``INSERT ... ON CONFLICT ... DO UPDATE`` / ``UPDATE ... WHERE id = %s`` through Django's connection,
which SQLite and PostgreSQL both run, and which costs a fraction of the ORM's per-object work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson
from django.db import connection as db
from django.db import transaction

from apps.mqtt import metrics
from apps.mqtt.models import (
    READING_RING_SIZE,
    ConnectionLog,
    HeartbeatState,
    MqttConnection,
    SensorDevice,
)
from apps.mqtt.parser import (
    READING_COLUMNS,
    Heartbeat,
    ItemIssue,
    Rejection,
    SysInfo,
)
from apps.mqtt.sensor_shape import merge_sensor_states, reading_state, sensor_state

ONLINE, STALE, OFFLINE = (
    SensorDevice.Status.ONLINE.value,
    SensorDevice.Status.STALE.value,
    SensorDevice.Status.OFFLINE.value,
)
_SAMPLE_CHARS = 500


# ---------------------------------------------------------------- what the client tasks enqueue


@dataclass(frozen=True, slots=True)
class HeartbeatItem:
    connection_id: int
    site_id: int
    received_at: dt.datetime
    heartbeat: Heartbeat
    topic: str = ""
    # False for a retained heartbeat older than the timeout: its readings are kept, but it does not
    # make the site or its sensors look alive.
    proves_alive: bool = True


@dataclass(frozen=True, slots=True)
class SysInfoItem:
    connection_id: int
    site_id: int
    received_at: dt.datetime
    info: SysInfo
    topic: str = ""


@dataclass(frozen=True, slots=True)
class RejectedItem:
    site_id: int
    topic: str
    received_at: dt.datetime
    rejection: Rejection


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """An observed change of a connection, written as its row's new state plus one log row."""

    connection_id: int
    site_id: int
    at: dt.datetime
    event_type: str | None  # a ConnectionLog.EventType value; None: counters only, no log row
    message: str = ""
    status: str | None = None  # new observed status, when it changes
    connection_errors: int | None = None
    error_message: str | None = None


IngestItem = HeartbeatItem | SysInfoItem | RejectedItem | ConnectionEvent


# ---------------------------------------------------------------- what a flush reports


@dataclass(slots=True)
class SiteChanges:
    """What one flush changed at one site: the seam for the real-time broadcast."""

    site_id: int
    # device name → the sensor in the shape of apps/mqtt/sensor_shape.py, with this flush's readings
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    sensor_status: list[dict[str, Any]] = field(default_factory=list)  # transitions, in order
    connection: dict[str, Any] = field(default_factory=dict)  # changed connection fields
    system_info: bool = False
    sensor_counts: dict[str, int] = field(default_factory=dict)  # total / online / stale / offline


@dataclass(slots=True)
class ChangeSet:
    sites: dict[int, SiteChanges] = field(default_factory=dict)

    def site(self, site_id: int) -> SiteChanges:
        changes = self.sites.get(site_id)
        if changes is None:
            changes = self.sites[site_id] = SiteChanges(site_id)
        return changes

    def merge(self, other: ChangeSet) -> None:
        for site_id, theirs in other.sites.items():
            mine = self.site(site_id)
            for name, sensor in theirs.sensors.items():
                held = mine.sensors.get(name)
                mine.sensors[name] = (
                    sensor if held is None else merge_sensor_states(held, sensor, READING_RING_SIZE)
                )
            mine.sensor_status.extend(theirs.sensor_status)
            mine.connection.update(theirs.connection)
            mine.system_info = mine.system_info or theirs.system_info
            mine.sensor_counts.update(theirs.sensor_counts)

    def __bool__(self) -> bool:
        return bool(self.sites)


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    retention: int = 3
    max_consecutive_misses: int = 3
    stale_after: float = 30.0  # seconds a listed sensor's ts may stand still before it is stale

    @classmethod
    def from_settings(cls) -> IngestPolicy:
        from django.conf import settings

        mqtt = settings.MQTT_SETTINGS
        return cls(
            retention=mqtt["SENSOR_DATA_RETENTION"],
            max_consecutive_misses=mqtt["MAX_CONSECUTIVE_MISSES"],
            stale_after=float(mqtt["HEARTBEAT_TIMEOUT"]),
        )


# ---------------------------------------------------------------- datetimes for raw SQL


def _datetime_adapter() -> Callable[[dt.datetime | None], Any]:
    """What Django's ``adapt_datetimefield_value`` does, for the hot path: PostgreSQL takes aware
    datetimes as they are; SQLite stores naive UTC text. Memoised per flush, since the sensors of a
    heartbeat share their timestamps (Django's adapter cost a third of a flush in the profile)."""
    if db.vendor != "sqlite":
        return lambda value: value
    memo: dict[dt.datetime, str] = {}
    utc = dt.UTC

    def adapt(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        text = memo.get(value)
        if text is None:
            text = memo[value] = value.astimezone(utc).replace(tzinfo=None).isoformat(" ")
        return text

    return adapt


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


# ---------------------------------------------------------------- the flush


def write_batch(items: Sequence[IngestItem], *, now: dt.datetime, policy: IngestPolicy) -> ChangeSet:
    """Write a batch in one transaction and return what changed. Statements: a bounded number per
    kind of item present, independent of how many heartbeats, sensors or events the batch holds."""
    heartbeats: list[HeartbeatItem] = []
    sys_infos: list[SysInfoItem] = []
    rejected: list[RejectedItem] = []
    events: list[ConnectionEvent] = []
    for item in items:
        if isinstance(item, HeartbeatItem):
            heartbeats.append(item)
        elif isinstance(item, SysInfoItem):
            sys_infos.append(item)
        elif isinstance(item, RejectedItem):
            rejected.append(item)
        else:
            events.append(item)

    changes = ChangeSet()
    with transaction.atomic():
        if events:
            _write_connection_events(events, changes)
        if heartbeats:
            _write_heartbeats(heartbeats, now=now, policy=policy, changes=changes)
        if sys_infos:
            _write_sys_infos(sys_infos, changes)
        issues = _collect_rejections(rejected, heartbeats, sys_infos)
        if issues:
            _write_rejections(issues)
    return changes


# ---------------------------------------------------------------- connection events


def _write_connection_events(events: list[ConnectionEvent], changes: ChangeSet) -> None:
    adapt = _datetime_adapter()
    final: dict[int, dict[str, Any]] = {}
    logs = []
    for event in events:
        state = final.setdefault(event.connection_id, {"site_id": event.site_id})
        if event.status is not None:
            state["status"] = event.status
            state["status_changed_at"] = event.at
            if event.status == MqttConnection.Status.CONNECTED:
                state["last_connected_at"] = event.at
        if event.connection_errors is not None:
            state["connection_errors"] = event.connection_errors
        if event.error_message is not None:
            state["error_message"] = event.error_message
        if event.event_type:
            logs.append((event.connection_id, event.event_type, event.message, adapt(event.at)))

    columns = ("status", "status_changed_at", "last_connected_at", "connection_errors", "error_message")
    rows = []
    for connection_id, state in final.items():
        # COALESCE keeps a column the events did not touch; one statement shape for every row.
        rows.append(
            (
                state.get("status"),
                adapt(state.get("status_changed_at")),
                adapt(state.get("last_connected_at")),
                state.get("connection_errors"),
                state.get("error_message"),
                connection_id,
            )
        )
        public = {key: state[key] for key in columns if key in state}
        if public:
            changes.site(state["site_id"]).connection.update(public)
    with db.cursor() as cursor:
        cursor.executemany(
            "UPDATE mqtt_mqttconnection SET "
            + ", ".join(f"{column} = COALESCE(%s, {column})" for column in columns)
            + " WHERE id = %s",
            rows,
        )
        if logs:
            cursor.executemany(INSERT_LOG_SQL, logs)


# ---------------------------------------------------------------- heartbeats


class _Device:
    """One sensor during a flush. Only what the flush decides on is read from the database: the
    newest reading's time as a comparison key and when it arrived (both in the database's cheapest
    form, see ``_load_devices``). The three timestamps below are what the flush writes, None meaning
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


def _ts_key_function() -> Callable[[dt.datetime], int] | None:
    """The comparison key of a reading's ts, in the form ``_load_devices`` reads it; None when it
    is the adapted value itself (SQLite's text)."""
    if db.vendor == "sqlite":
        return None
    memo: dict[dt.datetime, int] = {}

    def key(value: dt.datetime) -> int:
        micros = memo.get(value)
        if micros is None:
            micros = memo[value] = (value - _EPOCH) // _MICROSECOND
        return micros

    return key


def _as_datetime(value: dt.datetime | str | float) -> dt.datetime:
    """A loaded ``since`` (SQLite text, PostgreSQL epoch seconds) or one set during the flush."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _iso_columns() -> str:
    iso_text = _ISO_TEXT[db.vendor]
    return ", ".join(
        iso_text.format(column) for column in ("status_changed_at", "last_seen_at", "last_reading_at")
    )


def _load_devices(site_ids: Iterable[int]) -> dict[int, dict[str, _Device]]:
    ids = list(site_ids)
    by_site: dict[int, dict[str, _Device]] = {}
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT id, site_id, device_name, status, consecutive_misses, total_messages, reading_seq, "
            f"{_DEVICE_SELECT[db.vendor]}, is_active, device_type, {_iso_columns()} FROM mqtt_sensordevice"
            f" WHERE site_id IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        for row in cursor.fetchall():
            by_site.setdefault(row[1], {})[row[2]] = _Device(row)
    return by_site


def _write_heartbeats(
    items: list[HeartbeatItem], *, now: dt.datetime, policy: IngestPolicy, changes: ChangeSet
) -> None:
    adapt = _datetime_adapter()
    ts_key = _ts_key_function()
    site_ids = {item.site_id for item in items}
    devices = _load_devices(site_ids)

    unknown = {
        (item.site_id, reading.device_name)
        for item in items
        for reading in item.heartbeat.readings
        if reading.device_name not in devices.get(item.site_id, {})
    }
    if unknown:
        with db.cursor() as cursor:
            stamp = adapt(now)
            write_rows(
                cursor,
                _REGISTER_DEVICES,
                [(site_id, name, "", True, OFFLINE, 0, 0, 0, stamp, stamp) for site_id, name in unknown],
            )
        devices = _load_devices(site_ids)

    readings: dict[tuple[int, int], tuple[Any, ...]] = {}
    filled: set[tuple[int, int]] = set()  # ring slots that already hold a reading
    transitions: list[tuple[Any, ...]] = []
    connection_rows: dict[int, tuple[Any, ...]] = {}
    resumed_logs: list[tuple[Any, ...]] = []
    json_value = json_column()
    reading_values = _READING_VALUES
    stored = repeated = 0

    def transition(device: _Device, site: SiteChanges, new: str, reason: str, at: dt.datetime) -> None:
        if device.status == new:
            return
        transitions.append((device.id, device.status, new, reason, adapt(at)))
        device.changed_iso = at_iso = at.isoformat()
        site.sensor_status.append(
            {"device_name": device.name, "old": device.status, "new": new, "reason": reason, "at": at_iso}
        )
        device.status, device.touched = new, True

    for item in items:
        site = changes.site(item.site_id)
        site_devices = devices.get(item.site_id, {})
        received = item.received_at
        received_db = adapt(received)
        received_iso = received.isoformat()
        listed: set[str] = set()
        for reading in item.heartbeat.readings:
            device = site_devices[reading.device_name]
            listed.add(device.name)
            device.touched = True
            if item.proves_alive:
                device.misses = 0
                device.total += 1
                device.last_seen_at = received_db
                device.last_seen_iso = received_iso
            ts_db = adapt(reading.ts)
            key = ts_db if ts_key is None else ts_key(reading.ts)
            values = reading_values(reading)
            repeat = reading.ts_from_payload and device.ts_key == key
            new_readings: list[dict[str, Any]] = []
            if repeat:
                repeated += 1
                since = device.since
                frozen_for = (now - _as_datetime(since)).total_seconds() if since is not None else 0.0
                new_status = STALE if frozen_for > policy.stale_after else ONLINE
                reason = (
                    f"ts has not advanced for {frozen_for:.0f} s" if new_status == STALE else "ts advancing"
                )
            else:
                stored += 1
                slot = device.seq % policy.retention
                if device.seq >= policy.retention:
                    filled.add((device.id, slot))
                device.seq += 1
                device.ts_key, device.since = key, received
                device.last_reading_ts = ts_db
                device.last_reading_at = received_db
                device.last_reading_iso = received_iso
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
            if item.proves_alive and device.status != new_status:
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
            held = site.sensors.get(device.name)  # an earlier heartbeat of the site in this batch
            site.sensors[device.name] = (
                state if held is None else merge_sensor_states(held, state, policy.retention)
            )
        if not item.proves_alive:
            continue
        for device in site_devices.values():
            if device.name in listed or not device.is_active:
                continue
            device.misses += 1
            device.touched = True
            if device.misses >= policy.max_consecutive_misses:
                transition(
                    device, site, OFFLINE, f"missing from {device.misses} heartbeats in a row", received
                )
        interval = item.heartbeat.message_interval_seconds
        previous = connection_rows.get(item.connection_id)
        connection_rows[item.connection_id] = (
            adapt(received),
            interval if interval is not None else (previous[1] if previous else None),
            HeartbeatState.OK.value,
            item.connection_id,
        )
        # heartbeat_state travels only when it changes (_resume_heartbeats): not on every heartbeat.
        site.connection["last_heartbeat_at"] = received
        if interval is not None:
            site.connection["reported_heartbeat_interval"] = interval

    _resume_heartbeats(connection_rows, items, resumed_logs, changes)
    for site_id, site_devices in devices.items():
        counts = dict.fromkeys((ONLINE, STALE, OFFLINE), 0)
        for device in site_devices.values():
            counts[device.status] += 1
        changes.site(site_id).sensor_counts = {"total": len(site_devices), **counts}

    with db.cursor() as cursor:
        if readings:
            _write_readings(cursor, readings, filled)
        touched = [
            device for site_devices in devices.values() for device in site_devices.values() if device.touched
        ]
        if touched:
            now_db = adapt(now)
            write_rows(
                cursor,
                _UPDATE_DEVICES,
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
        if transitions:
            changed = {row[0]: row for row in transitions}  # the last change of each sensor wins
            write_rows(
                cursor,
                _UPDATE_DEVICE_STATUS,
                [(new, at, device_id) for device_id, _, new, _, at in changed.values()],
            )
        if transitions:
            write_rows(cursor, INSERT_STATUS_CHANGES, transitions)
        if connection_rows:
            cursor.executemany(
                "UPDATE mqtt_mqttconnection SET last_heartbeat_at = %s,"
                " reported_heartbeat_interval = COALESCE(%s, reported_heartbeat_interval),"
                " heartbeat_state = %s WHERE id = %s",
                list(connection_rows.values()),
            )
        if resumed_logs:
            cursor.executemany(INSERT_LOG_SQL, resumed_logs)
    metrics.READINGS_STORED.inc(stored)
    metrics.READINGS_REPEATED.inc(repeated)


def _resume_heartbeats(
    connection_rows: dict[int, tuple[Any, ...]],
    items: list[HeartbeatItem],
    logs: list[tuple[Any, ...]],
    changes: ChangeSet,
) -> None:
    """A heartbeat makes the state ``ok``: the change is broadcast for the connections that were not
    (so the pages hear of it once, not on every heartbeat), and a heartbeat from a site whose
    heartbeat was missing is a fact worth a log row."""
    if not connection_rows:
        return
    ids = list(connection_rows)
    # Raw SQL: through the ORM this one small query cost an eighth of the worker's time (profile).
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT id, heartbeat_state FROM mqtt_mqttconnection WHERE heartbeat_state <> %s"
            f" AND id IN ({', '.join(['%s'] * len(ids))})",
            [HeartbeatState.OK.value, *ids],
        )
        previous = dict(cursor.fetchall())
    adapt = _datetime_adapter()
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


def _write_readings(
    cursor: Any, readings: dict[tuple[int, int], tuple[Any, ...]], filled: set[tuple[int, int]]
) -> None:
    """Overwrite the filled slots, insert into the others. A slot the ring's sequence says is
    filled but is not (retention raised, rows deleted by hand) is found by the row count and
    written by the upsert, so no reading is lost; that costs one more statement, never one per row."""
    updates = [row for key, row in readings.items() if key in filled]
    inserts = [row for key, row in readings.items() if key not in filled]
    if updates:
        write_rows(cursor, _UPDATE_READINGS, updates)
        if cursor.rowcount != len(updates):
            inserts += updates
    if inserts:
        write_rows(cursor, _UPSERT_READINGS, inserts)


# The reading columns of a SensorReading in one call.
_READING_VALUES = attrgetter(*READING_COLUMNS)


@dataclass(frozen=True, slots=True)
class _BulkStatement:
    """One write in two forms: a one-row statement that SQLite runs per row with executemany, and a
    set-based one for PostgreSQL that takes every row in one JSON document (an array of arrays), so
    the server plans once and writes every row in one go, and the client serialises the rows with
    one ``orjson.dumps``: psycopg's per-element dumping of one array per column cost more, client
    and server together (bench/results: ingest on PostgreSQL)."""

    row_sql: str
    set_sql: str


def write_rows(cursor: Any, statement: _BulkStatement, rows: list[tuple[Any, ...]]) -> None:
    if db.vendor == "postgresql":
        cursor.execute(statement.set_sql, [orjson.dumps(rows).decode()])
    else:
        cursor.executemany(statement.row_sql, rows)


def json_column() -> Callable[[Any], Any]:
    """How a JSON column's value goes into a row for ``write_rows``: as text for SQLite, as the
    object itself for PostgreSQL (it travels inside the rows' JSON document)."""
    if db.vendor == "postgresql":
        return lambda value: value
    dumps = orjson.dumps
    return lambda value: dumps(value).decode()


def _json_rows(columns: tuple[tuple[str, str], ...]) -> str:
    """A SELECT of the rows in one JSON parameter (an array of arrays, in column order)."""
    values = ", ".join(
        f"e->{index}" if kind == "jsonb" else f"(e->>{index})::{kind}"
        for index, (_, kind) in enumerate(columns)
    )
    return f"SELECT {values} FROM jsonb_array_elements(%s::jsonb) AS e"


def _insert(table: str, columns: tuple[tuple[str, str], ...], suffix: str = "") -> _BulkStatement:
    head = f"INSERT INTO {table} ({', '.join(name for name, _ in columns)})"
    tail = f" {suffix}" if suffix else ""
    return _BulkStatement(
        row_sql=f"{head} VALUES ({', '.join(['%s'] * len(columns))}){tail}",
        set_sql=f"{head} {_json_rows(columns)}{tail}",
    )


# A ring row: the values, then the slot's key, so the upsert and the UPDATE take the same tuple.
_READING_VALUE_COLUMNS = (
    ("timestamp", "timestamptz"),
    ("raw_data", "jsonb"),
    *((name, "float8") for name in READING_COLUMNS),
    ("received_at", "timestamptz"),
)
_READING_KEY_COLUMNS = (("sensor_device_id", "bigint"), ("slot", "smallint"))
_UPSERT_READINGS = _insert(
    "mqtt_sensordata",
    (*_READING_VALUE_COLUMNS, *_READING_KEY_COLUMNS),
    "ON CONFLICT (sensor_device_id, slot) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name, _ in _READING_VALUE_COLUMNS),
)
_REGISTER_DEVICES = _insert(
    "mqtt_sensordevice",
    (
        ("site_id", "bigint"),
        ("device_name", "text"),
        ("device_type", "text"),
        ("is_active", "boolean"),
        ("status", "text"),
        ("consecutive_misses", "integer"),
        ("total_messages", "bigint"),
        ("reading_seq", "bigint"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
    ),
    # Registered on first sight; the conflict clause makes a concurrent registration harmless.
    "ON CONFLICT (site_id, device_name) DO NOTHING",
)
INSERT_STATUS_CHANGES = _insert(
    "mqtt_sensorstatuschange",
    (
        ("sensor_device_id", "bigint"),
        ("old_status", "text"),
        ("new_status", "text"),
        ("reason", "text"),
        ("timestamp", "timestamptz"),
    ),
)


def _update(
    table: str,
    columns: tuple[tuple[str, str], ...],
    keys: tuple[tuple[str, str], ...],
    kept: frozenset[str] = frozenset(),
) -> _BulkStatement:
    """UPDATE of ``columns`` for the rows matching ``keys``; a row gives the columns, then the keys.
    A column in ``kept`` that is NULL in a row keeps its stored value."""

    def assign(name: str, value: str, current: str) -> str:
        return f"{name} = COALESCE({value}, {current})" if name in kept else f"{name} = {value}"

    every = (*columns, *keys)
    return _BulkStatement(
        row_sql=f"UPDATE {table} SET "
        + ", ".join(assign(name, "%s", name) for name, _ in columns)
        + " WHERE "
        + " AND ".join(f"{name} = %s" for name, _ in keys),
        set_sql=f"UPDATE {table} AS t SET "
        + ", ".join(assign(name, f"v.{name}", f"t.{name}") for name, _ in columns)
        + f" FROM ({_json_rows(every)}) AS v({', '.join(name for name, _ in every)}) WHERE "
        + " AND ".join(f"t.{name} = v.{name}" for name, _ in keys),
    )


# Every heartbeat rewrites its sensors' rows: the status columns only for the few that change,
# since SQLite rewrites the (site, status) index entry whenever the column is assigned (a third
# of this statement's time).
_UPDATE_DEVICES = _update(
    "mqtt_sensordevice",
    (
        ("last_seen_at", "timestamptz"),
        ("consecutive_misses", "integer"),
        ("total_messages", "bigint"),
        ("reading_seq", "bigint"),
        ("last_reading_ts", "timestamptz"),
        ("last_reading_at", "timestamptz"),
        ("updated_at", "timestamptz"),
    ),
    (("id", "bigint"),),
    kept=frozenset({"last_seen_at", "last_reading_ts", "last_reading_at"}),
)
_UPDATE_DEVICE_STATUS = _update(
    "mqtt_sensordevice",
    (("status", "text"), ("status_changed_at", "timestamptz")),
    (("id", "bigint"),),
)
# A slot that holds a reading already (all of them once a sensor has sent 3) is overwritten with a
# plain UPDATE: a fifth cheaper than the upsert on SQLite.
_UPDATE_READINGS = _update("mqtt_sensordata", _READING_VALUE_COLUMNS, _READING_KEY_COLUMNS)

INSERT_LOG_SQL = (
    "INSERT INTO mqtt_connectionlog (mqtt_connection_id, event_type, message, timestamp)"
    " VALUES (%s, %s, %s, %s)"
)


# ---------------------------------------------------------------- sys_info

_SYSINFO_TEXT = ("hostname", "firmware_version", "ip_address")
_SYSINFO_NUMBERS = (
    "uptime_seconds",
    "cpu_load",
    "temperature_c",
    "memory_total_bytes",
    "memory_free_bytes",
    "disk_total_bytes",
    "disk_free_bytes",
)


def _write_sys_infos(items: list[SysInfoItem], changes: ChangeSet) -> None:
    adapt = _datetime_adapter()
    merged: dict[int, dict[str, Any]] = {}
    for item in items:
        # Several in one batch: later values win, but an absent value never erases an earlier one.
        state = merged.setdefault(item.site_id, {})
        for name in (*_SYSINFO_TEXT, *_SYSINFO_NUMBERS, "reported_at"):
            value = getattr(item.info, name)
            if value is not None and value != "":
                state[name] = value
        state["raw_data"] = item.info.raw
        state["received_at"] = item.received_at
        changes.site(item.site_id).system_info = True
    rows = [
        (
            site_id,
            *(state.get(name, "") for name in _SYSINFO_TEXT),
            *(state.get(name) for name in _SYSINFO_NUMBERS),
            orjson.dumps(state["raw_data"]).decode(),
            adapt(state.get("reported_at")),
            adapt(state["received_at"]),
        )
        for site_id, state in merged.items()
    ]
    with db.cursor() as cursor:
        cursor.executemany(_UPSERT_SYSINFO_SQL[db.vendor], rows)


def _upsert_sysinfo_sql(json_placeholder: str) -> str:
    columns = ("site_id", *_SYSINFO_TEXT, *_SYSINFO_NUMBERS, "raw_data", "reported_at", "received_at")
    values = ["%s"] * len(columns)
    values[columns.index("raw_data")] = json_placeholder
    updates = [f"{c} = COALESCE(NULLIF(excluded.{c}, ''), mqtt_systeminfo.{c})" for c in _SYSINFO_TEXT]
    updates += [
        f"{c} = COALESCE(excluded.{c}, mqtt_systeminfo.{c})" for c in (*_SYSINFO_NUMBERS, "reported_at")
    ]
    updates += ["raw_data = excluded.raw_data", "received_at = excluded.received_at"]
    return (
        f"INSERT INTO mqtt_systeminfo ({', '.join(columns)}) VALUES ({', '.join(values)})"
        f" ON CONFLICT (site_id) DO UPDATE SET {', '.join(updates)}"
    )


_UPSERT_SYSINFO_SQL = {"sqlite": _upsert_sysinfo_sql("%s"), "postgresql": _upsert_sysinfo_sql("%s::jsonb")}


# ---------------------------------------------------------------- rejections


@dataclass(slots=True)
class _RejectionTally:
    count: int
    detail: str
    sample: str
    first: dt.datetime
    last: dt.datetime


def _collect_rejections(
    rejected: list[RejectedItem], heartbeats: list[HeartbeatItem], sys_infos: list[SysInfoItem]
) -> dict[tuple[int, str, str], _RejectionTally]:
    tallies: dict[tuple[int, str, str], _RejectionTally] = {}

    def count(site_id: int, topic: str, reason: str, detail: str, sample: str, at: dt.datetime) -> None:
        key = (site_id, topic[:255], reason)
        tally = tallies.get(key)
        if tally is None:
            tallies[key] = _RejectionTally(1, detail, sample, at, at)
        else:
            tally.count += 1
            tally.detail, tally.sample, tally.last = detail, sample, at

    for item in rejected:
        reason = str(item.rejection.reason)
        metrics.MESSAGES_REJECTED.labels(reason).inc()
        count(
            item.site_id,
            item.topic,
            reason,
            item.rejection.detail,
            item.rejection.sample[:_SAMPLE_CHARS],
            item.received_at,
        )
    parsed: list[tuple[int, str, dt.datetime, tuple[ItemIssue, ...]]] = [
        (h.site_id, h.topic, h.received_at, h.heartbeat.issues) for h in heartbeats
    ] + [(s.site_id, s.topic, s.received_at, s.info.issues) for s in sys_infos]
    for site_id, topic, at, issues in parsed:
        for issue in issues:
            reason = str(issue.reason)
            metrics.ITEMS_REJECTED.labels(reason).inc()
            where = " ".join(part for part in (issue.device_name, issue.field) if part)
            count(site_id, topic, reason, f"{where}: {issue.detail}" if where else issue.detail, "", at)
    return tallies


def _write_rejections(tallies: dict[tuple[int, str, str], _RejectionTally]) -> None:
    adapt = _datetime_adapter()
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO mqtt_rejectedmessage (site_id, topic, reason, count, last_detail, last_sample,"
            " first_seen_at, last_seen_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (site_id, topic, reason) DO UPDATE SET"
            " count = mqtt_rejectedmessage.count + excluded.count, last_detail = excluded.last_detail,"
            " last_sample = CASE WHEN excluded.last_sample = '' THEN mqtt_rejectedmessage.last_sample"
            " ELSE excluded.last_sample END, last_seen_at = excluded.last_seen_at",
            [
                (site_id, topic, reason, t.count, t.detail, t.sample, adapt(t.first), adapt(t.last))
                for (site_id, topic, reason), t in tallies.items()
            ],
        )
