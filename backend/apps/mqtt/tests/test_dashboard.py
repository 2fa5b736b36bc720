"""The operator dashboard through Django's test client: who may see it, what it shows, and the start /
stop / restart requests (desired state, a log row naming the operator, CSRF, JSON for the script)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, WorkerHeartbeat
from apps.mqtt.views.dashboard import age_text

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def _control_url(connection: MqttConnection | int, action: str) -> str:
    pk = connection if isinstance(connection, int) else connection.pk
    return f"/dashboard/connections/{pk}/{action}/"


@pytest.fixture
def plain_user(db: None) -> User:
    return User.objects.create_user("customer", password="customer-pass")


@pytest.fixture
def monitored(make_connection, make_site):
    """Two connections (one connected with sensors, one in error) and a sensor of a site without one."""
    now = timezone.now()
    north = make_connection(site=make_site(name="North bridge", code="NORTH01"), broker_port=1884)
    MqttConnection.objects.filter(pk=north.pk).update(
        status="connected", heartbeat_state="ok", last_heartbeat_at=now - dt.timedelta(seconds=12)
    )
    south = make_connection(site=make_site(name="South tunnel", code="SOUTH02"), enabled=False)
    MqttConnection.objects.filter(pk=south.pk).update(
        status="error", connection_errors=5, error_message="Connection refused by broker"
    )
    SensorDevice.objects.bulk_create(
        [
            SensorDevice(site=north.site, device_name="MNA00001", status="online"),
            SensorDevice(site=north.site, device_name="MNA00002", status="online"),
            SensorDevice(site=north.site, device_name="MNA00003", status="offline"),
            SensorDevice(site=make_site(code="LONELY"), device_name="MNA00009", status="online"),
        ]
    )
    return north, south


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/state/"])
def test_anonymous_visitors_are_sent_to_the_admin_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/state/"])
def test_users_who_are_not_staff_are_sent_to_the_admin_login(client: Client, plain_user: User, path) -> None:
    client.force_login(plain_user)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_script_that_lost_its_session_gets_a_json_403_not_the_login_page(client: Client) -> None:
    response = client.get("/dashboard/state/", **JSON)
    assert response.status_code == 403
    assert response.json() == {"ok": False, "error": "log in again"}


def test_control_requires_staff(client: Client, plain_user: User, make_connection) -> None:
    conn = make_connection()
    client.force_login(plain_user)
    assert client.post(_control_url(conn, "stop")).status_code == 302
    assert client.post(_control_url(conn, "stop"), **JSON).status_code == 403
    conn.refresh_from_db()
    assert conn.enabled
    assert not ConnectionLog.objects.exists()


def test_staff_without_the_change_permission_see_the_page_but_cannot_control(
    client: Client, make_connection
) -> None:
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_mqttconnection"))
    conn = make_connection()
    client.force_login(viewer)
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert b"view only" in page.content
    assert b'class="action-form"' not in page.content.split(b'id="row-template"')[0]
    assert client.post(_control_url(conn, "stop"), **JSON).status_code == 403
    conn.refresh_from_db()
    assert conn.enabled


def test_the_admin_header_links_to_the_dashboard(staff_client: Client) -> None:
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    assert b'href="/dashboard/"' in response.content
    assert b"Live dashboard" in response.content


# ---------------------------------------------------------------- what it shows


def test_the_page_shows_the_totals_and_a_row_per_connection(staff_client: Client, monitored) -> None:
    north, south = monitored
    response = staff_client.get("/dashboard/")
    assert response.status_code == 200
    view = response.context["view"]
    # Two connections, one connected; four sensors (one at a site without a connection), three online.
    assert view["totals"] == {"connections": 2, "active": 1, "sensors": 4, "online_sensors": 3}
    html = response.content.decode()
    assert 'data-total="connections">2<' in html
    assert 'data-total="active">1<' in html
    assert 'data-total="sensors">4<' in html
    assert 'data-total="online_sensors">3<' in html
    rows = {row["site_code"]: row for row in view["connections"]}
    assert rows["NORTH01"]["broker"] == "127.0.0.1:1884"
    assert rows["NORTH01"]["status"] == "connected"
    assert rows["NORTH01"]["heartbeat_state"] == "ok"
    assert rows["NORTH01"]["heartbeat_age"] in {"12 s ago", "13 s ago"}
    assert rows["NORTH01"]["sensor_counts"] == {"total": 3, "online": 2, "stale": 0, "offline": 1}
    assert rows["SOUTH02"]["pending"] == "stopping"  # disabled by the operator, the worker not there yet
    for text in (
        "North bridge",
        "NORTH01",
        "South tunnel",
        "Connection refused by broker",
        f'data-site-id="{north.site_id}"',
        f'action="/dashboard/connections/{south.pk}/start/"',
        'name="csrfmiddlewaretoken"',
        "/ws/mqtt/status/",
        "mqtt/dashboard.js",
    ):
        assert text in html, text
    assert "No MQTT connections yet" in html  # the empty state exists but is hidden
    assert 'id="connections-empty" hidden' in html


def test_the_page_embeds_the_same_state_as_the_state_endpoint(staff_client: Client, monitored) -> None:
    page = staff_client.get("/dashboard/")
    embedded = json.loads(_embedded(page.content.decode()))
    state = staff_client.get("/dashboard/state/").json()
    assert embedded["connections"] == state["connections"]
    assert embedded["totals"] == state["totals"]


def _embedded(html: str) -> str:
    start = html.index('<script id="dashboard-state" type="application/json">') + len(
        '<script id="dashboard-state" type="application/json">'
    )
    return html[start : html.index("</script>", start)]


def test_empty_state_without_connections_logs_or_worker(staff_client: Client) -> None:
    response = staff_client.get("/dashboard/")
    html = response.content.decode()
    assert response.context["view"]["totals"] == {
        "connections": 0,
        "active": 0,
        "sensors": 0,
        "online_sensors": 0,
    }
    assert 'id="connections-empty">' in html
    assert 'id="connections-wrap" hidden' in html
    assert "No events yet" in html
    assert "No MQTT worker has reported yet" in html


def test_the_log_lists_the_50_most_recent_events_with_who_did_them(
    staff_client: Client, staff_user: User, make_connection
) -> None:
    conn = make_connection()
    start = timezone.now() - dt.timedelta(hours=1)
    ConnectionLog.objects.bulk_create(
        [
            ConnectionLog(
                mqtt_connection=conn,
                event_type="connected",
                message=f"event {index}",
                timestamp=start + dt.timedelta(seconds=index),
            )
            for index in range(60)
        ]
    )
    staff_client.post(_control_url(conn, "stop"))
    logs = staff_client.get("/dashboard/state/").json()["logs"]
    assert len(logs) == 50
    assert logs[0]["event_type"] == "stopped"
    assert logs[0]["actor"] == "operator"
    assert logs[0]["event"] == "Stopped by operator"
    assert logs[0]["site_code"] == conn.site.code
    assert [log["message"] for log in logs[1:4]] == ["event 59", "event 58", "event 57"]
    assert logs[1]["actor"] is None
    html = staff_client.get("/dashboard/").content.decode()
    assert "Stop requested by operator" in html
    assert "event 11<" in html  # the stop and events 59..11: 50
    assert "event 10<" not in html  # the 51st and older are left out


def test_worker_alive_and_down(staff_client: Client) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="host", pid=1, started_at=now, last_seen_at=now - dt.timedelta(seconds=2)
    )
    worker = staff_client.get("/dashboard/state/").json()["worker"]
    assert worker["alive"] is True
    assert worker["alive_workers"] == 1
    assert "Worker alive, last tick 2 s ago" in staff_client.get("/dashboard/").content.decode()

    WorkerHeartbeat.objects.update(last_seen_at=now - dt.timedelta(minutes=5))
    worker = staff_client.get("/dashboard/state/").json()["worker"]
    assert worker["alive"] is False
    assert "Worker down since" in staff_client.get("/dashboard/").content.decode()


def test_the_state_endpoint_takes_a_fixed_number_of_queries(
    staff_client: Client, make_connection, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        conn = make_connection()
        ConnectionLog.objects.create(mqtt_connection=conn, event_type="connected")
        SensorDevice.objects.create(site=conn.site, device_name="MNA1", status="online")
    # Session and user, then 5 for the state (rows, sensor totals, logs, worker, live workers).
    with django_assert_max_num_queries(7):
        response = staff_client.get("/dashboard/state/")
    assert len(response.json()["connections"]) == 5


def test_state_endpoint_shape(staff_client: Client, monitored) -> None:
    north, _ = monitored
    response = staff_client.get("/dashboard/state/")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    state = response.json()
    assert set(state) == {"server_time", "totals", "connections", "logs", "worker"}
    row = next(row for row in state["connections"] if row["id"] == north.pk)
    assert row["site_id"] == north.site_id
    assert set(row) >= {
        "site_name",
        "site_code",
        "broker",
        "enabled",
        "status",
        "status_changed_at",
        "last_heartbeat_at",
        "heartbeat_state",
        "connection_errors",
        "error_message",
        "sensor_counts",
    }


# ---------------------------------------------------------------- control


@pytest.mark.parametrize(
    ("action", "enabled_before", "enabled_after", "event"),
    [
        ("start", False, True, "started"),
        ("stop", True, False, "stopped"),
        ("restart", False, True, "restarted"),
    ],
)
def test_control_sets_the_desired_state_and_logs_the_operator(
    staff_client: Client, staff_user: User, make_connection, action, enabled_before, enabled_after, event
) -> None:
    conn = make_connection(enabled=enabled_before)
    response = staff_client.post(_control_url(conn, action))
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    conn.refresh_from_db()
    assert conn.enabled is enabled_after
    if action == "restart":
        assert conn.restart_requested_at is not None
    log = ConnectionLog.objects.get(mqtt_connection=conn)
    assert log.event_type == event
    assert log.actor == staff_user
    assert "operator" in log.message
    # The redirect shows what was done.
    page = staff_client.get(response["Location"])
    assert f"{action.capitalize()} requested for {conn.site.name}" in page.content.decode()


def test_control_answers_json_to_the_script(staff_client: Client, make_connection) -> None:
    conn = make_connection()
    response = staff_client.post(_control_url(conn, "stop"), **JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["action"] == "stop"
    assert body["connection"]["id"] == conn.pk
    assert body["connection"]["enabled"] is False
    assert body["message"] == f"Stop requested for {conn.site.name} ({conn.site.code})."


def test_control_enforces_csrf(staff_user: User, make_connection) -> None:
    conn = make_connection()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    refused = browser.post(_control_url(conn, "stop"))
    assert refused.status_code == 403
    conn.refresh_from_db()
    assert conn.enabled
    assert not ConnectionLog.objects.exists()

    # With the token from the page's form (as the form and the script send it) it goes through.
    page = browser.get("/dashboard/")
    token = page.context["csrf_token"]
    accepted = browser.post(_control_url(conn, "stop"), {"csrfmiddlewaretoken": str(token)})
    assert accepted.status_code == 302
    conn.refresh_from_db()
    assert not conn.enabled


def test_control_rejects_get(staff_client: Client, make_connection) -> None:
    conn = make_connection()
    response = staff_client.get(_control_url(conn, "stop"))
    assert response.status_code == 405
    conn.refresh_from_db()
    assert conn.enabled


def test_control_of_an_unknown_connection_is_404(staff_client: Client) -> None:
    assert staff_client.post(_control_url(999_999, "stop")).status_code == 404
    assert staff_client.post(_control_url(999_999, "stop"), **JSON).status_code == 404


def test_an_unknown_action_is_404(staff_client: Client, make_connection) -> None:
    conn = make_connection()
    assert staff_client.post(_control_url(conn, "explode")).status_code == 404
    assert staff_client.post(f"/dashboard/connections/{conn.pk}/Stop/").status_code == 404
    assert not ConnectionLog.objects.exists()


# ---------------------------------------------------------------- ages


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (12, "12 s ago"),
        (59, "59 s ago"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (3660 + 5, "1 h 1 min ago"),
        (86400 * 3 + 5, "3 d ago"),
    ],
)
def test_age_text(seconds: int, text: str) -> None:
    now = timezone.now()
    assert age_text((now - dt.timedelta(seconds=seconds)).isoformat(), now) == text


def test_age_text_of_nothing_is_never() -> None:
    assert age_text(None, timezone.now()) == "never"
