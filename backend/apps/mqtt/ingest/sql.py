"""The flush's bulk statements and the datetime adapters for raw SQL.

A ``BulkStatement`` is one write in two forms: one row per ``executemany`` call on SQLite, every row
in one statement on PostgreSQL (the rows sent as one JSON document), so a flush runs a fixed number
of statements whatever the number of heartbeats and sensors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection as db

from apps.mqtt.parser import READING_COLUMNS

# ---------------------------------------------------------------- datetimes for raw SQL


def datetime_adapter() -> Callable[[dt.datetime | None], Any]:
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


# ---------------------------------------------------------------- bulk statements


@dataclass(frozen=True, slots=True)
class BulkStatement:
    """One write in two forms: a one-row statement that SQLite runs per row with executemany, and a
    set-based one for PostgreSQL that takes every row in one JSON document (an array of arrays), so
    the server plans once and writes every row in one go, and the client serialises the rows with
    one ``orjson.dumps``: psycopg's per-element dumping of one array per column cost more, client
    and server together (bench/results: ingest on PostgreSQL)."""

    row_sql: str
    set_sql: str


def write_rows(cursor: Any, statement: BulkStatement, rows: list[tuple[Any, ...]]) -> None:
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


def _insert(table: str, columns: tuple[tuple[str, str], ...], suffix: str = "") -> BulkStatement:
    head = f"INSERT INTO {table} ({', '.join(name for name, _ in columns)})"
    tail = f" {suffix}" if suffix else ""
    return BulkStatement(
        row_sql=f"{head} VALUES ({', '.join(['%s'] * len(columns))}){tail}",
        set_sql=f"{head} {_json_rows(columns)}{tail}",
    )


def _update(
    table: str,
    columns: tuple[tuple[str, str], ...],
    keys: tuple[tuple[str, str], ...],
    kept: frozenset[str] = frozenset(),
) -> BulkStatement:
    """UPDATE of ``columns`` for the rows matching ``keys``; a row gives the columns, then the keys.
    A column in ``kept`` that is NULL in a row keeps its stored value."""

    def assign(name: str, value: str, current: str) -> str:
        return f"{name} = COALESCE({value}, {current})" if name in kept else f"{name} = {value}"

    every = (*columns, *keys)
    return BulkStatement(
        row_sql=f"UPDATE {table} SET "
        + ", ".join(assign(name, "%s", name) for name, _ in columns)
        + " WHERE "
        + " AND ".join(f"{name} = %s" for name, _ in keys),
        set_sql=f"UPDATE {table} AS t SET "
        + ", ".join(assign(name, f"v.{name}", f"t.{name}") for name, _ in columns)
        + f" FROM ({_json_rows(every)}) AS v({', '.join(name for name, _ in every)}) WHERE "
        + " AND ".join(f"t.{name} = v.{name}" for name, _ in keys),
    )


# A ring row: the values, then the slot's key, so the upsert and the UPDATE take the same tuple.
_READING_VALUE_COLUMNS = (
    ("timestamp", "timestamptz"),
    ("raw_data", "jsonb"),
    *((name, "float8") for name in READING_COLUMNS),
    ("received_at", "timestamptz"),
)
_READING_KEY_COLUMNS = (("sensor_device_id", "bigint"), ("slot", "smallint"))
UPSERT_READINGS = _insert(
    "mqtt_sensordata",
    (*_READING_VALUE_COLUMNS, *_READING_KEY_COLUMNS),
    "ON CONFLICT (sensor_device_id, slot) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name, _ in _READING_VALUE_COLUMNS),
)
# A slot that holds a reading already (all of them once a sensor has sent 3) is overwritten with a
# plain UPDATE: a fifth cheaper than the upsert on SQLite.
UPDATE_READINGS = _update("mqtt_sensordata", _READING_VALUE_COLUMNS, _READING_KEY_COLUMNS)
REGISTER_DEVICES = _insert(
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
# Every heartbeat rewrites its sensors' rows: the status columns only for the few that change,
# since SQLite rewrites the (site, status) index entry whenever the column is assigned (a third
# of this statement's time).
UPDATE_DEVICES = _update(
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
UPDATE_DEVICE_STATUS = _update(
    "mqtt_sensordevice",
    (("status", "text"), ("status_changed_at", "timestamptz")),
    (("id", "bigint"),),
)

UPDATE_CONNECTION_HEARTBEATS_SQL = (
    "UPDATE mqtt_mqttconnection SET last_heartbeat_at = %s,"
    " reported_heartbeat_interval = COALESCE(%s, reported_heartbeat_interval),"
    " heartbeat_state = %s WHERE id = %s"
)
INSERT_LOG_SQL = (
    "INSERT INTO mqtt_connectionlog (mqtt_connection_id, event_type, message, timestamp)"
    " VALUES (%s, %s, %s, %s)"
)
# Heartbeats per site and UTC hour (ingest/completeness.py): added to, never overwritten.
UPSERT_HEARTBEAT_HOURS = _insert(
    "analytics_heartbeathour",
    (("site_id", "bigint"), ("hour", "timestamptz"), ("received", "integer")),
    "ON CONFLICT (site_id, hour) DO UPDATE SET"
    " received = analytics_heartbeathour.received + excluded.received",
)
