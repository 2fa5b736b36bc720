"""Issue 11's queue bounds: the writer's queue is drained fairly between sites (a flooding site cannot
delay a quiet one beyond one flush), bounded in bytes (the flooder's oldest heartbeats go first;
connection events, sys_info and a quiet site's only heartbeat never), and a site over its share of
the bytes has its next payloads dropped before they are parsed."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from apps.mqtt.ingest.items import ConnectionEvent, HeartbeatItem, IngestItem, SysInfoItem
from apps.mqtt.models import MqttConnection, SensorDevice
from apps.mqtt.parser.types import Heartbeat, SysInfo
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import T0, beat, seed_heartbeat, wait_until
from apps.mqtt.worker import writer as writer_module
from apps.mqtt.worker.client import ClientTask
from apps.mqtt.worker.config import load_desired_state
from apps.mqtt.worker.queue import ITEM_BYTES, SiteQueues, item_bytes
from apps.mqtt.worker.writer import IngestWriter, ShardedWriter

BACKEND = Path(__file__).resolve().parents[3]
_NOTHING = Heartbeat(readings=(), issues=(), message_interval_seconds=None, format="list")
_INFO = SysInfo(*(None,) * 11, raw={}, issues=())


def _dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("ingest_dropped_total", {"reason": reason}) or 0.0


def _heartbeat(site_id: int, second: int, size: int = 1000) -> HeartbeatItem:
    return HeartbeatItem(
        connection_id=site_id,
        site_id=site_id,
        received_at=T0 + dt.timedelta(seconds=second),
        heartbeat=_NOTHING,
        size=size,
    )


def _event(site_id: int, second: int) -> ConnectionEvent:
    return ConnectionEvent(
        connection_id=site_id, site_id=site_id, at=T0 + dt.timedelta(seconds=second), event_type="connected"
    )


def _sys_info(site_id: int, second: int) -> SysInfoItem:
    return SysInfoItem(site_id, site_id, T0 + dt.timedelta(seconds=second), _INFO)


def _described(items: list[IngestItem]) -> list[tuple[str, int, int]]:
    """(kind, site id, second) of each item, in order."""
    described = []
    for item in items:
        moment = item.at if isinstance(item, ConnectionEvent) else item.received_at
        described.append((type(item).__name__, item.site_id, int((moment - T0).total_seconds())))
    return described


# ---------------------------------------------------------------- fair draining


def test_a_quiet_sites_heartbeat_queued_behind_300_of_a_flooding_site_is_in_the_next_flush() -> None:
    writer = IngestWriter(max_batch=100)
    for second in range(300):
        writer.submit(_heartbeat(1, second))
    writer.submit(_heartbeat(2, 300))

    first_flush = _described(writer._take())
    assert ("HeartbeatItem", 2, 300) in first_flush
    assert len(first_flush) == 100
    assert writer.pending == 201


@pytest.mark.django_db(transaction=True)
def test_a_quiet_site_is_written_by_the_first_flush_after_a_flooding_sites_300_heartbeats(
    make_connection: Callable[..., MqttConnection],
) -> None:
    flooder, quiet = make_connection(), make_connection()
    writer = IngestWriter(max_batch=50, sweep_interval=3600)
    for second in range(300):
        writer.submit(beat(flooder, [f"F{second:03d}"], T0 + dt.timedelta(seconds=second)))
    writer.submit(beat(quiet, ["QUIET"], T0 + dt.timedelta(seconds=300)))

    writer._flush(writer._take())

    assert SensorDevice.objects.filter(site=quiet.site, device_name="QUIET").exists()
    assert SensorDevice.objects.filter(site=flooder.site).count() == 49


def test_each_sites_items_keep_their_order_across_flushes() -> None:
    queues = SiteQueues(max_heartbeats=1000, max_bytes=10**9)
    submitted: list[IngestItem] = []
    for second in range(0, 30, 3):
        submitted += [
            _event(1, second),
            _heartbeat(1, second + 1),
            _sys_info(2, second),
            _heartbeat(2, second),
        ]
        submitted += [_heartbeat(3, second), _heartbeat(1, second + 2)]
    for item in submitted:
        queues.put(item)

    taken: list[IngestItem] = []
    while len(queues):
        taken += queues.take(max_items=4, max_bytes=10**9)

    for site in (1, 2, 3):
        assert [item for item in taken if item.site_id == site] == [
            item for item in submitted if item.site_id == site
        ]


def test_a_flush_takes_one_item_per_site_in_turn_within_its_byte_budget() -> None:
    queues = SiteQueues(max_heartbeats=1000, max_bytes=10**9)
    for second in range(5):
        queues.put(_heartbeat(1, second, size=800_000))  # a 5,000-sensor payload each
    for site in (2, 3):
        queues.put(_heartbeat(site, 0, size=20_000))

    assert _described(queues.take(max_items=100, max_bytes=2_000_000)) == [
        ("HeartbeatItem", 1, 0),
        ("HeartbeatItem", 2, 0),
        ("HeartbeatItem", 3, 0),
        ("HeartbeatItem", 1, 1),
    ]
    # However large, one item is always taken, so a flush never stalls.
    assert _described(queues.take(max_items=100, max_bytes=1)) == [("HeartbeatItem", 1, 2)]


def test_a_flooding_sites_heavy_heartbeats_never_fill_two_flushes_in_a_row_while_others_wait() -> None:
    queues = SiteQueues(max_heartbeats=1000, max_bytes=10**9)
    for second in range(3):
        queues.put(_heartbeat(1, second, size=800_000))
        for site in range(2, 40):
            queues.put(_heartbeat(site, second, size=20_000))

    flushes = []
    while len(queues):
        flushes.append(queues.take(max_items=100, max_bytes=1_000_000))
    heavy = [any(item.site_id == 1 for item in flush) for flush in flushes]
    assert heavy.count(True) == 3
    assert all(not (first and second) for first, second in itertools.pairwise(heavy))
    assert all(sum(item_bytes(item) for item in flush) <= 1_000_000 for flush in flushes)


def test_a_batch_put_back_after_a_failed_flush_is_taken_again_first_and_in_order() -> None:
    queues = SiteQueues(max_heartbeats=1000, max_bytes=10**9)
    for second in range(3):
        for site in (1, 2, 3):
            queues.put(_heartbeat(site, second))
    before = queues.bytes
    batch = queues.take(max_items=4, max_bytes=10**9)
    queues.put_back(batch)

    assert (len(queues), queues.bytes) == (9, before)
    assert _described(queues.take(max_items=100, max_bytes=10**9)) == [
        ("HeartbeatItem", site, second) for second in range(3) for site in (1, 2, 3)
    ]


# ---------------------------------------------------------------- the byte bound


def test_over_the_byte_bound_the_flooders_oldest_heartbeats_go_first_and_are_counted() -> None:
    queues = SiteQueues(max_heartbeats=10_000, max_bytes=100_000)
    before = _dropped("over_bytes")
    queues.put(_event(2, 0))
    queues.put(_heartbeat(2, 1, size=5_000))  # the quiet site's only heartbeat
    queues.put(_sys_info(2, 2))
    for second in range(40):
        if second % 10 == 0:
            queues.put(_event(1, second))
        queues.put(_heartbeat(1, second, size=10_000))

    assert queues.bytes <= 100_000
    kept = _described(queues.drain())
    flooder = [second for kind, site, second in kept if kind == "HeartbeatItem" and site == 1]
    dropped = 40 - len(flooder)
    assert flooder == list(range(dropped, 40))  # the newest kept, in order
    assert _dropped("over_bytes") - before == dropped > 0
    assert [item for item in kept if item[1] == 2] == [
        ("ConnectionEvent", 2, 0),
        ("HeartbeatItem", 2, 1),
        ("SysInfoItem", 2, 2),
    ]
    assert [second for kind, site, second in kept if kind == "ConnectionEvent" and site == 1] == [
        0,
        10,
        20,
        30,
    ]


def test_a_heartbeat_that_fits_nowhere_is_dropped_and_no_sites_only_heartbeat_makes_room() -> None:
    queues = SiteQueues(max_heartbeats=10_000, max_bytes=30_000)
    for site in (1, 2, 3):
        queues.put(_heartbeat(site, 0, size=9_000))
    before = _dropped("queue_full")

    queues.put(_heartbeat(4, 1, size=9_000))  # the three sites each hold their only heartbeat
    queues.put(_heartbeat(1, 2, size=9_000))  # site 1's newer one takes its older one's room

    assert _dropped("queue_full") - before == 1
    assert _described(queues.drain()) == [
        ("HeartbeatItem", 1, 2),
        ("HeartbeatItem", 2, 0),
        ("HeartbeatItem", 3, 0),
    ]


def test_connection_events_and_sys_info_are_kept_even_over_the_byte_bound() -> None:
    queues = SiteQueues(max_heartbeats=10_000, max_bytes=2 * ITEM_BYTES)
    for second in range(5):
        queues.put(_event(1, second))
        queues.put(_sys_info(1, second))
    assert len(queues.drain()) == 10


def test_the_sharded_writers_share_the_byte_bound() -> None:
    sharded = ShardedWriter(2, max_pending_bytes=100_000)
    assert [writer._pending.max_bytes for writer in sharded.writers] == [50_000, 50_000]


# ---------------------------------------------------------------- shedding before the parse


def test_a_site_over_its_share_of_the_bytes_is_shed_and_counted_while_the_others_are_not() -> None:
    writer = IngestWriter(max_pending_bytes=32_000_000)  # a site's share: 1,000,000 bytes
    before = _dropped("site_backlog")
    writer.submit(_heartbeat(1, 0, size=900_000))
    assert not writer.sheds(1)
    writer.submit(_heartbeat(1, 1, size=900_000))
    writer.submit(_heartbeat(2, 1, size=900_000))

    assert writer.sheds(1)
    assert not writer.sheds(2)
    assert _dropped("site_backlog") - before == 1


@pytest.mark.django_db(transaction=True)
def test_nothing_is_shed_while_the_database_is_away(monkeypatch: pytest.MonkeyPatch) -> None:
    def away(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(writer_module, "write_batch", away)
    writer = IngestWriter(max_pending_bytes=32_000_000, idle_wait=0.01, sweep_interval=3600)
    for second in range(2):
        writer.submit(_heartbeat(1, second, size=900_000))
    assert writer.sheds(1)
    failures = REGISTRY.get_sample_value("ingest_write_errors_total", {"kind": "database_unavailable"}) or 0
    writer.start()
    try:
        wait_until(
            lambda: (
                (
                    REGISTRY.get_sample_value("ingest_write_errors_total", {"kind": "database_unavailable"})
                    or 0
                )
                > failures
            )
        )
        # The queue keeps each site's newest under its byte bound instead: a site's heartbeats
        # must not be refused for the writer's backlog while that backlog cannot move.
        assert not writer.sheds(1)
    finally:
        writer.request_stop()
        writer.join(5)


@pytest.mark.django_db(transaction=True)  # load_desired_state closes its connection
def test_a_shed_sites_payload_is_not_parsed_or_queued_but_its_sys_info_and_other_sites_are(
    make_connection: Callable[..., MqttConnection],
) -> None:
    flooder, quiet = make_connection(), make_connection()
    for conn in (flooder, quiet):
        set_topics(connection=conn)
    configs = load_desired_state().configs
    writer = IngestWriter(max_pending_bytes=32_000_000)
    clients = {
        conn.pk: ClientTask(
            configs[conn.pk],
            writer=writer,
            clock=lambda: T0,
            qos=0,
            heartbeat_timeout=30,
            max_payload_bytes=10**7,
            rng=random.Random(1),
        )
        for conn in (flooder, quiet)
    }
    flood = seed_heartbeat([f"R{index:04d}" for index in range(5000)], T0)
    assert len(flood) > 500_000

    def receive(conn: MqttConnection, topic: str, payload: bytes) -> None:
        message = aiomqtt.Message(f"{conn.site.code}/{topic}", payload, 0, False, 1, None)
        clients[conn.pk]._handle(message)

    for _ in range(3):
        receive(flooder, "datalogger_o/heartbeat", flood)
    receive(flooder, "sys_info", b'{"hostname": "dl-1"}')
    receive(quiet, "datalogger_o/heartbeat", seed_heartbeat(["Q1"], T0))

    kinds = _described(writer.unwritten())
    assert kinds.count(("HeartbeatItem", flooder.site_id, 0)) == 2  # the third was shed
    assert ("SysInfoItem", flooder.site_id, 0) in kinds
    assert ("HeartbeatItem", quiet.site_id, 0) in kinds


# ---------------------------------------------------------------- the setting


def _settings_error(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MQTT_")}
    environment.update(
        {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "k" * 50, **env}
    )
    return subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.MQTT_SETTINGS['QUEUE_MAX_BYTES'])"],
        cwd=BACKEND,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"MQTT_QUEUE_MAX_BYTES": "lots"},
        {"MQTT_QUEUE_MAX_BYTES": "1000"},
        {"MQTT_QUEUE_MAX_BYTES": str(4 * 2**20), "MQTT_MAX_PAYLOAD_BYTES": str(2**20)},
    ],
)
def test_a_bad_queue_byte_bound_stops_start_up_naming_the_variable(env: dict[str, str]) -> None:
    result = _settings_error(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "MQTT_QUEUE_MAX_BYTES" in result.stderr


def test_the_queue_byte_bound_defaults_to_64_mib() -> None:
    result = _settings_error()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(64 * 2**20)
