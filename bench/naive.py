"""The seed's own heartbeat handling (development plan §2.2, ``MqttMessageParser.parse_heartbeat``),
ported as literally as the current models allow, to measure it beside the batch writer in the same
run on the same data.

Per heartbeat: ``json.loads``; the connection fetched and saved; per sensor ``get_or_create``, a full
``save`` of the device, a ``create`` of the reading and a delete of the readings beyond the last 3;
then the missing sensors queried (and saved one by one). No transaction: autocommit, as in the seed.

The one adaptation: ``SensorData`` is now a ring whose (sensor, slot) pair is unique, so the 4th
reading cannot be created before the oldest is deleted. The port therefore reads the sensor's
readings newest first, deletes those beyond the newest 2, then creates the new one in the free slot:
the same statements as the seed's create / select / delete, in another order.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.mqtt.models import MqttConnection, SensorData, SensorDevice

RING = SensorData.RING_SIZE
ONLINE, OFFLINE = SensorDevice.Status.ONLINE, SensorDevice.Status.OFFLINE


def _all_fields(model: type[Any]) -> list[str]:
    # The seed's save() wrote every column; KeepsObservedState.save() would skip the observed ones.
    return [field.name for field in model._meta.concrete_fields if not field.primary_key]


CONNECTION_FIELDS = _all_fields(MqttConnection)
DEVICE_FIELDS = _all_fields(SensorDevice)


def parse_heartbeat(payload: bytes, site_id: int) -> bool:
    data = json.loads(payload)

    conn = MqttConnection.objects.get(site_id=site_id)
    conn.last_heartbeat_at = timezone.now()
    conn.save(update_fields=CONNECTION_FIELDS)

    sensors_data = data.get("sensors_last_data", [])
    for sensor_info in sensors_data:
        device_name = sensor_info.get("device_name")
        if not device_name:
            continue
        sensor_device, _created = SensorDevice.objects.get_or_create(
            site_id=site_id, device_name=device_name, defaults={"is_active": True}
        )
        ts_str = sensor_info.get("ts")
        sensor_timestamp = datetime.fromisoformat(ts_str.replace("Z", "+00:00")) if ts_str else timezone.now()

        sensor_device.last_seen_at = timezone.now()
        sensor_device.status = ONLINE
        sensor_device.consecutive_misses = 0
        sensor_device.total_messages += 1
        sensor_device.save(update_fields=DEVICE_FIELDS)

        _save_sensor_data_rolling(sensor_device, sensor_info, sensor_timestamp)

    _update_missing_sensors(site_id, [s.get("device_name") for s in sensors_data])
    return True


def _save_sensor_data_rolling(sensor_device: SensorDevice, sensor_info: dict[str, Any], ts: datetime) -> None:
    existing = list(SensorData.objects.filter(sensor_device=sensor_device).order_by("-timestamp"))
    for record in existing[RING - 1 :]:
        record.delete()
    used = {record.slot for record in existing[: RING - 1]}
    SensorData.objects.create(
        sensor_device=sensor_device,
        slot=min(set(range(RING)) - used),
        timestamp=ts,
        raw_data=sensor_info,
        acc_x=sensor_info.get("last_acc00"),
        acc_y=sensor_info.get("last_acc01"),
        acc_z=sensor_info.get("last_acc02"),
        incli_x=sensor_info.get("last_incli_x"),
        incli_y=sensor_info.get("last_incli_y"),
        mag_x=sensor_info.get("last_mag_x"),
        mag_y=sensor_info.get("last_mag_y"),
        mag_z=sensor_info.get("last_mag_z"),
        gyro_x=sensor_info.get("last_gyro_x"),
        gyro_y=sensor_info.get("last_gyro_y"),
        gyro_z=sensor_info.get("last_gyro_z"),
    )


def _update_missing_sensors(site_id: int, active_devices: list[str | None]) -> None:
    missing = SensorDevice.objects.filter(site_id=site_id, status=ONLINE).exclude(
        device_name__in=active_devices
    )
    for sensor in missing:
        sensor.consecutive_misses += 1
        if sensor.consecutive_misses >= 3:
            sensor.status = OFFLINE
        sensor.save(update_fields=DEVICE_FIELDS)
