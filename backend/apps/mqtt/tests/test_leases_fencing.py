"""The supervisor's own status writes (a disabled connection, unreadable secrets) are fenced like its
clients': written by the one worker holding the connection's lease, under its token, and skipped
(counted in ingest_fenced_writes_total) once that token has moved on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.db import connection, transaction
from prometheus_client import REGISTRY

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.events import FencedConnectionEvent, write_connection_events
from apps.mqtt.ingest.items import ConnectionEvent, IngestItem
from apps.mqtt.models import ConnectionLease, ConnectionLog, MqttConnection
from apps.mqtt.worker.supervisor import MqttSupervisor

pytestmark = pytest.mark.django_db(transaction=True)


class Collected:
    """A writer that keeps what it is given (the test writes it when it chooses)."""

    def __init__(self) -> None:
        self.items: list[IngestItem] = []

    def submit(self, item: IngestItem) -> None:
        self.items.append(item)


def _reconcile_once(*supervisors: MqttSupervisor) -> None:
    async def run() -> None:
        for supervisor in supervisors:
            await supervisor.reconcile()

    asyncio.run(asyncio.wait_for(run(), timeout=30))


def _release(*supervisors: MqttSupervisor) -> None:
    for supervisor in supervisors:
        supervisor.leases.release_all()


def _fenced_writes() -> float:
    return REGISTRY.get_sample_value("ingest_fenced_writes_total") or 0.0


def _key(conn: MqttConnection) -> str:
    return ConnectionLease.INSTALL if connection.vendor == "sqlite" else ConnectionLease.key_for(conn.pk)


@pytest.fixture
def broken_or_disabled(
    request: pytest.FixtureRequest, make_connection: Callable[..., MqttConnection], settings: Any
) -> tuple[MqttConnection, str]:
    """A connection shown ``connected`` whose status the supervisor must write: disabled, or enabled
    with a password no configured key can read."""
    if request.param == "disabled":
        return make_connection(enabled=False, status="connected"), "disabled"
    conn = make_connection(status="connected")
    conn.set_password("secret")
    conn.save()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return conn, "error"


@pytest.mark.parametrize("broken_or_disabled", ["disabled", "broken"], indirect=True)
def test_only_the_lease_holder_writes_the_supervisor_status_of_a_connection_under_its_token(
    broken_or_disabled: tuple[MqttConnection, str],
) -> None:
    conn, status = broken_or_disabled
    first, second = Collected(), Collected()
    holder = MqttSupervisor(writer=first)
    other = MqttSupervisor(writer=second)
    try:
        _reconcile_once(holder, other)
    finally:
        _release(holder, other)
    [event] = first.items
    assert isinstance(event, FencedConnectionEvent)
    assert (event.connection_id, event.status) == (conn.pk, status)
    lease = ConnectionLease.objects.get(key=_key(conn))
    assert (event.lease_key, event.lease_token) == (lease.key, lease.token)
    assert event.lease_token > 0
    assert second.items == []  # one status row and one log row, not one per worker


@pytest.mark.parametrize("broken_or_disabled", ["disabled", "broken"], indirect=True)
def test_a_supervisor_status_write_under_a_stale_token_is_skipped_and_counted(
    broken_or_disabled: tuple[MqttConnection, str],
) -> None:
    conn, _status = broken_or_disabled
    collected = Collected()
    supervisor = MqttSupervisor(writer=collected)
    try:
        _reconcile_once(supervisor)
    finally:
        _release(supervisor)
    events = [item for item in collected.items if isinstance(item, ConnectionEvent)]
    assert events
    # Another worker claims the lease before the write lands (this worker stalled past its expiry).
    ConnectionLease.objects.filter(key=_key(conn)).update(worker_id="elsewhere:1:abcdef", token=999)
    before = _fenced_writes()
    with transaction.atomic():
        write_connection_events(events, ChangeSet())
    conn.refresh_from_db()
    assert conn.status == "connected"
    assert not ConnectionLog.objects.filter(mqtt_connection=conn).exists()
    assert _fenced_writes() == before + len(events)
