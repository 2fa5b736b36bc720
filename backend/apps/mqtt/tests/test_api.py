"""The REST API under /api/, driven over HTTP as a client would (session or token authentication)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.mqtt.models import (
    ConnectionLog,
    MqttConnection,
    MqttTopic,
    SensorData,
    SensorDevice,
    SystemInfo,
)
from apps.sites.models import Customer, Site
from conftest import make_tls_material

pytestmark = pytest.mark.django_db

SECRET = "Br0ker-pa55word!"
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


# ---------------------------------------------------------------- data


@dataclass
class Tenant:
    """One customer's world: a member, a site with a connection, a sensor, a log row, sys_info."""

    customer: Customer
    user: User
    site: Site
    connection: MqttConnection
    sensor: SensorDevice
    log: ConnectionLog


def add_sensor(site: Site, name: str, *, status: str = "online", readings: int = 3) -> SensorDevice:
    sensor = SensorDevice.objects.create(site=site, device_name=name, status=status)
    SensorData.objects.bulk_create(
        SensorData(
            sensor_device=sensor,
            slot=index,
            timestamp=T0 + dt.timedelta(seconds=index),
            raw_data={"seq": index},
            acc_x=float(index),
        )
        for index in range(readings)
    )
    return sensor


@pytest.fixture
def make_tenant(
    make_site: Callable[..., Site], make_connection: Callable[..., MqttConnection]
) -> Callable[[str], Tenant]:
    def make(name: str) -> Tenant:
        customer = Customer.objects.create(name=f"Customer {name}")
        user = User.objects.create_user(f"user-{name}", password="x")
        customer.members.add(user)
        site = make_site(customer=customer, name=f"Site {name}")
        connection = make_connection(site=site, username=f"logger-{name}")
        connection.set_password(SECRET)
        connection.save()
        sensor = add_sensor(site, f"sensor-{name}")
        log = ConnectionLog.objects.create(
            mqtt_connection=connection, event_type=ConnectionLog.EventType.CONNECTED, timestamp=T0
        )
        SystemInfo.objects.create(site=site, hostname=f"logger-{name}", firmware_version="1.2.3")
        return Tenant(customer, user, site, connection, sensor, log)

    return make


@pytest.fixture
def tenant_a(make_tenant: Callable[[str], Tenant]) -> Tenant:
    return make_tenant("a")


@pytest.fixture
def tenant_b(make_tenant: Callable[[str], Tenant]) -> Tenant:
    return make_tenant("b")


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def client_a(tenant_a: Tenant) -> APIClient:
    return client_for(tenant_a.user)


@pytest.fixture
def staff_api(staff_user: User) -> APIClient:
    return client_for(staff_user)


def connection_body(site: Site, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"site": site.pk, "broker_host": "broker.example.com", "broker_port": 1883}
    body.update(overrides)
    return body


def ids(response: Any) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


# ---------------------------------------------------------------- customer isolation, every endpoint

# (method, path template, body). {site} and {connection} are filled with the other customer's ids.
OBJECT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/api/sites/{site}/", None),
    ("get", "/api/sites/{site}/sensors/", None),
    ("get", "/api/sites/{site}/system-info/", None),
    ("get", "/api/sites/{site}/availability/", None),
    ("get", "/api/sites/{site}/sensors/availability/", None),
    ("get", "/api/sites/{site}/downtime/", None),
    ("get", "/api/sites/{site}/maintenance/", None),
    (
        "post",
        "/api/sites/{site}/maintenance/",
        {"starts_at": "2030-01-01T00:00Z", "ends_at": "2030-01-02T00:00Z"},
    ),
    ("get", "/api/reports/uptime.csv?site={site}", None),
    ("get", "/api/reports/downtime.csv?site={site}", None),
    ("get", "/api/reports/logs.csv?site={site}", None),
    ("get", "/api/reports/readings.csv?site={site}", None),
    ("get", "/api/connections/{connection}/", None),
    ("put", "/api/connections/{connection}/", {"broker_host": "evil.example.com", "site": "{site}"}),
    ("patch", "/api/connections/{connection}/", {"enabled": False}),
    ("delete", "/api/connections/{connection}/", None),
    ("post", "/api/connections/{connection}/start/", None),
    ("post", "/api/connections/{connection}/stop/", None),
    ("post", "/api/connections/{connection}/restart/", None),
]
# Lists: the other customer's rows never appear, whatever the filter.
LIST_ROUTES = [
    "/api/sites/",
    "/api/connections/",
    "/api/connections/?site={site}",
    "/api/logs/",
    "/api/logs/?site={site}",
    "/api/logs/?connection={connection}",
]
# Writes without an object; a customer's user may not create anything, for any site.
CREATE_ROUTES = [("post", "/api/connections/")]
DOC_ROUTES = {("get", "/api/schema/"), ("get", "/api/docs/"), ("get", "/api/redoc/")}
# Not about one site: the signed-in user, and the staff-only operations view (tests below).
SESSION_ROUTES = {("get", "/api/me/"), ("get", "/api/ops/")}
# Routes on objects of their own (alerts, maintenance windows): isolation checked in
# apps/alerts/tests/test_api.py.
ALERTS_ROUTES = {
    ("get", "/api/alerts/"),
    ("get", "/api/alerts/{id}/"),
    ("post", "/api/alerts/{id}/acknowledge/"),
    ("get", "/api/alerts/{id}/notifications/"),
    ("get", "/api/sites/{id}/maintenance/{window_id}/"),
    ("delete", "/api/sites/{id}/maintenance/{window_id}/"),
}


def _fill(value: Any, tenant: Tenant) -> Any:
    if isinstance(value, str):
        filled = value.format(site=tenant.site.pk, connection=tenant.connection.pk)
        return int(filled) if value == "{site}" else filled
    if isinstance(value, dict):
        return {key: _fill(item, tenant) for key, item in value.items()}
    return value


def _route_key(method: str, template: str) -> tuple[str, str]:
    return method, template.split("?")[0].replace("{site}", "{id}").replace("{connection}", "{id}")


def test_the_isolation_tables_cover_every_api_route(staff_api: APIClient) -> None:
    schema_paths = staff_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {
        (method, path.replace("{site_id}", "{id}"))
        for path, item in schema_paths["paths"].items()
        for method in item
        if method in {"get", "put", "patch", "delete", "post"}
    }
    covered = {_route_key(method, path) for method, path, _ in OBJECT_ROUTES}
    covered |= {_route_key("get", path) for path in LIST_ROUTES}
    covered |= {_route_key(method, path) for method, path in CREATE_ROUTES}
    covered |= SESSION_ROUTES | ALERTS_ROUTES
    assert operations == covered, "a new API route needs a row in the isolation tables"
    for method, path in DOC_ROUTES:
        assert getattr(staff_api, method)(path).status_code == 200


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_ROUTES)
def test_another_customers_objects_are_not_found_on_every_route(
    client_a: APIClient, tenant_b: Tenant, method: str, template: str, body: dict[str, Any] | None
) -> None:
    response = getattr(client_a, method)(_fill(template, tenant_b), _fill(body, tenant_b), format="json")

    assert response.status_code == 404
    assert "sensor-b" not in response.content.decode()
    tenant_b.connection.refresh_from_db()
    assert tenant_b.connection.enabled is True
    assert tenant_b.connection.broker_host == "127.0.0.1"
    assert ConnectionLog.objects.filter(mqtt_connection=tenant_b.connection).count() == 1


@pytest.mark.parametrize("template", LIST_ROUTES)
def test_lists_never_show_another_customers_rows(
    client_a: APIClient, tenant_a: Tenant, tenant_b: Tenant, template: str
) -> None:
    response = client_a.get(_fill(template, tenant_b))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Site b" not in body
    assert tenant_b.site.code not in body
    own = client_a.get(_fill(template, tenant_a)).json()["results"]
    assert own, "the same list shows the user's own rows"


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [route for route in OBJECT_ROUTES if route[0] != "get"]
    + [("post", "/api/connections/", {"site": "{site}", "broker_host": "b.example.com"})],
)
def test_customer_users_may_not_write_or_control_their_own_sites(
    client_a: APIClient, tenant_a: Tenant, method: str, template: str, body: dict[str, Any] | None
) -> None:
    response = getattr(client_a, method)(_fill(template, tenant_a), _fill(body, tenant_a), format="json")

    assert response.status_code == 403
    tenant_a.connection.refresh_from_db()
    assert tenant_a.connection.enabled is True
    assert tenant_a.connection.broker_host == "127.0.0.1"


def test_customer_users_may_not_create_connections_for_other_sites(
    client_a: APIClient, make_site: Callable[..., Site]
) -> None:
    site = make_site()
    response = client_a.post("/api/connections/", connection_body(site), format="json")

    assert response.status_code == 403
    assert not MqttConnection.objects.filter(site=site).exists()


def test_users_without_a_customer_see_nothing(tenant_a: Tenant) -> None:
    client = client_for(User.objects.create_user("nobody", password="x"))

    for path in ("/api/sites/", "/api/connections/", "/api/logs/"):
        assert client.get(path).json()["count"] == 0
    assert client.get(f"/api/sites/{tenant_a.site.pk}/").status_code == 404


def test_an_inactive_customers_sites_are_hidden_from_its_members(
    client_a: APIClient, tenant_a: Tenant
) -> None:
    tenant_a.customer.is_active = False
    tenant_a.customer.save()

    assert client_a.get("/api/sites/").json()["count"] == 0
    assert client_a.get(f"/api/sites/{tenant_a.site.pk}/sensors/").status_code == 404


def test_staff_see_every_customers_sites(staff_api: APIClient, tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert ids(staff_api.get("/api/sites/")) == {tenant_a.site.pk, tenant_b.site.pk}


# ---------------------------------------------------------------- authentication


def test_anonymous_requests_are_refused_with_401() -> None:
    response = APIClient().get("/api/sites/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_token_authentication_works(tenant_a: Tenant) -> None:
    token = Token.objects.create(user=tenant_a.user)
    client = APIClient()

    response = client.get("/api/sites/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert ids(response) == {tenant_a.site.pk}
    assert client.get("/api/sites/", HTTP_AUTHORIZATION="Token wrong").status_code == 401


def test_token_authenticated_staff_may_control_without_csrf(staff_user: User, tenant_a: Tenant) -> None:
    token = Token.objects.create(user=staff_user)
    client = APIClient(enforce_csrf_checks=True)

    response = client.post(
        f"/api/connections/{tenant_a.connection.pk}/stop/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )

    assert response.status_code == 200


def test_session_writes_need_the_csrf_token(staff_user: User, tenant_a: Tenant) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)

    response = client.post(f"/api/connections/{tenant_a.connection.pk}/stop/")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# ---------------------------------------------------------------- sites


def test_sites_carry_their_connection_state_and_sensor_counts(client_a: APIClient, tenant_a: Tenant) -> None:
    add_sensor(tenant_a.site, "stale-1", status="stale")
    add_sensor(tenant_a.site, "offline-1", status="offline")
    add_sensor(tenant_a.site, "offline-2", status="offline")
    MqttConnection.objects.filter(pk=tenant_a.connection.pk).update(status="connected", heartbeat_state="ok")

    [site] = client_a.get("/api/sites/").json()["results"]

    assert site["id"] == tenant_a.site.pk
    assert site["code"] == tenant_a.site.code
    assert site["customer"] == {"id": tenant_a.customer.pk, "name": "Customer a"}
    assert site["sensor_counts"] == {"total": 4, "online": 1, "stale": 1, "offline": 2}
    assert site["connection"]["id"] == tenant_a.connection.pk
    assert site["connection"]["status"] == "connected"
    assert site["connection"]["heartbeat_state"] == "ok"
    assert site["connection"]["enabled"] is True
    assert client_a.get(f"/api/sites/{tenant_a.site.pk}/").json() == site


def test_a_site_without_connection_or_sensors_has_null_connection_and_zero_counts(
    staff_api: APIClient, make_site: Callable[..., Site]
) -> None:
    site = make_site()

    body = staff_api.get(f"/api/sites/{site.pk}/").json()

    assert body["connection"] is None
    assert body["customer"] is None
    assert body["sensor_counts"] == {"total": 0, "online": 0, "stale": 0, "offline": 0}


def test_the_site_list_query_count_does_not_grow_with_sites(
    staff_api: APIClient, make_site: Callable[..., Site], make_connection: Callable[..., MqttConnection]
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(db_connection) as captured:
            assert staff_api.get("/api/sites/").status_code == 200
        return len(captured)

    site = make_connection().site
    add_sensor(site, "s1")
    one = queries()
    for _ in range(20):
        add_sensor(make_connection().site, "s")

    assert queries() == one


# ---------------------------------------------------------------- sensors


def test_sensors_carry_their_last_three_readings_newest_first(client_a: APIClient, tenant_a: Tenant) -> None:
    response = client_a.get(f"/api/sites/{tenant_a.site.pk}/sensors/")

    assert response.status_code == 200
    [sensor] = response.json()["results"]
    assert sensor["device_name"] == "sensor-a"
    assert sensor["status"] == "online"
    assert sensor["is_online"] is True
    timestamps = [reading["timestamp"] for reading in sensor["readings"]]
    assert timestamps == [
        "2025-03-01T12:00:02+00:00",
        "2025-03-01T12:00:01+00:00",
        "2025-03-01T12:00:00+00:00",
    ]
    assert sensor["readings"][0]["acc_x"] == 2.0
    assert "raw_data" not in sensor["readings"][0]  # the one sensor shape carries the parsed columns


def test_a_sensor_without_readings_has_an_empty_list(client_a: APIClient, tenant_a: Tenant) -> None:
    add_sensor(tenant_a.site, "quiet", readings=0)

    sensors = client_a.get(f"/api/sites/{tenant_a.site.pk}/sensors/").json()["results"]

    assert {sensor["device_name"]: sensor["readings"] for sensor in sensors}["quiet"] == []


def test_the_sensors_query_count_is_the_same_for_1_and_50_sensors(
    client_a: APIClient, tenant_a: Tenant
) -> None:
    path = f"/api/sites/{tenant_a.site.pk}/sensors/"

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(db_connection) as captured:
            response = client_a.get(path)
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    one, count = queries()
    assert count == 1
    for index in range(49):
        add_sensor(tenant_a.site, f"extra-{index:02d}", readings=3)
    fifty, count = queries()

    assert count == 50
    assert fifty == one


def test_sensors_filter_by_status(client_a: APIClient, tenant_a: Tenant) -> None:
    add_sensor(tenant_a.site, "stale-1", status="stale")
    add_sensor(tenant_a.site, "offline-1", status="offline")
    path = f"/api/sites/{tenant_a.site.pk}/sensors/"

    def names(query: str) -> list[str]:
        return [sensor["device_name"] for sensor in client_a.get(path + query).json()["results"]]

    assert names("?status=stale") == ["stale-1"]
    assert names("?status=stale&status=offline") == ["offline-1", "stale-1"]
    assert names("") == ["offline-1", "sensor-a", "stale-1"]
    response = client_a.get(path + "?status=broken")
    assert response.status_code == 400
    assert "status" in response.json()


def test_sensors_are_paginated(client_a: APIClient, tenant_a: Tenant) -> None:
    for index in range(4):
        add_sensor(tenant_a.site, f"extra-{index}", readings=1)
    path = f"/api/sites/{tenant_a.site.pk}/sensors/"

    first = client_a.get(path + "?page_size=2").json()
    last = client_a.get(path + "?page_size=2&page=3").json()

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert "page=2" in first["next"]
    assert first["previous"] is None
    assert [sensor["device_name"] for sensor in last["results"]] == ["sensor-a"]
    assert last["next"] is None
    assert client_a.get(path + "?page=9").status_code == 404


def test_page_size_defaults_to_50_and_is_capped_at_500(staff_api: APIClient) -> None:
    site = Site.objects.create(name="Big", code="BIG")
    SensorDevice.objects.bulk_create(
        SensorDevice(site=site, device_name=f"s{index:03d}") for index in range(501)
    )
    path = f"/api/sites/{site.pk}/sensors/"

    assert len(staff_api.get(path).json()["results"]) == 50
    assert len(staff_api.get(path + "?page_size=1000").json()["results"]) == 500


# ---------------------------------------------------------------- system info


def test_system_info_of_a_site(client_a: APIClient, tenant_a: Tenant) -> None:
    response = client_a.get(f"/api/sites/{tenant_a.site.pk}/system-info/")

    assert response.status_code == 200
    assert response.json()["hostname"] == "logger-a"
    assert response.json()["firmware_version"] == "1.2.3"
    assert response.json()["site"] == tenant_a.site.pk


def test_system_info_is_404_until_the_datalogger_sends_it(client_a: APIClient, tenant_a: Tenant) -> None:
    SystemInfo.objects.filter(site=tenant_a.site).delete()

    response = client_a.get(f"/api/sites/{tenant_a.site.pk}/system-info/")

    assert response.status_code == 404
    assert "not sent system information yet" in response.json()["detail"]


# ---------------------------------------------------------------- connections: reading


def test_customer_users_read_their_connections_state_not_their_configuration(
    client_a: APIClient, tenant_a: Tenant
) -> None:
    listed = client_a.get("/api/connections/").json()["results"]
    detail = client_a.get(f"/api/connections/{tenant_a.connection.pk}/").json()

    assert [row["id"] for row in listed] == [tenant_a.connection.pk]
    assert listed[0] == detail
    assert detail["status"] == tenant_a.connection.status
    assert "enabled" in detail
    assert "heartbeat_state" in detail
    for private in ("username", "client_id", "topics", "client_certificate", "ca_cert_path", "tls_insecure"):
        assert private not in detail
    for secret in ("password", "clear_password", "password_encrypted", "client_key", "client_key_encrypted"):
        assert secret not in detail


def test_connections_filter_by_status_and_enabled(
    staff_api: APIClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    MqttConnection.objects.filter(pk=tenant_b.connection.pk).update(status="error", enabled=False)

    assert ids(staff_api.get("/api/connections/?status=error")) == {tenant_b.connection.pk}
    assert ids(staff_api.get("/api/connections/?enabled=true")) == {tenant_a.connection.pk}
    assert ids(staff_api.get(f"/api/connections/?site={tenant_a.site.pk}")) == {tenant_a.connection.pk}
    assert staff_api.get("/api/connections/?site=abc").status_code == 400


# ---------------------------------------------------------------- connections: writing


def test_staff_create_a_connection_with_an_encrypted_write_only_password(
    staff_api: APIClient, make_site: Callable[..., Site]
) -> None:
    site = make_site()

    response = staff_api.post(
        "/api/connections/", connection_body(site, username="logger", password=SECRET), format="json"
    )

    assert response.status_code == 201, response.content
    assert SECRET not in response.content.decode()
    assert "password" not in response.json()
    assert response.json()["has_password"] is True
    stored = MqttConnection.objects.get(site=site)
    assert stored.password_encrypted
    assert SECRET not in stored.password_encrypted
    assert stored.get_password() == SECRET
    for path in ("/api/connections/", f"/api/connections/{stored.pk}/", f"/api/sites/{site.pk}/"):
        assert SECRET not in staff_api.get(path).content.decode()
        assert stored.password_encrypted not in staff_api.get(path).content.decode()


def test_a_new_connection_without_topics_gets_the_default_ones(
    staff_api: APIClient, make_site: Callable[..., Site]
) -> None:
    response = staff_api.post("/api/connections/", connection_body(make_site()), format="json")

    assert response.status_code == 201
    assert response.json()["topics"] == [
        {"pattern": "{code}/datalogger_o/heartbeat", "message_type": "heartbeat"},
        {"pattern": "{code}/sys_info", "message_type": "sys_info"},
    ]


def test_a_new_connection_keeps_the_topics_given(
    staff_api: APIClient, make_site: Callable[..., Site]
) -> None:
    topics = [{"pattern": "{code}/+/heartbeat", "message_type": "heartbeat"}]

    response = staff_api.post("/api/connections/", connection_body(make_site(), topics=topics), format="json")

    assert response.status_code == 201
    assert response.json()["topics"] == topics
    assert list(
        MqttTopic.objects.filter(connection_id=response.json()["id"]).values_list("pattern", flat=True)
    ) == ["{code}/+/heartbeat"]


def test_updating_topics_replaces_them(staff_api: APIClient, tenant_a: Tenant) -> None:
    path = f"/api/connections/{tenant_a.connection.pk}/"
    topics = [{"pattern": "{code}/#", "message_type": "auto"}]

    assert staff_api.patch(path, {"topics": topics}, format="json").json()["topics"] == topics
    assert staff_api.patch(path, {"username": "x"}, format="json").json()["topics"] == topics
    defaults = staff_api.patch(path, {"topics": []}, format="json").json()["topics"]
    assert [topic["pattern"] for topic in defaults] == ["{code}/datalogger_o/heartbeat", "{code}/sys_info"]


def test_a_blank_or_absent_password_keeps_the_stored_one(staff_api: APIClient, tenant_a: Tenant) -> None:
    path = f"/api/connections/{tenant_a.connection.pk}/"

    assert staff_api.patch(path, {"username": "other"}, format="json").status_code == 200
    assert staff_api.patch(path, {"password": ""}, format="json").status_code == 200
    full = {**connection_body(tenant_a.site), "password": ""}
    assert staff_api.put(path, full, format="json").status_code == 200

    tenant_a.connection.refresh_from_db()
    assert tenant_a.connection.get_password() == SECRET
    assert tenant_a.connection.username == "other"


def test_a_new_password_replaces_the_stored_one(staff_api: APIClient, tenant_a: Tenant) -> None:
    response = staff_api.patch(
        f"/api/connections/{tenant_a.connection.pk}/", {"password": "new"}, format="json"
    )

    assert response.status_code == 200
    assert "new" not in json.dumps(response.json()["has_password"])
    tenant_a.connection.refresh_from_db()
    assert tenant_a.connection.get_password() == "new"


def test_clear_password_removes_it(staff_api: APIClient, tenant_a: Tenant) -> None:
    path = f"/api/connections/{tenant_a.connection.pk}/"

    response = staff_api.patch(path, {"clear_password": True}, format="json")

    assert response.status_code == 200
    assert response.json()["has_password"] is False
    tenant_a.connection.refresh_from_db()
    assert tenant_a.connection.password_encrypted == ""
    both = staff_api.patch(path, {"clear_password": True, "password": "x"}, format="json")
    assert both.status_code == 400
    assert both.json() == {"password": ["Give a new password or clear_password, not both."]}


def test_client_key_is_write_only_and_checked_against_the_certificate(
    staff_api: APIClient, make_site: Callable[..., Site]
) -> None:
    tls = make_tls_material("logger")
    other = make_tls_material("other")
    body = connection_body(make_site(), ssl_enabled=True, client_certificate=tls.certificate_pem)

    mismatch = staff_api.post("/api/connections/", {**body, "client_key": other.key_pem}, format="json")
    response = staff_api.post("/api/connections/", {**body, "client_key": tls.key_pem}, format="json")

    assert mismatch.status_code == 400
    assert mismatch.json() == {
        "client_certificate": ["The client certificate does not match the private key."]
    }
    assert response.status_code == 201, response.content
    assert response.json()["has_client_key"] is True
    assert "PRIVATE KEY" not in response.content.decode()
    stored = MqttConnection.objects.get(pk=response.json()["id"])
    assert stored.get_client_key().strip() == tls.key_pem.strip()
    kept = staff_api.patch(f"/api/connections/{stored.pk}/", {"client_key": ""}, format="json")
    assert kept.json()["has_client_key"] is True


def test_a_bad_client_key_is_a_clear_400(staff_api: APIClient, make_site: Callable[..., Site]) -> None:
    response = staff_api.post(
        "/api/connections/", connection_body(make_site(), client_key="not a key"), format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "client_key": ["Not a PEM private key: paste the text from -----BEGIN ... PRIVATE KEY-----."]
    }


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"retry_delay": 60, "max_retry_delay": 30},
            {"max_retry_delay": ["The maximum delay may not be shorter than the first delay."]},
        ),
        (
            {"broker_host": "mqtt://broker.example.com"},
            {"broker_host": ["Give the host name only (e.g. broker.example.com), without a scheme."]},
        ),
        ({"broker_port": 70000}, {"broker_port": ["Ensure this value is less than or equal to 65535."]}),
        (
            {"tls_insecure": True},
            {"ssl_enabled": ["TLS settings are filled in but TLS is off: turn it on or clear them."]},
        ),
        (
            {"ssl_enabled": True, "ca_cert_path": "relative/ca.pem"},
            {"ca_cert_path": ["Give an absolute path (starting with /)."]},
        ),
        (
            {"client_id_prefix": "has space"},
            {
                "client_id_prefix": [
                    "Use letters, digits, '_', '-' and '.' only: some brokers refuse other client ids."
                ]
            },
        ),
        (
            {"topics": [{"pattern": "a/#/b", "message_type": "auto"}]},
            {
                "topics": {
                    "0": {"pattern": ["'#' must be a whole topic level and the last one, e.g. SITE/#."]}
                }
            },
        ),
        (
            {"topics": [{"pattern": "a/b"}, {"pattern": "a/b"}]},
            {"topics": ["Each topic may appear once: a/b."]},
        ),
        ({"username": "bad\x00name"}, {"username": ["The text may not contain the character U+0000."]}),
    ],
)
def test_invalid_connections_get_the_models_messages_by_field(
    staff_api: APIClient, make_site: Callable[..., Site], overrides: dict[str, Any], errors: dict[str, Any]
) -> None:
    site = make_site()

    response = staff_api.post("/api/connections/", connection_body(site, **overrides), format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not MqttConnection.objects.filter(site=site).exists()


def test_a_second_connection_for_a_site_is_refused(staff_api: APIClient, tenant_a: Tenant) -> None:
    response = staff_api.post("/api/connections/", connection_body(tenant_a.site), format="json")

    assert response.status_code == 400
    assert response.json() == {"site": ["MQTT connection with this Site already exists."]}


def test_cross_field_rules_see_the_stored_values_on_partial_update(
    staff_api: APIClient, tenant_a: Tenant
) -> None:
    response = staff_api.patch(
        f"/api/connections/{tenant_a.connection.pk}/", {"retry_delay": 301}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "max_retry_delay": ["The maximum delay may not be shorter than the first delay."]
    }


def test_observed_fields_are_read_only(staff_api: APIClient, tenant_a: Tenant) -> None:
    response = staff_api.patch(
        f"/api/connections/{tenant_a.connection.pk}/",
        {"status": "connected", "connection_errors": 9, "error_message": "x", "broker_port": 1884},
        format="json",
    )

    assert response.status_code == 200
    tenant_a.connection.refresh_from_db()
    assert tenant_a.connection.status == MqttConnection.Status.DISCONNECTED
    assert tenant_a.connection.connection_errors == 0
    assert tenant_a.connection.error_message == ""
    assert tenant_a.connection.broker_port == 1884


def test_an_update_does_not_overwrite_the_workers_observed_state(
    staff_api: APIClient, tenant_a: Tenant
) -> None:
    path = f"/api/connections/{tenant_a.connection.pk}/"
    staff_api.get(path)
    MqttConnection.objects.filter(pk=tenant_a.connection.pk).update(status="connected")

    staff_api.patch(path, {"username": "changed"}, format="json")

    tenant_a.connection.refresh_from_db()
    assert tenant_a.connection.status == MqttConnection.Status.CONNECTED


def test_disabling_through_an_update_is_logged_as_a_stop_by_the_user(
    staff_api: APIClient, staff_user: User, tenant_a: Tenant
) -> None:
    response = staff_api.patch(
        f"/api/connections/{tenant_a.connection.pk}/", {"enabled": False}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["enabled"] is False
    log = ConnectionLog.objects.filter(mqtt_connection=tenant_a.connection).first()
    assert log is not None
    assert log.event_type == ConnectionLog.EventType.STOPPED
    assert log.actor == staff_user


def test_staff_delete_a_connection(staff_api: APIClient, tenant_a: Tenant) -> None:
    response = staff_api.delete(f"/api/connections/{tenant_a.connection.pk}/")

    assert response.status_code == 204
    assert not MqttConnection.objects.filter(pk=tenant_a.connection.pk).exists()


# ---------------------------------------------------------------- control


@pytest.mark.parametrize(
    ("action", "before", "enabled", "event"),
    [
        ("stop", True, False, ConnectionLog.EventType.STOPPED),
        ("start", False, True, ConnectionLog.EventType.STARTED),
        ("restart", False, True, ConnectionLog.EventType.RESTARTED),
    ],
)
def test_staff_control_a_connection_and_the_action_is_logged_with_them(
    staff_api: APIClient,
    staff_user: User,
    tenant_a: Tenant,
    action: str,
    before: bool,
    enabled: bool,
    event: str,
) -> None:
    MqttConnection.objects.filter(pk=tenant_a.connection.pk).update(enabled=before)

    response = staff_api.post(f"/api/connections/{tenant_a.connection.pk}/{action}/")

    assert response.status_code == 200
    assert response.json()["id"] == tenant_a.connection.pk
    assert response.json()["enabled"] is enabled
    tenant_a.connection.refresh_from_db()
    assert tenant_a.connection.enabled is enabled
    log = ConnectionLog.objects.filter(mqtt_connection=tenant_a.connection).first()
    assert log is not None
    assert (log.event_type, log.actor) == (event, staff_user)
    if action == "restart":
        assert response.json()["restart_requested_at"] is not None


def test_control_of_a_missing_connection_is_404(staff_api: APIClient) -> None:
    assert staff_api.post("/api/connections/999999/start/").status_code == 404


# ---------------------------------------------------------------- logs


@pytest.fixture
def logs_a(tenant_a: Tenant) -> list[ConnectionLog]:
    kinds = ["disconnected", "connecting", "connected", "heartbeat_missed"]
    return [
        ConnectionLog.objects.create(
            mqtt_connection=tenant_a.connection,
            event_type=kind,
            timestamp=T0 + dt.timedelta(minutes=index + 1),
        )
        for index, kind in enumerate(kinds)
    ]


def test_logs_are_newest_first_with_their_site(
    client_a: APIClient, tenant_a: Tenant, logs_a: list[ConnectionLog]
) -> None:
    rows = client_a.get("/api/logs/").json()["results"]

    assert [row["event_type"] for row in rows] == [
        "heartbeat_missed",
        "connected",
        "connecting",
        "disconnected",
        "connected",
    ]
    assert rows[0]["site"] == tenant_a.site.pk
    assert rows[0]["site_code"] == tenant_a.site.code
    assert rows[0]["connection"] == tenant_a.connection.pk
    assert rows[0]["actor"] is None
    assert rows[0]["timestamp"] == "2025-03-01T12:04:00Z"


def test_logs_name_the_operator_who_acted(staff_api: APIClient, tenant_a: Tenant) -> None:
    staff_api.post(f"/api/connections/{tenant_a.connection.pk}/stop/")

    assert staff_api.get("/api/logs/?event_type=stopped").json()["results"][0]["actor"] == "operator"


def test_logs_filter_by_event_type_site_and_time(
    client_a: APIClient, tenant_a: Tenant, logs_a: list[ConnectionLog]
) -> None:
    def kinds(query: str) -> list[str]:
        response = client_a.get("/api/logs/" + query)
        assert response.status_code == 200, response.content
        return [row["event_type"] for row in response.json()["results"]]

    assert kinds("?event_type=connected&event_type=heartbeat_missed") == [
        "heartbeat_missed",
        "connected",
        "connected",
    ]
    assert kinds(f"?site={tenant_a.site.pk}&event_type=connecting") == ["connecting"]
    assert kinds("?site=999999") == []
    assert kinds("?since=2025-03-01T12:02:00Z&until=2025-03-01T12:04:00Z") == ["connected", "connecting"]
    assert kinds("?since=2025-03-01T14:03:00%2B02:00") == ["heartbeat_missed", "connected"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?since=yesterday", "since"),
        ("?until=2025-13-01T00:00:00Z", "until"),
        ("?since=2025-03-01T12:00:00Z&until=2025-03-01T11:00:00Z", "until"),
        ("?event_type=exploded", "event_type"),
        ("?site=one", "site"),
    ],
)
def test_bad_log_filters_are_a_400_naming_the_parameter(client_a: APIClient, query: str, field: str) -> None:
    response = client_a.get("/api/logs/" + query)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_bad_since_explains_the_expected_format(client_a: APIClient) -> None:
    # An unencoded '+' in a query string is a space: the message says how to write it.
    response = client_a.get("/api/logs/?since=2025-03-01T12:00:00+02:00")

    assert response.status_code == 400
    assert "ISO 8601" in response.json()["since"][0]
    assert "URL-encoded" in response.json()["since"][0]


def test_logs_are_paginated(client_a: APIClient, logs_a: list[ConnectionLog]) -> None:
    page = client_a.get("/api/logs/?page_size=2&page=2").json()

    assert page["count"] == 5
    assert [row["event_type"] for row in page["results"]] == ["connecting", "disconnected"]


def test_a_partial_update_still_needs_each_topics_pattern(staff_api: APIClient, tenant_a: Tenant) -> None:
    response = staff_api.patch(
        f"/api/connections/{tenant_a.connection.pk}/", {"topics": [{"message_type": "auto"}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"topics": {"0": {"pattern": ["This field is required."]}}}


@pytest.mark.parametrize("value", ["0", "1.5", str(2**64)])
def test_id_filters_refuse_what_is_not_an_id(client_a: APIClient, value: str) -> None:
    for path in (
        f"/api/logs/?connection={value}",
        f"/api/logs/?site={value}",
        f"/api/connections/?site={value}",
    ):
        assert client_a.get(path).status_code == 400, path


def test_huge_ids_in_paths_are_not_found(client_a: APIClient) -> None:
    huge = 2**64
    for path in (f"/api/sites/{huge}/", f"/api/sites/{huge}/sensors/", f"/api/connections/{huge}/"):
        assert client_a.get(path).status_code == 404, path


def test_connection_writes_nudge_the_worker_after_commit(
    staff_api: APIClient,
    make_site: Callable[..., Site],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    nudges: list[str] = []

    async def fake_nudge() -> None:
        nudges.append("nudge")

    monkeypatch.setattr("apps.mqtt.services.control.nudge_worker", fake_nudge)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = staff_api.post("/api/connections/", connection_body(make_site()), format="json")
    assert created.status_code == 201
    assert nudges == [], "not before the commit"
    for callback in callbacks:
        callback()
    path = f"/api/connections/{created.json()['id']}/"
    with django_capture_on_commit_callbacks(execute=True):
        staff_api.patch(path, {"broker_port": 1884}, format="json")
        staff_api.delete(path)

    assert nudges == ["nudge", "nudge", "nudge"]


def test_a_failing_nudge_does_not_fail_the_write(
    staff_api: APIClient,
    make_site: Callable[..., Site],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    async def broken_nudge() -> None:
        raise ConnectionError("channel layer down")

    monkeypatch.setattr("apps.mqtt.services.control.nudge_worker", broken_nudge)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post("/api/connections/", connection_body(make_site()), format="json")

    assert response.status_code == 201


def test_the_browsable_api_is_off_in_production(staff_api: APIClient, tenant_a: Tenant) -> None:
    # A browser asking for HTML gets no page (406), so no form can show a secret.
    page = staff_api.get(f"/api/connections/{tenant_a.connection.pk}/", HTTP_ACCEPT="text/html")

    assert page.status_code == 406
    assert page["Content-Type"] == "application/json"
    assert SECRET not in page.content.decode()
    browser = staff_api.get(f"/api/connections/{tenant_a.connection.pk}/", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert browser["Content-Type"] == "application/json"


def test_me_describes_the_signed_in_user_with_the_server_clock(client_a: APIClient, tenant_a: Tenant) -> None:
    body = client_a.get("/api/me/").json()

    assert body["username"] == tenant_a.user.username
    assert (body["is_staff"], body["can_control"]) == (False, False)
    assert body["stale_after_seconds"] == 30
    assert abs(dt.datetime.fromisoformat(body["server_time"]) - timezone.now()) < dt.timedelta(seconds=5)


def test_me_without_a_login_is_401(db: None) -> None:
    assert APIClient().get("/api/me/").status_code == 401


def test_staff_with_the_change_permission_may_control(staff_api: APIClient) -> None:
    assert staff_api.get("/api/me/").json()["can_control"] is True


def test_the_operations_state_is_for_staff_only(
    client_a: APIClient, staff_api: APIClient, tenant_a: Tenant
) -> None:
    assert client_a.get("/api/ops/").status_code == 403
    body = staff_api.get("/api/ops/").json()
    assert {row["site_code"] for row in body["connections"]} >= {tenant_a.site.code}
    assert set(body) == {"server_time", "totals", "connections", "logs", "worker"}


def test_log_rows_carry_their_label_and_level(client_a: APIClient, tenant_a: Tenant) -> None:
    [row] = client_a.get("/api/logs/").json()["results"]
    assert (row["event_type"], row["event"], row["level"]) == ("connected", "Connected", "ok")


def test_the_api_root_lists_the_routes(db: None) -> None:
    body = APIClient().get("/api/").json()
    assert body["sites"].endswith("/api/sites/")
    assert body["me"].endswith("/api/me/")
    assert body["websockets"]["site"] == "/ws/mqtt/site/{site_id}/"


def test_the_redoc_page_loads_nothing_from_another_host(staff_api: APIClient) -> None:
    page = staff_api.get("/api/redoc/").content.decode()
    assert "googleapis" not in page
    assert "https://" not in page
