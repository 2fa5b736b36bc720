"""Must-hold 3 (second half): the first WebSocket after a Redis blip opens. The Redis channel layer
points at a TCP proxy in front of the machine's Redis; the test cuts the proxy (every connection
reset, new ones refused), restores it, and opens a socket through the real ASGI application."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from apps.mqtt.realtime.layers import RedisChannelLayer
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import TcpProxy, port_open, require
from apps.sites.models import Customer
from config.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

REDIS = ("127.0.0.1", 6379)


@pytest.fixture(autouse=True)
def _orm_in_test_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # set-up and checks only


@pytest.fixture
def redis_proxy(tcp_proxy: Callable[[tuple[str, int]], TcpProxy]) -> Iterator[TcpProxy]:
    """This process on the Redis layer as settings.py configures it, through a proxy to Redis."""
    require(port_open(*REDIS), "Redis is not reachable on 127.0.0.1:6379")
    proxy = tcp_proxy(REDIS)
    layers = {
        "default": {
            "BACKEND": "apps.mqtt.realtime.layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [f"redis://127.0.0.1:{proxy.port}/0"],
                "prefix": f"dlmon-test-{uuid.uuid4().hex[:8]}",
            },
        }
    }
    channel_layers.backends.clear()
    with override_settings(CHANNEL_LAYERS=layers):
        channel_layers.backends.clear()
        yield proxy
    channel_layers.backends.clear()


@pytest.fixture
def member_socket(make_connection, make_site, site_code, client) -> Callable[[], WebsocketCommunicator]:
    acme = Customer.objects.create(name=f"Acme {site_code}")
    member = acme.members.create(username=f"m{site_code}")
    conn = make_connection(site=make_site(code=site_code, customer=acme))
    set_topics(connection=conn)
    client.force_login(member)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    def socket() -> WebsocketCommunicator:
        return WebsocketCommunicator(
            application,
            f"/ws/mqtt/site/{conn.site_id}/",
            headers=[
                (b"cookie", cookie.encode()),
                (b"origin", b"http://testserver"),
                (b"host", b"testserver"),
            ],
        )

    return socket


async def _opens_with_a_snapshot(socket: WebsocketCommunicator) -> None:
    connected, _ = await socket.connect(timeout=10)
    assert connected
    assert (await socket.receive_json_from(timeout=10))["type"] == "snapshot"
    await socket.disconnect()


async def test_first_socket_after_a_redis_blip_opens(
    redis_proxy: TcpProxy, member_socket, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(get_channel_layer(), RedisChannelLayer)
    await _opens_with_a_snapshot(member_socket())  # the layer's connections are open and pooled
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send("keep-open", {"type": "noop"})
    redis_proxy.cut()
    redis_proxy.restore()
    await _opens_with_a_snapshot(member_socket())
    # The blip reached the layer (its pooled connections were stale), and the retry carried it.
    assert "Redis connection lost" in caplog.text
    await _opens_with_a_snapshot(member_socket())
