"""The state of one site as a real-time client first sees it: the ``snapshot`` sent on connect, which
the deltas of services/broadcast.py then keep current. A fixed number of queries whatever the sensor
count."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from apps.mqtt.models import MqttConnection, SensorData, SensorDevice, SystemInfo
from apps.mqtt.services.ingest import READING_FIELDS
from apps.sites.models import Site

_CONNECTION_FIELDS = (
    "status",
    "enabled",
    "heartbeat_state",
    "last_heartbeat_at",
    "last_connected_at",
    "status_changed_at",
    "connection_errors",
    "error_message",
)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _reading(reading: SensorData) -> dict[str, Any]:
    data: dict[str, Any] = {"timestamp": _iso(reading.timestamp), "received_at": _iso(reading.received_at)}
    for name in READING_FIELDS:
        data[name] = getattr(reading, name)
    return data


def sensor_state(sensor: SensorDevice) -> dict[str, Any]:
    readings = [_reading(reading) for reading in sensor.readings.all()]  # prefetched, newest first
    return {
        "device_name": sensor.device_name,
        "device_type": sensor.device_type,
        "status": sensor.status,
        "is_online": sensor.is_online,
        "is_active": sensor.is_active,
        "last_seen_at": _iso(sensor.last_seen_at),
        "consecutive_misses": sensor.consecutive_misses,
        "total_messages": sensor.total_messages,
        "readings": readings,
    }


def site_snapshot(site_id: int) -> dict[str, Any]:
    site = Site.objects.get(pk=site_id)
    connection = MqttConnection.objects.filter(site_id=site_id).first()
    sensors = list(
        SensorDevice.objects.filter(site_id=site_id)
        .order_by("device_name")
        .prefetch_related(Prefetch("readings", queryset=SensorData.objects.order_by("-timestamp")))
    )
    info = SystemInfo.objects.filter(site_id=site_id).first()
    counts = {"total": len(sensors), **dict.fromkeys(SensorDevice.Status.values, 0)}
    for sensor in sensors:
        counts[sensor.status] += 1
    return {
        "site": {"id": site.pk, "name": site.name, "code": site.code, "time_zone": site.time_zone},
        "connection": None
        if connection is None
        else {
            "id": connection.pk,
            **{
                name: _iso(v) if isinstance(v := getattr(connection, name), dt.datetime) else v
                for name in _CONNECTION_FIELDS
            },
            "heartbeat_interval": connection.heartbeat_interval,
        },
        "sensors": [sensor_state(sensor) for sensor in sensors],
        "sensor_counts": counts,
        "system_info": None
        if info is None
        else {
            "hostname": info.hostname,
            "firmware_version": info.firmware_version,
            "ip_address": info.ip_address,
            "uptime_seconds": info.uptime_seconds,
            "cpu_load": info.cpu_load,
            "temperature_c": info.temperature_c,
            "memory_total_bytes": info.memory_total_bytes,
            "memory_free_bytes": info.memory_free_bytes,
            "disk_total_bytes": info.disk_total_bytes,
            "disk_free_bytes": info.disk_free_bytes,
            "reported_at": _iso(info.reported_at),
            "received_at": _iso(info.received_at),
        },
        "server_time": _iso(timezone.now()),
    }
