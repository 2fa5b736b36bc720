"""Ownership of the connections between several workers, through leases in the database
(apps/mqtt/worker/leases.py): never two clients for one connection, a stopped worker's connections
taken over, a second worker on SQLite standing by."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.events import fenced, write_connection_events
from apps.mqtt.ingest.items import ConnectionEvent
from apps.mqtt.models import ConnectionLease, ConnectionLog, MqttConnection, WorkerHeartbeat
from apps.mqtt.ops_selectors import dashboard_state
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import Worker, connected, eventually
from apps.mqtt.worker.leases import LIVE_WORKERS, holder_is_dead, new_worker_id

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _short_leases(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.MQTT_LEASE_SECONDS = 3
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _connection(
    make_connection: Callable[..., MqttConnection], make_site: Callable[..., Any]
) -> MqttConnection:
    site = make_site(code=f"L{uuid.uuid4().hex[:10]}")
    conn = make_connection(site=site, broker_port=1883, retry_delay=1, max_retry_delay=2)
    set_topics(connection=conn)
    return conn


def test_a_holder_is_dead_only_when_known_for_sure() -> None:
    worker_id = new_worker_id()
    assert holder_is_dead(worker_id)  # this process, not running
    LIVE_WORKERS.add(worker_id)
    try:
        assert not holder_is_dead(worker_id)
    finally:
        LIVE_WORKERS.discard(worker_id)
    assert not holder_is_dead("another-host:1:abcdef")  # elsewhere: alive until its lease expires
    assert holder_is_dead(worker_id.replace(worker_id.split(":")[1], "999999999", 1))  # no such pid


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only: one worker holds the install")
def test_sqlite_second_worker_stands_by_then_takes_over_when_the_first_stops(
    make_connection: Callable[..., MqttConnection],
    make_site: Callable[..., Any],
    system_broker: tuple[str, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = _connection(make_connection, make_site)

    async def run() -> None:
        first: Worker | None = Worker()
        assert first is not None
        await first.__aenter__()
        try:
            await connected(conn)
            async with Worker() as second:
                await eventually(lambda: second.supervisor.reconciles >= 3, within=30)
                assert second.supervisor.client_ids == set()
                assert first.supervisor.client_ids == {conn.pk}
                await first.__aexit__()
                first = None
                await eventually(lambda: second.supervisor.client_ids == {conn.pk}, within=30)
                await connected(conn)
                lease = await asyncio.to_thread(ConnectionLease.objects.get, key=ConnectionLease.INSTALL)
                assert lease.worker_id == second.worker.worker_id
        finally:
            if first is not None:
                await first.__aexit__()

    with caplog.at_level(logging.INFO, logger="apps.mqtt.worker.leases"):
        asyncio.run(asyncio.wait_for(run(), timeout=120))
    assert any(
        "standby: worker" in message and "holds this install; taking over when its lease expires" in message
        for message in caplog.messages
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: leases per connection")
def test_three_workers_share_the_connections_one_client_each_and_take_over_a_stopped_one(
    make_connection: Callable[..., MqttConnection],
    make_site: Callable[..., Any],
    system_broker: tuple[str, int],
) -> None:
    connections = [_connection(make_connection, make_site) for _ in range(30)]
    everyone = {conn.pk for conn in connections}

    async def run() -> None:
        workers = [Worker() for _ in range(3)]
        samples: list[list[set[int]]] = []
        duplicates: list[set[int]] = []

        async def sample() -> None:
            while True:
                owned = [worker.supervisor.client_ids for worker in workers]
                seen: set[int] = set()
                for ids in owned:
                    if seen & ids:
                        duplicates.append(seen & ids)
                    seen |= ids
                samples.append(owned)
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        running = list(workers)
        try:
            for worker in workers:
                await worker.__aenter__()

            def shared() -> bool:
                owned = [worker.supervisor.client_ids for worker in workers]
                return set().union(*owned) == everyone and all(len(ids) == 10 for ids in owned)

            await eventually(shared, within=60)
            # Stable once shared: no flapping while all three live.
            stable_from = len(samples)
            await asyncio.sleep(3)
            assert all(set().union(*owned) == everyone for owned in samples[stable_from:])

            stopped = workers.pop()
            moved = stopped.supervisor.client_ids
            running.remove(stopped)
            await stopped.__aexit__()
            started = time.monotonic()
            await eventually(
                lambda: set().union(*(worker.supervisor.client_ids for worker in workers)) == everyone,
                within=30,
            )
            assert time.monotonic() - started < 30
            assert moved
            for conn in connections:
                await connected(conn)
            await asyncio.sleep(2)  # statuses stay right: no late write of the stopped worker
            statuses = await asyncio.to_thread(
                lambda: set(MqttConnection.objects.filter(pk__in=everyone).values_list("status", flat=True))
            )
            assert statuses == {"connected"}
        finally:
            sampler.cancel()
            for worker in running:
                await worker.__aexit__()
        assert not duplicates, f"connections run by two workers at once: {duplicates[:5]}"

    asyncio.run(asyncio.wait_for(run(), timeout=180))


def _fenced_writes() -> float:
    return REGISTRY.get_sample_value("ingest_fenced_writes_total") or 0.0


def _key(conn: MqttConnection) -> str:
    return ConnectionLease.INSTALL if connection.vendor == "sqlite" else ConnectionLease.key_for(conn.pk)


def test_a_status_write_under_a_stale_token_is_skipped_and_counted(
    make_connection: Callable[..., MqttConnection],
) -> None:
    conn = make_connection(status="connected")
    key = ConnectionLease.key_for(conn.pk)
    ConnectionLease.objects.create(
        key=key, connection=conn, worker_id="elsewhere:1:abcdef", token=5, expires_at=timezone.now()
    )

    def write(token: int, message: str) -> None:
        event = ConnectionEvent(
            connection_id=conn.pk,
            site_id=conn.site_id,
            at=timezone.now(),
            event_type=ConnectionLog.EventType.DISCONNECTED,
            message=message,
            status="disconnected",
        )
        with transaction.atomic():
            write_connection_events([fenced(event, key, token)], ChangeSet())

    before = _fenced_writes()
    write(4, "from the worker that lost the lease")
    conn.refresh_from_db()
    assert conn.status == "connected"
    assert not ConnectionLog.objects.filter(mqtt_connection=conn).exists()
    assert _fenced_writes() == before + 1

    write(5, "from the holder")
    conn.refresh_from_db()
    assert conn.status == "disconnected"
    assert list(ConnectionLog.objects.filter(mqtt_connection=conn).values_list("message", flat=True)) == [
        "from the holder"
    ]
    assert _fenced_writes() == before + 1


def test_a_worker_that_sees_a_higher_token_stops_its_client_and_cannot_write_its_status(
    make_connection: Callable[..., MqttConnection],
    make_site: Callable[..., Any],
    system_broker: tuple[str, int],
) -> None:
    conn = _connection(make_connection, make_site)

    async def run() -> None:
        async with Worker() as worker:
            await connected(conn)
            before = _fenced_writes()
            # Another worker claims the lease (as after an expiry this worker did not notice).
            await asyncio.to_thread(
                lambda: ConnectionLease.objects.filter(key=_key(conn)).update(
                    worker_id="elsewhere:1:abcdef",
                    token=ConnectionLease.objects.get(key=_key(conn)).token + 1,
                    expires_at=timezone.now() + dt.timedelta(seconds=60),
                )
            )
            await eventually(lambda: worker.supervisor.client_ids == set(), within=30)
            await eventually(lambda: _fenced_writes() > before, within=30)
            await asyncio.sleep(1)
            status = await asyncio.to_thread(lambda: MqttConnection.objects.get(pk=conn.pk).status)
            assert status == "connected"  # the new holder's to write, not this worker's "disconnected"

    asyncio.run(asyncio.wait_for(run(), timeout=120))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only: one worker holds the install")
def test_sqlite_worker_takes_over_from_a_dead_holder_once_its_lease_expires(
    make_connection: Callable[..., MqttConnection],
    make_site: Callable[..., Any],
    system_broker: tuple[str, int],
) -> None:
    conn = _connection(make_connection, make_site)
    ConnectionLease.objects.create(
        key=ConnectionLease.INSTALL,
        worker_id="elsewhere:1:abcdef",  # another host: dead only once its lease expires
        token=3,
        expires_at=timezone.now() + dt.timedelta(seconds=3),
    )

    async def run() -> None:
        async with Worker() as worker:
            await eventually(lambda: worker.supervisor.reconciles >= 1, within=30)
            assert worker.supervisor.client_ids == set()
            await eventually(lambda: worker.supervisor.client_ids == {conn.pk}, within=30)
            await connected(conn)
        lease = await asyncio.to_thread(ConnectionLease.objects.get, key=ConnectionLease.INSTALL)
        assert lease.token == 4

    asyncio.run(asyncio.wait_for(run(), timeout=120))


def test_the_dashboard_lists_the_live_workers_with_their_connection_counts(db: None) -> None:
    now = timezone.now()
    for worker_id, seen, count in (("a:1:aaaaaa", 1, 4), ("b:2:bbbbbb", 2, 5), ("c:3:cccccc", 600, 3)):
        WorkerHeartbeat.objects.create(
            worker_id=worker_id,
            hostname=worker_id[0],
            pid=1,
            started_at=now,
            last_seen_at=now - dt.timedelta(seconds=seen),
            connections=count,
        )
    worker = dashboard_state(now=now)["worker"]
    assert worker["alive_workers"] == 2
    assert [(row["worker_id"], row["connections"]) for row in worker["workers"]] == [
        ("a:1:aaaaaa", 4),
        ("b:2:bbbbbb", 5),
    ]


def test_a_worker_logs_its_id_connections_and_peers_and_counts_its_leases(
    make_connection: Callable[..., MqttConnection],
    make_site: Callable[..., Any],
    system_broker: tuple[str, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = _connection(make_connection, make_site)

    async def run() -> str:
        async with Worker() as worker:
            await connected(conn)
            assert REGISTRY.get_sample_value("mqtt_leases_held") == 1
            return worker.worker.worker_id

    with caplog.at_level(logging.INFO, logger="apps.mqtt.worker.supervisor"):
        worker_id = asyncio.run(asyncio.wait_for(run(), timeout=60))
    assert f"worker {worker_id} runs 1 connections [{conn.pk}]; live peers: none" in caplog.messages
    assert REGISTRY.get_sample_value("mqtt_leases_held") == 0
