from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format

from apps.analytics.availability import sensor_uptime_last_24h
from apps.mqtt.models import (
    ConnectionLog,
    MqttConnection,
    MqttTopic,
    RejectedMessage,
    SensorData,
    SensorDevice,
    SensorStatusChange,
    SystemInfo,
    WorkerHeartbeat,
)
from apps.mqtt.services.connections import delete_connection, save_connection, set_topics
from apps.mqtt.services.control import Action, control_connection
from apps.mqtt.validators import validate_pem_private_key

SECONDS_FORMAT: Final = "Y-m-d H:i:s"
PRECISE: Final = "precise_"


def to_the_second(value: dt.datetime) -> str:
    """``2026-11-28 10:00:05``, in the current time zone."""
    return date_format(timezone.localtime(value), SECONDS_FORMAT)


class DatetimesToTheSecond(BaseModelAdmin):
    """Gives the admin a display ``precise_<name>`` of each datetime field of its model, to list in
    list_display, readonly_fields and fieldsets instead of the field itself: to the second, in the
    current time zone, labelled and sorted like the field. The admin's own format (the locale's)
    stops at the minute, too coarse for heartbeats every few seconds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.model._meta.get_fields():
            if isinstance(field, models.DateTimeField):
                setattr(self, PRECISE + field.name, self._precise(field))

    def _precise(self, field: models.DateTimeField) -> Callable[[models.Model], str]:
        @admin.display(description=field.verbose_name, ordering=field.name)
        def display(obj: models.Model) -> str:
            value = getattr(obj, field.attname)
            return self.get_empty_value_display() if value is None else to_the_second(value)

        return display


class MqttConnectionForm(forms.ModelForm):
    """Secrets are write-only: the form never renders them back, and blank keeps what is stored."""

    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the current password.",
    )
    clear_password = forms.BooleanField(label="Remove the stored password", required=False)
    new_client_key = forms.CharField(
        label="Client private key (PEM)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        validators=[validate_pem_private_key],
        help_text="Leave blank to keep the current key. Stored encrypted, never shown again.",
    )
    clear_client_key = forms.BooleanField(label="Remove the stored client key", required=False)

    class Meta:
        model = MqttConnection
        fields = (
            "site",
            "enabled",
            "broker_host",
            "broker_port",
            "client_id_prefix",
            "username",
            "keep_alive_interval",
            "retry_attempts",
            "retry_delay",
            "max_retry_delay",
            "expected_heartbeat_interval",
            "ssl_enabled",
            "ca_certificate",
            "ca_cert_path",
            "client_certificate",
            "tls_insecure",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # Applied before the model's own clean(), which checks the key against the certificate.
        self.instance.change_secrets(
            password=cleaned.get("new_password"),
            clear_password=bool(cleaned.get("clear_password")),
            client_key=cleaned.get("new_client_key"),
            clear_client_key=bool(cleaned.get("clear_client_key")),
        )
        return cleaned


class MqttTopicInline(admin.TabularInline):
    model = MqttTopic
    extra = 0
    verbose_name_plural = "subscribed topics (none: the default heartbeat and sys_info topics)"


class ReadOnlyAdmin(DatetimesToTheSecond, admin.ModelAdmin):
    """Facts written by the worker: operators look, they do not edit."""

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Every field is read-only here, so list them all, the datetimes through their precise display.
        names = [field.name for field in self.model._meta.concrete_fields if field.editable]
        return tuple(PRECISE + name if hasattr(self, PRECISE + name) else name for name in names)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MqttConnection)
class MqttConnectionAdmin(DatetimesToTheSecond, admin.ModelAdmin):
    form = MqttConnectionForm
    inlines = [MqttTopicInline]
    list_display = [
        "site",
        "broker",
        "enabled",
        "status",
        "precise_last_heartbeat_at",
        "precise_last_connected_at",
        "connection_errors",
    ]
    list_filter = ["status", "enabled", "ssl_enabled", "site__customer"]
    search_fields = ["site__name", "site__code", "broker_host"]
    list_select_related = ["site"]
    actions = ["enable_connections", "disable_connections"]
    readonly_fields = [
        "password_state",
        "client_key_state",
        "status",
        "precise_status_changed_at",
        "precise_last_connected_at",
        "precise_last_heartbeat_at",
        "connection_errors",
        "error_message",
        "precise_created_at",
        "precise_updated_at",
    ]
    fieldsets = (
        ("Connection", {"fields": ("site", "enabled", "broker_host", "broker_port", "client_id_prefix")}),
        ("Authentication", {"fields": ("username", "password_state", "new_password", "clear_password")}),
        (
            "Settings",
            {
                "fields": (
                    "keep_alive_interval",
                    "retry_attempts",
                    "retry_delay",
                    "max_retry_delay",
                    "expected_heartbeat_interval",
                )
            },
        ),
        (
            "TLS",
            {
                "fields": (
                    "ssl_enabled",
                    "ca_certificate",
                    "ca_cert_path",
                    "client_certificate",
                    "client_key_state",
                    "new_client_key",
                    "clear_client_key",
                    "tls_insecure",
                )
            },
        ),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "precise_status_changed_at",
                    "precise_last_connected_at",
                    "precise_last_heartbeat_at",
                    "connection_errors",
                    "error_message",
                    "precise_created_at",
                    "precise_updated_at",
                )
            },
        ),
    )

    @admin.display(description="broker")
    def broker(self, obj: MqttConnection) -> str:
        return f"{obj.broker_host}:{obj.broker_port}" + (" (TLS)" if obj.ssl_enabled else "")

    @admin.display(description="password")
    def password_state(self, obj: MqttConnection) -> str:
        return "stored (encrypted)" if obj.has_password else "none"

    @admin.display(description="client key")
    def client_key_state(self, obj: MqttConnection) -> str:
        return "stored (encrypted)" if obj.has_client_key else "none"

    def save_model(
        self, request: HttpRequest, obj: MqttConnection, form: forms.ModelForm, change: bool
    ) -> None:
        # Through the service: a change of "enabled" is a start or stop logged with the operator,
        # and the worker hears of the edit at once.
        save_connection(connection=obj, enabled=form.cleaned_data.get("enabled"), actor=request.user)

    def delete_model(self, request: HttpRequest, obj: MqttConnection) -> None:
        delete_connection(connection=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MqttConnection]) -> None:
        for connection in queryset:
            delete_connection(connection=connection)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # the topics inline
        set_topics(connection=form.instance)

    def _control(self, request: HttpRequest, queryset: QuerySet[MqttConnection], action: Action) -> int:
        wanted = action != Action.STOP
        changed = [connection for connection in queryset if connection.enabled != wanted]
        for connection in changed:
            control_connection(connection=connection, action=action, actor=request.user)
        return len(changed)

    @admin.action(description="Enable (connect) the selected connections", permissions=["change"])
    def enable_connections(self, request: HttpRequest, queryset: QuerySet[MqttConnection]) -> None:
        count = self._control(request, queryset, Action.START)
        self.message_user(request, f"Enabled {count} connection(s).", messages.SUCCESS)

    @admin.action(description="Disable (disconnect) the selected connections", permissions=["change"])
    def disable_connections(self, request: HttpRequest, queryset: QuerySet[MqttConnection]) -> None:
        count = self._control(request, queryset, Action.STOP)
        self.message_user(request, f"Disabled {count} connection(s).", messages.SUCCESS)


class SensorDataInline(DatetimesToTheSecond, admin.TabularInline):
    model = SensorData
    extra = 0
    can_delete = False
    fields = (
        "slot",
        "precise_timestamp",
        "acc_x",
        "acc_y",
        "acc_z",
        "incli_x",
        "incli_y",
        "precise_received_at",
    )
    readonly_fields = fields
    ordering = ["-timestamp"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SensorDevice)
class SensorDeviceAdmin(DatetimesToTheSecond, admin.ModelAdmin):
    list_display = [
        "device_name",
        "site",
        "device_type",
        "status",
        "precise_last_seen_at",
        "consecutive_misses",
        "total_messages",
        "is_active",
    ]
    list_filter = ["status", "is_active", ("site", admin.RelatedOnlyFieldListFilter), "device_type"]
    search_fields = ["device_name", "site__code", "site__name"]
    list_select_related = ["site"]
    inlines = [SensorDataInline]
    readonly_fields = [
        "status",
        "precise_status_changed_at",
        "precise_last_seen_at",
        "consecutive_misses",
        "total_messages",
        "precise_last_reading_ts",
        "uptime_last_24h",
        "precise_created_at",
        "precise_updated_at",
    ]
    fieldsets = (
        (None, {"fields": ("site", "device_name", "device_type", "is_active")}),
        ("Status", {"fields": tuple(readonly_fields)}),
    )

    @admin.display(description="uptime, last 24 h (%)")
    def uptime_last_24h(self, obj: SensorDevice) -> str:
        """Computed from the status changes when the page opens (apps/analytics), never stored."""
        if obj.pk is None:
            return "-"
        figure = sensor_uptime_last_24h(sensor_id=obj.pk, site_id=obj.site_id, now=timezone.now())
        return "-" if figure is None else f"{figure:.2f}"


@admin.register(SensorData)
class SensorDataAdmin(ReadOnlyAdmin):
    list_display = [
        "sensor_device",
        "slot",
        "precise_timestamp",
        "acc_x",
        "acc_y",
        "acc_z",
        "incli_x",
        "incli_y",
        "precise_received_at",
    ]
    list_filter = [("sensor_device__site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["sensor_device__device_name", "sensor_device__site__code"]
    list_select_related = ["sensor_device__site"]


@admin.register(ConnectionLog)
class ConnectionLogAdmin(ReadOnlyAdmin):
    list_display = ["precise_timestamp", "mqtt_connection", "event_type", "message", "actor"]
    list_filter = ["event_type", ("mqtt_connection__site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["message", "mqtt_connection__site__code", "mqtt_connection__site__name"]
    list_select_related = ["mqtt_connection__site", "actor"]
    date_hierarchy = "timestamp"


@admin.register(SensorStatusChange)
class SensorStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["precise_timestamp", "sensor_device", "old_status", "new_status", "reason"]
    list_filter = ["new_status", ("sensor_device__site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["sensor_device__device_name", "sensor_device__site__code", "reason"]
    list_select_related = ["sensor_device__site"]
    date_hierarchy = "timestamp"


@admin.register(SystemInfo)
class SystemInfoAdmin(ReadOnlyAdmin):
    list_display = ["site", "hostname", "firmware_version", "uptime_seconds", "precise_received_at"]
    search_fields = ["site__code", "site__name", "hostname"]
    list_select_related = ["site"]


@admin.register(RejectedMessage)
class RejectedMessageAdmin(ReadOnlyAdmin):
    """What dataloggers send that the parser cannot use: the place to look after a firmware update."""

    list_display = ["precise_last_seen_at", "site", "topic", "reason", "count", "last_detail"]
    list_filter = ["reason", ("site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["topic", "site__code", "last_detail"]
    list_select_related = ["site"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = [
        "worker_id",
        "hostname",
        "pid",
        "precise_started_at",
        "precise_last_seen_at",
        "connections",
    ]
