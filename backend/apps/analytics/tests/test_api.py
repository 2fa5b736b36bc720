"""The analytics API over HTTP: who may see what, parameters refused by name, a fixed number of
queries per request whatever the number of sensors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.analytics.tests.conftest import change, hours_ago, log
from apps.mqtt.models import MqttConnection, SensorDevice

pytestmark = pytest.mark.django_db

ROUTES = ("availability/", "sensors/availability/", "downtime/")


@pytest.mark.parametrize("route", ROUTES)
def test_a_customer_sees_its_own_site_and_gets_404_for_another(
    route: str, monitored_site: MqttConnection, customer_client: APIClient, make_connection
) -> None:
    foreign = make_connection()

    assert customer_client.get(f"/api/sites/{monitored_site.site_id}/{route}").status_code == 200
    assert customer_client.get(f"/api/sites/{foreign.site_id}/{route}").status_code == 404
    assert customer_client.get(f"/api/sites/999999/{route}").status_code == 404


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_users_are_refused(route: str, monitored_site: MqttConnection) -> None:
    assert APIClient().get(f"/api/sites/{monitored_site.site_id}/{route}").status_code in (401, 403)


def test_staff_see_every_site(monitored_site: MqttConnection, staff_user: User) -> None:
    client = APIClient()
    client.force_login(staff_user)
    assert client.get(f"/api/sites/{monitored_site.site_id}/availability/").status_code == 200


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("window=5d", "window"),
        ("start=yesterday", "start"),
        ("start=2025-01-02T00:00:00Z&end=2025-01-01T00:00:00Z", "end"),
        ("end=2025-01-02T00:00:00Z", "start"),
        ("start=2024-01-01T00:00:00Z&end=2025-06-01T00:00:00Z", "start"),
        ("window=30d&start=2025-01-01T00:00:00Z", "window"),
        ("start=2025-01-01T00:00:00Z&end=2025-03-01T00:00:00Z&bucket=hour", "bucket"),
        ("bucket=week", "bucket"),
        ("kind=alarm", "kind"),
        ("sensor=abc", "sensor"),
        ("ordering=worst", "ordering"),
    ],
)
def test_an_invalid_parameter_is_a_400_naming_it(
    query: str, parameter: str, monitored_site: MqttConnection, customer_client: APIClient
) -> None:
    route = {"kind": "downtime/", "sensor": "downtime/", "ordering": "sensors/availability/"}.get(
        parameter, "availability/"
    )
    response = customer_client.get(f"/api/sites/{monitored_site.site_id}/{route}?{query}")
    assert response.status_code == 400
    assert parameter in response.json()


def test_a_custom_window_without_a_zone_is_utc_and_long_windows_default_to_days(
    monitored_site: MqttConnection, customer_client: APIClient, frozen_now: dt.datetime
) -> None:
    body = customer_client.get(
        f"/api/sites/{monitored_site.site_id}/availability/?start=2025-06-01T00:00:00&end=2025-06-08T06:00:00"
    ).json()
    assert (body["start"], body["bucket"], len(body["buckets"])) == ("2025-06-01T00:00:00Z", "day", 8)
    assert body["buckets"][-1] == {
        **body["buckets"][-1],
        "start": "2025-06-08T00:00:00Z",
        "end": "2025-06-08T06:00:00Z",
    }


def test_sensors_are_paginated_and_ordered_by_lowest_uptime(
    monitored_site: MqttConnection, customer_client: APIClient, frozen_now: dt.datetime
) -> None:
    for index, offline_hours in enumerate((0, 12, 6)):
        sensor = SensorDevice.objects.create(site=monitored_site.site, device_name=f"S{index}")
        change(sensor, "online", hours_ago(30))
        if offline_hours:
            change(sensor, "offline", hours_ago(offline_hours))
    url = f"/api/sites/{monitored_site.site_id}/sensors/availability/?ordering=uptime&page_size=2"

    first = customer_client.get(url).json()

    assert first["count"] == 3
    assert [row["device_name"] for row in first["results"]] == ["S1", "S2"]
    assert first["next"] is not None


def _queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(db) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("route", ROUTES)
def test_queries_per_request_do_not_grow_with_the_sensors(
    route: str, monitored_site: MqttConnection, customer_client: APIClient
) -> None:
    url = f"/api/sites/{monitored_site.site_id}/{route}?window=7d"
    counts = []
    for count in (1, 20):
        for index in range(count):
            sensor = SensorDevice.objects.create(site=monitored_site.site, device_name=f"N{count}-{index}")
            change(sensor, "online", hours_ago(100))
            change(sensor, "offline", hours_ago(50))
            change(sensor, "online", hours_ago(40))
        log(monitored_site, "disconnected", hours_ago(30))
        log(monitored_site, "connected", hours_ago(29))
        counts.append(_queries(customer_client, url))
    assert counts[0] == counts[1], counts


def test_the_api_root_lists_the_analytics_routes(db: None) -> None:
    body = APIClient().get("/api/").json()
    assert body["site_availability"].endswith("/api/sites/{site_id}/availability/")
    assert body["site_downtime"].endswith("/api/sites/{site_id}/downtime/")
    assert body["reports"][0].endswith("/api/reports/uptime.csv")
