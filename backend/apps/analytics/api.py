"""Availability, sensors' availability and downtime of a site, and the CSV reports (the issue 12
contract): thin views over apps/analytics/availability.py and reports.py. A site the user may not see
is a 404, a bad parameter a 400 naming it."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, renderers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from apps.analytics import availability, reports
from apps.analytics.selectors import Window
from apps.analytics.serializers import (
    AvailabilitySerializer,
    DowntimeParams,
    DowntimeSerializer,
    ReportParams,
    SensorAvailabilityParams,
    SensorAvailabilitySerializer,
    SitesParams,
    WindowParams,
)
from apps.mqtt.api.views import SITE_ID, SiteScopedMixin
from apps.sites.models import Site
from apps.sites.selectors import sites_visible_to


def params(serializer_class: type[Serializer[Any]], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _query(serializer_class: type[Serializer[Any]]) -> list[OpenApiParameter | type[Serializer[Any]]]:
    return [SITE_ID, serializer_class]


class SiteAvailabilityView(SiteScopedMixin, generics.GenericAPIView):
    queryset = Site.objects.none()  # for the schema generator: the path's id is a site's
    serializer_class = AvailabilitySerializer
    pagination_class = None

    @extend_schema(
        summary="A site's availability over a window",
        description="Uptime of the connection, the site heartbeat and the sensors (mean), heartbeat "
        "completeness, and the same per bucket. Maintenance, operator-disabled and unknown time are "
        "excluded from the denominator. A window starting before the hourly roll-ups are kept "
        "(ANALYTICS_HOURLY_RETENTION_DAYS, default 90 days) is widened to whole UTC days and exact to "
        "the day: resolution says which.",
        parameters=_query(WindowParams),
    )
    def get(self, request: Request, site_id: int) -> Response:
        site = self.get_site()
        window = params(WindowParams, request)["window"]
        return Response(AvailabilitySerializer(availability.site_availability(site=site, window=window)).data)


class SiteSensorsAvailabilityView(SiteScopedMixin, generics.GenericAPIView):
    queryset = Site.objects.none()  # for the schema generator: the path's id is a site's
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
    queryset = Site.objects.none()  # for the schema generator: the path's id is a site's
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


# ---------------------------------------------------------------- reports (streamed CSV)


class _Echo:
    """A file-like object whose write returns the line, for csv.writer over a stream."""

    def write(self, value: str) -> str:
        return value


class CsvRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/csv; errors (400, 404) still come as JSON text."""

    media_type = "text/csv"
    format = "csv"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data).encode()


def _sites(request: Request, ids: list[int]) -> list[Site]:
    """The requested sites (all visible ones when none is named); one the user may not see is a 404."""
    visible = sites_visible_to(request.user)
    if ids:
        visible = visible.filter(pk__in=ids)
    sites = list(visible.order_by("code"))
    if ids and len(sites) != len(set(ids)):
        raise NotFound("No such site.")
    return sites


def _csv(rows: Iterator[Sequence[Any]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _stamp(window: Window) -> str:
    return f"{window.start:%Y%m%dT%H%M}-{window.end:%Y%m%dT%H%M}"


_CSV = {(200, "text/csv"): OpenApiTypes.STR}


class _ReportView(APIView):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]


class UptimeReportView(_ReportView):
    @extend_schema(
        summary="Uptime report (CSV, streamed)",
        description="level=site: each site's connection, heartbeat and sensors uptime, completeness and "
        "maintenance per bucket; level=sensor: each sensor's seconds up / down / excluded per bucket. "
        "in_maintenance says whether the bucket had maintenance.",
        parameters=[ReportParams],
        responses=_CSV,
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = params(ReportParams, request)
        sites, window = _sites(request, query["site"]), query["window"]
        rows = (reports.sensor_uptime_rows if query["level"] == "sensor" else reports.site_uptime_rows)(
            sites, window
        )
        return _csv(rows, f"uptime-{query['level']}-{_stamp(window)}.csv")


class DowntimeReportView(_ReportView):
    @extend_schema(
        summary="Downtime periods report (CSV, streamed)",
        description="Connection, heartbeat and sensor periods clipped to the window, in_maintenance "
        "when a period overlaps maintenance; within the raw retention (ANALYTICS_RAW_RETENTION_DAYS).",
        parameters=[ReportParams],
        responses=_CSV,
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = params(ReportParams, request)
        window = query["window"]
        return _csv(
            reports.downtime_rows(_sites(request, query["site"]), window), f"downtime-{_stamp(window)}.csv"
        )


class LogReportView(_ReportView):
    @extend_schema(
        summary="Connection logs report (CSV, streamed)",
        description="Every log row of the window, oldest first; in_maintenance when it fell in maintenance.",
        parameters=[ReportParams],
        responses=_CSV,
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = params(ReportParams, request)
        window = query["window"]
        return _csv(reports.log_rows(_sites(request, query["site"]), window), f"logs-{_stamp(window)}.csv")


class ReadingReportView(_ReportView):
    @extend_schema(
        summary="Latest readings report (CSV, streamed)",
        description="Each sensor's retained readings (at most 3), newest first.",
        parameters=[SitesParams],
        responses=_CSV,
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = params(SitesParams, request)
        return _csv(reports.reading_rows(_sites(request, query.get("site", []))), "readings.csv")
