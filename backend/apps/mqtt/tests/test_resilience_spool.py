"""The spool (worker/runtime.py) and the metrics' independence from the database, without a proxy:
these run on SQLite too. The proxied end-to-end checks are in test_resilience_worker.py."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest
from django.db import DatabaseError
from django.test import Client
from prometheus_client import REGISTRY, generate_latest

from apps.mqtt.ingest.items import ConnectionEvent, IngestItem, RejectedItem, SysInfoItem
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice
from apps.mqtt.parser import Rejection, SysInfo, parse_message
from apps.mqtt.parser.types import RejectReason
from apps.mqtt.tests.conftest import T0, Worker, beat, eventually, free_port
from apps.mqtt.worker.runtime import MqttWorker, Spool

pytestmark = pytest.mark.django_db(transaction=True)
DEVICES = ["SPL001", "SPL002"]


def _items(conn: MqttConnection) -> list[IngestItem]:
    info = parse_message(
        f"{conn.site.code}/sys_info",
        orjson.dumps({"hostname": "dl-1", "uptime": 12, "cpu_load": 0.5, "ts": "2026-11-28T10:00:00Z"}),
        received_at=T0,
    )
    assert isinstance(info, SysInfo)
    return [
        ConnectionEvent(
            connection_id=conn.pk,
            site_id=conn.site_id,
            at=T0,
            event_type="disconnected",
            status="disconnected",
        ),
        beat(conn, DEVICES, T0),
        SysInfoItem(
            connection_id=conn.pk, site_id=conn.site_id, received_at=T0, info=info, topic="x/sys_info"
        ),
        RejectedItem(
            site_id=conn.site_id,
            topic="x/heartbeat",
            received_at=T0,
            rejection=Rejection(RejectReason.NOT_JSON, "not JSON", "{oops"),
        ),
    ]


def test_spool_gives_back_every_kind_of_item_equal_and_each_file_once(
    make_connection, tmp_path: Path
) -> None:
    conn = make_connection()
    items = _items(conn)
    Spool(tmp_path, "w1").save(items)
    first, second = Spool(tmp_path, "w2"), Spool(tmp_path, "w3")
    assert first.claim() == items
    assert second.claim() == []  # claimed (renamed) by the first
    first.release()
    assert list(tmp_path.iterdir()) == []


def test_a_spool_file_of_another_version_is_moved_aside_not_replayed(tmp_path: Path) -> None:
    (tmp_path / "ingest-1-old.json").write_bytes(
        orjson.dumps({"format": "dlmon-ingest-spool", "version": 99})
    )
    assert Spool(tmp_path, "w").claim() == []
    assert [path.name for path in tmp_path.iterdir()] == ["ingest-1-old.json.bad"]


def _status(conn: MqttConnection) -> str:
    return MqttConnection.objects.values_list("status", flat=True).get(pk=conn.pk)


def _stored() -> set[int]:
    return set(SensorDevice.objects.values_list("reading_seq", flat=True))


def test_a_starting_worker_writes_the_spool_first_and_a_replayed_reading_is_not_stored_twice(
    make_connection, tmp_path: Path
) -> None:
    """What a replay twice (a worker killed during its replay, its file put back by hand) counts
    twice: the heartbeat in total_messages and the connection's log rows. The reading itself (same
    ts) is a repeat, not stored again."""
    conn = make_connection()
    items = _items(conn)

    async def start_and_stop() -> None:
        worker = MqttWorker(layer=None, idle_wait=0.02, spool_dir=tmp_path, reconcile_interval=60)
        await worker.start()  # returns once the spooled items are written
        assert not await asyncio.to_thread(os.listdir, tmp_path)
        assert await asyncio.to_thread(_stored) == {1}
        await worker.stop()

    for round_ in (1, 2):
        Spool(tmp_path, "dead").save(items)
        asyncio.run(start_and_stop())
        rows = SensorDevice.objects.filter(site_id=conn.site_id).values_list("reading_seq", "total_messages")
        assert set(rows) == {(1, round_)}
    logged = ConnectionLog.objects.filter(mqtt_connection_id=conn.pk, event_type="disconnected", timestamp=T0)
    assert logged.count() == 2


def test_worker_metrics_carry_no_database_collector(client: Client) -> None:
    client.get("/metrics")  # the web's view module is loaded, as run_mqtt's URL checks load it
    text = generate_latest(REGISTRY).decode()  # what run_mqtt's metrics server serves
    assert "ingest_queue_depth" in text
    assert "mqtt_connections_by_status" not in text
    assert "database_up" not in text


def test_web_metrics_answer_200_with_database_up_0_when_the_database_fails(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **kwargs: object) -> object:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(MqttConnection.objects, "values_list", failing)
    response = admin_client.get("/metrics")
    assert response.status_code == 200
    body = response.content.decode()
    assert "database_up 0.0" in body
    assert "ingest_write_errors_total" in body or "ingest_queue_depth" in body


def test_a_starting_worker_overwrites_a_stale_connected_status(make_connection) -> None:
    """A worker that died without writing its stop (killed, or the database away with no spool)
    leaves `connected` rows behind: the next worker's first word on each connection it runs is
    its own observed status."""
    conn = make_connection(broker_port=free_port(), status="connected", retry_delay=30)  # nothing listens

    async def run() -> str:
        async with Worker():
            return await eventually(lambda: _status(conn) if _status(conn) != "connected" else None)

    assert asyncio.run(run()) in {"connecting", "error"}
