"""The WebSocket consumers through channels' WebsocketCommunicator, with the real worker and broker."""

from __future__ import annotations

import time

import aiomqtt
import pytest
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from apps.mqtt.realtime.broadcast import STATUS_GROUP, site_group
from apps.mqtt.realtime.routing import websocket_urlpatterns
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import Worker, connected, seed_heartbeat
from apps.sites.models import Customer
from config.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
router = URLRouter(websocket_urlpatterns)


@pytest.fixture(autouse=True)
def _orm_in_test_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # set-up and checks only; see test_worker


def _socket(path: str, user: object) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(router, path)
    communicator.scope["user"] = user
    return communicator


async def _closed_with(communicator: WebsocketCommunicator) -> int:
    connected, _ = await communicator.connect()
    assert connected  # accepted, then closed with a code the page can act on
    message = await communicator.receive_output(timeout=2)
    assert message["type"] == "websocket.close"
    return message["code"]


@pytest.fixture
def customer_site(make_connection, make_site, site_code):
    acme = Customer.objects.create(name=f"Acme {site_code}")
    member = User.objects.create_user(f"m{site_code}")
    acme.members.add(member)
    conn = make_connection(site=make_site(code=site_code, customer=acme), retry_delay=1)
    set_topics(connection=conn)
    return conn, member


async def test_site_socket_sends_a_snapshot_on_connect(customer_site) -> None:
    conn, member = customer_site
    socket = _socket(f"/ws/mqtt/site/{conn.site_id}/", member)
    connected, _ = await socket.connect()
    assert connected
    message = await socket.receive_json_from(timeout=5)
    await socket.disconnect()
    assert message["type"] == "snapshot"
    data = message["data"]
    assert data["site"]["code"] == conn.site.code
    assert data["connection"]["status"] == "disconnected"
    assert data["sensors"] == []
    assert data["sensor_counts"]["total"] == 0


async def test_an_event_without_its_frame_is_skipped_and_the_socket_stays_open(customer_site) -> None:
    conn, member = customer_site
    socket = _socket(f"/ws/mqtt/site/{conn.site_id}/", member)
    await socket.connect()
    assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
    layer = get_channel_layer()
    group = site_group(conn.site_id)
    await layer.group_send(group, {"type": "sensors.update", "site_id": conn.site_id, "sensors": []})
    await layer.group_send(group, {"type": "site.update", "text": '{"type": "site_update", "data": {}}'})
    assert await socket.receive_json_from(timeout=5) == {"type": "site_update", "data": {}}
    await socket.disconnect()


async def test_unauthenticated_socket_is_closed_with_4401(customer_site) -> None:
    conn, _member = customer_site
    assert await _closed_with(_socket(f"/ws/mqtt/site/{conn.site_id}/", AnonymousUser())) == 4401
    assert await _closed_with(_socket("/ws/mqtt/status/", AnonymousUser())) == 4401


async def test_user_without_access_to_the_site_is_closed_with_4403(customer_site, make_site) -> None:
    _conn, member = customer_site
    other = make_site(customer=Customer.objects.create(name="Other customer"))
    assert await _closed_with(_socket(f"/ws/mqtt/site/{other.pk}/", member)) == 4403
    assert await _closed_with(_socket("/ws/mqtt/site/999999/", member)) == 4403


async def test_a_customer_status_socket_forwards_only_their_own_sites_changes(
    customer_site, make_site
) -> None:
    conn, member = customer_site
    other = make_site(customer=Customer.objects.create(name="Other customer"))
    socket = _socket("/ws/mqtt/status/", member)
    connected, _ = await socket.connect()
    assert connected
    layer = get_channel_layer()
    for site_id in (other.pk, conn.site_id):
        frame = f'{{"type": "status_update", "data": {{"site_id": {site_id}}}}}'
        await layer.group_send(STATUS_GROUP, {"type": "status.update", "text": frame, "site_id": site_id})
    # The other customer's change was skipped: the first frame to arrive is the member's own.
    assert await socket.receive_json_from(timeout=5) == {
        "type": "status_update",
        "data": {"site_id": conn.site_id},
    }
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_session_cookie_authenticates_through_the_full_asgi_stack(customer_site, client) -> None:
    conn, member = customer_site
    client.force_login(member)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    socket = WebsocketCommunicator(
        application,
        f"/ws/mqtt/site/{conn.site_id}/",
        headers=[(b"cookie", cookie.encode()), (b"origin", b"http://testserver"), (b"host", b"testserver")],
    )
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
    await socket.disconnect()


async def test_foreign_origin_is_refused(customer_site) -> None:
    conn, _member = customer_site
    socket = WebsocketCommunicator(
        application, f"/ws/mqtt/site/{conn.site_id}/", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await socket.connect()
    assert not connected


async def test_published_heartbeat_reaches_the_site_socket_as_one_sensors_update(
    customer_site, publisher: aiomqtt.Client
) -> None:
    conn, member = customer_site
    devices = [f"MNA{index:05d}" for index in range(100)]
    async with Worker():
        await connected(conn)
        socket = _socket(f"/ws/mqtt/site/{conn.site_id}/", member)
        await socket.connect()
        assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
        published = time.monotonic()
        await publisher.publish(
            f"{conn.site.code}/datalogger_o/heartbeat", seed_heartbeat(devices, timezone.now())
        )
        received: list[dict] = []
        while not any(m["type"] == "sensors_update" for m in received):
            received.append(await socket.receive_json_from(timeout=10))
        latency = time.monotonic() - published
        while not await socket.receive_nothing(timeout=0.3):
            received.append(await socket.receive_json_from())
        await socket.disconnect()
    print(f"\npublish-to-socket latency: {latency * 1000:.0f} ms")
    updates = [m for m in received if m["type"] == "sensors_update"]
    assert len(updates) == 1  # one event per site per flush, never one per sensor
    assert len(updates[0]["sensors"]) == 100
    assert {s["device_name"] for s in updates[0]["sensors"]} == set(devices)
    assert updates[0]["sensors"][0]["readings"][0]["acc_z"] == 0.98
    status = [m for m in received if m["type"] == "sensor_status"]
    assert len(status) == 1
    assert len(status[0]["changes"]) == 100  # all came online, in one event
    site_updates = [m for m in received if m["type"] == "site_update"]
    assert site_updates[-1]["data"]["sensor_counts"] == {
        "total": 100,
        "online": 100,
        "stale": 0,
        "offline": 0,
    }


async def test_status_socket_receives_connection_status_events(customer_site, staff_user) -> None:
    conn, _member = customer_site
    socket = _socket("/ws/mqtt/status/", staff_user)
    connected, _ = await socket.connect()
    assert connected
    async with Worker():
        statuses = []
        while "connected" not in statuses:
            message = await socket.receive_json_from(timeout=10)
            assert message["type"] == "status_update"
            if message["data"]["site_id"] == conn.site_id and "status" in message["data"]:
                statuses.append(message["data"]["status"])
    await socket.disconnect()
    # Connecting and connected usually land in one flush: the page gets the latest state once.
    assert statuses[-1] == "connected"
    assert set(statuses) <= {"connecting", "connected"}
