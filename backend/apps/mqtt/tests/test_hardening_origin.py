"""The WebSocket origin check compares scheme, host and port: a page on another port of the right
host is refused; the app's own origin (127.0.0.1:8000, localhost, behind a TLS proxy) is accepted."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from apps.mqtt.realtime.origin import origin_allowed
from apps.sites.models import Customer
from config.asgi import application


def _scope(origin: str | None, host: str, **extra: object) -> dict[str, object]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers += [(name.encode(), str(value).encode()) for name, value in extra.items()]
    return {"type": "websocket", "scheme": "ws", "headers": headers}


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://localhost:8000", "localhost:8000"),
        ("http://localhost", "localhost"),
        ("http://testserver:80", "testserver"),
    ],
)
def test_the_pages_own_origin_is_accepted(origin: str, host: str) -> None:
    assert origin_allowed(_scope(origin, host))


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:9000", "127.0.0.1:8000"),  # right host, wrong port
        ("http://localhost:5173", "localhost:8000"),
        ("http://testserver:8001", "testserver"),
        ("https://127.0.0.1:8000", "127.0.0.1:8000"),  # wrong scheme
        ("http://evil.example", "127.0.0.1:8000"),
        ("http://evil.example", "evil.example"),  # a host this install does not answer to
        ("null", "127.0.0.1:8000"),
        (None, "127.0.0.1:8000"),
    ],
)
def test_any_other_origin_is_refused(origin: str | None, host: str) -> None:
    assert not origin_allowed(_scope(origin, host))


def test_behind_a_tls_proxy_the_https_origin_is_the_own_one(settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = {"x-forwarded-proto": "https"}

    assert origin_allowed(_scope("https://testserver", "testserver", **proxied))
    assert not origin_allowed(_scope("http://testserver", "testserver", **proxied))
    assert not origin_allowed(_scope("https://testserver", "testserver"))  # the proxy did not say so


def test_trusted_origins_match_with_their_scheme_and_port(settings) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://monitor.example.com", "https://*.example.org"]

    assert origin_allowed(_scope("https://monitor.example.com", "testserver"))
    assert origin_allowed(_scope("https://ops.example.org", "testserver"))
    assert not origin_allowed(_scope("https://monitor.example.com:8443", "testserver"))
    assert not origin_allowed(_scope("http://monitor.example.com", "testserver"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_socket_with_the_right_host_and_a_wrong_port_is_refused_through_the_asgi_stack(
    make_site, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # set-up only
    acme = Customer.objects.create(name="Acme origin")
    member = User.objects.create_user("member-origin")
    acme.members.add(member)
    site = make_site(customer=acme)
    client.force_login(member)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    def socket(origin: bytes) -> WebsocketCommunicator:
        headers = [(b"cookie", cookie), (b"origin", origin), (b"host", b"127.0.0.1:8000")]
        return WebsocketCommunicator(application, f"/ws/mqtt/site/{site.pk}/", headers=headers)

    refused = socket(b"http://127.0.0.1:8001")
    assert not (await refused.connect())[0]
    accepted = socket(b"http://127.0.0.1:8000")
    assert (await accepted.connect())[0]
    assert (await accepted.receive_json_from(timeout=5))["type"] == "snapshot"
    await accepted.disconnect()
