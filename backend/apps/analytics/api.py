"""Availability, sensors' availability and downtime of a site (the issue 12 contract): thin views over
apps/analytics/availability.py. A site the user may not see is a 404, a bad parameter a 400 naming it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from apps.analytics import availability
from apps.analytics.serializers import (
    AvailabilitySerializer,
    DowntimeParams,
    DowntimeSerializer,
    SensorAvailabilityParams,
    SensorAvailabilitySerializer,
    WindowParams,
)
from apps.mqtt.api.views import SITE_ID, SiteScopedMixin


def params(serializer_class: type[Serializer[Any]], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _query(serializer_class: type[Serializer[Any]]) -> list[OpenApiParameter | type[Serializer[Any]]]:
    return [SITE_ID, serializer_class]


class SiteAvailabilityView(SiteScopedMixin, generics.GenericAPIView):
    serializer_class = AvailabilitySerializer
    pagination_class = None

    @extend_schema(
        summary="A site's availability over a window",
        description="Uptime of the connection, the site heartbeat and the sensors (mean), heartbeat "
        "completeness, and the same per bucket. Maintenance, operator-disabled and unknown time are "
        "excluded from the denominator.",
        parameters=_query(WindowParams),
    )
    def get(self, request: Request, site_id: int) -> Response:
        site = self.get_site()
        window = params(WindowParams, request)["window"]
        return Response(AvailabilitySerializer(availability.site_availability(site=site, window=window)).data)


class SiteSensorsAvailabilityView(SiteScopedMixin, generics.GenericAPIView):
    serializer_class = SensorAvailabilitySerializer

    @extend_schema(
        summary="A site's sensors' availability over a window",
        description="Each sensor's uptime, down seconds and buckets; by device name, or with "
        "?ordering=uptime lowest first (unknown last).",
        parameters=_query(SensorAvailabilityParams),
        responses=SensorAvailabilitySerializer(many=True),
    )
    def get(self, request: Request, site_id: int) -> Response:
        site = self.get_site()
        query = params(SensorAvailabilityParams, request)
        rows = availability.sensors_availability(
            site=site, window=query["window"], ordering=query["ordering"]
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(SensorAvailabilitySerializer(page, many=True).data)


class SiteDowntimeView(SiteScopedMixin, generics.GenericAPIView):
    serializer_class = DowntimeSerializer

    @extend_schema(
        summary="A site's downtime periods over a window",
        description="Connection, heartbeat and sensor periods, newest first, clipped to the window "
        "(end null while ongoing), each marked when it overlaps maintenance. Listed while the raw "
        "rows are kept (ANALYTICS_RAW_RETENTION_DAYS).",
        parameters=_query(DowntimeParams),
        responses=DowntimeSerializer(many=True),
    )
    def get(self, request: Request, site_id: int) -> Response:
        site = self.get_site()
        query = params(DowntimeParams, request)
        rows = availability.downtime(
            site_ids=[site.pk],
            window=query["window"],
            query=availability.DowntimeQuery(kind=query["kind"], sensor=query["sensor"]),
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DowntimeSerializer(page, many=True).data)
