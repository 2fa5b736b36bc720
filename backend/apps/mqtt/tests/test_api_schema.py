"""The API's OpenAPI document: a valid OpenAPI 3 schema, and the API behind it never answers with a
server error, whatever schemathesis sends (run in-process through the real WSGI application)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from openapi_spec_validator import OpenAPIV30SpecValidator, validate
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.mqtt.models import ConnectionLog, MqttConnection, SensorData, SensorDevice, SystemInfo
from apps.sites.models import Customer, Site

pytestmark = pytest.mark.django_db


def test_the_schema_is_valid_openapi_3(staff_user: User) -> None:
    client = APIClient()
    client.force_login(staff_user)

    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.0")
    validate(document, cls=OpenAPIV30SpecValidator)
    assert "/api/connections/{id}/start/" in document["paths"]
    request_fields = document["components"]["schemas"]["ConnectionRequest"]["properties"]
    response_fields = document["components"]["schemas"]["Connection"]["properties"]
    assert request_fields["password"]["writeOnly"] is True
    assert "password" not in response_fields
    assert "client_key" not in response_fields
    assert response_fields["has_password"]["readOnly"] is True


def test_the_docs_are_served_without_a_cdn(staff_user: User) -> None:
    client = APIClient()
    client.force_login(staff_user)

    page = client.get("/api/docs/").content.decode()

    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/" in page


# ---------------------------------------------------------------- schemathesis


@dataclass
class World:
    """What the fuzzer works on: a customer's site with a connection, a sensor with readings, logs
    and system information, and a staff user's API token."""

    site: Site
    spare_site: Site  # without a connection, for creates
    token: str

    def connection(self) -> MqttConnection:
        """The site's connection; recreated when a DELETE case removed it, so that every operation
        also runs against a real object."""
        existing = MqttConnection.objects.filter(site=self.site).first()
        if existing is not None:
            return existing
        connection = MqttConnection(site=self.site, broker_host="127.0.0.1")
        connection.set_password("fuzz-secret")
        connection.save()
        return connection


@pytest.fixture
def world(staff_user: User) -> World:
    customer = Customer.objects.create(name="Fuzz customer")
    site = Site.objects.create(name="Fuzz site", code="FUZZ", customer=customer)
    spare_site = Site.objects.create(name="Spare site", code="SPARE", customer=customer)
    world = World(site=site, spare_site=spare_site, token=Token.objects.create(user=staff_user).key)
    connection = world.connection()
    sensor = SensorDevice.objects.create(site=site, device_name="acc-1", status="online")
    SensorData.objects.create(
        sensor_device=sensor, slot=0, timestamp=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), raw_data={}
    )
    ConnectionLog.objects.create(mqtt_connection=connection, event_type=ConnectionLog.EventType.CONNECTED)
    SystemInfo.objects.create(site=site, hostname="logger")
    return world


def _openapi_document() -> dict[str, Any]:
    """The document /api/schema/ serves, generated at collection from the API's own URLs (the
    project's urls.py is not imported before the test database exists);
    test_the_fuzzed_document_is_the_served_one checks that the two agree."""
    generator = SchemaGenerator(patterns=[path("api/", include("apps.mqtt.api.urls"))])
    return json.loads(OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True)))


@pytest.fixture
def wsgi_app(settings: Settings) -> Iterator[WSGIHandler]:
    """The real WSGI application, for in-process requests inside the test's transaction."""
    from config.wsgi import application

    # schemathesis' WSGI client sends "Host: localhost".
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    # The real handler closes the database connection after each request (Django's test client
    # stops it from doing so), which would break the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path_regex=r"^/api/(docs|redoc|schema)/")


def test_the_fuzzed_document_is_the_served_one(staff_user: User) -> None:
    client = APIClient()
    client.force_login(staff_user)

    assert client.get("/api/schema/?format=json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate],
)
def test_no_operation_answers_with_a_server_error(
    case: schemathesis.Case, world: World, wsgi_app: WSGIHandler
) -> None:
    """Each generated request (valid and invalid inputs) is sent as generated, where ids rarely
    exist, and again with its path ids pointing at the real site and connection."""
    headers = {"Authorization": f"Token {world.token}"}
    response = case.call(headers=headers, app=wsgi_app)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"

    # The same input again, against the real objects: the site and connection in the path, and in a
    # connection body the site without a connection (so that valid creates get through).
    real = case.derive()
    ids = {"site_id": world.site.pk}
    ids["id"] = world.connection().pk if case.path.startswith("/api/connections/") else world.site.pk
    real.path_parameters = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
    if isinstance(real.body, dict) and "site" in real.body:
        real.body["site"] = world.spare_site.pk
    if real == case:
        return
    response = real.call(headers=headers, app=wsgi_app)
    assert response.status_code < 500, f"{real.method} {real.formatted_path}: {response.status_code}"
