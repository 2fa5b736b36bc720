"""What the operations view shows (staff: ``GET /api/ops/``), as plain JSON-ready data: the totals,
one row per connection, the 50 most recent log events and the MQTT worker's own liveness.

Every site, not the user's: unlike ``selectors.py`` (whose querysets start from what a user may see),
these are for staff only, which the API checks. A fixed number of queries whatever the number of
connections, sensors or log rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, WorkerHeartbeat
from apps.mqtt.selectors import annotated_sensor_counts, sensor_count_annotations
from apps.mqtt.sensor_shape import iso

RECENT_LOG_EVENTS = 50

# Log events an operator should notice at a glance, by severity (the rest are informational).
_EVENT_LEVELS: dict[str, str] = {
    ConnectionLog.EventType.CONNECTED: "ok",
    ConnectionLog.EventType.HEARTBEAT_RESUMED: "ok",
    ConnectionLog.EventType.DISCONNECTED: "warn",
    ConnectionLog.EventType.HEARTBEAT_MISSED: "warn",
    ConnectionLog.EventType.ERROR: "bad",
    ConnectionLog.EventType.STARTED: "action",
    ConnectionLog.EventType.STOPPED: "action",
    ConnectionLog.EventType.RESTARTED: "action",
}


def event_level(event_type: str) -> str:
    """ok / warn / bad / action / info: how much an operator should notice a log event."""
    return _EVENT_LEVELS.get(event_type, "info")


def _connections() -> Any:
    return (
        MqttConnection.objects.select_related("site")
        .annotate(**sensor_count_annotations("site__sensors"))
        .order_by("site__name", "pk")
    )


def _row(connection: Any) -> dict[str, Any]:
    return {
        "id": connection.pk,
        "site_id": connection.site_id,
        "site_name": connection.site.name,
        "site_code": connection.site.code,
        "broker": f"{connection.broker_host}:{connection.broker_port}",
        "tls": connection.ssl_enabled,
        "enabled": connection.enabled,
        "status": connection.status,
        "status_changed_at": iso(connection.status_changed_at),
        "last_connected_at": iso(connection.last_connected_at),
        "last_heartbeat_at": iso(connection.last_heartbeat_at),
        "heartbeat_state": connection.heartbeat_state,
        "connection_errors": connection.connection_errors,
        "error_message": connection.error_message,
        "sensor_counts": annotated_sensor_counts(connection),
    }


def _log_event(log: ConnectionLog) -> dict[str, Any]:
    connection = log.mqtt_connection
    return {
        "id": log.pk,
        "timestamp": iso(log.timestamp),
        "site_id": connection.site_id,
        "site_name": connection.site.name,
        "site_code": connection.site.code,
        "event_type": log.event_type,
        "event": log.get_event_type_display(),
        "level": event_level(log.event_type),
        "message": log.message,
        "actor": log.actor.get_username() if log.actor is not None else None,
    }


def _worker(now: dt.datetime) -> dict[str, Any] | None:
    """The most recent worker tick (several workers may run; old rows of stopped ones stay)."""
    latest = WorkerHeartbeat.objects.order_by("-last_seen_at").first()
    if latest is None:
        return None
    since = now - dt.timedelta(seconds=WorkerHeartbeat.STALE_AFTER)
    workers = [
        {
            "worker_id": worker.worker_id,
            "hostname": worker.hostname,
            "pid": worker.pid,
            "connections": worker.connections,
            "last_seen_at": iso(worker.last_seen_at),
        }
        for worker in WorkerHeartbeat.objects.filter(last_seen_at__gte=since).order_by("worker_id")
    ]
    return {
        "alive": latest.is_alive(now, within=WorkerHeartbeat.STALE_AFTER),
        "last_seen_at": iso(latest.last_seen_at),
        "started_at": iso(latest.started_at),
        "hostname": latest.hostname,
        "pid": latest.pid,
        "connections": latest.connections,
        "alive_workers": len(workers),
        # Each live worker and the clients it runs (they share the connections through leases).
        "workers": workers,
        "stale_after": WorkerHeartbeat.STALE_AFTER,
    }


def dashboard_state(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, in 5 queries."""
    now = now or timezone.now()
    rows = [_row(connection) for connection in _connections()]
    sensors = SensorDevice.objects.aggregate(
        total=Count("id"), online=Count("id", filter=Q(status=SensorDevice.Status.ONLINE))
    )
    logs = ConnectionLog.objects.select_related("mqtt_connection__site", "actor").order_by(
        "-timestamp", "-id"
    )
    return {
        "server_time": iso(now),
        "totals": {
            "connections": len(rows),
            "active": sum(1 for row in rows if row["status"] == MqttConnection.Status.CONNECTED),
            # All sensors, as the seed counts them (also those of sites without a connection).
            "sensors": sensors["total"],
            "online_sensors": sensors["online"],
        },
        "connections": rows,
        "logs": [_log_event(log) for log in logs[:RECENT_LOG_EVENTS]],
        "worker": _worker(now),
    }
