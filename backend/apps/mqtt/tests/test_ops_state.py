"""The operations view's state (``GET /api/ops/``, staff): totals, a row per connection, the latest
50 events with who caused them, the worker's liveness; a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, WorkerHeartbeat

pytestmark = pytest.mark.django_db

OPS = "/api/ops/"


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


def test_customers_and_anonymous_visitors_may_not_read_it(client: Client) -> None:
    assert client.get(OPS).status_code == 401
    client.force_login(User.objects.create_user("customer"))
    assert client.get(OPS).status_code == 403


def test_totals_and_a_row_per_connection(staff_client: Client, monitored) -> None:
    north, _south = monitored
    state = staff_client.get(OPS).json()
    # Two connections, one connected; four sensors (one at a site without a connection), three online.
    assert state["totals"] == {"connections": 2, "active": 1, "sensors": 4, "online_sensors": 3}
    rows = {row["site_code"]: row for row in state["connections"]}
    assert rows["NORTH01"]["broker"] == "127.0.0.1:1884"
    assert (rows["NORTH01"]["status"], rows["NORTH01"]["heartbeat_state"]) == ("connected", "ok")
    assert rows["NORTH01"]["sensor_counts"] == {"total": 3, "online": 2, "stale": 0, "offline": 1}
    assert (rows["SOUTH02"]["enabled"], rows["SOUTH02"]["status"]) == (False, "error")
    assert rows["SOUTH02"]["error_message"] == "Connection refused by broker"
    assert rows["NORTH01"]["site_id"] == north.site_id
    assert set(rows["NORTH01"]) >= {
        "site_name",
        "status_changed_at",
        "last_heartbeat_at",
        "connection_errors",
    }


def test_empty_without_connections_logs_or_worker(staff_client: Client) -> None:
    state = staff_client.get(OPS).json()
    assert state["totals"] == {"connections": 0, "active": 0, "sensors": 0, "online_sensors": 0}
    assert (state["connections"], state["logs"], state["worker"]) == ([], [], None)


def test_the_50_most_recent_events_with_who_did_them(staff_client: Client, make_connection) -> None:
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
    assert staff_client.post(f"/api/connections/{conn.pk}/stop/").status_code == 200
    logs = staff_client.get(OPS).json()["logs"]
    assert len(logs) == 50
    assert (logs[0]["event_type"], logs[0]["actor"], logs[0]["level"]) == ("stopped", "operator", "action")
    assert logs[0]["event"] == "Stopped by operator"
    assert logs[0]["site_code"] == conn.site.code
    assert [log["message"] for log in logs[1:4]] == ["event 59", "event 58", "event 57"]
    assert logs[1]["actor"] is None


def test_worker_alive_and_down(staff_client: Client) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="host", pid=1, started_at=now, last_seen_at=now - dt.timedelta(seconds=2)
    )
    worker = staff_client.get(OPS).json()["worker"]
    assert (worker["alive"], worker["alive_workers"]) == (True, 1)

    WorkerHeartbeat.objects.update(last_seen_at=now - dt.timedelta(minutes=5))
    worker = staff_client.get(OPS).json()["worker"]
    assert (worker["alive"], worker["alive_workers"]) == (False, 0)


def test_a_fixed_number_of_queries(
    staff_client: Client, make_connection, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        conn = make_connection()
        ConnectionLog.objects.create(mqtt_connection=conn, event_type="connected")
        SensorDevice.objects.create(site=conn.site, device_name="MNA1", status="online")
    # Session and user, then 5 for the state (rows, sensor totals, logs, worker, live workers).
    with django_assert_max_num_queries(7):
        response = staff_client.get(OPS)
    assert len(response.json()["connections"]) == 5


def test_the_old_dashboard_address_leads_to_the_operations_view(staff_client: Client) -> None:
    response = staff_client.get("/dashboard/")
    assert (response.status_code, response["Location"]) == (302, "/ops/")
