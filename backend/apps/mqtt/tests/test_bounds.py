"""Issue 11's bounds on the ingest side: a site's sensors are capped (new names beyond the cap are
refused and counted, the existing sensors keep working), and a site's snapshot stays bounded with a
fixed number of queries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiomqtt
import orjson
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.mqtt.ingest.batch import write_batch
from apps.mqtt.ingest.items import HeartbeatItem
from apps.mqtt.models import MqttConnection, RejectedMessage, SensorData, SensorDevice, SensorStatusChange
from apps.mqtt.realtime.snapshots import site_snapshot
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import POLICY, T0, Worker, beat, connected, eventually, parsed, seed_heartbeat
from apps.sites.models import Site

CAP_REASON = "site_sensor_cap"


def _random_names(count: int) -> list[str]:
    return [uuid.uuid4().hex[:12] for _ in range(count)]


def _refused_metric() -> float:
    return REGISTRY.get_sample_value("mqtt_message_items_rejected_total", {"reason": CAP_REASON}) or 0.0


def _shed() -> float:
    return REGISTRY.get_sample_value("ingest_dropped_total", {"reason": "site_backlog"}) or 0.0


def _flood_item(conn: MqttConnection, names: list[str], at: dt.datetime) -> HeartbeatItem:
    return HeartbeatItem(
        connection_id=conn.pk,
        site_id=conn.site_id,
        received_at=at,
        heartbeat=parsed(seed_heartbeat(names, at), at),
        topic=f"{conn.site.code}/datalogger_o/heartbeat",
    )


@pytest.fixture
def sensor_cap(settings: Any) -> Callable[[int], None]:
    """Set MQTT_MAX_SENSORS_PER_SITE for the test."""

    def set_cap(cap: int) -> None:
        settings.MQTT_MAX_SENSORS_PER_SITE = cap

    return set_cap


# ---------------------------------------------------------------- the per-site sensor cap


@pytest.mark.django_db
def test_ten_messages_of_5000_random_names_create_at_most_the_cap_and_the_existing_sensors_still_update(
    make_connection: Callable[..., MqttConnection],
) -> None:
    assert POLICY.max_sensors_per_site == django_settings.MQTT_MAX_SENSORS_PER_SITE == 1000
    conn, neighbour = make_connection(), make_connection()
    existing = ["MNA00001", "MNA00002", "MNA00003"]
    write_batch([beat(conn, existing, T0), beat(neighbour, existing, T0)], now=T0, policy=POLICY)
    refused_before = _refused_metric()

    for message in range(10):
        at = T0 + dt.timedelta(seconds=1 + message)
        write_batch([_flood_item(conn, _random_names(5000), at)], now=at, policy=POLICY)

    assert SensorDevice.objects.filter(site=conn.site).count() == 1000
    refused = 10 * 5000 - (1000 - len(existing))
    tally = RejectedMessage.objects.get(site=conn.site, reason=CAP_REASON)
    assert tally.count == refused
    assert tally.topic == f"{conn.site.code}/datalogger_o/heartbeat"
    assert "MQTT_MAX_SENSORS_PER_SITE" in tally.last_detail
    assert _refused_metric() - refused_before == refused
    # Readings and status rows only for the sensors that exist: each came online once and went
    # offline once (missing from the next messages), not 100,000 rows.
    assert SensorData.objects.filter(sensor_device__site=conn.site).count() == 1000
    assert SensorStatusChange.objects.filter(sensor_device__site=conn.site).count() == 2 * 1000

    # The existing sensors keep working, here and at the neighbouring site.
    later = T0 + dt.timedelta(seconds=60)
    changes = write_batch(
        [beat(conn, existing, later), beat(neighbour, existing, later)], now=later, policy=POLICY
    )
    for site in (conn.site, neighbour.site):
        for sensor in SensorDevice.objects.filter(site=site, device_name__in=existing):
            assert (sensor.last_reading_ts, sensor.status) == (later, "online")
    assert set(changes.sites[conn.site_id].sensors) == set(existing)
    assert SensorDevice.objects.filter(site=neighbour.site).count() == len(existing)
    assert not RejectedMessage.objects.filter(site=neighbour.site).exists()


@pytest.mark.django_db
def test_new_names_are_admitted_in_arrival_order_until_the_cap_within_one_flush(
    make_connection: Callable[..., MqttConnection],
) -> None:
    conn = make_connection()
    policy = dataclasses.replace(POLICY, max_sensors_per_site=5)
    write_batch([beat(conn, ["A", "B"], T0)], now=T0, policy=policy)
    at = T0 + dt.timedelta(seconds=5)
    changes = write_batch(
        [beat(conn, ["A", "C", "D"], at), beat(conn, ["D", "E", "F", "G", "B"], at)], now=at, policy=policy
    )

    assert sorted(SensorDevice.objects.filter(site=conn.site).values_list("device_name", flat=True)) == [
        "A",
        "B",
        "C",
        "D",
        "E",
    ]
    assert RejectedMessage.objects.get(site=conn.site, reason=CAP_REASON).count == 2  # F and G
    assert set(changes.sites[conn.site_id].sensors) == {"A", "B", "C", "D", "E"}
    # A known sensor missing from the heartbeat is still counted missing; refused names are not sensors.
    assert SensorDevice.objects.get(site=conn.site, device_name="C").consecutive_misses == 1


@pytest.mark.django_db
def test_a_flush_at_the_cap_costs_one_statement_more_than_a_steady_one_whatever_the_refused_count(
    make_connection: Callable[..., MqttConnection],
) -> None:
    policy = dataclasses.replace(POLICY, max_sensors_per_site=100)
    counts = []
    for refused in (1, 10, 1000):
        conn = make_connection()
        known = [f"K{index:03d}" for index in range(100)]
        write_batch([beat(conn, known, T0)], now=T0, policy=policy)
        at = T0 + dt.timedelta(seconds=5)
        with CaptureQueriesContext(connection) as steady:
            write_batch([beat(conn, known, at)], now=at, policy=policy)
        at = T0 + dt.timedelta(seconds=10)
        with CaptureQueriesContext(connection) as flooded:
            write_batch([beat(conn, known + _random_names(refused), at)], now=at, policy=policy)
        counts.append((len(steady.captured_queries), len(flooded.captured_queries)))
    # The refused names' tally is the one more statement; no SELECT or INSERT per name.
    assert len(set(counts)) == 1, counts
    [(steady_count, flooded_count)] = set(counts)
    assert flooded_count == steady_count + 1, counts


@pytest.mark.django_db
def test_a_cap_lowered_below_a_sites_sensors_keeps_them_all_working_and_refuses_only_new_names(
    make_connection: Callable[..., MqttConnection],
) -> None:
    conn = make_connection()
    names = [f"S{index}" for index in range(10)]
    write_batch([beat(conn, names, T0)], now=T0, policy=POLICY)
    policy = dataclasses.replace(POLICY, max_sensors_per_site=3)
    at = T0 + dt.timedelta(seconds=5)
    write_batch([beat(conn, [*names, "NEW"], at)], now=at, policy=policy)

    assert SensorDevice.objects.filter(site=conn.site).count() == 10
    assert set(SensorDevice.objects.filter(site=conn.site).values_list("last_reading_ts", flat=True)) == {at}
    assert RejectedMessage.objects.get(site=conn.site, reason=CAP_REASON).count == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_5000_random_names_attack_through_the_broker_creates_at_most_the_cap(
    make_connection: Callable[..., MqttConnection],
    make_site: Callable[..., Site],
    site_code: str,
    publisher: aiomqtt.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Must hold 4 (the cap): 10 messages of 5,000 random names on one site's topic, through
    Mosquitto and the whole worker, with the default cap."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # set-up and checks use the ORM here
    conn = make_connection(
        site=make_site(code=site_code), broker_host="127.0.0.1", broker_port=1883, retry_delay=1
    )
    set_topics(connection=conn)
    topic = f"{site_code}/datalogger_o/heartbeat"
    existing = ["MNA00001", "MNA00002"]
    async with Worker():
        await connected(conn)
        await publisher.publish(topic, seed_heartbeat(existing, timezone.now()))
        await eventually(lambda: SensorData.objects.filter(sensor_device__site=conn.site).count() == 2)
        started = time.monotonic()
        shed_before = _shed()
        for _ in range(10):
            await publisher.publish(topic, seed_heartbeat(_random_names(5000), timezone.now()), qos=1)
        refused = 10 * 5000 - (1000 - len(existing))

        def all_refused_or_shed() -> bool:
            # A message the writer cannot keep up with is shed unparsed (worker/writer.py): its
            # names are dropped whole, not tallied one by one.
            shed_names = 5000 * (_shed() - shed_before)
            tally = RejectedMessage.objects.filter(site=conn.site, reason=CAP_REASON).first()
            return tally is not None and tally.count + shed_names == refused

        await eventually(all_refused_or_shed, within=60)
        flood_seconds = time.monotonic() - started
        after = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=1)
        await publisher.publish(topic, seed_heartbeat(existing, after))
        await eventually(
            lambda: (
                SensorDevice.objects.filter(
                    site=conn.site, device_name__in=existing, last_reading_ts=after
                ).count()
                == 2
            )
        )
    print(f"\n10 x 5,000 random names written (1,000 kept, {refused} refused) in {flood_seconds:.1f} s")
    assert SensorDevice.objects.filter(site=conn.site).count() == 1000


# ---------------------------------------------------------------- the snapshot stays bounded


def _snapshot_queries(site_id: int) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        snapshot = site_snapshot(site_id)
    return len(captured.captured_queries), snapshot


@pytest.mark.django_db
def test_the_snapshot_costs_the_same_queries_for_1_100_and_1000_sensors(
    make_connection: Callable[..., MqttConnection],
) -> None:
    counts = set()
    for sensors in (1, 100, 1000):
        conn = make_connection()
        names = [f"S{index:04d}" for index in range(sensors)]
        for step in range(3):
            at = T0 + dt.timedelta(seconds=5 * step)
            write_batch([beat(conn, names, at)], now=at, policy=POLICY)
        queries, snapshot = _snapshot_queries(conn.site_id)
        counts.add(queries)
        assert len(snapshot["sensors"]) == sensors
        assert all(len(sensor["readings"]) == 3 for sensor in snapshot["sensors"])
        assert snapshot["sensors_truncated"] is False
    assert counts == {6}, counts

    # At the cap (1,000 sensors, 3 readings each) the snapshot is bounded: its size, for the docs.
    started = time.perf_counter()
    size = len(orjson.dumps(site_snapshot(conn.site_id)))
    seconds = time.perf_counter() - started
    print(f"\nsnapshot at the cap (1,000 sensors x 3 readings): {size / 1e6:.2f} MB, {seconds * 1000:.0f} ms")
    assert size < 1_500_000


@pytest.mark.django_db
def test_the_snapshot_lists_at_most_the_cap_and_says_so_with_the_whole_sites_counts(
    make_connection: Callable[..., MqttConnection], sensor_cap: Callable[[int], None]
) -> None:
    conn = make_connection()
    names = [f"S{index:02d}" for index in range(25)]
    write_batch([beat(conn, names, T0)], now=T0, policy=POLICY)
    sensor_cap(10)  # lowered after the site had more (or sensors added by hand)

    queries, snapshot = _snapshot_queries(conn.site_id)

    assert queries == 6
    assert [sensor["device_name"] for sensor in snapshot["sensors"]] == names[:10]
    assert all(len(sensor["readings"]) == 1 for sensor in snapshot["sensors"])
    assert snapshot["sensors_truncated"] is True
    assert snapshot["sensor_counts"] == {"total": 25, "online": 25, "stale": 0, "offline": 0}
