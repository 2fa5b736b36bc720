"""State change rows as the worker writes them, at times the tests choose."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from apps.alerts.models import AlertRule, NotificationChannel
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, SensorStatusChange
from apps.sites.models import Site

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


def make_monitored_site(site: Site, sensors: int) -> tuple[MqttConnection, list[SensorDevice]]:
    connection = MqttConnection.objects.create(site=site, broker_host="127.0.0.1")
    devices = SensorDevice.objects.bulk_create(
        SensorDevice(site=site, device_name=f"S{index:03d}", status="online") for index in range(sensors)
    )
    return connection, devices


def log(connection: MqttConnection, event: str, at: dt.datetime) -> None:
    ConnectionLog.objects.create(mqtt_connection=connection, event_type=event, timestamp=at)


def change(sensors: list[SensorDevice], new: str, at: dt.datetime, reason: str = "") -> None:
    """The status change rows and the sensors' status, as the worker writes them together."""
    old = "offline" if new == "online" else "online"
    SensorDevice.objects.filter(pk__in=[sensor.pk for sensor in sensors]).update(
        status=new, status_changed_at=at
    )
    SensorStatusChange.objects.bulk_create(
        SensorStatusChange(sensor_device=sensor, old_status=old, new_status=new, reason=reason, timestamp=at)
        for sensor in sensors
    )


def site_goes_silent(connection: MqttConnection, sensors: list[SensorDevice], at: dt.datetime) -> None:
    """What the liveness sweep writes: heartbeat_missed and every sensor offline, one transaction."""
    with transaction.atomic():
        log(connection, "heartbeat_missed", at)
        change(sensors, "offline", at, reason="site heartbeat missing")


def site_comes_back(connection: MqttConnection, sensors: list[SensorDevice], at: dt.datetime) -> None:
    with transaction.atomic():
        log(connection, "heartbeat_resumed", at)
        change(sensors, "online", at, reason="listed in heartbeat")


def channel_on_every_rule(name: str = "ops") -> NotificationChannel:
    channel = NotificationChannel.objects.create(name=name, kind="email", email_addresses="ops@example.com")
    for rule in AlertRule.objects.all():
        rule.channels.add(channel)
    return channel
