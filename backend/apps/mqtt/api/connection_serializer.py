"""The connection's serializer: create and edit a site's MQTT connection.

Validated by the model's own ``full_clean()`` (field validators and the cross-field rules in
``MqttConnection.clean()``), so the API and the admin give the same messages; saved through
``services/connections.py``. Secrets are write-only: ``password`` and ``client_key`` are accepted,
stored encrypted and never returned; the responses say only ``has_password`` / ``has_client_key``.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers
from rest_framework.settings import api_settings

from apps.mqtt.api.fields import ModelSerializer, TextField
from apps.mqtt.models import MqttConnection, MqttTopic
from apps.mqtt.selectors import visible_sites
from apps.mqtt.services.connections import save_connection, set_topics
from apps.mqtt.validators import validate_pem_private_key

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
        read_only=True,
        help_text="The client id the worker connects with: the prefix, the install's part and the site's "
        "id (e.g. dlmon_3f9a1c2b_42).",
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
            *MqttConnection.OBSERVED_FIELDS,  # observed by the worker; read-only here
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
        changed += connection.change_secrets(
            password=attrs.get("password"),
            clear_password=bool(attrs.get("clear_password")),
            client_key=attrs.get("client_key"),
            clear_client_key=bool(attrs.get("clear_client_key")),
        )
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
