"""/metrics and /healthz."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from apps.mqtt.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_metrics_expose_database_gauges_and_process_counters(admin_client: Client, make_connection) -> None:
    make_connection(status="connected")
    make_connection(status="error")
    response = admin_client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert 'mqtt_connections_by_status{status="connected"} 1.0' in body
    assert 'mqtt_connections_by_status{status="error"} 1.0' in body
    assert "sensors_by_status" in body
    assert "# TYPE ingest_flush_seconds histogram" in body


def test_metrics_token_when_set_is_required(client: Client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_healthz_reports_a_live_worker(client: Client) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1",
        hostname="h",
        pid=1,
        started_at=now,
        last_seen_at=now - dt.timedelta(seconds=3),
        connections=4,
    )
    data = client.get("/healthz").json()
    assert data["status"] == "ok"
    assert data["database"] == "ok"
    assert data["worker"]["alive"] is True
    assert data["worker"]["connections"] == 4


def test_healthz_is_degraded_not_failed_without_a_live_worker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, started_at=now, last_seen_at=now - dt.timedelta(minutes=5)
    )
    assert client.get("/healthz").json()["worker"]["alive"] is False


def test_metrics_without_a_token_are_refused_to_anonymous_and_customers_in_production(
    client: Client, settings, django_user_model
) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 401
    client.force_login(django_user_model.objects.create_user("customer-m"))
    assert client.get("/metrics").status_code == 401


def test_metrics_answer_staff_sessions_even_when_a_token_is_set(admin_client: Client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret"
    assert admin_client.get("/metrics").status_code == 200


def test_metrics_are_open_in_debug_without_a_token(client: Client, settings) -> None:
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200
