"""The state of one site as a real-time client first sees it: the ``snapshot`` sent on connect, which
the deltas of realtime/broadcast.py then keep current. Six queries whatever the sensor count, and
bounded: at most ``MQTT_MAX_SENSORS_PER_SITE`` sensors (by name; the ingest refuses new ones beyond it,
so only a cap lowered later or sensors added by hand reach it), with ``sensors_truncated`` saying so;
the counts are always the whole site's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.mqtt.models import MqttConnection, SensorData, SensorDevice, SystemInfo
from apps.mqtt.selectors import sensor_counts_of_sites
from apps.mqtt.sensor_shape import iso as _iso
from apps.mqtt.sensor_shape import sensor_state_of
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
    "reported_heartbeat_interval",
)


def site_snapshot(site_id: int) -> dict[str, Any]:
    mqtt = settings.MQTT_SETTINGS
    site = Site.objects.get(pk=site_id)
    connection = MqttConnection.objects.filter(site_id=site_id).first()
    cap = settings.MQTT_MAX_SENSORS_PER_SITE
    listed = SensorDevice.objects.filter(site_id=site_id).order_by("device_name")[:cap]
    sensors = list(listed)
    # The listed sensors' readings in one query: a subquery, not a list of ids (which could exceed
    # SQLite's limit on parameters), newest first.
    readings: dict[int, list[SensorData]] = {sensor.pk: [] for sensor in sensors}
    for reading in SensorData.objects.filter(sensor_device__in=listed.values("pk")).order_by("-timestamp"):
        held = readings.get(reading.sensor_device_id)
        if held is not None:  # None: a sensor registered since the sensors were read
            held.append(reading)
    info = SystemInfo.objects.filter(site_id=site_id).first()
    counts = sensor_counts_of_sites([site_id])[site_id]
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
        "sensors": [sensor_state_of(sensor, readings[sensor.pk]) for sensor in sensors],
        "sensors_truncated": counts["total"] > len(sensors),
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
        # What the page needs to tick "stale" and "missing" by itself between events.
        "stale_after_seconds": mqtt["HEARTBEAT_TIMEOUT"],
        "heartbeat_timeout_seconds": mqtt["HEARTBEAT_TIMEOUT"],
        "retention": mqtt["SENSOR_DATA_RETENTION"],
    }
