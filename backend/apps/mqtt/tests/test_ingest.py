"""The batch writer against a real database: ring of 3, repeats, misses, stale, fixed statements."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.mqtt.ingest.batch import write_batch
from apps.mqtt.ingest.items import ConnectionEvent, HeartbeatItem, RejectedItem, SysInfoItem
from apps.mqtt.ingest.policy import IngestPolicy
from apps.mqtt.models import (
    ConnectionLog,
    RejectedMessage,
    SensorData,
    SensorDevice,
    SensorStatusChange,
    SystemInfo,
)
from apps.mqtt.parser import Rejection, RejectReason, SysInfo, parse_message
from apps.mqtt.tests.conftest import POLICY, T0, beat, parsed, seed_heartbeat

pytestmark = pytest.mark.django_db


def names(count: int) -> list[str]:
    return [f"MNA{index:05d}" for index in range(count)]


def test_heartbeat_registers_devices_and_stores_readings(make_connection) -> None:
    conn = make_connection()
    changes = write_batch([beat(conn, ["MNA00542", "MNA00543"], T0)], now=T0, policy=POLICY)

    devices = {d.device_name: d for d in SensorDevice.objects.filter(site=conn.site)}
    assert set(devices) == {"MNA00542", "MNA00543"}
    assert all(
        d.status == "online" and d.total_messages == 1 and d.last_seen_at == T0 for d in devices.values()
    )
    reading = SensorData.objects.get(sensor_device=devices["MNA00543"])
    assert (reading.slot, reading.timestamp, reading.acc_x, reading.acc_z, reading.incli_y) == (
        0,
        T0,
        0.001,
        0.98,
        -0.3,
    )
    assert reading.raw_data["device_name"] == "MNA00543"
    conn.refresh_from_db()
    assert conn.last_heartbeat_at == T0
    assert conn.heartbeat_state == "ok"
    site = changes.sites[conn.site_id]
    assert set(site.sensors) == {"MNA00542", "MNA00543"}
    [new_reading] = site.sensors["MNA00542"]["readings"]
    assert new_reading["acc_z"] == 0.98


def test_ring_keeps_the_last_three_readings_per_sensor(make_connection) -> None:
    conn = make_connection()
    for step in range(7):
        at = T0 + dt.timedelta(seconds=5 * step)
        write_batch([beat(conn, ["S1"], at)], now=at, policy=POLICY)
    sensor = SensorDevice.objects.get(device_name="S1")
    stamps = list(sensor.readings.values_list("timestamp", flat=True))
    assert stamps == [T0 + dt.timedelta(seconds=5 * step) for step in (6, 5, 4)]
    assert sorted(sensor.readings.values_list("slot", flat=True)) == [0, 1, 2]
    assert sensor.reading_seq == 7
    assert sensor.total_messages == 7


def test_retention_below_three_keeps_fewer_readings(make_connection) -> None:
    conn = make_connection()
    policy = IngestPolicy(retention=2, max_consecutive_misses=3, stale_after=30)
    for step in range(4):
        at = T0 + dt.timedelta(seconds=step)
        write_batch([beat(conn, ["S1"], at)], now=at, policy=policy)
    assert SensorData.objects.count() == 2


def test_reading_with_the_same_ts_is_a_repeat_counted_not_stored(make_connection) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1"], T0)], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(seconds=5)
    write_batch([beat(conn, ["S1"], later, ts=T0)], now=later, policy=POLICY)

    sensor = SensorDevice.objects.get(device_name="S1")
    assert SensorData.objects.filter(sensor_device=sensor).count() == 1
    assert (sensor.total_messages, sensor.reading_seq, sensor.last_seen_at) == (2, 1, later)
    assert sensor.status == "online"


def test_repeat_is_recognised_for_a_ts_with_microseconds_and_an_offset(make_connection) -> None:
    conn = make_connection()
    ts = dt.datetime(2026, 11, 28, 11, 0, 0, 123457, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    write_batch([beat(conn, ["S1"], T0, ts=ts)], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(seconds=5)
    write_batch([beat(conn, ["S1"], later, ts=ts)], now=later, policy=POLICY)
    write_batch([beat(conn, ["S1"], later, ts=ts + dt.timedelta(microseconds=1))], now=later, policy=POLICY)

    sensor = SensorDevice.objects.get(device_name="S1")
    assert (sensor.reading_seq, sensor.last_reading_ts) == (2, ts + dt.timedelta(microseconds=1))


def test_a_flush_keeps_the_stored_times_it_does_not_change(make_connection) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1"], T0)], now=T0, policy=POLICY)
    first = SensorDevice.objects.get(device_name="S1")
    later = T0 + dt.timedelta(seconds=5)
    item = beat(conn, ["S1"], later, ts=T0)  # a repeat in a retained message: nothing new
    retained = HeartbeatItem(item.connection_id, item.site_id, later, item.heartbeat, item.topic, False)
    write_batch([retained], now=later, policy=POLICY)

    sensor = SensorDevice.objects.get(device_name="S1")
    assert (sensor.status_changed_at, sensor.last_seen_at) == (first.status_changed_at, T0)
    assert (sensor.last_reading_ts, sensor.last_reading_at) == (T0, T0)
    assert sensor.updated_at == later


def test_sensor_goes_stale_when_its_ts_stops_advancing_and_back_online_when_it_moves(make_connection) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1"], T0)], now=T0, policy=POLICY)
    late = T0 + dt.timedelta(seconds=31)
    write_batch([beat(conn, ["S1"], late, ts=T0)], now=late, policy=POLICY)
    assert SensorDevice.objects.get(device_name="S1").status == "stale"

    moving = late + dt.timedelta(seconds=5)
    write_batch([beat(conn, ["S1"], moving)], now=moving, policy=POLICY)
    assert SensorDevice.objects.get(device_name="S1").status == "online"
    assert list(SensorStatusChange.objects.order_by("id").values_list("old_status", "new_status")) == [
        ("offline", "online"),
        ("online", "stale"),
        ("stale", "online"),
    ]


def test_sensor_goes_offline_after_3_missed_heartbeats(make_connection) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1", "S2"], T0)], now=T0, policy=POLICY)
    for step in (1, 2):
        at = T0 + dt.timedelta(seconds=5 * step)
        write_batch([beat(conn, ["S1"], at)], now=at, policy=POLICY)
        assert SensorDevice.objects.get(device_name="S2").status == "online"
    at = T0 + dt.timedelta(seconds=15)
    changes = write_batch([beat(conn, ["S1"], at)], now=at, policy=POLICY)

    s2 = SensorDevice.objects.get(device_name="S2")
    assert (s2.status, s2.consecutive_misses) == ("offline", 3)
    change = SensorStatusChange.objects.filter(sensor_device=s2).latest("timestamp")
    assert (change.old_status, change.new_status, change.timestamp) == ("online", "offline", at)
    assert "missing from 3 heartbeats" in change.reason
    assert changes.sites[conn.site_id].sensor_status == [
        {
            "device_name": "S2",
            "old": "online",
            "new": "offline",
            "reason": change.reason,
            "at": at.isoformat(),
        }
    ]
    assert SensorDevice.objects.get(device_name="S1").status == "online"


def test_inactive_sensor_is_not_counted_missing(make_connection) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1", "S2"], T0)], now=T0, policy=POLICY)
    SensorDevice.objects.filter(device_name="S2").update(is_active=False)
    for step in range(1, 5):
        at = T0 + dt.timedelta(seconds=5 * step)
        write_batch([beat(conn, ["S1"], at)], now=at, policy=POLICY)
    assert SensorDevice.objects.get(device_name="S2").consecutive_misses == 0


def test_several_heartbeats_of_one_site_in_one_batch_apply_in_order(make_connection) -> None:
    conn = make_connection()
    batch = [beat(conn, ["S1", "S2"], T0)] + [
        beat(conn, ["S1"], T0 + dt.timedelta(seconds=5 * step)) for step in range(1, 5)
    ]
    write_batch(batch, now=T0 + dt.timedelta(seconds=20), policy=POLICY)
    s1 = SensorDevice.objects.get(device_name="S1")
    assert s1.reading_seq == 5
    newest = s1.readings.first()
    assert newest is not None
    assert newest.timestamp == T0 + dt.timedelta(seconds=20)
    assert SensorDevice.objects.get(device_name="S2").status == "offline"


def test_stale_retained_heartbeat_stores_readings_without_making_the_site_look_alive(make_connection) -> None:
    conn = make_connection()
    item = beat(conn, ["S1"], T0)
    retained = HeartbeatItem(
        item.connection_id, item.site_id, item.received_at, item.heartbeat, item.topic, False
    )
    write_batch([retained], now=T0, policy=POLICY)
    conn.refresh_from_db()
    sensor = SensorDevice.objects.get(device_name="S1")
    assert conn.last_heartbeat_at is None
    assert (sensor.status, sensor.last_seen_at, sensor.total_messages) == ("offline", None, 0)
    assert sensor.readings.count() == 1


def test_message_interval_from_the_payload_sets_the_expected_interval(make_connection) -> None:
    conn = make_connection()
    payload = seed_heartbeat(["S1"], T0, message_interval_seconds=60)
    item = HeartbeatItem(conn.pk, conn.site_id, T0, parsed(payload, T0))
    write_batch([item], now=T0, policy=POLICY)
    conn.refresh_from_db()
    assert conn.reported_heartbeat_interval == 60
    assert conn.heartbeat_interval == 60


def _sys_info(payload: dict[str, object], at: dt.datetime) -> SysInfo:
    result = parse_message("S/sys_info", orjson.dumps(payload), received_at=at)
    assert isinstance(result, SysInfo), result
    return result


def test_sys_info_is_stored_and_empty_values_never_overwrite(make_connection) -> None:
    conn = make_connection()
    first = _sys_info({"hostname": "dl-1", "firmware_version": "3.2.1", "uptime": 100, "mem_total": 1024}, T0)
    write_batch([SysInfoItem(conn.pk, conn.site_id, T0, first)], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(minutes=1)
    second = _sys_info({"hostname": "", "firmware_version": None, "uptime": 160}, later)
    changes = write_batch([SysInfoItem(conn.pk, conn.site_id, later, second)], now=later, policy=POLICY)

    info = SystemInfo.objects.get(site=conn.site)
    assert (info.hostname, info.firmware_version, info.uptime_seconds, info.memory_total_bytes) == (
        "dl-1",
        "3.2.1",
        160,
        1024,
    )
    assert info.received_at == later
    assert info.raw_data == {"hostname": "", "firmware_version": None, "uptime": 160}
    assert changes.sites[conn.site_id].system_info


def test_rejections_are_counted_per_site_topic_and_reason_with_the_last_sample(make_connection) -> None:
    conn = make_connection()
    items = [
        RejectedItem(conn.site_id, "S/weird", T0, Rejection(reason=r, detail="bad", sample=s))
        for r, s in ((RejectReason.NOT_JSON, "{oops"), (RejectReason.NOT_JSON, "{again"))
    ]
    write_batch(items, now=T0, policy=POLICY)
    write_batch(items[:1], now=T0, policy=POLICY)
    row = RejectedMessage.objects.get(site=conn.site, topic="S/weird", reason="not_json")
    assert (row.count, row.last_sample) == (3, "{oops")


def test_item_issues_are_recorded_while_the_rest_of_the_heartbeat_is_used(make_connection) -> None:
    conn = make_connection()
    payload = orjson.dumps(
        {"sensors_last_data": [{"device_name": "S1", "last_acc00": "abc"}, {"last_acc00": 1}]}
    )
    item = HeartbeatItem(conn.pk, conn.site_id, T0, parsed(payload, T0), "S/datalogger_o/heartbeat")
    write_batch([item], now=T0, policy=POLICY)
    assert SensorDevice.objects.filter(site=conn.site).count() == 1
    reasons = set(RejectedMessage.objects.values_list("reason", flat=True))
    assert {"bad_value", "missing_device_name"} <= reasons


def test_connection_events_update_the_row_and_write_one_log_row_each(make_connection) -> None:
    conn = make_connection()
    events = [
        ConnectionEvent(conn.pk, conn.site_id, T0, "connecting", "Connecting", status="connecting"),
        ConnectionEvent(
            conn.pk, conn.site_id, T0 + dt.timedelta(seconds=1), "connected", "Connected", "connected", 0, ""
        ),
        ConnectionEvent(conn.pk, conn.site_id, T0 + dt.timedelta(seconds=2), None, "", None, 2, "timeout"),
    ]
    changes = write_batch(events, now=T0, policy=POLICY)
    conn.refresh_from_db()
    assert (conn.status, conn.last_connected_at, conn.connection_errors, conn.error_message) == (
        "connected",
        T0 + dt.timedelta(seconds=1),
        2,
        "timeout",
    )
    assert list(ConnectionLog.objects.order_by("id").values_list("event_type", flat=True)) == [
        "connecting",
        "connected",
    ]
    assert changes.sites[conn.site_id].connection["status"] == "connected"


def _statements(items: list[HeartbeatItem], at: dt.datetime) -> int:
    with CaptureQueriesContext(connection) as captured:
        write_batch(items, now=at, policy=POLICY)
    return len(captured.captured_queries)


@pytest.mark.parametrize("heartbeats", [1, 20])
def test_flush_statement_count_is_the_same_for_1_10_and_100_sensors(make_connection, heartbeats: int) -> None:
    first_flush, steady_flush, missing_flush = set(), set(), set()
    for sensors in (1, 10, 100):
        conns = [make_connection() for _ in range(heartbeats)]
        first_flush.add(_statements([beat(c, names(sensors), T0) for c in conns], T0))
        at = T0 + dt.timedelta(seconds=5)
        steady_flush.add(_statements([beat(c, names(sensors), at) for c in conns], at))
        at = T0 + dt.timedelta(seconds=10)
        # Every sensor but one missing: the miss bookkeeping must not cost statements per sensor.
        missing_flush.add(_statements([beat(c, names(1), at) for c in conns], at))
    assert len(first_flush) == len(steady_flush) == len(missing_flush) == 1, (first_flush, steady_flush)


def test_flush_statement_count_is_the_same_for_1_and_20_heartbeats(make_connection) -> None:
    counts = set()
    for heartbeats in (1, 20):
        conns = [make_connection() for _ in range(heartbeats)]
        _statements([beat(c, names(100), T0) for c in conns], T0)
        at = T0 + dt.timedelta(seconds=5)
        counts.add(_statements([beat(c, names(100), at) for c in conns], at))
    assert len(counts) == 1, counts
    # The same site 20 times in one batch: its sensors' empty slots are filled (insert) and then
    # overwritten (update) in one flush, so both reading statements run, still once each.
    conn = make_connection()
    _statements([beat(conn, names(100), T0)], T0)
    same_site = _statements(
        [beat(conn, names(100), T0 + dt.timedelta(seconds=5 * (i + 1))) for i in range(20)], T0
    )
    # 10: one more than before issue 12, the upsert of the heartbeats counted per site and hour.
    assert counts.pop() <= same_site <= 10


def test_a_slot_the_ring_believes_filled_but_is_empty_is_still_written(make_connection) -> None:
    conn = make_connection()
    for step in range(3):
        at = T0 + dt.timedelta(seconds=5 * step)
        write_batch([beat(conn, ["S1"], at)], now=at, policy=POLICY)
    SensorData.objects.filter(slot=0).delete()  # e.g. deleted by hand, or retention was raised
    at = T0 + dt.timedelta(seconds=15)
    write_batch([beat(conn, ["S1"], at)], now=at, policy=POLICY)

    sensor = SensorDevice.objects.get(device_name="S1")
    assert sorted(sensor.readings.values_list("slot", "timestamp")) == [
        (0, at),
        (1, T0 + dt.timedelta(seconds=5)),
        (2, T0 + dt.timedelta(seconds=10)),
    ]


def test_stale_is_measured_on_the_server_clock_not_the_dataloggers(make_connection) -> None:
    conn = make_connection()
    slow_clock = T0 - dt.timedelta(minutes=5)  # the datalogger's clock runs 5 minutes behind
    write_batch([beat(conn, ["S1"], T0, ts=slow_clock)], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(seconds=10)
    write_batch([beat(conn, ["S1"], later, ts=slow_clock)], now=later, policy=POLICY)
    assert SensorDevice.objects.get(device_name="S1").status == "online"  # frozen 10 s, not 5 min
    much_later = T0 + dt.timedelta(seconds=31)
    write_batch([beat(conn, ["S1"], much_later, ts=slow_clock)], now=much_later, policy=POLICY)
    assert SensorDevice.objects.get(device_name="S1").status == "stale"
