"""Read serializers of the REST API: sites, sensors, system information, logs.

A sensor has one shape everywhere (apps/mqtt/sensor_shape.py: this API, the site snapshot and the
live deltas), and a site's ``sensor_counts`` (total / online / stale / offline) are the keys of the
live events, so a client can load a snapshot here and merge the live deltas into it. Connections
are written through ``connection_serializer.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from rest_framework import serializers

from apps.mqtt.api.fields import ModelSerializer
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorData, SensorDevice, SystemInfo
from apps.mqtt.ops_selectors import event_level
from apps.mqtt.sensor_shape import READING_KEYS, SENSOR_KEYS, sensor_state_of
from apps.mqtt.services.control import message_without_names
from apps.sites.models import Customer, Site
from apps.sites.people import display_actor

# ---------------------------------------------------------------- sites


class CustomerSummarySerializer(ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name"]
        read_only_fields = fields


class ConnectionSummarySerializer(ModelSerializer):
    """A site's connection as lists show it: desired and observed state, no configuration."""

    class Meta:
        model = MqttConnection
        fields = [
            "id",
            "enabled",
            "status",
            "status_changed_at",
            "heartbeat_state",
            "last_heartbeat_at",
            "last_connected_at",
            "connection_errors",
            "error_message",
            "broker_host",
            "broker_port",
            "ssl_enabled",
        ]
        read_only_fields = fields


class SensorCountsSerializer(serializers.Serializer):
    """Counts annotated by ``selectors.sites_with_status`` (the same keys as the live events)."""

    total = serializers.IntegerField(source="sensors_total", read_only=True)
    online = serializers.IntegerField(source="sensors_online", read_only=True)
    stale = serializers.IntegerField(source="sensors_stale", read_only=True)
    offline = serializers.IntegerField(source="sensors_offline", read_only=True)


class SiteSerializer(ModelSerializer):
    customer = CustomerSummarySerializer(read_only=True, allow_null=True)
    connection = ConnectionSummarySerializer(
        source="mqtt_connection",
        read_only=True,
        allow_null=True,
        help_text="The site's MQTT connection, or null when it has none yet.",
    )
    sensor_counts = SensorCountsSerializer(source="*", read_only=True)

    class Meta:
        model = Site
        fields = [
            "id",
            "name",
            "code",
            "customer",
            "time_zone",
            "is_active",
            "connection",
            "sensor_counts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------- sensors and readings


class ReadingSerializer(ModelSerializer):
    class Meta:
        model = SensorData
        fields = list(READING_KEYS)
        read_only_fields = fields


class SensorSerializer(ModelSerializer):
    """The one sensor shape (apps/mqtt/sensor_shape.py), which the site snapshot and the live
    ``sensors_update`` events use too. The fields below describe it for the schema; the
    representation itself is built by ``sensor_state_of``."""

    is_online = serializers.BooleanField(read_only=True)
    readings = ReadingSerializer(
        many=True,
        read_only=True,
        help_text="The last readings (at most 3), newest first.",
    )

    class Meta:
        model = SensorDevice
        fields = list(SENSOR_KEYS)
        read_only_fields = fields

    def to_representation(self, instance: SensorDevice) -> dict[str, Any]:
        # ``latest``: the retained readings, newest first, prefetched by selectors.sensors_of_site.
        return sensor_state_of(instance, instance.latest)  # type: ignore[attr-defined]


class SystemInfoSerializer(ModelSerializer):
    class Meta:
        model = SystemInfo
        fields = [
            "site",
            *SystemInfo.TEXT_FIELDS,
            *SystemInfo.NUMBER_FIELDS,
            "raw_data",
            "reported_at",
            "received_at",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------- logs


class ConnectionLogSerializer(ModelSerializer):
    connection = serializers.IntegerField(source="mqtt_connection_id", read_only=True)
    site = serializers.IntegerField(source="mqtt_connection.site_id", read_only=True)
    site_code = serializers.CharField(source="mqtt_connection.site.code", read_only=True)
    message = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField(
        help_text='The user who caused the event (operator actions), else null; "operator" for a staff '
        "user when a customer asks."
    )
    event = serializers.CharField(
        source="get_event_type_display", read_only=True, help_text="The event's label."
    )
    level = serializers.SerializerMethodField(help_text="How much it matters: ok, warn, bad, action or info.")

    class Meta:
        model = ConnectionLog
        fields = [
            "id",
            "timestamp",
            "event_type",
            "event",
            "level",
            "message",
            "site",
            "site_code",
            "connection",
            "actor",
        ]
        read_only_fields = fields

    def get_level(self, log: ConnectionLog) -> Literal["ok", "warn", "bad", "action", "info"]:
        return event_level(log.event_type)  # type: ignore[return-value]

    def _viewer(self) -> Any:
        request = self.context.get("request")
        return request.user if request is not None else None

    def get_message(self, log: ConnectionLog) -> str:
        viewer = self._viewer()
        return log.message if viewer is not None and viewer.is_staff else message_without_names(log.message)

    def get_actor(self, log: ConnectionLog) -> str | None:
        return display_actor(log.actor, self._viewer())
