"""Customers never see staff usernames: not in /api/logs/ (new rows and rows written before the name
left the message), not on the site socket (snapshot and events), not on the status socket."""

from __future__ import annotations

import json

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.realtime.routing import websocket_urlpatterns
from apps.mqtt.services.connections import set_topics
from apps.mqtt.services.control import Action, control_connection
from apps.mqtt.tests.conftest import Worker, connected, eventually
from apps.sites.models import Customer

STAFF_NAME = "alice-from-ops"


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user(STAFF_NAME, is_staff=True, is_superuser=True)


@pytest.fixture
def customer_site(make_connection, make_site, site_code) -> tuple[MqttConnection, User]:
    acme = Customer.objects.create(name=f"Acme {site_code}")
    member = User.objects.create_user(f"member-{site_code}")
    acme.members.add(member)
    conn = make_connection(site=make_site(code=site_code, customer=acme), retry_delay=1)
    set_topics(connection=conn)
    return conn, member


def _logs(user: User) -> list[dict]:
    client = APIClient()
    client.force_login(user)
    response = client.get("/api/logs/")
    assert response.status_code == 200
    return response.json()["results"]


@pytest.mark.django_db
def test_a_customer_never_sees_a_staff_username_in_the_logs(customer_site, staff: User) -> None:
    conn, member = customer_site
    control_connection(connection=conn, action=Action.STOP, actor=staff)
    # A row as written before: the name in the message.
    ConnectionLog.objects.create(
        mqtt_connection=conn,
        event_type=ConnectionLog.EventType.STARTED,
        actor=staff,
        message=f"Start requested by {STAFF_NAME}",
    )
    ConnectionLog.objects.create(
        mqtt_connection=conn,
        event_type=ConnectionLog.EventType.RESTARTED,
        message="Restart requested by the system",
    )

    logs = _logs(member)

    assert STAFF_NAME not in json.dumps(logs)
    assert [(log["message"], log["actor"]) for log in logs] == [
        ("Restart requested by the system", None),
        ("Start requested by an operator", "operator"),
        ("Stop requested by an operator", "operator"),
    ]


@pytest.mark.django_db
def test_staff_see_who_did_it(customer_site, staff: User) -> None:
    conn, _member = customer_site
    ConnectionLog.objects.create(
        mqtt_connection=conn,
        event_type=ConnectionLog.EventType.STARTED,
        actor=staff,
        message=f"Start requested by {STAFF_NAME}",
    )
    control_connection(connection=conn, action=Action.STOP, actor=staff)

    logs = _logs(staff)

    assert [(log["message"], log["actor"]) for log in logs] == [
        ("Stop requested by an operator", STAFF_NAME),
        (f"Start requested by {STAFF_NAME}", STAFF_NAME),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_customer_never_sees_a_staff_username_on_the_sockets(
    customer_site, staff: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # set-up and checks only
    conn, member = customer_site
    router = URLRouter(websocket_urlpatterns)
    sockets = []
    for path in (f"/ws/mqtt/site/{conn.site_id}/", "/ws/mqtt/status/"):
        socket = WebsocketCommunicator(router, path)
        socket.scope["user"] = member
        assert (await socket.connect())[0]
        sockets.append(socket)
    frames = [await sockets[0].receive_output(timeout=5)]  # the snapshot
    async with Worker():
        await connected(conn)
        control_connection(connection=conn, action=Action.STOP, actor=staff)
        await eventually(
            lambda: MqttConnection.objects.get(pk=conn.pk).status == MqttConnection.Status.DISABLED
        )
        for socket in sockets:
            while not await socket.receive_nothing(timeout=0.5):
                frames.append(await socket.receive_output())
    for socket in sockets:
        await socket.disconnect()

    texts = [frame["text"] for frame in frames]
    assert any('"disabled"' in text for text in texts), "the stop reached the customer's sockets"
    assert not any(STAFF_NAME in text for text in texts)
