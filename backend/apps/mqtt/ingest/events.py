"""Connection events (status changes, error counters) → each connection's row, plus a log row per
event that names one.

Fencing: an event of a client that ran under a lease (``FencedConnectionEvent``) carries the lease's
key and token, and is skipped (counted in ``ingest_fenced_writes_total``) when the lease's token is
no longer that one, so a worker that lost a connection can no longer write its status or its log;
the UPDATE re-checks the token itself, for a claim that commits during the batch."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import connection as db

from apps.mqtt import metrics
from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.items import ConnectionEvent
from apps.mqtt.ingest.sql import INSERT_LOG_SQL, datetime_adapter
from apps.mqtt.models import MqttConnection


@dataclasses.dataclass(frozen=True, slots=True)
class FencedConnectionEvent(ConnectionEvent):
    """An event observed under a lease (apps/mqtt/worker/leases.py): written only while the lease's
    token is still ``lease_token``."""

    lease_key: str = ""
    lease_token: int = 0


def fenced(event: ConnectionEvent, lease_key: str, lease_token: int) -> ConnectionEvent:
    """The event under its client's lease (unchanged without one: token 0)."""
    if not lease_token:
        return event
    fields = {field.name: getattr(event, field.name) for field in dataclasses.fields(ConnectionEvent)}
    return FencedConnectionEvent(**fields, lease_key=lease_key, lease_token=lease_token)


_COLUMNS = ("status", "status_changed_at", "last_connected_at", "connection_errors", "error_message")
# COALESCE keeps a column the events did not touch; one statement shape for every row. A token of 0
# is an unfenced write (a client run without a lease, as in tests; the supervisor's own are fenced).
_UPDATE_SQL = (
    "UPDATE mqtt_mqttconnection SET "
    + ", ".join(f"{column} = COALESCE(%s, {column})" for column in _COLUMNS)
    + " WHERE id = %s AND (%s = 0 OR (SELECT token FROM mqtt_connectionlease WHERE key = %s) = %s)"
)
_TOKENS_SQL = "SELECT key, token FROM mqtt_connectionlease WHERE key IN ({})"


def _fence(event: ConnectionEvent) -> tuple[str, int]:
    if isinstance(event, FencedConnectionEvent) and event.lease_token:
        return event.lease_key, event.lease_token
    return "", 0


def _current(events: list[ConnectionEvent]) -> list[ConnectionEvent]:
    """The events whose lease is still theirs (one statement), the others counted."""
    keys = sorted({_fence(event)[0] for event in events} - {""})
    if not keys:
        return events
    with db.cursor() as cursor:
        cursor.execute(_TOKENS_SQL.format(", ".join(["%s"] * len(keys))), keys)
        tokens = dict(cursor.fetchall())
    kept = [
        event for event in events if not _fence(event)[1] or tokens.get(_fence(event)[0]) == _fence(event)[1]
    ]
    if len(kept) < len(events):
        metrics.FENCED_WRITES.inc(len(events) - len(kept))
    return kept


def write_connection_events(events: list[ConnectionEvent], changes: ChangeSet) -> None:
    adapt = datetime_adapter()
    final: dict[int, dict[str, Any]] = {}
    logs = []
    for event in _current(events):
        state = final.setdefault(event.connection_id, {"site_id": event.site_id})
        state["fence"] = _fence(event)
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

    rows = []
    for connection_id, state in final.items():
        lease_key, token = state["fence"]
        rows.append(
            (
                state.get("status"),
                adapt(state.get("status_changed_at")),
                adapt(state.get("last_connected_at")),
                state.get("connection_errors"),
                state.get("error_message"),
                connection_id,
                token,
                lease_key,
                token,
            )
        )
        public = {column: state[column] for column in _COLUMNS if column in state}
        if public:
            changes.site(state["site_id"]).connection.update(public)
    if not rows:
        return
    with db.cursor() as cursor:
        cursor.executemany(_UPDATE_SQL, rows)
        if logs:
            cursor.executemany(INSERT_LOG_SQL, logs)
