"""The state change rows after the evaluator's cursors, both kinds, and the conditions it is timing,
in one statement (one round trip and no query building per tick: the statement is the same every
tick). Raw SQL because Django cannot
compose a UNION of two LIMITed queries on SQLite.

Each row comes with its subject's recent changes (a sensor's, or its site's connection and heartbeat
events) since the start of the longest flapping window, counted in the database (so a restarted
evaluator counts the changes before it started): flapping needs no query of its own unless a count
reaches a rule's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.utils.dateparse import parse_datetime

from apps.alerts.board import SITE_FLAP_EVENTS, SITE_REASONS, ChangeRow, LogRow
from apps.alerts.models import Condition
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, SensorStatusChange


@cache
def _statement() -> str:
    q = connection.ops.quote_name
    log, conn = q(ConnectionLog._meta.db_table), q(MqttConnection._meta.db_table)
    change, sensor = q(SensorStatusChange._meta.db_table), q(SensorDevice._meta.db_table)
    condition = q(Condition._meta.db_table)
    events = ", ".join(["%s"] * len(SITE_FLAP_EVENTS))
    reasons = ", ".join(["%s"] * len(SITE_REASONS))
    no_time = f"CAST(NULL AS {connection.data_types['DateTimeField']})"
    # Typed NULL and '' so that PostgreSQL unites the columns with the other branches'. One
    # connection per site: its logs are the site's.
    return (
        f"SELECT * FROM (SELECT 0 AS k, l.id, CAST(NULL AS BIGINT) AS sensor, c.site_id, '' AS name,"
        f" l.event_type AS what, '' AS reason, l.timestamp, (SELECT COUNT(*) FROM {log} r"
        f" WHERE r.mqtt_connection_id = l.mqtt_connection_id AND r.timestamp > %s"
        f" AND r.event_type IN ({events})) AS recent, {no_time} AS later FROM {log} l"
        f" JOIN {conn} c ON c.id = l.mqtt_connection_id WHERE l.id > %s ORDER BY l.id LIMIT %s) AS logs"
        f" UNION ALL SELECT * FROM (SELECT 1 AS k, s.id, s.sensor_device_id, d.site_id, d.device_name,"
        f" s.new_status, s.reason, s.timestamp, (SELECT COUNT(*) FROM {change} r"
        f" WHERE r.sensor_device_id = s.sensor_device_id AND r.timestamp > %s"
        f" AND r.reason NOT IN ({reasons})), {no_time} FROM {change} s"
        f" JOIN {sensor} d ON d.id = s.sensor_device_id WHERE s.id > %s ORDER BY s.id LIMIT %s) AS changes"
        f" UNION ALL SELECT 2, id, sensor_id, site_id, '', kind, reason, since, alert_id, last_change_at"
        f" FROM {condition}"
    )


def _aware(value: dt.datetime | str) -> dt.datetime:
    """SQLite hands a raw statement's timestamps back naive UTC (as text or, by the column's declared
    type, parsed); PostgreSQL aware."""
    parsed = value if isinstance(value, dt.datetime) else parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Read:
    logs: list[LogRow]
    changes: list[ChangeRow]
    conditions: list[Condition]


def read_tick(*, log_cursor: int, change_cursor: int, limit: int, recent_since: dt.datetime) -> Read:
    """Up to ``limit`` rows of each kind after its cursor, in id order, each with its subject's
    changes after ``recent_since``; and the conditions the evaluator is timing."""
    since = connection.ops.adapt_datetimefield_value(recent_since)
    params = [since, *SITE_FLAP_EVENTS, log_cursor, limit, since, *sorted(SITE_REASONS), change_cursor, limit]
    read = Read([], [], [])
    with connection.cursor() as cursor:
        cursor.execute(_statement(), params)
        for kind, id_, sensor_id, site_id, name, what, reason, at, recent, later in cursor.fetchall():
            if kind == 0:
                read.logs.append(LogRow(id_, site_id, what, _aware(at), recent))
            elif kind == 1:
                read.changes.append(
                    ChangeRow(id_, sensor_id, site_id, name, what, reason, _aware(at), recent)
                )
            else:  # in the model's field order: a loaded row, as a queryset would give it
                values = (id_, site_id, sensor_id, what, _aware(at), _aware(later), reason, recent)
                read.conditions.append(Condition.from_db(connection.alias, _CONDITION_FIELDS, values))
    return read


_CONDITION_FIELDS = ["id", "site_id", "sensor_id", "kind", "since", "last_change_at", "reason", "alert_id"]
