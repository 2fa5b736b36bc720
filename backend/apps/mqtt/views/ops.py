"""Operations endpoints: Prometheus metrics and a health check."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.mqtt.models import MqttConnection, SensorDevice, WorkerHeartbeat

logger = logging.getLogger(__name__)


class DatabaseStateCollector(Collector):
    """Gauges read from the database at scrape time, true whichever process runs the worker. Served by
    the web's /metrics only (``WEB_REGISTRY``), never by the worker's own metrics server: the
    worker's queue depth and write errors matter most while the database is away. Should the
    database not answer, the scrape still succeeds, with ``database_up 0`` and no state gauges."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe(), registering would call collect() and query the database at import.
        yield GaugeMetricFamily("database_up", "")
        yield GaugeMetricFamily("mqtt_connections_by_status", "", labels=["status"])
        yield GaugeMetricFamily("sensors_by_status", "", labels=["status"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            connection_counts = dict(MqttConnection.objects.values_list("status").annotate(n=Count("id")))
            sensor_counts = dict(SensorDevice.objects.values_list("status").annotate(n=Count("id")))
        except DatabaseError as exc:
            logger.warning("metrics: database unavailable (%s)", exc)
            yield GaugeMetricFamily("database_up", "1 when the database answered this scrape", value=0)
            return
        yield GaugeMetricFamily("database_up", "1 when the database answered this scrape", value=1)
        connections = GaugeMetricFamily(
            "mqtt_connections_by_status", "MQTT connections by observed status (database)", labels=["status"]
        )
        for status in MqttConnection.Status.values:
            connections.add_metric([status], connection_counts.get(status, 0))
        yield connections
        sensors = GaugeMetricFamily("sensors_by_status", "Sensors by status (database)", labels=["status"])
        for status in SensorDevice.Status.values:
            sensors.add_metric([status], sensor_counts.get(status, 0))
        yield sensors


# The process's own metrics (REGISTRY: in the web process, those of the worker too when it runs
# there) plus the database's state, for the web's /metrics only.
WEB_REGISTRY = CollectorRegistry(auto_describe=True)
WEB_REGISTRY.register(DatabaseStateCollector())


def _authorised(request: HttpRequest) -> bool:
    """The bearer token (METRICS_TOKEN) or a staff session; anyone in DEBUG when no token is set."""
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(supplied, token):
            return True
    elif settings.DEBUG:
        return True
    user = request.user
    return user.is_active and user.is_staff


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        return HttpResponse(
            "a bearer token (METRICS_TOKEN) or a staff session is required\n",
            status=401,
            content_type="text/plain",
        )
    body = generate_latest(REGISTRY) + generate_latest(WEB_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the database answers (the web server can serve); the worker's state is reported
    but does not fail the check, so a load balancer never drops the web for a worker problem."""
    now = timezone.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        worker = WorkerHeartbeat.objects.order_by("-last_seen_at").first()
    except DatabaseError:
        logger.exception("health check: database unavailable")
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    alive = worker is not None and worker.is_alive(now)
    return JsonResponse(
        {
            "status": "ok" if alive else "degraded",
            "database": "ok",
            "worker": {
                "alive": alive,
                "last_seen_at": worker.last_seen_at.isoformat() if worker else None,
                "connections": worker.connections if worker else 0,
            },
        }
    )
