"""Must-hold 1 of issue 12, with controlled time: exact uptime from the state rows, clipping at the
window's edges, maintenance excluded."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from apps.analytics.availability import downtime, site_availability
from apps.analytics.models import HeartbeatHour
from apps.analytics.selectors import Window
from apps.analytics.tests.conftest import NOW, change, hours_ago, log, maintenance
from apps.mqtt.models import MqttConnection, SensorDevice

pytestmark = pytest.mark.django_db

LAST_24H = Window(start=hours_ago(24), end=NOW, bucket="hour", now=NOW)


def sensor_of(connection: MqttConnection, name: str = "S1") -> SensorDevice:
    return SensorDevice.objects.create(site=connection.site, device_name=name)


def test_a_sensor_offline_6_of_the_last_24_hours_reads_75_percent(
    monitored_site: MqttConnection, customer_client: APIClient, frozen_now: dt.datetime
) -> None:
    sensor = sensor_of(monitored_site)
    change(sensor, "online", hours_ago(30))
    change(sensor, "offline", hours_ago(10), "missing from 3 heartbeats in a row")
    change(sensor, "online", hours_ago(4))

    site = customer_client.get(f"/api/sites/{monitored_site.site_id}/availability/?window=24h").json()
    listed = customer_client.get(f"/api/sites/{monitored_site.site_id}/sensors/availability/").json()

    assert site["sensors"] == {"uptime_percentage": 75.0, "count": 1}
    [row] = listed["results"]
    assert (row["uptime_percentage"], row["down_seconds"]) == (75.0, 6 * 3600)
    assert len(row["buckets"]) == 24
    assert [b["uptime_percentage"] for b in row["buckets"]][13:21] == [100.0, 0, 0, 0, 0, 0, 0, 100.0]
    assert site["connection"]["uptime_percentage"] == 100.0


def test_periods_crossing_the_window_edges_are_clipped(monitored_site: MqttConnection) -> None:
    sensor = sensor_of(monitored_site)
    change(sensor, "offline", hours_ago(30), "missing from 3 heartbeats in a row")
    change(sensor, "online", hours_ago(20))
    change(sensor, "stale", hours_ago(2), "ts has not advanced for 60 s")

    periods = downtime(site_ids=[monitored_site.site_id], window=LAST_24H)
    figures = site_availability(site=monitored_site.site, window=LAST_24H)

    assert [(p["start"], p["end"], p["duration_seconds"]) for p in periods] == [
        (hours_ago(2), None, 2 * 3600),  # still stale at the window's end (now): ongoing
        (hours_ago(24), hours_ago(20), 4 * 3600),  # began before the window: clipped at its start
    ]
    assert periods[0]["reason"] == "stale: ts has not advanced for 60 s"
    assert figures["sensors"]["uptime_percentage"] == 75.0


def test_a_period_ending_after_a_past_window_is_clipped_at_its_end(monitored_site: MqttConnection) -> None:
    sensor = sensor_of(monitored_site)
    change(sensor, "online", hours_ago(40))
    change(sensor, "offline", hours_ago(26))
    change(sensor, "online", hours_ago(22))
    window = Window(start=hours_ago(48), end=hours_ago(24), bucket="hour", now=NOW)

    [period] = downtime(site_ids=[monitored_site.site_id], window=window)

    assert (period["start"], period["end"], period["duration_seconds"]) == (
        hours_ago(26),
        hours_ago(24),
        7200,
    )


def test_maintenance_time_is_excluded_from_uptime_and_marked_on_periods(
    monitored_site: MqttConnection,
) -> None:
    sensor = sensor_of(monitored_site)
    change(sensor, "online", hours_ago(30))
    change(sensor, "offline", hours_ago(10))
    change(sensor, "online", hours_ago(4))
    maintenance(monitored_site.site, hours_ago(10), hours_ago(7))

    figures = site_availability(site=monitored_site.site, window=LAST_24H)
    [period] = downtime(site_ids=[monitored_site.site_id], window=LAST_24H)

    assert figures["sensors"]["uptime_percentage"] == round(100 * 18 / 21, 2)  # 3 of the 6 h excused
    assert figures["connection"]["maintenance_seconds"] == 3 * 3600
    assert figures["connection"]["excluded_seconds"] == 3 * 3600
    assert [b["maintenance_seconds"] for b in figures["buckets"]][14:18] == [3600, 3600, 3600, 0]
    assert period["in_maintenance"] is True


def test_time_before_the_first_state_row_is_unknown_not_down(monitored_site: MqttConnection) -> None:
    sensor = sensor_of(monitored_site)
    change(sensor, "online", hours_ago(12))

    figures = site_availability(site=monitored_site.site, window=LAST_24H)

    assert figures["sensors"]["uptime_percentage"] == 100.0
    assert figures["buckets"][0]["sensors_uptime"] is None
    assert figures["buckets"][12]["sensors_uptime"] == 100.0


def test_connection_and_heartbeat_uptime_leave_out_operator_disabled_time(
    monitored_site: MqttConnection,
) -> None:
    sensor = sensor_of(monitored_site)
    change(sensor, "online", hours_ago(30))
    log(monitored_site, "disconnected", hours_ago(20), "connection lost")
    log(monitored_site, "connected", hours_ago(19))
    log(monitored_site, "heartbeat_missed", hours_ago(16), "No heartbeat for over 30 s")
    log(monitored_site, "heartbeat_resumed", hours_ago(15))
    log(monitored_site, "stopped", hours_ago(10))
    change(sensor, "offline", hours_ago(10), "monitoring disabled")
    log(monitored_site, "started", hours_ago(6))
    log(monitored_site, "connected", hours_ago(6))
    change(sensor, "online", hours_ago(6))

    figures = site_availability(site=monitored_site.site, window=LAST_24H)
    periods = downtime(site_ids=[monitored_site.site_id], window=LAST_24H)

    assert figures["connection"]["uptime_percentage"] == round(100 * 19 / 20, 2)
    assert figures["connection"]["excluded_seconds"] == 4 * 3600
    assert figures["heartbeat"]["uptime_percentage"] == round(100 * 19 / 20, 2)
    assert figures["sensors"]["uptime_percentage"] == 100.0  # offline only while disabled
    assert {(p["kind"], p["duration_seconds"]) for p in periods} == {
        ("connection", 3600),
        ("heartbeat", 3600),
    }


def test_completeness_counts_expected_heartbeats_from_the_interval(monitored_site: MqttConnection) -> None:
    MqttConnection.objects.filter(pk=monitored_site.pk).update(expected_heartbeat_interval=60)
    maintenance(monitored_site.site, hours_ago(2), hours_ago(1))
    HeartbeatHour.objects.create(site=monitored_site.site, hour=hours_ago(1), received=30)

    figures = site_availability(site=monitored_site.site, window=LAST_24H)

    assert figures["completeness"]["expected"] == 23 * 60
    assert figures["completeness"]["received"] == 30
    assert (figures["buckets"][22]["expected_heartbeats"], figures["buckets"][23]["received_heartbeats"]) == (
        0,
        30,
    )


def test_the_admin_sensor_page_shows_the_uptime_of_the_last_24_hours_computed_not_stored(
    monitored_site: MqttConnection, staff_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("apps.mqtt.admin.timezone.now", lambda: NOW)
    sensor = sensor_of(monitored_site)
    change(sensor, "online", hours_ago(30))
    change(sensor, "offline", hours_ago(10))
    change(sensor, "online", hours_ago(4))

    page = staff_client.get(f"/admin/mqtt/sensordevice/{sensor.pk}/change/").content.decode()

    assert "uptime, last 24 h" in page.lower()
    assert "75.00" in page
    assert not hasattr(sensor, "uptime_percentage")
