"""MQTT_RECONNECT_DELAY / MQTT_MAX_RECONNECT_DELAY are the retry policy of new connections, whether
made in code, the admin or the API; an explicit value is kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from apps.mqtt.models import MqttConnection
from apps.sites.models import Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def reconnect_settings() -> Iterator[None]:
    with override_settings(
        MQTT_SETTINGS={**settings.MQTT_SETTINGS, "RECONNECT_DELAY": 7, "MAX_RECONNECT_DELAY": 120}
    ):
        yield


@pytest.mark.usefixtures("reconnect_settings")
def test_new_connections_take_the_reconnect_delays_from_the_settings(
    make_connection: Callable[..., MqttConnection],
) -> None:
    assert (MqttConnection().retry_delay, MqttConnection().max_retry_delay) == (7, 120)
    made = make_connection()
    made.refresh_from_db()
    assert (made.retry_delay, made.max_retry_delay) == (7, 120)
    explicit = make_connection(retry_delay=2, max_retry_delay=30)
    explicit.refresh_from_db()
    assert (explicit.retry_delay, explicit.max_retry_delay) == (2, 30)


@pytest.mark.usefixtures("reconnect_settings")
def test_a_connection_created_through_the_api_without_a_retry_policy_uses_the_settings(
    make_site: Callable[..., Site], staff_user: User
) -> None:
    api = APIClient()
    api.force_authenticate(staff_user)
    body = {"site": make_site().pk, "broker_host": "broker.example.com", "broker_port": 1883}
    response = api.post("/api/connections/", body, format="json")
    assert response.status_code == 201, response.content
    created = MqttConnection.objects.get(pk=response.json()["id"])
    assert (created.retry_delay, created.max_retry_delay) == (7, 120)


def test_the_shipped_defaults_are_the_settings_defaults() -> None:
    assert (MqttConnection().retry_delay, MqttConnection().max_retry_delay) == (
        settings.MQTT_SETTINGS["RECONNECT_DELAY"],
        settings.MQTT_SETTINGS["MAX_RECONNECT_DELAY"],
    )
