"""Views of the alerts API: thin. Querysets from apps.alerts.selectors (only the sites the user may
see: another customer's alert or site is a 404), writes from apps.alerts.services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from apps.alerts import selectors, services
from apps.alerts.api.filters import AlertFilter
from apps.alerts.api.serializers import AlertSerializer, MaintenanceWindowSerializer, NotificationSerializer
from apps.alerts.models import Alert
from apps.sites.models import MaintenanceWindow, Site
from apps.sites.selectors import sites_visible_to

SITE_ID = OpenApiParameter("site_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The site's id.")
WINDOW_STATE = OpenApiParameter(
    "state", OpenApiTypes.STR, enum=["upcoming", "active", "past"], description="Only windows in this state."
)


def _require_staff(request: Request) -> None:
    """After the site's lookup: another customer's site stays a 404, one's own a 403."""
    if request.method not in SAFE_METHODS and not request.user.is_staff:
        raise PermissionDenied("Only staff may plan or delete maintenance windows.")


@extend_schema_view(
    list=extend_schema(
        summary="Alerts of the sites you may see",
        description="Newest first. A site that went silent is one alert naming its affected sensors; "
        "alerts opened during a maintenance window are marked and were not notified.",
    ),
    retrieve=extend_schema(summary="An alert"),
)
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Alert]:
        return selectors.alerts_visible_to(self.request.user)

    @extend_schema(
        summary="Acknowledge an alert",
        description="Anyone who may see the alert's site. A resolved alert cannot be acknowledged (400).",
        request=None,
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = self.get_object()
        try:
            alert = services.acknowledge_alert(alert=alert, user=request.user, at=timezone.now())
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"detail": exc.messages}) from None
        return Response(self.get_serializer(alert).data)

    @extend_schema(
        summary="The notifications of an alert (staff)",
        description="One row per channel and event (opened, resolved): sent, pending (with its "
        "attempts so far) or failed with the last error.",
        responses=NotificationSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def notifications(self, request: Request, pk: str | None = None) -> Response:
        alert = self.get_object()  # 404 first: a customer's own alert, then 403
        if not request.user.is_staff:
            raise PermissionDenied("Only staff may see the notifications.")
        rows = selectors.notifications_of(alert)
        return Response(NotificationSerializer(rows, many=True).data)


class SiteMaintenanceMixin(generics.GenericAPIView):
    serializer_class = MaintenanceWindowSerializer
    filterset_class = None

    def get_site(self) -> Site:
        if not hasattr(self, "_site"):
            self._site = get_object_or_404(sites_visible_to(self.request.user), pk=self.kwargs["site_id"])
        return self._site

    def get_serializer_context(self) -> dict[str, object]:
        return {**super().get_serializer_context(), "now": timezone.now()}


@extend_schema_view(
    get=extend_schema(
        summary="A site's maintenance windows",
        description="Newest first. During a window alerts are recorded but not notified, and the time "
        "is left out of uptime.",
        parameters=[SITE_ID, WINDOW_STATE],
    ),
    post=extend_schema(
        summary="Plan a maintenance window (staff)",
        description="It must end after it starts and last at most 31 days.",
        parameters=[SITE_ID],
    ),
)
class SiteMaintenanceListView(SiteMaintenanceMixin, generics.ListCreateAPIView):
    def get_queryset(self) -> QuerySet[MaintenanceWindow]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return MaintenanceWindow.objects.none()
        state = self.request.query_params.get("state") or None
        if state not in (None, "upcoming", "active", "past"):
            raise serializers.ValidationError({"state": "Choose upcoming, active or past."})
        return selectors.maintenance_windows_of(self.get_site(), state=state, now=timezone.now())

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        site = self.get_site()
        _require_staff(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            window = services.create_maintenance_window(
                site=site,
                starts_at=serializer.validated_data["starts_at"],
                ends_at=serializer.validated_data["ends_at"],
                reason=serializer.validated_data.get("reason", ""),
                user=request.user,
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(self.get_serializer(window).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="A maintenance window", parameters=[SITE_ID]),
    delete=extend_schema(summary="Delete a maintenance window (staff)", parameters=[SITE_ID]),
)
class SiteMaintenanceDetailView(SiteMaintenanceMixin, mixins.DestroyModelMixin, generics.RetrieveAPIView):
    lookup_url_kwarg = "window_id"

    def get_queryset(self) -> QuerySet[MaintenanceWindow]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return MaintenanceWindow.objects.none()
        return self.get_site().maintenance_windows.select_related("created_by")

    def delete(self, request: Request, *args: object, **kwargs: object) -> Response:
        window = self.get_object()
        _require_staff(request)
        services.delete_maintenance_window(window=window)
        return Response(status=status.HTTP_204_NO_CONTENT)
