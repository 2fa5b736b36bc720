"""The writer thread: bounded queue with coalescing, and no data lost when the database hiccups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import pytest
from django.db import IntegrityError, OperationalError
from prometheus_client import Counter

from apps.mqtt import metrics
from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.items import HeartbeatItem, IngestItem
from apps.mqtt.ingest.policy import IngestPolicy
from apps.mqtt.models import HeartbeatState, MqttConnection, SensorDevice
from apps.mqtt.parser.types import Heartbeat
from apps.mqtt.tests.conftest import T0, beat, wait_until
from apps.mqtt.worker import writer as writer_module
from apps.mqtt.worker.liveness import LivenessPolicy, sweep
from apps.mqtt.worker.writer import IngestWriter, ShardedWriter


class _Policies(TypedDict):
    ingest_policy: IngestPolicy
    liveness_policy: LivenessPolicy


POLICIES: _Policies = {"ingest_policy": IngestPolicy(), "liveness_policy": LivenessPolicy()}
_NOTHING = Heartbeat(readings=(), issues=(), message_interval_seconds=None, format="list")


def _counter(counter: Counter, **labels: str) -> float:
    """A counter's value, read from the counter itself (the registry would also run the collectors
    that query the database)."""
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == labels:
                return sample.value
    return 0.0


def _dropped(reason: str) -> float:
    return _counter(metrics.DROPPED, reason=reason)


def _fake_item(site_id: int, second: int) -> HeartbeatItem:
    return HeartbeatItem(
        connection_id=site_id,
        site_id=site_id,
        received_at=T0 + dt.timedelta(seconds=second),
        heartbeat=_NOTHING,
    )


def _taken(writer: IngestWriter) -> list[tuple[int, int]]:
    """(site id, second) of each heartbeat the writer takes next, in order."""
    taken = []
    for item in writer._take():
        assert isinstance(item, HeartbeatItem)
        taken.append((item.site_id, item.received_at.second))
    return taken


def test_overload_supersedes_a_sites_unwritten_older_heartbeat_and_counts_the_drop() -> None:
    writer = IngestWriter(max_pending_heartbeats=2, **POLICIES)
    before_superseded, before_full = _dropped("superseded"), _dropped("queue_full")
    writer.submit(_fake_item(1, 0))
    writer.submit(_fake_item(2, 0))
    writer.submit(_fake_item(1, 5))  # queue full: replaces site 1's older heartbeat
    writer.submit(_fake_item(3, 0))  # queue full and nothing of site 3 to replace: dropped

    assert _taken(writer) == [(1, 5), (2, 0)]
    assert _dropped("superseded") == before_superseded + 1
    assert _dropped("queue_full") == before_full + 1


def test_heartbeats_are_kept_in_order_below_the_bound() -> None:
    writer = IngestWriter(max_pending_heartbeats=10, **POLICIES)
    for second in range(3):
        writer.submit(_fake_item(1, second))
    assert _taken(writer) == [(1, 0), (1, 1), (1, 2)]


def _run(writer: IngestWriter, until: Callable[[], bool], timeout: float = 10.0) -> None:
    writer.start()
    try:
        wait_until(until, within=timeout)
    finally:
        writer.stop(timeout=5)


@pytest.mark.django_db(transaction=True)
def test_database_outage_keeps_the_batch_and_writes_it_when_the_database_is_back(
    make_connection, monkeypatch
) -> None:
    conn = make_connection()
    real_write = writer_module.write_batch
    failures = iter(
        [OperationalError("database is locked"), OperationalError("server closed the connection")]
    )

    def flaky(items: Sequence[IngestItem], **kwargs: Any) -> ChangeSet:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_write(items, **kwargs)

    monkeypatch.setattr(writer_module, "write_batch", flaky)
    writer = IngestWriter(idle_wait=0.01, sweep_interval=3600, **POLICIES)
    writer.submit(beat(conn, ["S1", "S2"], T0))
    _run(writer, lambda: SensorDevice.objects.filter(site=conn.site).count() == 2)
    assert SensorDevice.objects.get(device_name="S1").total_messages == 1  # written once, not twice


@pytest.mark.django_db(transaction=True)
def test_a_row_the_database_refuses_does_not_block_the_rest_of_the_batch(
    make_connection, monkeypatch
) -> None:
    good, bad = make_connection(), make_connection()
    real_write = writer_module.write_batch

    def refusing(items: Sequence[IngestItem], **kwargs: Any) -> ChangeSet:
        if any(item.site_id == bad.site_id for item in items):
            raise IntegrityError("refused")
        return real_write(items, **kwargs)

    monkeypatch.setattr(writer_module, "write_batch", refusing)
    writer = IngestWriter(idle_wait=0.05, sweep_interval=3600, **POLICIES)
    writer.submit(beat(bad, ["B1"], T0))
    writer.submit(beat(good, ["G1"], T0))
    _run(writer, lambda: SensorDevice.objects.filter(site=good.site).exists())
    assert not SensorDevice.objects.filter(site=bad.site).exists()
    assert _counter(metrics.WRITE_ERRORS, kind="item_failed") >= 1


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_does_not_stop_the_writer_thread(make_connection, monkeypatch) -> None:
    conn = make_connection()
    real_write = writer_module.write_batch
    calls = iter([RuntimeError("a bug")])

    def buggy_once(items: Sequence[IngestItem], **kwargs: Any) -> ChangeSet:
        error = next(calls, None)
        if error is not None:
            raise error
        return real_write(items, **kwargs)

    monkeypatch.setattr(writer_module, "write_batch", buggy_once)
    writer = IngestWriter(idle_wait=0.01, sweep_interval=3600, **POLICIES)
    before = _counter(metrics.WRITE_ERRORS, kind="unexpected")
    writer.start()
    try:
        writer.submit(beat(conn, ["LOST"], T0))
        wait_until(lambda: _counter(metrics.WRITE_ERRORS, kind="unexpected") > before, within=5)
        writer.submit(beat(conn, ["KEPT"], T0 + dt.timedelta(seconds=5)))
        wait_until(lambda: SensorDevice.objects.filter(device_name="KEPT").exists())  # or the thread died
    finally:
        writer.stop(timeout=5)


def test_sharded_writer_keeps_each_sites_items_in_order_in_one_writer() -> None:
    sharded = ShardedWriter(3, **POLICIES)
    for second in range(3):
        for site_id in (1, 2, 3, 4):
            sharded.submit(_fake_item(site_id, second))
    taken = [_taken(w) for w in sharded.writers]
    assert taken == [
        [(3, 0), (3, 1), (3, 2)],
        [(1, 0), (4, 0), (1, 1), (4, 1), (1, 2), (4, 2)],
        [(2, 0), (2, 1), (2, 2)],
    ]
    assert sharded.pending == 0


@pytest.mark.django_db(transaction=True)
def test_each_writer_of_a_sharded_writer_sweeps_only_its_own_sites(make_connection) -> None:
    connections = [make_connection() for _ in range(4)]
    MqttConnection.objects.filter(pk__in=[c.pk for c in connections]).update(
        status=MqttConnection.Status.CONNECTED,
        last_connected_at=T0,
        last_heartbeat_at=T0,
        heartbeat_state=HeartbeatState.OK,
    )
    late = T0 + dt.timedelta(minutes=10)
    swept: dict[int, set[int]] = {}
    for index in range(2):
        changes = sweep(now=late, policy=LivenessPolicy(), shard=(index, 2))
        swept[index] = set(changes.sites)
    assert swept[0] == {c.site_id for c in connections if c.site_id % 2 == 0}
    assert swept[1] == {c.site_id for c in connections if c.site_id % 2 == 1}
    assert set(MqttConnection.objects.values_list("heartbeat_state", flat=True)) == {HeartbeatState.MISSING}


@pytest.mark.django_db(transaction=True)
def test_stopping_a_sharded_writer_writes_what_every_writer_holds(make_connection) -> None:
    conns = [make_connection() for _ in range(4)]
    sharded = ShardedWriter(2, idle_wait=0.01, sweep_interval=3600, **POLICIES)
    for conn in conns:
        sharded.submit(beat(conn, ["S1"], T0))
    sharded.start()
    sharded.stop(timeout=10)
    assert SensorDevice.objects.filter(site__in=[c.site for c in conns]).count() == 4
