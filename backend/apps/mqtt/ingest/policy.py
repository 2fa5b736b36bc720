"""The rules a flush applies: the ring's size, misses before a sensor is offline, how long a listed
sensor's ts may stand still before it is stale, how many sensors a site may have; and the sensor
states as the SQL writes them."""

from __future__ import annotations

from dataclasses import dataclass

from apps.mqtt.models import SensorDevice

ONLINE, STALE, OFFLINE = (
    SensorDevice.Status.ONLINE.value,
    SensorDevice.Status.STALE.value,
    SensorDevice.Status.OFFLINE.value,
)


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    retention: int = 3
    max_consecutive_misses: int = 3
    stale_after: float = 30.0  # seconds a listed sensor's ts may stand still before it is stale
    # New device names of a site beyond this many sensors are rejected (counted), never registered.
    max_sensors_per_site: int = 1000

    @classmethod
    def from_settings(cls) -> IngestPolicy:
        from django.conf import settings

        mqtt = settings.MQTT_SETTINGS
        return cls(
            retention=mqtt["SENSOR_DATA_RETENTION"],
            max_consecutive_misses=mqtt["MAX_CONSECUTIVE_MISSES"],
            stale_after=float(mqtt["HEARTBEAT_TIMEOUT"]),
            max_sensors_per_site=settings.MQTT_MAX_SENSORS_PER_SITE,
        )
