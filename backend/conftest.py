"""Fixtures shared by every app's tests."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test import Client

from apps.mqtt.models import MqttConnection
from apps.sites.models import Customer, Site

_codes = itertools.count(1)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Before the test database is dropped, end the sessions that worker threads of this test
    process left open (asyncio's thread pool keeps its threads, and their connections, alive)."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _fresh_request_counts() -> None:
    """API throttling and login failures count in the cache, and user ids repeat between tests: each
    test starts with no counts. Only the in-memory cache is emptied, never a Redis others share."""
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        backend.clear()


@pytest.fixture
def make_site(db: None) -> Callable[..., Site]:
    def make(*, customer: Customer | None = None, code: str | None = None, **fields: Any) -> Site:
        code = code or f"T{next(_codes):05d}"
        name = fields.pop("name", f"Site {code}")
        return Site.objects.create(name=name, code=code, customer=customer, **fields)

    return make


@pytest.fixture
def make_connection(make_site: Callable[..., Site]) -> Callable[..., MqttConnection]:
    def make(*, site: Site | None = None, **fields: object) -> MqttConnection:
        fields.setdefault("broker_host", "127.0.0.1")
        return MqttConnection.objects.create(site=site or make_site(), **fields)

    return make


@pytest.fixture
def staff_user(db: None) -> User:
    return User.objects.create_user("operator", password="operator-pass", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client: Client, staff_user: User) -> Client:
    client.force_login(staff_user)
    return client


@dataclass(frozen=True)
class TlsMaterial:
    certificate_pem: str
    key_pem: str


def make_tls_material(common_name: str = "test") -> TlsMaterial:
    """A self-signed EC certificate and its unencrypted key, as PEM text."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return TlsMaterial(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )
