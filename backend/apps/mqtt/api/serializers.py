"""Serializers of the REST API.

A sensor has one shape everywhere (apps/mqtt/sensor_shape.py: this API, the site snapshot and the
live deltas), and a site's ``sensor_counts`` (total / online / stale / offline) are the keys of the
live events, so a client can load a snapshot here and merge the live deltas into it.

Connections are validated by the model's own ``full_clean()`` (field validators and the cross-field
rules in ``MqttConnection.clean()``), so the API and the admin give the same messages. Secrets are
write-only: ``password`` and ``client_key`` are accepted, stored encrypted and never returned; the
responses say only ``has_password`` / ``has_client_key``.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from rest_framework import serializers
from rest_framework.settings import api_settings

from apps.mqtt.models import (
    ConnectionLog,
    MqttConnection,
    MqttTopic,
    SensorData,
    SensorDevice,
    SystemInfo,
)
from apps.mqtt.ops_selectors import event_level
from apps.mqtt.selectors import visible_sites
from apps.mqtt.sensor_shape import READING_KEYS, SENSOR_KEYS, sensor_state_of
from apps.mqtt.services.connections import save_connection, set_topics
from apps.mqtt.validators import validate_pem_private_key
from apps.sites.models import Customer, Site


class TextField(serializers.CharField):
    """A CharField that refuses NUL and lone surrogate characters before any validator runs: the
    model's validators encode the text (a surrogate would raise there) and databases refuse both."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        for char in value:
            if char == "\x00" or "\ud800" <= char <= "\udfff":
                raise serializers.ValidationError(
                    f"The text may not contain the character U+{ord(char):04X}.", code="invalid_character"
                )
        return value


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: TextField,
        models.TextField: TextField,
    }


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
            "hostname",
            "firmware_version",
            "ip_address",
            "uptime_seconds",
            "cpu_load",
            "temperature_c",
            "memory_total_bytes",
            "memory_free_bytes",
            "disk_total_bytes",
            "disk_free_bytes",
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
    actor = serializers.CharField(
        source="actor.get_username",
        read_only=True,
        allow_null=True,
        help_text="The user who caused the event (operator actions), else null.",
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


# ---------------------------------------------------------------- connections


class TopicSerializer(ModelSerializer):
    class Meta:
        model = MqttTopic
        fields = ["pattern", "message_type"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A PATCH makes nested fields optional too; a topic without its pattern means nothing.
        if "pattern" not in attrs:
            raise serializers.ValidationError({"pattern": ["This field is required."]}, code="required")
        return attrs


def _drf_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A model's ValidationError as DRF's 400 body: errors by field, '__all__' as non_field_errors."""
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    return {
        api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name: messages
        for name, messages in exc.message_dict.items()
    }


# Write-only inputs that are not model fields.
_SECRET_INPUTS = ("password", "clear_password", "client_key", "clear_client_key")
# Handled apart from the other fields: the nested topics, and the desired state (through the
# control service on update, so that the change is logged with who made it).
_NOT_COPIED = ("topics", "enabled", *_SECRET_INPUTS)


class ConnectionSerializer(ModelSerializer):
    site_code = serializers.CharField(source="site.code", read_only=True)
    site_name = serializers.CharField(source="site.name", read_only=True)
    password = TextField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=65535,
        style={"input_type": "password"},
        help_text="Broker password. Write-only: stored encrypted, never returned. Blank or absent "
        "keeps the stored one.",
    )
    clear_password = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="True removes the stored password."
    )
    has_password = serializers.BooleanField(read_only=True)
    client_key = TextField(
        write_only=True,
        required=False,
        allow_blank=True,
        validators=[validate_pem_private_key],
        help_text="Client private key (PEM, unencrypted) for certificate authentication. Write-only: "
        "stored encrypted, never returned. Blank or absent keeps the stored one.",
    )
    clear_client_key = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="True removes the stored client key."
    )
    has_client_key = serializers.BooleanField(read_only=True)
    client_id = serializers.CharField(
        read_only=True, help_text="The prefix, an underscore and the site's id (e.g. dlmon_42)."
    )
    topics = TopicSerializer(
        many=True,
        required=False,
        help_text="Subscriptions; '{code}' stands for the site's code. On create, none (absent or "
        "empty) gives the default heartbeat and sys_info topics; on update, a list replaces them all.",
    )

    class Meta:
        model = MqttConnection
        fields = [
            "id",
            "site",
            "site_code",
            "site_name",
            "enabled",
            "broker_host",
            "broker_port",
            "client_id_prefix",
            "client_id",
            "username",
            "password",
            "clear_password",
            "has_password",
            "keep_alive_interval",
            "retry_attempts",
            "retry_delay",
            "max_retry_delay",
            "expected_heartbeat_interval",
            "ssl_enabled",
            "ca_certificate",
            "ca_cert_path",
            "client_certificate",
            "client_key",
            "clear_client_key",
            "has_client_key",
            "tls_insecure",
            "topics",
            # Observed by the worker; read-only here.
            "status",
            "status_changed_at",
            "last_connected_at",
            "last_heartbeat_at",
            "connection_errors",
            "error_message",
            "heartbeat_state",
            "reported_heartbeat_interval",
            "restart_requested_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            *MqttConnection.OBSERVED_FIELDS,
            "restart_requested_at",
            "created_at",
            "updated_at",
        ]
        # The model's full_clean() checks the one-connection-per-site rule (with its message).
        extra_kwargs: dict[str, dict[str, Any]] = {"site": {"validators": []}}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        site = fields["site"]
        if request is not None and isinstance(site, serializers.PrimaryKeyRelatedField):
            site.queryset = visible_sites(request.user)
        return fields

    def validate_topics(self, topics: list[dict[str, str]]) -> list[dict[str, str]]:
        patterns = [topic["pattern"] for topic in topics]
        duplicates = sorted({pattern for pattern in patterns if patterns.count(pattern) > 1})
        if duplicates:
            raise serializers.ValidationError(f"Each topic may appear once: {', '.join(duplicates)}.")
        return topics

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        if attrs.get("clear_password") and attrs.get("password"):
            errors["password"] = "Give a new password or clear_password, not both."
        if attrs.get("clear_client_key") and attrs.get("client_key"):
            errors["client_key"] = "Give a new client key or clear_client_key, not both."
        if errors:
            raise serializers.ValidationError(errors)
        # Validate what would be saved, on a copy, with the model's own rules.
        candidate = copy.copy(self.instance) if self.instance is not None else MqttConnection()
        self._apply(candidate, attrs)
        if "enabled" in attrs:
            candidate.enabled = attrs["enabled"]
        try:
            candidate.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_drf_errors(exc)) from None
        return attrs

    @staticmethod
    def _apply(connection: MqttConnection, attrs: dict[str, Any]) -> list[str]:
        """Copy the validated input onto a connection; the model fields it changed."""
        changed = []
        for name, value in attrs.items():
            if name not in _NOT_COPIED:
                setattr(connection, name, value)
                changed.append(name)
        if attrs.get("clear_password"):
            connection.set_password("")
            changed.append("password_encrypted")
        elif attrs.get("password"):
            connection.set_password(attrs["password"])
            changed.append("password_encrypted")
        if attrs.get("clear_client_key"):
            connection.set_client_key("")
            changed.append("client_key_encrypted")
        elif attrs.get("client_key"):
            connection.set_client_key(attrs["client_key"].strip() + "\n")
            changed.append("client_key_encrypted")
        return changed

    def create(self, validated_data: dict[str, Any]) -> MqttConnection:
        connection = MqttConnection()
        self._apply(connection, validated_data)
        with transaction.atomic():
            save_connection(
                connection=connection, enabled=validated_data.get("enabled", True), actor=self._actor()
            )
            set_topics(connection=connection, topics=validated_data.get("topics"))
        return connection

    def update(self, instance: MqttConnection, validated_data: dict[str, Any]) -> MqttConnection:
        """Writes only the fields given (an operator's concurrent start/stop or restart is not
        overwritten); a change of ``enabled`` is a start or stop logged with the user."""
        changed = self._apply(instance, validated_data)
        with transaction.atomic():
            save_connection(
                connection=instance,
                enabled=validated_data.get("enabled"),
                fields=changed,
                actor=self._actor(),
            )
            set_topics(connection=instance, topics=validated_data.get("topics"))
        return instance

    def _actor(self) -> Any:
        request = self.context.get("request")
        return request.user if request is not None else None
