"""What the web app asks first and what the operations view shows: the signed-in user (with the
server's clock and the liveness thresholds the pages tick with), the operations state for staff, and
the API's root listing its routes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.mqtt.ops_selectors import dashboard_state

CONTROL_PERMISSION = "mqtt.change_mqttconnection"

_ME = inline_serializer(
    "Me",
    {
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "display_name": serializers.CharField(),
        "is_staff": serializers.BooleanField(),
        "can_control": serializers.BooleanField(help_text="May start, stop and restart connections."),
        "server_time": serializers.DateTimeField(help_text="The server's clock, to measure ages by."),
        "stale_after_seconds": serializers.IntegerField(),
        "heartbeat_timeout_seconds": serializers.IntegerField(),
    },
)


class MeView(APIView):
    @extend_schema(summary="The signed-in user, the server's time and the liveness thresholds", responses=_ME)
    def get(self, request: Request) -> Response:
        user = request.user
        timeout = settings.MQTT_SETTINGS["HEARTBEAT_TIMEOUT"]
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "display_name": user.get_full_name() or user.get_username(),  # type: ignore[union-attr]
                "is_staff": user.is_staff,
                "can_control": user.is_staff and user.has_perm(CONTROL_PERMISSION),
                "server_time": timezone.now().isoformat(),
                "stale_after_seconds": timeout,
                "heartbeat_timeout_seconds": timeout,
            }
        )


class OpsStateView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        summary="The operations view (staff): totals, every connection, the latest 50 events, the worker",
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        return Response(dashboard_state())


_ROUTES = (
    ("me", "api:me"),
    ("sites", "api:site-list"),
    ("connections", "api:connection-list"),
    ("logs", "api:log-list"),
    ("ops", "api:ops"),
    ("schema", "api:schema"),
    ("docs", "api:docs"),
    ("redoc", "api:redoc"),
)


class ApiRootView(APIView):
    permission_classes = [AllowAny]  # a map of the routes; each route checks its own access

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        routes: dict[str, Any] = {name: request.build_absolute_uri(reverse(url)) for name, url in _ROUTES}
        sites = request.build_absolute_uri(reverse("api:site-list"))
        routes["site_sensors"] = sites + "{site_id}/sensors/"
        routes["site_system_info"] = sites + "{site_id}/system-info/"
        routes["site_availability"] = sites + "{site_id}/availability/"
        routes["site_sensors_availability"] = sites + "{site_id}/sensors/availability/"
        routes["site_downtime"] = sites + "{site_id}/downtime/"
        routes["reports"] = [
            request.build_absolute_uri(reverse(f"api:report-{name}"))
            for name in ("uptime", "downtime", "logs", "readings")
        ]
        routes["connection_control"] = request.build_absolute_uri(reverse("api:connection-list")) + (
            "{id}/start/ | stop/ | restart/"
        )
        routes["websockets"] = {"status": "/ws/mqtt/status/", "site": "/ws/mqtt/site/{site_id}/"}
        return Response(routes)
