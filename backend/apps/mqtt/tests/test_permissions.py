"""Staff who may only look (no change permission on connections) cannot change or control them,
through the API (the operations view uses it) or the admin actions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from apps.mqtt.models import ConnectionLog, MqttConnection

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client: Client) -> Client:
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_mqttconnection"))
    client.force_login(user)
    return client


def test_view_only_staff_cannot_change_or_control_connections_through_the_api(
    viewer: Client, make_connection
) -> None:
    conn = make_connection()
    url = f"/api/connections/{conn.pk}/"
    assert viewer.get(url).status_code == 200
    assert (
        viewer.patch(url, {"broker_host": "attacker.example"}, content_type="application/json").status_code
        == 403
    )
    assert viewer.delete(url).status_code == 403
    for action in ("start", "stop", "restart"):
        assert viewer.post(f"{url}{action}/").status_code == 403
    conn.refresh_from_db()
    assert conn.broker_host == "127.0.0.1"
    assert conn.enabled
    assert not ConnectionLog.objects.exists()


def test_view_only_staff_cannot_run_the_admin_enable_disable_actions(viewer: Client, make_connection) -> None:
    conn = make_connection()
    changelist = reverse("admin:mqtt_mqttconnection_changelist")
    viewer.post(changelist, {"action": "disable_connections", "_selected_action": [conn.pk]})
    assert MqttConnection.objects.get(pk=conn.pk).enabled
    assert not ConnectionLog.objects.exists()


def test_staff_with_the_change_permission_may_control_through_the_api(
    client: Client, make_connection
) -> None:
    user = User.objects.create_user("operator2", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_mqttconnection", "change_mqttconnection"])
    )
    client.force_login(user)
    conn = make_connection()
    assert client.post(f"/api/connections/{conn.pk}/stop/").status_code == 200
    assert not MqttConnection.objects.get(pk=conn.pk).enabled
