"""Builders of state rows at controlled times, and a controlled 'now' for the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, SensorStatusChange
from apps.sites.models import Customer, MaintenanceWindow, Site

# The tests' "now": an hour boundary, so hour buckets are whole.
NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)


def hours_ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def change(sensor: SensorDevice, status: str, at: dt.datetime, reason: str = "") -> None:
    SensorStatusChange.objects.create(
        sensor_device=sensor, old_status="", new_status=status, reason=reason, timestamp=at
    )


def log(connection: MqttConnection, event: str, at: dt.datetime, message: str = "") -> None:
    ConnectionLog.objects.create(mqtt_connection=connection, event_type=event, message=message, timestamp=at)


def maintenance(site: Site, start: dt.datetime, end: dt.datetime) -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(site=site, starts_at=start, ends_at=end, reason="works")


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """The API's clock stands at NOW."""
    monkeypatch.setattr("apps.analytics.serializers.timezone.now", lambda: NOW)
    return NOW


@pytest.fixture
def monitored_site(make_connection: Callable[..., MqttConnection]) -> MqttConnection:
    """A connection connected since two days ago, its heartbeat never missed."""
    connection = make_connection()
    log(connection, "connected", hours_ago(48))
    return connection


@pytest.fixture
def customer_client(monitored_site: MqttConnection) -> APIClient:
    """A customer's member who owns ``monitored_site``."""
    customer = Customer.objects.create(name="Owner")
    user = User.objects.create_user("owner", password="x")
    customer.members.add(user)
    Site.objects.filter(pk=monitored_site.site_id).update(customer=customer)
    client = APIClient()
    client.force_login(user)
    return client
