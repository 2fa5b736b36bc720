"""The liveness sweep, with the clock under the test's control."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.db import connections as db_connections

from apps.mqtt.ingest.batch import write_batch
from apps.mqtt.models import (
    ConnectionLog,
    HeartbeatState,
    MqttConnection,
    SensorDevice,
    SensorStatusChange,
    heartbeat_state,
)
from apps.mqtt.tests.conftest import POLICY, T0, beat
from apps.mqtt.worker.liveness import LivenessPolicy, sweep

pytestmark = pytest.mark.django_db
LIVENESS = LivenessPolicy(heartbeat_timeout=30)


def test_site_heartbeat_missed_after_the_timeout_with_the_connection_left_up(make_connection) -> None:
    conn = make_connection(status="connected", last_connected_at=T0)
    write_batch([beat(conn, ["S1", "S2"], T0)], now=T0, policy=POLICY)

    sweep(now=T0 + dt.timedelta(seconds=29), policy=LIVENESS)
    conn.refresh_from_db()
    assert conn.heartbeat_state == HeartbeatState.LATE  # 29 s > 1.5 x 5 s
    changes = sweep(now=T0 + dt.timedelta(seconds=31), policy=LIVENESS)

    conn.refresh_from_db()
    assert conn.heartbeat_state == HeartbeatState.MISSING
    assert conn.status == "connected"  # not torn down
    log = ConnectionLog.objects.get(mqtt_connection=conn, event_type="heartbeat_missed")
    assert "No heartbeat for over 30 s" in log.message
    assert set(SensorDevice.objects.values_list("status", flat=True)) == {"offline"}
    assert (
        SensorStatusChange.objects.filter(new_status="offline", reason="site heartbeat missing").count() == 2
    )
    assert changes.sites[conn.site_id].connection == {"heartbeat_state": "missing"}

    # Said once, not at every sweep.
    sweep(now=T0 + dt.timedelta(seconds=60), policy=LIVENESS)
    assert ConnectionLog.objects.filter(event_type="heartbeat_missed").count() == 1


def test_heartbeat_after_missing_is_logged_as_resumed_and_sensors_come_back(make_connection) -> None:
    conn = make_connection(status="connected", last_connected_at=T0)
    write_batch([beat(conn, ["S1"], T0)], now=T0, policy=POLICY)
    sweep(now=T0 + dt.timedelta(seconds=31), policy=LIVENESS)
    back = T0 + dt.timedelta(seconds=40)
    write_batch([beat(conn, ["S1"], back)], now=back, policy=POLICY)

    conn.refresh_from_db()
    assert conn.heartbeat_state == HeartbeatState.OK
    assert ConnectionLog.objects.filter(event_type="heartbeat_resumed").count() == 1
    assert SensorDevice.objects.get(device_name="S1").status == "online"


def test_connected_site_that_never_sends_a_heartbeat_goes_missing(make_connection) -> None:
    conn = make_connection(status="connected", last_connected_at=T0)
    sweep(now=T0 + dt.timedelta(seconds=10), policy=LIVENESS)
    conn.refresh_from_db()
    assert conn.heartbeat_state == HeartbeatState.UNKNOWN
    sweep(now=T0 + dt.timedelta(seconds=31), policy=LIVENESS)
    conn.refresh_from_db()
    assert conn.heartbeat_state == HeartbeatState.MISSING


def test_disabled_connection_takes_its_sensors_offline_without_a_missed_heartbeat(make_connection) -> None:
    conn = make_connection(status="connected", last_connected_at=T0)
    write_batch([beat(conn, ["S1"], T0)], now=T0, policy=POLICY)
    conn.enabled = False
    conn.save()
    sweep(now=T0 + dt.timedelta(seconds=1), policy=LIVENESS)
    assert SensorDevice.objects.get(device_name="S1").status == "offline"
    assert SensorStatusChange.objects.filter(reason="monitoring disabled").count() == 1
    assert not ConnectionLog.objects.filter(event_type="heartbeat_missed").exists()


@pytest.mark.parametrize(
    ("age", "interval", "expected"),
    [
        (4, 5, HeartbeatState.OK),
        (8, 5, HeartbeatState.LATE),
        (31, 5, HeartbeatState.MISSING),
        (31, 60, HeartbeatState.OK),  # a slow datalogger is not missing at the 30 s timeout
        (91, 60, HeartbeatState.LATE),
        (121, 60, HeartbeatState.MISSING),
    ],
)
def test_heartbeat_state_follows_interval_and_timeout(age: int, interval: int, expected: str) -> None:
    state = heartbeat_state(
        last_heartbeat_at=T0, since=None, interval=interval, timeout=30, now=T0 + dt.timedelta(seconds=age)
    )
    assert state == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: several workers sweep")
@pytest.mark.django_db(transaction=True)
def test_a_connection_another_sweep_is_judging_is_skipped_so_its_heartbeat_goes_missing_once(
    make_connection,
) -> None:
    conn = make_connection(status="connected", last_connected_at=T0)
    write_batch([beat(conn, ["S1"], T0)], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(seconds=31)
    judging, release = threading.Event(), threading.Event()

    def other_sweep_holds_the_row() -> None:
        try:
            with transaction.atomic():
                MqttConnection.objects.select_for_update(no_key=True).get(pk=conn.pk)
                judging.set()
                release.wait(10)
        finally:
            db_connections.close_all()

    holder = threading.Thread(target=other_sweep_holds_the_row)
    holder.start()
    try:
        assert judging.wait(10)
        sweep(now=later, policy=LIVENESS)  # must not wait for the other sweep, nor judge its row
        assert not ConnectionLog.objects.filter(event_type="heartbeat_missed").exists()
    finally:
        release.set()
        holder.join(10)

    sweep(now=later, policy=LIVENESS)
    sweep(now=later, policy=LIVENESS)
    assert ConnectionLog.objects.filter(event_type="heartbeat_missed").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: several workers sweep")
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_log_each_missing_heartbeat_once(make_connection) -> None:
    conns = [make_connection(status="connected", last_connected_at=T0) for _ in range(20)]
    write_batch([beat(conn, ["S1", "S2"], T0) for conn in conns], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(seconds=31)
    start = threading.Barrier(2)

    def worker_sweeps() -> None:
        try:
            start.wait(10)
            for _ in range(5):
                sweep(now=later, policy=LIVENESS)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=worker_sweeps) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert ConnectionLog.objects.filter(event_type="heartbeat_missed").count() == 20
    assert SensorStatusChange.objects.filter(new_status="offline").count() == 40


def test_a_site_whose_heartbeat_waits_unwritten_in_the_writers_queue_does_not_go_missing(
    make_connection,
) -> None:
    from apps.mqtt.worker.writer import IngestWriter

    waiting = make_connection(status="connected", last_connected_at=T0)
    silent = make_connection(status="connected", last_connected_at=T0)
    write_batch([beat(waiting, ["W1"], T0), beat(silent, ["Q1"], T0)], now=T0, policy=POLICY)
    now = T0 + dt.timedelta(seconds=31)
    writer = IngestWriter(clock=lambda: now, ingest_policy=POLICY, liveness_policy=LIVENESS)
    writer.submit(beat(waiting, ["W1"], T0 + dt.timedelta(seconds=26)))  # received, not yet written

    writer.request_sweep()
    writer._sweep_when_due()

    waiting.refresh_from_db()
    silent.refresh_from_db()
    assert waiting.heartbeat_state == HeartbeatState.OK  # no verdict while its heartbeat waits
    assert silent.heartbeat_state == HeartbeatState.MISSING
    assert SensorDevice.objects.get(device_name="W1").status == "online"
    assert not ConnectionLog.objects.filter(mqtt_connection=waiting, event_type="heartbeat_missed").exists()

    writer._flush(writer._take())
    writer.request_sweep()
    writer._sweep_when_due()

    waiting.refresh_from_db()
    assert waiting.heartbeat_state == HeartbeatState.OK  # written 5 s ago: on time
    assert SensorDevice.objects.get(device_name="W1").status == "online"


def test_a_site_excluded_from_a_sweep_is_judged_by_the_next_one_without_it(make_connection) -> None:
    conn = make_connection(status="connected", last_connected_at=T0)
    write_batch([beat(conn, ["S1"], T0)], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(seconds=31)

    sweep(now=later, policy=LIVENESS, exclude_site_ids={conn.site_id})
    conn.refresh_from_db()
    assert conn.heartbeat_state == HeartbeatState.OK

    sweep(now=later, policy=LIVENESS)
    conn.refresh_from_db()
    assert conn.heartbeat_state == HeartbeatState.MISSING
