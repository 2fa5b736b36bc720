"""Login throttling: 5 wrong passwords in a minute for one username from one address lock it out,
the right password included, on the app's sign-in and the admin's; every failure is logged."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-42"


@pytest.fixture
def user() -> User:
    # A new name per test: the counts live in the cache, which outlives a test.
    return User.objects.create_user(f"lock-me-{uuid.uuid4().hex[:8]}", password=PASSWORD, is_staff=True)


def _sign_in(client: Client, password: str, *, path: str = "/login/", address: str = "198.51.100.7") -> bool:
    """True when the sign-in succeeded (a redirect with a session)."""
    username = User.objects.get(is_staff=True, username__startswith="lock-me-").username
    response = client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)
    return response.status_code == 302 and "_auth_user_id" in client.session


def test_the_6th_attempt_in_a_minute_is_refused_even_with_the_right_password(user: User) -> None:
    client = Client()
    for _ in range(5):
        assert not _sign_in(client, "wrong")

    assert not _sign_in(client, PASSWORD)


def test_four_failures_do_not_lock_the_right_password_out(user: User) -> None:
    client = Client()
    for _ in range(4):
        assert not _sign_in(client, "wrong")

    assert _sign_in(client, PASSWORD)


def test_the_admin_login_is_locked_out_too(user: User) -> None:
    client = Client()
    for _ in range(5):
        assert not _sign_in(client, "wrong", path="/admin/login/")

    assert not _sign_in(client, PASSWORD, path="/admin/login/")
    assert not _sign_in(client, PASSWORD)  # the same username and address, through the app


def test_the_lockout_is_per_address(user: User) -> None:
    for _ in range(5):
        _sign_in(Client(), "wrong", address="198.51.100.7")

    assert _sign_in(Client(), PASSWORD, address="203.0.113.9")


def test_the_lockout_ends_after_the_cool_off(user: User, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(5):
        _sign_in(Client(), "wrong")
    assert not _sign_in(Client(), PASSWORD)
    later = time.time() + settings.LOGIN_LOCKOUT_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)  # the in-memory cache's clock

    assert _sign_in(Client(), PASSWORD)


def test_every_failure_and_the_refusal_are_logged_without_the_password(
    user: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dlmon.security")
    for _ in range(5):
        _sign_in(Client(), "wrong-secret-xyz")
    _sign_in(Client(), PASSWORD)

    lines = [record.getMessage() for record in caplog.records if record.name == "dlmon.security"]
    assert sum(f"login failed for '{user.username}' from 198.51.100.7" in line for line in lines) == 5
    assert any("locked" in line and f"'{user.username}'" in line for line in lines)
    assert any(line.startswith(f"login refused for '{user.username}'") for line in lines)
    assert not any("wrong-secret-xyz" in line or PASSWORD in line for line in lines)


def test_the_sign_in_page_says_why_when_locked_out(user: User) -> None:
    client = Client()
    for _ in range(5):
        _sign_in(client, "wrong")

    credentials = {"username": user.username, "password": PASSWORD}
    page = client.post("/login/", credentials, REMOTE_ADDR="198.51.100.7")
    assert "Too many failed sign-ins" in page.content.decode()
