"""Must-holds 3 (first half) and 5: the worker's own /metrics answers during a database outage, and a
SIGTERM while the database is unreachable loses nothing. ``manage.py run_mqtt`` runs in its own
process, on PostgreSQL through a TCP proxy that the test cuts (every connection reset, new ones
refused) and restores; the machine's PostgreSQL is never touched. The test reads the database
directly, past the proxy. PostgreSQL only: a SQLite file cannot be put behind a proxy."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from apps.mqtt.models import ConnectionLog, MqttConnection, SensorData, SensorDevice
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import BACKEND, T0, TcpProxy, free_port, seed_heartbeat, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

DEVICES = [f"RES{index:03d}" for index in range(5)]


class WorkerProcess:
    """``run_mqtt`` on the test database through ``proxy``, with its metrics on a port of its own."""

    def __init__(self, proxy: TcpProxy, spool: Path, log: Path) -> None:
        settings = connection.settings_dict
        self.metrics_port = free_port()
        self.log = log
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": f"postgres://{settings['USER']}@127.0.0.1:{proxy.port}/{settings['NAME']}",
            "DB_CONN_MAX_AGE": "60",
            "REDIS_URL": "",
            "MQTT_WORKER_IN_WEB": "0",
            "MQTT_RECONCILE_INTERVAL": "1",
            "MQTT_WORKER_METRICS_PORT": str(self.metrics_port),
            "MQTT_SPOOL_DIR": str(spool),
        }
        if settings.get("PASSWORD"):
            self.env["PGPASSWORD"] = settings["PASSWORD"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_mqtt"], cwd=BACKEND, env=self.env, stdout=sink, stderr=sink
            )

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def metrics(self) -> tuple[int, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.status, response.read().decode()

    def metric(self, name: str) -> float:
        """The sum of a metric's samples (every label set)."""
        _status, text = self.metrics()
        return sum(float(value) for value in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


@pytest.fixture
def scenario(
    make_connection, make_site, site_code, system_broker, tcp_proxy: Callable[..., TcpProxy], tmp_path: Path
) -> Iterator[tuple[MqttConnection, TcpProxy, WorkerProcess]]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the database goes behind a TCP proxy")
    conn = make_connection(site=make_site(code=site_code), broker_host=system_broker[0], retry_delay=1)
    set_topics(connection=conn)
    proxy = tcp_proxy(
        (connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
    )
    worker = WorkerProcess(proxy, tmp_path / "spool", tmp_path / "run_mqtt.log")
    try:
        yield conn, proxy, worker
    finally:
        # Shown by pytest when the test failed: the worker's own account of it.
        if worker.log.exists():
            print(worker.log.read_text()[-6000:])
        proxy.restore()
        if worker.process is not None and worker.process.poll() is None:
            worker.terminate()


def _status(conn: MqttConnection) -> str:
    return MqttConnection.objects.values_list("status", flat=True).get(pk=conn.pk)


def _publish(conn: MqttConnection, broker: tuple[str, int], stamps: list[dt.datetime]) -> None:
    """Heartbeats of DEVICES stamped ``stamps``, each acknowledged by the broker (QoS 1)."""

    async def publish() -> None:
        async with aiomqtt.Client(*broker, identifier=f"test-res-{conn.pk}-{free_port()}") as client:
            for ts in stamps:
                payload = seed_heartbeat(DEVICES, ts)
                await client.publish(f"{conn.site.code}/datalogger_o/heartbeat", payload, qos=1)

    async_to_sync(publish)()


def _counted(conn: MqttConnection) -> set[tuple[int, int]]:
    """Every sensor's (heartbeats counted, readings stored)."""
    return set(SensorDevice.objects.filter(site_id=conn.site_id).values_list("total_messages", "reading_seq"))


def test_worker_metrics_answer_200_during_a_database_outage(scenario, system_broker) -> None:
    conn, proxy, worker = scenario
    worker.start()
    wait_until(lambda: _status(conn) == "connected", within=20)
    proxy.cut()
    _publish(conn, system_broker, [T0])
    # Received, not writable: queued, and the failed writes counted, on a scrape that answers.
    wait_until(lambda: worker.metric("ingest_write_errors_total") >= 1, within=15)
    status, text = worker.metrics()
    assert status == 200
    assert re.search(r"^ingest_queue_depth [1-9]", text, re.M), text
    assert "mqtt_messages_received_total" in text
    assert "mqtt_connections_by_status" not in text  # the database's gauges are the web's


def test_sigterm_with_the_database_cut_loses_no_acknowledged_reading(
    scenario, system_broker, tmp_path
) -> None:
    conn, proxy, worker = scenario
    stamps = [T0 + dt.timedelta(seconds=index) for index in range(15)]
    worker.start()
    wait_until(lambda: _status(conn) == "connected", within=20)
    _publish(conn, system_broker, stamps[:5])
    wait_until(lambda: _counted(conn) == {(5, 5)}, within=15)

    proxy.cut()
    _publish(conn, system_broker, stamps[5:])
    # Every heartbeat reached the worker before the stop (its own metrics say so: the database is away).
    wait_until(lambda: worker.metric("mqtt_messages_received_total") >= 15, within=15)
    assert worker.terminate() == 0
    spooled = list((tmp_path / "spool").glob("ingest-*.json"))
    assert len(spooled) == 1
    assert _status(conn) == "connected"  # the stop could not be written: the worker is gone

    proxy.restore()
    worker.start()
    # The spool first: the stop's disconnection, then the ten heartbeats, each counted once.
    wait_until(lambda: _counted(conn) == {(15, 15)}, within=20)
    wait_until(lambda: not list((tmp_path / "spool").iterdir()), within=10)
    wait_until(lambda: _status(conn) == "connected", within=20)
    assert worker.metric("ingest_unspooled_items_total") == 11  # ten heartbeats and the disconnection
    events = list(
        ConnectionLog.objects.filter(mqtt_connection_id=conn.pk)
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert events.count("disconnected") == 1
    assert events[-3:] == ["disconnected", "connecting", "connected"]
    newest = SensorData.objects.filter(sensor_device__site_id=conn.site_id).order_by("-timestamp")
    assert {row.timestamp for row in newest} == set(stamps[-3:])
    assert worker.terminate() == 0
    assert not list((tmp_path / "spool").iterdir())  # nothing unwritten on a stop with the database up
