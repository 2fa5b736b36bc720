"""Connection events (status changes, error counters) → each connection's row, plus a log row per
event that names one."""

from __future__ import annotations

from typing import Any

from django.db import connection as db

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.items import ConnectionEvent
from apps.mqtt.ingest.sql import INSERT_LOG_SQL, datetime_adapter
from apps.mqtt.models import MqttConnection

_COLUMNS = ("status", "status_changed_at", "last_connected_at", "connection_errors", "error_message")
# COALESCE keeps a column the events did not touch; one statement shape for every row.
_UPDATE_SQL = (
    "UPDATE mqtt_mqttconnection SET "
    + ", ".join(f"{column} = COALESCE(%s, {column})" for column in _COLUMNS)
    + " WHERE id = %s"
)


def write_connection_events(events: list[ConnectionEvent], changes: ChangeSet) -> None:
    adapt = datetime_adapter()
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

    rows = []
    for connection_id, state in final.items():
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
        public = {key: state[key] for key in _COLUMNS if key in state}
        if public:
            changes.site(state["site_id"]).connection.update(public)
    with db.cursor() as cursor:
        cursor.executemany(_UPDATE_SQL, rows)
        if logs:
            cursor.executemany(INSERT_LOG_SQL, logs)
