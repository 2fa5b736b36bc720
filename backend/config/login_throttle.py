"""Login throttling: after LOGIN_FAILURE_LIMIT wrong passwords within LOGIN_FAILURE_WINDOW seconds
for one username from one address, that username is refused from that address for
LOGIN_LOCKOUT_SECONDS, even with the right password. Every failure and every refusal is logged
(username and address, never the password).

It is the authentication backend itself, so every sign-in through Django's ``authenticate()`` is
covered: the admin's, the app's /login/ and any session login. The counts live in the cache (Redis
when REDIS_URL is set, so all web processes share them; else the process's memory).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

logger = logging.getLogger("dlmon.security")


def _client_address(request: HttpRequest | None) -> str:
    # REMOTE_ADDR is the client's address once the server trusts its proxy's forwarded headers
    # (uvicorn --proxy-headers --forwarded-allow-ips); docs/configuration.md says how.
    return (request.META.get("REMOTE_ADDR") or "-") if request is not None else "-"


def _keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: a username may hold characters a cache key may not.
    digest = hashlib.sha256(f"{username.casefold()}\0{address}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}", f"login-lockout:{digest}"


def is_locked_out(*, username: str, request: HttpRequest | None) -> bool:
    _, lock_key = _keys(username, _client_address(request))
    return bool(cache.get(lock_key))


def _record_failure(*, username: str, address: str) -> None:
    count_key, lock_key = _keys(username, address)
    limit = settings.LOGIN_FAILURE_LIMIT
    # The window starts at the first failure; add() leaves a running count alone.
    cache.add(count_key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
    try:
        failures = cache.incr(count_key)
    except ValueError:  # expired between add() and incr()
        cache.set(count_key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)
        failures = 1
    logger.warning("login failed for %r from %s (%d of %d)", username, address, failures, limit)
    if failures >= limit:
        cache.set(lock_key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        cache.delete(count_key)
        logger.warning(
            "login locked for %r from %s for %d s after %d failures",
            username,
            address,
            settings.LOGIN_LOCKOUT_SECONDS,
            failures,
        )


class ThrottledModelBackend(ModelBackend):
    """Django's username/password backend, refusing locked-out username + address pairs."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = _client_address(request)
        count_key, lock_key = _keys(username, address)
        if cache.get(lock_key):
            logger.warning("login refused for %r from %s: locked out", username, address)
            raise PermissionDenied  # authenticate() stops here: no other backend is tried
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            _record_failure(username=username, address=address)
        else:
            cache.delete(count_key)
        return user

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        # ModelBackend's own async version would skip the throttle.
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)
