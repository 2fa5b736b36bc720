"""Must-hold 4 (first half) of issue 12: CSV reports stream (memory flat in the number of sensors; on
PostgreSQL the rows come through a server-side cursor), with a maintenance column, for the sites the
user may see."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection as db
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from apps.analytics.tests.conftest import NOW, change, hours_ago, log, maintenance
from apps.mqtt.models import MqttConnection, SensorData, SensorDevice, SensorStatusChange

pytestmark = pytest.mark.django_db

THIRTY_DAYS = "start=2025-05-16T12:00:00Z&end=2025-06-15T12:00:00Z"


def rows_of(response: Any) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response).decode()
    return list(csv.reader(io.StringIO(text)))


def hourly_changes(connection: MqttConnection, sensors: int, days: int = 30) -> None:
    """A state change per sensor per hour over ``days`` days: online on even hours, offline on odd."""
    devices = SensorDevice.objects.bulk_create(
        SensorDevice(site=connection.site, device_name=f"S{index:03d}") for index in range(sensors)
    )
    start = NOW - dt.timedelta(days=days)
    SensorStatusChange.objects.bulk_create(
        (
            SensorStatusChange(
                sensor_device=device,
                new_status="online" if hour % 2 == 0 else "offline",
                reason="" if hour % 2 == 0 else "missing from 3 heartbeats in a row",
                timestamp=start + dt.timedelta(hours=hour, minutes=index % 60),
            )
            for device in devices
            for hour in range(days * 24)
            for index in (device.pk,)
        ),
        batch_size=5000,
    )


def test_the_uptime_report_per_sensor_is_a_streamed_attachment(
    monitored_site: MqttConnection, customer_client: APIClient, frozen_now: dt.datetime
) -> None:
    sensor = SensorDevice.objects.create(site=monitored_site.site, device_name="S1")
    change(sensor, "online", hours_ago(30))
    change(sensor, "offline", hours_ago(10))
    change(sensor, "online", hours_ago(4))
    maintenance(monitored_site.site, hours_ago(10), hours_ago(9))

    response = customer_client.get(
        f"/api/reports/uptime.csv?site={monitored_site.site_id}&level=sensor&start=2025-06-14T12:00:00Z"
        "&end=2025-06-15T12:00:00Z"
    )

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"].startswith('attachment; filename="uptime-sensor-')
    header, *rows = rows_of(response)
    assert header[:6] == [
        "site_code",
        "sensor_id",
        "device_name",
        "bucket_start",
        "bucket_end",
        "uptime_percentage",
    ]
    assert len(rows) == 24
    assert rows[14][5:] == ["", "0", "0", "3600", "3600", "yes"]  # in maintenance: excluded
    assert rows[15][5:] == ["0.00", "0", "3600", "0", "0", "no"]


def test_the_site_uptime_report_matches_the_api(
    monitored_site: MqttConnection, customer_client: APIClient, frozen_now: dt.datetime
) -> None:
    sensor = SensorDevice.objects.create(site=monitored_site.site, device_name="S1")
    change(sensor, "online", hours_ago(30))
    change(sensor, "offline", hours_ago(6))
    window = "start=2025-06-15T00:00:00Z&end=2025-06-15T12:00:00Z&bucket=day"

    [header, row] = rows_of(customer_client.get(f"/api/reports/uptime.csv?{window}"))
    figures = customer_client.get(f"/api/sites/{monitored_site.site_id}/availability/?{window}").json()

    assert dict(zip(header, row, strict=True))["sensors_uptime"] == "50.00"
    assert figures["buckets"][0]["sensors_uptime"] == 50.0


def test_reports_refuse_a_site_the_user_may_not_see(
    monitored_site: MqttConnection, customer_client: APIClient, make_connection: Callable[..., MqttConnection]
) -> None:
    foreign = make_connection()
    for report in ("uptime", "downtime", "logs", "readings"):
        response = customer_client.get(
            f"/api/reports/{report}.csv?site={monitored_site.site_id}&site={foreign.site_id}"
        )
        assert response.status_code == 404, report
    assert customer_client.get("/api/reports/logs.csv?site=x").status_code == 400


def test_the_log_report_marks_rows_in_maintenance_and_lists_only_visible_sites(
    monitored_site: MqttConnection,
    customer_client: APIClient,
    make_connection: Callable[..., MqttConnection],
    frozen_now: dt.datetime,
) -> None:
    log(monitored_site, "disconnected", hours_ago(5), "lost")
    log(make_connection(), "disconnected", hours_ago(5), "another customer's")
    maintenance(monitored_site.site, hours_ago(6), hours_ago(4))

    header, *rows = rows_of(customer_client.get("/api/reports/logs.csv?window=24h"))

    assert header == ["timestamp", "site_code", "event_type", "message", "in_maintenance"]
    assert [(r[2], r[3], r[4]) for r in rows] == [("disconnected", "lost", "yes")]


def test_the_readings_report_lists_each_sensors_latest_readings(
    monitored_site: MqttConnection, customer_client: APIClient
) -> None:
    sensor = SensorDevice.objects.create(site=monitored_site.site, device_name="S1")
    SensorData.objects.create(sensor_device=sensor, slot=0, timestamp=NOW, raw_data={}, acc_x=0.5)

    header, row = rows_of(customer_client.get("/api/reports/readings.csv"))

    assert dict(zip(header, row, strict=True))["acc_x"] == "0.5"


def _peak_bytes(client: APIClient, url: str) -> tuple[int, int]:
    response = client.get(url)
    assert isinstance(response, StreamingHttpResponse)
    tracemalloc.start()
    lines = 0
    for _ in response:
        lines += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, lines


def test_the_downtime_report_of_30_days_streams_with_memory_flat_from_10_to_100_sensors(
    make_connection: Callable[..., MqttConnection], staff_user, frozen_now: dt.datetime
) -> None:
    client = APIClient()
    client.force_login(staff_user)
    small, large = make_connection(), make_connection()
    hourly_changes(small, 10)
    hourly_changes(large, 100)

    small_peak, small_lines = _peak_bytes(
        client, f"/api/reports/downtime.csv?site={small.site_id}&{THIRTY_DAYS}"
    )
    large_peak, large_lines = _peak_bytes(
        client, f"/api/reports/downtime.csv?site={large.site_id}&{THIRTY_DAYS}"
    )

    assert large_lines > 9 * small_lines  # ten times the rows...
    assert large_peak < 2 * small_peak  # ...in about the same memory


@pytest.mark.skipif(db.vendor != "postgresql", reason="PostgreSQL only: server-side cursors")
def test_on_postgresql_the_downtime_report_reads_state_changes_through_a_server_side_cursor(
    make_connection: Callable[..., MqttConnection], staff_user, frozen_now: dt.datetime
) -> None:
    client = APIClient()
    client.force_login(staff_user)
    connection = make_connection()
    hourly_changes(connection, 100)
    response = client.get(f"/api/reports/downtime.csv?site={connection.site_id}&{THIRTY_DAYS}")
    assert isinstance(response, StreamingHttpResponse)
    stream: Iterator[bytes] = iter(response)

    for _ in range(200):  # into the sensors' rows, well before the last of 72,000 state changes
        next(stream)
    with db.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_cursors")
        cursors = cursor.fetchall()

    assert any("mqtt_sensorstatuschange" in statement for _, statement in cursors), cursors
    assert sum(1 for _ in stream) > 1000
