"""Shapes of the alerts API (docs: /api/docs/). People who acknowledged or planned something are
named to staff; customers read "operator" (they never see staff usernames)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.alerts.models import Alert, Notification
from apps.alerts.selectors import window_state
from apps.sites.models import MaintenanceWindow

OPERATOR = "operator"


def _person(serializer: serializers.Serializer[Any], user: AbstractBaseUser | None) -> str | None:
    if user is None:
        return None
    viewer = serializer.context["request"].user
    return user.get_username() if viewer.is_staff else OPERATOR


class AlertSerializer(serializers.ModelSerializer[Alert]):
    site_name = serializers.CharField(source="site.name", read_only=True)
    site_code = serializers.CharField(source="site.code", read_only=True)
    affected_sensors = serializers.ListField(child=serializers.CharField(), read_only=True)
    acknowledged_by = serializers.SerializerMethodField(
        help_text='Who acknowledged it: the username for staff, "operator" for customers.'
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "site",
            "site_name",
            "site_code",
            "kind",
            "severity",
            "state",
            "title",
            "message",
            "affected_sensors",
            "opened_at",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
            "in_maintenance",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_acknowledged_by(self, alert: Alert) -> str | None:
        return _person(self, alert.acknowledged_by)


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    channel = serializers.CharField(source="channel.name", read_only=True)

    class Meta:
        model = Notification
        fields = ["channel", "event", "status", "attempts", "last_error", "sent_at"]
        read_only_fields = fields


class MaintenanceWindowSerializer(serializers.ModelSerializer[MaintenanceWindow]):
    created_by = serializers.SerializerMethodField(
        help_text='Who planned it: the username for staff, "operator" for customers.'
    )
    state = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = ["id", "site", "starts_at", "ends_at", "reason", "created_by", "state"]
        read_only_fields = ["id", "site", "created_by", "state"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, window: MaintenanceWindow) -> str | None:
        return _person(self, window.created_by)

    @extend_schema_field(serializers.ChoiceField(choices=["upcoming", "active", "past"]))
    def get_state(self, window: MaintenanceWindow) -> str:
        now: dt.datetime = self.context.get("now") or timezone.now()
        return window_state(window, now=now)
