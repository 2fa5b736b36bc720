"""The WebSocket origin check: a socket is accepted only from the page's own origin (the scheme, host
and port the request came to, its host allowed by ALLOWED_HOSTS) or from an origin listed in
CSRF_TRUSTED_ORIGINS, scheme and port included. Channels' AllowedHostsOriginValidator compared the
host only, so a page on another port of the same host (another app, a dev server) could open sockets
with the user's session."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

Origin = tuple[str, str, int]  # scheme, host, port
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> Origin | None:
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _secure(scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
    if scope.get("scheme") in {"wss", "https"}:
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy is None:
        return False
    header, secure_value = proxy
    name = header.removeprefix("HTTP_").replace("_", "-").lower().encode("latin1")
    value = headers.get(name, b"").decode("latin1").split(",", 1)[0].strip()
    return value == secure_value


def _own_origin(scope: dict[str, Any], headers: dict[bytes, bytes]) -> Origin | None:
    """Where the request came to, when its Host is one this install answers to."""
    host = headers.get(b"host", b"").decode("latin1")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's own host check in DEBUG
    if not domain or not validate_host(domain, allowed):
        return None
    return _origin(("https://" if _secure(scope, headers) else "http://") + host)


def _trusted(origin: Origin) -> bool:
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = _origin(entry.replace("://*.", "://", 1))
        if trusted is None or (origin[0], origin[2]) != (trusted[0], trusted[2]):
            continue
        if origin[1] == trusted[1] or (wildcard and is_same_domain(origin[1], "." + trusted[1])):
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    headers = dict(scope.get("headers", []))
    origin = _origin(headers.get(b"origin", b"").decode("latin1"))
    if origin is None:
        return False
    return origin == _own_origin(scope, headers) or _trusted(origin)


class SameOriginValidator:
    """ASGI middleware refusing (closing before accept) sockets from any other origin."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
