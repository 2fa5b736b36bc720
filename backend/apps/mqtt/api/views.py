"""Views of the REST API: thin. Querysets come from ``apps.mqtt.selectors`` (limited to the sites the
user may see, so another customer's object is a 404), writes from the serializers (the model's
validation) and ``apps.mqtt.services``."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.mqtt import selectors
from apps.mqtt.api.connection_serializer import ConnectionSerializer
from apps.mqtt.api.filters import ConnectionFilter, ConnectionLogFilter, SensorFilter
from apps.mqtt.api.permissions import IsStaffForWrites
from apps.mqtt.api.serializers import (
    ConnectionLogSerializer,
    ConnectionSummarySerializer,
    SensorSerializer,
    SiteSerializer,
    SystemInfoSerializer,
)
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, SystemInfo
from apps.mqtt.services.connections import delete_connection
from apps.mqtt.services.control import Action, control_connection
from apps.sites.models import Site

SITE_ID = OpenApiParameter("site_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The site's id.")


@extend_schema_view(
    list=extend_schema(
        summary="List the sites you may see",
        description="Each with its connection's state (null when it has none) and its sensors counted "
        "by status.",
    ),
    retrieve=extend_schema(summary="A site, with its connection's state and sensor counts"),
)
class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SiteSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Site]:
        return selectors.sites_with_status(self.request.user)


class SiteScopedMixin(generics.GenericAPIView):
    """Views under /sites/<site_id>/: the site must be visible to the user, else 404."""

    def get_site(self) -> Site:
        if not hasattr(self, "_site"):
            self._site = get_object_or_404(
                selectors.visible_sites(self.request.user), pk=self.kwargs["site_id"]
            )
        return self._site


@extend_schema(
    summary="A site's sensors with their last readings",
    description="Sorted by device name; each sensor carries its last readings (at most 3), newest first.",
    parameters=[SITE_ID],
)
class SiteSensorListView(SiteScopedMixin, generics.ListAPIView):
    serializer_class = SensorSerializer
    filterset_class = SensorFilter

    def get_queryset(self) -> QuerySet[SensorDevice]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return SensorDevice.objects.none()
        return selectors.sensors_of_site(self.get_site())


@extend_schema(
    summary="A site's latest system information",
    description="404 when the site's datalogger has not sent sys_info yet.",
    parameters=[SITE_ID],
)
class SiteSystemInfoView(SiteScopedMixin, generics.RetrieveAPIView):
    serializer_class = SystemInfoSerializer

    def get_queryset(self) -> QuerySet[SystemInfo]:  # for the schema generator only
        return SystemInfo.objects.none()

    def get_object(self) -> SystemInfo:
        info = selectors.system_info_of_site(self.get_site())
        if info is None:
            raise NotFound("This site's datalogger has not sent system information yet.")
        return info


_CONTROL_DESCRIPTION = (
    "Staff only. Sets the desired state in the database, logs the action with your user and nudges "
    "the MQTT worker, which acts at once (the observed status follows in the connection's status "
    "and on the status WebSocket). Returns the connection."
)


@extend_schema_view(
    list=extend_schema(summary="List the connections of the sites you may see"),
    retrieve=extend_schema(summary="A connection (secrets are never returned)"),
    create=extend_schema(
        summary="Create a site's connection (staff)",
        description="Validated like the admin form. Without topics it gets the default heartbeat and "
        "sys_info subscriptions.",
    ),
    update=extend_schema(
        summary="Replace a connection's configuration (staff)",
        description="A blank or absent password / client_key keeps the stored one; clear_password / "
        "clear_client_key remove it. Changing 'enabled' is logged as a start or stop.",
    ),
    partial_update=extend_schema(
        summary="Change some of a connection's configuration (staff)",
        description="As the full update, for the fields given only.",
    ),
    destroy=extend_schema(summary="Delete a connection (staff)"),
)
class ConnectionViewSet(viewsets.ModelViewSet):
    serializer_class = ConnectionSerializer
    permission_classes = [IsAuthenticated, IsStaffForWrites]
    filterset_class = ConnectionFilter
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[MqttConnection]:
        return selectors.connections_visible_to(self.request.user)

    def get_serializer_class(self) -> type[BaseSerializer[MqttConnection]]:
        # Customers see their connections' state, not how they are configured (user names,
        # certificates, topics): that is the operators' business.
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated and not user.is_staff:
            return ConnectionSummarySerializer
        return ConnectionSerializer

    def perform_destroy(self, instance: MqttConnection) -> None:
        delete_connection(connection=instance)

    def _control(self, action: Action) -> Response:
        connection = self.get_object()  # 404 for an invisible connection, 403 for non-staff
        control_connection(connection=connection, action=action, actor=self.request.user)
        return Response(self.get_serializer(connection).data)

    @extend_schema(
        summary="Start (enable) the connection (staff)", description=_CONTROL_DESCRIPTION, request=None
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        return self._control(Action.START)

    @extend_schema(
        summary="Stop (disable) the connection (staff)", description=_CONTROL_DESCRIPTION, request=None
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        return self._control(Action.STOP)

    @extend_schema(
        summary="Restart the connection (staff)",
        description=_CONTROL_DESCRIPTION + " A restart also enables a stopped connection.",
        request=None,
    )
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, pk: str | None = None) -> Response:
        return self._control(Action.RESTART)


@extend_schema_view(
    list=extend_schema(
        summary="Connection logs of the sites you may see",
        description="Newest first: status changes, missed and resumed heartbeats, operators' actions. "
        "'since' is inclusive, 'until' exclusive.",
    )
)
class ConnectionLogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ConnectionLogSerializer
    filterset_class = ConnectionLogFilter

    def get_queryset(self) -> QuerySet[ConnectionLog]:
        return selectors.logs_visible_to(self.request.user)
