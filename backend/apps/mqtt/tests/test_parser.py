"""The message parser, one behaviour per test: every payload variant, every reason. Pure: no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from apps.mqtt.parser import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    MAX_ISSUES_PER_MESSAGE,
    MAX_SENSORS_PER_MESSAGE,
    READING_COLUMNS,
    Heartbeat,
    ItemIssue,
    MessageKind,
    ParseResult,
    Rejection,
    RejectReason,
    SensorReading,
    SysInfo,
    classify_topic,
    parse_message,
)
from apps.mqtt.parser import heartbeat as heartbeat_module
from apps.mqtt.parser import parse as parse_module
from apps.mqtt.parser import types as types_module

RECEIVED = datetime(2026, 11, 28, 10, 0, 5, tzinfo=UTC)
HEARTBEAT_TOPIC = "S001/datalogger_o/heartbeat"
SYS_INFO_TOPIC = "S001/sys_info"
OTHER_TOPIC = "S001/something/else"
GB = 1024**3


def parse(payload: Any, topic: str = HEARTBEAT_TOPIC, **options: Any) -> ParseResult:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    options.setdefault("received_at", RECEIVED)
    return parse_message(topic, body, **options)


def heartbeat(payload: Any, topic: str = HEARTBEAT_TOPIC, **options: Any) -> Heartbeat:
    result = parse(payload, topic, **options)
    assert isinstance(result, Heartbeat), result
    return result


def sys_info(payload: Any, topic: str = SYS_INFO_TOPIC, **options: Any) -> SysInfo:
    result = parse(payload, topic, **options)
    assert isinstance(result, SysInfo), result
    return result


def rejection(payload: Any, topic: str = HEARTBEAT_TOPIC, **options: Any) -> Rejection:
    result = parse(payload, topic, **options)
    assert isinstance(result, Rejection), result
    return result


def only(result: Heartbeat) -> SensorReading:
    assert len(result.readings) == 1, result.readings
    return result.readings[0]


def reasons(issues: tuple[ItemIssue, ...]) -> list[RejectReason]:
    return [issue.reason for issue in issues]


def seed_sensor(name: str = "MNA00542", **fields: Any) -> dict[str, Any]:
    sensor: dict[str, Any] = {
        "device_name": name,
        "ts": "2026-11-28T10:00:00Z",
        "last_acc00": 0.01,
        "last_acc01": -0.02,
        "last_acc02": 0.98,
        "last_incli_x": 0.1,
        "last_incli_y": -0.3,
    }
    sensor.update(fields)
    return sensor


def values(reading: SensorReading) -> dict[str, float | None]:
    return {column: getattr(reading, column) for column in READING_COLUMNS}


# --- topics and kinds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("S001/datalogger_o/heartbeat", MessageKind.HEARTBEAT),
        ("heartbeat", MessageKind.HEARTBEAT),
        ("S001/HeartBeat", MessageKind.HEARTBEAT),
        ("S001/sys_info", MessageKind.SYS_INFO),
        ("S001/heartbeat/extra", MessageKind.AUTO),
        ("S001/heartbeats", MessageKind.AUTO),
        ("S001/datalogger_o/", MessageKind.AUTO),
        ("", MessageKind.AUTO),
    ],
)
def test_topic_last_level_decides_the_kind(topic: str, kind: MessageKind) -> None:
    assert classify_topic(topic) is kind


def test_explicit_kind_overrides_the_topic() -> None:
    result = parse({"hostname": "dl-042"}, HEARTBEAT_TOPIC, kind=MessageKind.SYS_INFO)
    assert isinstance(result, SysInfo)
    assert result.hostname == "dl-042"


def test_kind_given_as_the_topic_models_plain_string_is_accepted() -> None:
    result = parse({"sensors_last_data": []}, OTHER_TOPIC, kind="heartbeat")
    assert isinstance(result, Heartbeat)


def test_unknown_kind_string_falls_back_to_detection() -> None:
    result = parse({"sensors_last_data": []}, OTHER_TOPIC, kind="bogus")
    assert isinstance(result, Heartbeat)


def test_reason_values_are_lowercase_snake_case_metric_labels() -> None:
    for reason in RejectReason:
        assert reason.value == reason.name.lower()


# --- heartbeat variants ---------------------------------------------------------------------------


def test_seed_list_format_maps_acc00_to_acc_x_and_keeps_optional_mag_and_gyro() -> None:
    plain = seed_sensor("MNA00542")
    full = seed_sensor(
        "MNA00543",
        last_mag_x=11.0,
        last_mag_y=12.0,
        last_mag_z=13.0,
        last_gyro_x=0.5,
        last_gyro_y=0.6,
        last_gyro_z=0.7,
    )
    result = heartbeat({"sensors_last_data": [plain, full]})

    assert result.format == "list"
    assert result.issues == ()
    first, second = result.readings
    assert first.device_name == "MNA00542"
    assert first.ts == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert first.ts_from_payload is True
    assert values(first) == {
        "acc_x": 0.01,
        "acc_y": -0.02,
        "acc_z": 0.98,
        "incli_x": 0.1,
        "incli_y": -0.3,
        "mag_x": None,
        "mag_y": None,
        "mag_z": None,
        "gyro_x": None,
        "gyro_y": None,
        "gyro_z": None,
    }
    assert (second.mag_x, second.mag_y, second.mag_z) == (11.0, 12.0, 13.0)
    assert (second.gyro_x, second.gyro_y, second.gyro_z) == (0.5, 0.6, 0.7)


def test_sensors_last_data_keyed_by_device_name() -> None:
    result = heartbeat(
        {
            "sensors_last_data": {
                "MNA00542": {"ts": "2026-11-28T10:00:00Z", "last_acc00": 0.01, "last_incli_y": 2.5},
                "MNA00543": {"ts": "2026-11-28T10:00:01Z", "last_acc02": 1.0},
            }
        }
    )
    assert result.format == "keyed"
    assert [r.device_name for r in result.readings] == ["MNA00542", "MNA00543"]
    assert (result.readings[0].acc_x, result.readings[0].incli_y) == (0.01, 2.5)
    assert result.readings[1].acc_z == 1.0
    assert result.readings[1].ts == datetime(2026, 11, 28, 10, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {"acc_x": 1.0, "acc_y": 2.0, "acc_z": 3.0, "incli_x": 4.0, "incli_y": 5.0},
        {"acc00": 1.0, "acc01": 2.0, "acc02": 3.0, "incli_x": 4.0, "incli_y": 5.0},
        {"last_acc_x": 1.0, "last_acc_y": 2.0, "last_acc_z": 3.0, "last_incli_x": 4.0, "last_incli_y": 5.0},
    ],
)
def test_unprefixed_field_names_are_accepted(fields: dict[str, float]) -> None:
    reading = only(heartbeat({"sensors_last_data": [{"device_name": "MNA1", **fields}]}))
    assert (reading.acc_x, reading.acc_y, reading.acc_z, reading.incli_x, reading.incli_y) == (1, 2, 3, 4, 5)


def test_unprefixed_mag_and_gyro_names_are_accepted() -> None:
    sensor = {
        "device_name": "MNA1",
        "mag_x": 1,
        "mag_y": 2,
        "mag_z": 3,
        "gyro_x": 4,
        "gyro_y": 5,
        "gyro_z": 6,
    }
    reading = only(heartbeat({"sensors_last_data": [sensor]}))
    assert (reading.mag_x, reading.mag_y, reading.mag_z) == (1.0, 2.0, 3.0)
    assert (reading.gyro_x, reading.gyro_y, reading.gyro_z) == (4.0, 5.0, 6.0)
    assert all(isinstance(v, float) for v in values(reading).values() if v is not None)


def test_unit_value_objects_and_numeric_strings_are_accepted() -> None:
    sensor = {
        "device_name": "MNA1",
        "last_acc00": {"unit": "g", "value": 0.01},
        "acc_y": {"unit": "g", "value": "-0.02"},
        "last_acc02": "0.98",
        "incli_x": {"value": 3, "unit": "deg"},
        "last_incli_y": " 1e-3 ",
    }
    result = heartbeat({"sensors_last_data": [sensor]})
    assert result.issues == ()
    reading = only(result)
    assert (reading.acc_x, reading.acc_y, reading.acc_z) == (0.01, -0.02, 0.98)
    assert (reading.incli_x, reading.incli_y) == (3.0, 0.001)


def test_legacy_top_level_device_keys_ignore_message_level_keys() -> None:
    result = heartbeat(
        {
            "MNA00542": {"ts": "2026-11-28T10:00:00Z", "acc_x": 0.5},
            "MNA00543": {"incli_x": 1.5},
            "ts": "2026-11-28T09:59:59Z",
            "message_interval_seconds": 5,
            "site": "S001",
            "meta": {"firmware": "1.2"},  # an object without reading fields is not a device
        }
    )
    assert result.format == "legacy"
    assert [r.device_name for r in result.readings] == ["MNA00542", "MNA00543"]
    assert result.readings[0].acc_x == 0.5
    # MNA00543 has no ts of its own: the message's ts.
    assert result.readings[1].ts == datetime(2026, 11, 28, 9, 59, 59, tzinfo=UTC)
    assert result.readings[1].ts_from_payload is True
    assert result.message_interval_seconds == 5.0
    assert result.issues == ()


def test_legacy_heartbeat_is_detected_on_an_unclassified_topic() -> None:
    result = heartbeat({"MNA00542": {"acc_x": 0.5}}, OTHER_TOPIC)
    assert result.format == "legacy"


def test_seed_heartbeat_is_detected_on_an_unclassified_topic() -> None:
    assert heartbeat({"sensors_last_data": [seed_sensor()]}, OTHER_TOPIC).format == "list"


def test_heartbeat_with_only_message_level_keys_is_a_legacy_heartbeat_without_sensors() -> None:
    result = heartbeat({"ts": "2026-11-28T10:00:00Z", "message_interval_seconds": 10})
    assert (result.readings, result.issues, result.format) == ((), (), "legacy")
    assert result.message_interval_seconds == 10.0


def test_empty_sensor_list_is_a_valid_heartbeat_with_no_readings() -> None:
    result = heartbeat({"sensors_last_data": []})
    assert (result.readings, result.issues, result.format) == ((), (), "list")
    assert heartbeat({"sensors_last_data": {}}).readings == ()


def test_null_sensor_list_counts_as_an_empty_list() -> None:
    # Firmware written in Go encodes an empty (nil) slice as null.
    result = heartbeat({"sensors_last_data": None})
    assert (result.readings, result.issues, result.format) == ((), (), "list")


def test_sensor_list_of_a_wrong_type_is_a_malformed_heartbeat_with_an_issue() -> None:
    result = heartbeat({"sensors_last_data": "MNA00542"})
    assert result.format == "malformed"
    assert result.readings == ()
    assert reasons(result.issues) == [RejectReason.BAD_VALUE]
    assert result.issues[0].field == "sensors_last_data"


def test_heartbeat_whose_items_are_all_rejected_still_proves_the_site_alive() -> None:
    # Not Rejection(NO_SENSORS): the heartbeat itself shows the datalogger is up.
    result = heartbeat({"sensors_last_data": [{"last_acc00": 1.0}, 42, {"device_name": ""}]})
    assert result.readings == ()
    assert reasons(result.issues) == [
        RejectReason.MISSING_DEVICE_NAME,
        RejectReason.NOT_AN_OBJECT,
        RejectReason.MISSING_DEVICE_NAME,
    ]


def test_seed_alias_wins_over_an_unprefixed_one_whatever_the_key_order() -> None:
    for sensor in (
        {"device_name": "A", "acc_x": 9.0, "last_acc00": 1.0},
        {"device_name": "A", "last_acc00": 1.0, "acc_x": 9.0},
    ):
        assert only(heartbeat({"sensors_last_data": [sensor]})).acc_x == 1.0


def test_a_sensor_with_the_same_keys_in_another_layout_reads_its_own_values() -> None:
    first = {"device_name": "A", "last_acc00": 1.0, "last_acc01": 2.0}
    again = {"device_name": "B", "last_acc00": 5.0, "last_acc01": 6.0}
    other = {"device_name": "C", "last_acc01": 8.0, "acc_x": 7.0}
    readings = heartbeat({"sensors_last_data": [first, again, other]}).readings
    assert [(r.acc_x, r.acc_y) for r in readings] == [(1.0, 2.0), (5.0, 6.0), (7.0, 8.0)]


def test_sensors_with_ever_new_keys_never_grow_the_layout_cache_past_its_bound() -> None:
    sensors = [{"device_name": f"S{i}", f"extra_{i}": 1, "last_acc00": float(i)} for i in range(3000)]
    many_keys = {"device_name": "WIDE", "last_acc00": 1.0, **{f"k{i}": i for i in range(500)}}
    result = heartbeat({"sensors_last_data": [*sensors, many_keys]})
    assert [r.acc_x for r in result.readings[:3]] == [0.0, 1.0, 2.0]
    assert len(heartbeat_module._PLANS) <= heartbeat_module._MAX_PLANS
    assert all(len(layout) <= heartbeat_module._MAX_PLAN_KEYS for layout in heartbeat_module._PLANS)


def test_raw_is_the_sensors_object_as_received_including_unknown_fields() -> None:
    sensor = seed_sensor(battery_v=3.6, firmware="x")
    reading = only(heartbeat({"sensors_last_data": [sensor]}))
    assert reading.raw == sensor
    keyed = only(heartbeat({"sensors_last_data": {"MNA1": {"last_acc00": {"unit": "g", "value": 1}}}}))
    assert keyed.raw == {"last_acc00": {"unit": "g", "value": 1}}


def test_message_interval_seconds_is_read_when_sane() -> None:
    assert heartbeat({"sensors_last_data": [], "message_interval_seconds": 5}).message_interval_seconds == 5.0
    assert (
        heartbeat({"sensors_last_data": [], "message_interval_seconds": "2.5"}).message_interval_seconds
        == 2.5
    )
    assert heartbeat({"sensors_last_data": []}).message_interval_seconds is None


@pytest.mark.parametrize("interval", [0, -5, 86401, "soon", True, [5]])
def test_insane_message_interval_is_dropped_with_an_issue(interval: Any) -> None:
    result = heartbeat({"sensors_last_data": [], "message_interval_seconds": interval})
    assert result.message_interval_seconds is None
    assert [(i.reason, i.field) for i in result.issues] == [
        (RejectReason.BAD_VALUE, "message_interval_seconds")
    ]


# --- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-28T10:00:00Z", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        ("2026-11-28T10:00:00+00:00", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        ("2026-11-28 10:00:00Z", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        ("2026-11-28 10:00:00.250Z", datetime(2026, 11, 28, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-28T10:00:00.123456789Z", datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-28T11:00:00+01:00", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        ("2026-11-28T05:30:00-0430", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        ("  2026-11-28T10:00:00Z ", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
    ],
)
def test_iso_timestamps_with_t_or_space_and_any_zone_become_utc(ts: str, expected: datetime) -> None:
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(ts=ts)]}))
    assert reading.ts == expected
    assert reading.ts.tzinfo is UTC
    assert reading.ts_from_payload is True


def test_naive_ts_is_taken_in_the_sites_zone() -> None:
    rome = ZoneInfo("Europe/Rome")  # UTC+1 in November
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(ts="2026-11-28 11:00:00")]}, site_tz=rome))
    assert reading.ts == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert reading.ts.tzinfo is UTC


def test_naive_ts_defaults_to_utc() -> None:
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(ts="2026-11-28T10:00:00")]}))
    assert reading.ts == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_zone_aware_ts_ignores_the_sites_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(ts="2026-11-28T10:00:00Z")]}, site_tz=tokyo))
    assert reading.ts == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "ts",
    [1795860000, 1795860000.0, 1795860000000, "1795860000", "1795860000000", "1795860000.000"],
)
def test_epoch_seconds_and_milliseconds_are_accepted(ts: Any) -> None:
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(ts=ts)]}))
    assert reading.ts == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert reading.ts_from_payload is True


def test_short_digit_string_is_a_basic_iso_date_not_an_epoch() -> None:
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(ts="20261128")]}))
    assert reading.ts == datetime(2026, 11, 28, tzinfo=UTC)


def test_ts_strings_shared_by_many_sensors_give_equal_results() -> None:
    # Parsed once per message (a cache): the results must still be per value, not per position.
    sensors = [
        seed_sensor(f"D{i}", ts=ts)
        for i, ts in enumerate(["2026-11-28T10:00:00Z", "x", "2026-11-28T10:00:00Z", "x"])
    ]
    result = heartbeat({"sensors_last_data": sensors})
    assert [r.ts_from_payload for r in result.readings] == [True, False, True, False]
    assert reasons(result.issues) == [RejectReason.BAD_TIMESTAMP, RejectReason.BAD_TIMESTAMP]


def test_missing_ts_falls_back_to_the_message_ts_then_to_the_receive_time() -> None:
    without_ts = seed_sensor()
    del without_ts["ts"]
    with_message_ts = only(heartbeat({"sensors_last_data": [without_ts], "ts": "2026-11-28T09:00:00Z"}))
    assert with_message_ts.ts == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert with_message_ts.ts_from_payload is True

    bare = only(heartbeat({"sensors_last_data": [without_ts]}))
    assert (bare.ts, bare.ts_from_payload) == (RECEIVED, False)

    empty = only(heartbeat({"sensors_last_data": [seed_sensor(ts="")]}))
    assert (empty.ts, empty.ts_from_payload) == (RECEIVED, False)


def test_timestamp_key_is_an_alias_of_ts() -> None:
    sensor = {"device_name": "A", "timestamp": "2026-11-28T10:00:00Z", "acc_x": 1}
    assert only(heartbeat({"sensors_last_data": [sensor]})).ts == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "ts",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-11-28T24:00:00",
        "1999-12-31T23:59:59Z",
        "2026-11-29T10:00:06Z",  # more than a day after the receive time
        "0001-01-01T00:00:00+01:00",  # overflows when converted to UTC
        0,
        -1,
        1e300,
        True,
        [2026],
        {"value": "2026-11-28T10:00:00Z"},
    ],
)
def test_unusable_ts_keeps_the_reading_at_the_receive_time(ts: Any) -> None:
    result = heartbeat({"sensors_last_data": [seed_sensor(ts=ts)]})
    reading = only(result)
    assert (reading.ts, reading.ts_from_payload) == (RECEIVED, False)
    assert reading.acc_x == 0.01
    assert [(i.reason, i.device_name, i.field) for i in result.issues] == [
        (RejectReason.BAD_TIMESTAMP, "MNA00542", "ts")
    ]


def test_ts_shortly_ahead_of_the_receive_time_is_kept() -> None:
    # Datalogger clocks drift: up to a day ahead is believed.
    ahead = (RECEIVED + timedelta(hours=23)).isoformat()
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(ts=ahead)]}))
    assert reading.ts == RECEIVED + timedelta(hours=23)
    assert reading.ts_from_payload is True


def test_bad_message_level_ts_is_an_issue_and_its_sensors_use_the_receive_time() -> None:
    without_ts = {"device_name": "A", "acc_x": 1.0}
    result = heartbeat({"sensors_last_data": [without_ts], "ts": "not a time"})
    assert (only(result).ts, only(result).ts_from_payload) == (RECEIVED, False)
    assert [(i.reason, i.device_name, i.field) for i in result.issues] == [
        (RejectReason.BAD_TIMESTAMP, None, "ts")
    ]


def test_received_at_in_another_zone_is_normalised_to_utc() -> None:
    local = RECEIVED.astimezone(timezone(timedelta(hours=2)))
    reading = only(heartbeat({"sensors_last_data": [{"device_name": "A"}]}, received_at=local))
    assert reading.ts == RECEIVED
    assert reading.ts.tzinfo is UTC


# --- values ---------------------------------------------------------------------------------------


def test_nan_value_rejects_the_field_not_the_reading() -> None:
    # Bare NaN is not JSON (orjson refuses it): the stdlib fallback keeps the message usable.
    payload = b'{"sensors_last_data": [{"device_name": "A", "last_acc00": NaN, "last_acc01": 0.5}]}'
    result = heartbeat(payload)
    reading = only(result)
    assert (reading.acc_x, reading.acc_y) == (None, 0.5)
    assert [(i.reason, i.device_name, i.field) for i in result.issues] == [
        (RejectReason.BAD_VALUE, "A", "last_acc00")
    ]
    assert reading.raw == {"device_name": "A", "last_acc00": None, "last_acc01": 0.5}
    json.dumps(reading.raw, allow_nan=False)  # storable: no NaN left in raw


@pytest.mark.parametrize("token", [b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
def test_infinite_values_are_rejected_per_field(token: bytes) -> None:
    payload = b'{"sensors_last_data": [{"device_name": "A", "acc_x": ' + token + b', "acc_y": 2}]}'
    result = heartbeat(payload)
    reading = only(result)
    assert (reading.acc_x, reading.acc_y) == (None, 2.0)
    assert reasons(result.issues) == [RejectReason.BAD_VALUE]
    assert reading.raw["acc_x"] is None


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        "abc",
        "nan",
        "inf",
        "1_000",
        "",
        [1.0],
        {"unit": "g"},
        {"value": {"value": 1}},
        1e10,
        -2e9,
        10**30,
    ],
)
def test_unusable_values_are_rejected_per_field(value: Any) -> None:
    result = heartbeat({"sensors_last_data": [seed_sensor(last_acc00=value)]})
    reading = only(result)
    assert reading.acc_x is None
    assert reading.acc_y == -0.02  # the rest of the reading is kept
    if value == "":
        assert result.issues == ()  # an empty string is "no value", like null
    else:
        assert [(i.reason, i.device_name, i.field) for i in result.issues] == [
            (RejectReason.BAD_VALUE, "MNA00542", "last_acc00")
        ]


def test_null_values_mean_no_value_without_an_issue() -> None:
    result = heartbeat(
        {"sensors_last_data": [seed_sensor(last_acc00=None, last_mag_x={"unit": "uT", "value": None})]}
    )
    assert (only(result).acc_x, only(result).mag_x) == (None, None)
    assert result.issues == ()


def test_values_at_the_magnitude_limit_are_kept() -> None:
    reading = only(heartbeat({"sensors_last_data": [seed_sensor(last_acc00=1e9, last_acc01=-1e9)]}))
    assert (reading.acc_x, reading.acc_y) == (1e9, -1e9)


def test_nul_characters_are_cleaned_from_raw_for_postgresql() -> None:
    payload = b'{"sensors_last_data": [{"device_name": "A", "note": "a\\u0000b", "acc_x": 1}]}'
    reading = only(heartbeat(payload))
    assert reading.raw == {"device_name": "A", "note": "a\ufffdb", "acc_x": 1}


def test_lone_surrogates_are_cleaned_from_raw() -> None:
    payload = b'{"sensors_last_data": [{"device_name": "A", "note": "\\ud800", "acc_x": NaN}]}'
    reading = only(heartbeat(payload))
    orjson.dumps(reading.raw)
    assert reading.raw["note"] == "?"


def test_deeply_nested_junk_in_a_sensor_is_cut_from_raw() -> None:
    # 400 levels: more than orjson can write back (and built by hand for that reason).
    text = '{"sensors_last_data": [{"device_name": "A", "acc_x": 1, "debug": ' + "[" * 400 + "]" * 400 + "}]}"
    result = heartbeat(text.encode())
    reading = only(result)
    assert (reading.device_name, reading.acc_x) == ("A", 1.0)
    assert reading.raw["device_name"] == "A"
    orjson.dumps(reading.raw)


@pytest.mark.parametrize("levels", range(248, 258))
def test_raw_still_serialises_two_levels_down_as_the_writer_embeds_it(levels: int) -> None:
    # Around orjson's nesting limit, in the legacy format (devices one level below the top).
    text = '{"A": {"acc_x": 1, "debug": ' + "[" * levels + "]" * levels + "}}"
    reading = only(heartbeat(text.encode()))
    assert (reading.device_name, reading.acc_x) == ("A", 1.0)
    orjson.dumps([[reading.raw]])  # the writer's rows document for PostgreSQL


def test_a_bad_value_under_an_alias_that_loses_is_not_an_issue() -> None:
    result = heartbeat({"sensors_last_data": [{"device_name": "A", "acc_x": "junk", "last_acc00": 1.5}]})
    assert (only(result).acc_x, result.issues) == (1.5, ())


# --- device names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "", "   "])
def test_missing_device_name_rejects_the_item_only(name: Any) -> None:
    bad = seed_sensor()
    if name is None:
        del bad["device_name"]
    else:
        bad["device_name"] = name
    result = heartbeat({"sensors_last_data": [bad, seed_sensor("MNA2")]})
    assert [r.device_name for r in result.readings] == ["MNA2"]
    assert [(i.reason, i.field) for i in result.issues] == [(RejectReason.MISSING_DEVICE_NAME, "device_name")]
    assert "sensors_last_data[0]" in result.issues[0].detail


@pytest.mark.parametrize(
    "name", [42, 4.2, True, ["MNA1"], {"id": 1}, "x" * 101, "MNA\x001", "MNA\n1", "MNA\u200b1"]
)
def test_bad_device_name_rejects_the_item_only(name: Any) -> None:
    result = heartbeat({"sensors_last_data": [seed_sensor(name), seed_sensor("MNA2")]})
    assert [r.device_name for r in result.readings] == ["MNA2"]
    assert [(i.reason, i.device_name) for i in result.issues] == [(RejectReason.BAD_DEVICE_NAME, None)]
    assert len(result.issues[0].detail) < 120  # never the whole value


def test_device_name_is_stripped_and_may_be_unicode() -> None:
    result = heartbeat({"sensors_last_data": [seed_sensor("  MNA00542\t"), seed_sensor("Sensör-Ω 1")]})
    assert [r.device_name for r in result.readings] == ["MNA00542", "Sensör-Ω 1"]


def test_device_name_of_exactly_100_characters_is_accepted() -> None:
    assert only(heartbeat({"sensors_last_data": [seed_sensor("x" * 100)]})).device_name == "x" * 100


def test_item_that_is_not_an_object_is_an_issue() -> None:
    result = heartbeat({"sensors_last_data": ["MNA1", None, seed_sensor("MNA2")]})
    assert [r.device_name for r in result.readings] == ["MNA2"]
    assert reasons(result.issues) == [RejectReason.NOT_AN_OBJECT, RejectReason.NOT_AN_OBJECT]


def test_keyed_entry_that_is_not_an_object_is_an_issue() -> None:
    result = heartbeat({"sensors_last_data": {"MNA1": [1, 2], "MNA2": {"acc_x": 1}, "": {"acc_x": 2}}})
    assert [r.device_name for r in result.readings] == ["MNA2"]
    assert [(i.reason, i.device_name) for i in result.issues] == [
        (RejectReason.NOT_AN_OBJECT, "MNA1"),
        (RejectReason.MISSING_DEVICE_NAME, None),
    ]


def test_duplicate_device_keeps_the_last_with_an_issue() -> None:
    first = seed_sensor("MNA1", last_acc00=1.0)
    second = seed_sensor("MNA1 ", last_acc00=2.0)
    result = heartbeat({"sensors_last_data": [first, second]})
    assert only(result).acc_x == 2.0
    assert [(i.reason, i.device_name) for i in result.issues] == [(RejectReason.DUPLICATE_DEVICE, "MNA1")]


# --- limits ---------------------------------------------------------------------------------------


def test_sensor_entries_beyond_the_cap_are_reported_not_read() -> None:
    sensors = [{"device_name": f"D{i}"} for i in range(MAX_SENSORS_PER_MESSAGE + 7)]
    result = heartbeat({"sensors_last_data": sensors})
    assert len(result.readings) == MAX_SENSORS_PER_MESSAGE
    assert [(i.reason, i.field) for i in result.issues] == [
        (RejectReason.TOO_MANY_SENSORS, "sensors_last_data")
    ]
    assert str(MAX_SENSORS_PER_MESSAGE + 7) in result.issues[0].detail


def test_legacy_device_entries_beyond_the_cap_are_reported_not_read() -> None:
    result = heartbeat({f"D{i}": {"acc_x": 1} for i in range(MAX_SENSORS_PER_MESSAGE + 1)})
    assert len(result.readings) == MAX_SENSORS_PER_MESSAGE
    assert reasons(result.issues) == [RejectReason.TOO_MANY_SENSORS]


def test_issues_beyond_the_cap_are_counted_in_one_summary() -> None:
    result = heartbeat({"sensors_last_data": [1] * (MAX_ISSUES_PER_MESSAGE + 50)})
    assert len(result.issues) == MAX_ISSUES_PER_MESSAGE + 1
    assert set(reasons(result.issues[:-1])) == {RejectReason.NOT_AN_OBJECT}
    assert result.issues[-1].reason is RejectReason.TOO_MANY_ISSUES
    assert result.issues[-1].detail == "50 more issues not listed"


def test_issue_details_name_the_item_and_stay_short() -> None:
    result = heartbeat({"sensors_last_data": [seed_sensor(), {"device_name": "x" * 5000}, "z" * 5000]})
    details = [issue.detail for issue in result.issues]
    assert details[0].startswith("sensors_last_data[1]: device name 'xxxx")
    assert details[1].startswith("sensors_last_data[2]: 'zzzz")
    assert all(len(detail) < 120 for detail in details)


# --- whole-message rejections ---------------------------------------------------------------------


def test_payload_over_size_cap_is_rejected_unread() -> None:
    # Valid JSON, but one byte over the cap: never parsed.
    payload = orjson.dumps({"sensors_last_data": [seed_sensor()]})
    result = rejection(payload, max_bytes=len(payload) - 1)
    assert result.reason is RejectReason.TOO_LARGE
    assert str(len(payload)) in result.detail
    assert isinstance(parse(payload, max_bytes=len(payload)), Heartbeat)


def test_default_size_cap_is_one_mebibyte() -> None:
    assert DEFAULT_MAX_PAYLOAD_BYTES == 1024 * 1024
    huge = b'{"sensors_last_data": [], "pad": "' + b"x" * DEFAULT_MAX_PAYLOAD_BYTES + b'"}'
    result = rejection(huge)
    assert result.reason is RejectReason.TOO_LARGE
    assert len(result.sample) == 200


@pytest.mark.parametrize("payload", [b"", b"   \r\n\t", b"\xef\xbb\xbf"])
def test_empty_payload_is_rejected_as_empty(payload: bytes) -> None:
    # An empty retained publish is how MQTT clears a retained message: not an error in the payload.
    assert rejection(payload).reason is RejectReason.EMPTY


@pytest.mark.parametrize("payload", [b"\xff\xfe{}", b'{"sensors_last_data": ["\xc3\x28"]}', b"\xed\xa0\x80"])
def test_invalid_utf8_is_rejected(payload: bytes) -> None:
    assert rejection(payload).reason is RejectReason.NOT_UTF8


@pytest.mark.parametrize(
    "payload", [b"{", b"hello", b"{'sensors_last_data': []}", b'{"a": 1,}', b"[" * 5000 + b"]" * 5000]
)
def test_invalid_json_is_rejected(payload: bytes) -> None:
    result = rejection(payload)
    assert result.reason is RejectReason.NOT_JSON
    assert len(result.detail) <= 160


@pytest.mark.parametrize("payload", [b"[]", b"[{}]", b"1", b'"heartbeat"', b"null", b"true"])
def test_json_that_is_not_an_object_is_rejected(payload: bytes) -> None:
    assert rejection(payload).reason is RejectReason.NOT_AN_OBJECT


def test_unknown_object_on_the_heartbeat_topic_is_an_unknown_format() -> None:
    result = rejection({"status": "ok", "uptime": 12})
    assert result.reason is RejectReason.UNKNOWN_FORMAT
    assert "'status'" in result.detail
    assert result.sample == '{"status": "ok", "uptime": 12}'


def test_unknown_object_on_an_unclassified_topic_is_an_unknown_format() -> None:
    assert rejection({"foo": {"bar": 1}}, OTHER_TOPIC).reason is RejectReason.UNKNOWN_FORMAT
    assert rejection({}, OTHER_TOPIC).reason is RejectReason.UNKNOWN_FORMAT


def test_utf8_byte_order_mark_is_tolerated() -> None:
    assert isinstance(parse(b'\xef\xbb\xbf{"sensors_last_data": []}'), Heartbeat)


def test_rejection_sample_is_the_first_200_characters_without_nul() -> None:
    payload = "[" + "é\x00" * 300
    result = rejection(payload.encode())
    assert len(result.sample) == 200
    assert "\x00" not in result.sample
    assert result.sample.startswith("[é\ufffd")


def test_invalid_bytes_in_the_sample_are_replaced() -> None:
    assert rejection(b"\xff{}").sample == "\ufffd{}"


def test_a_parser_bug_becomes_a_rejection_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> ParseResult:
        raise KeyError("boom")

    monkeypatch.setattr(parse_module, "_parse", broken)
    result = rejection(b'{"sensors_last_data": []}')
    assert result.reason is RejectReason.INTERNAL_ERROR
    assert result.detail == "parser error: KeyError"


def test_payload_given_as_bytearray_memoryview_or_str_is_accepted() -> None:
    body = orjson.dumps({"sensors_last_data": [seed_sensor()]})
    other_types: list[Any] = [bytearray(body), memoryview(body), body.decode()]
    for payload in other_types:
        assert isinstance(parse_message(HEARTBEAT_TOPIC, payload, received_at=RECEIVED), Heartbeat)


# --- sys_info -------------------------------------------------------------------------------------


def test_flat_sys_info_with_sizes_in_bytes() -> None:
    result = sys_info(
        {
            "hostname": "dl-042",
            "firmware_version": "3.2.1",
            "ip_address": "10.1.2.3",
            "uptime": 873974,
            "cpu_load": 0.42,
            "temperature": 41.5,
            "mem_total": 1073741824,
            "mem_free": 52428800,
            "disk_total": 32000000000,
            "disk_free": 12000000000,
            "ts": "2026-11-28T09:59:00Z",
        }
    )
    assert result.issues == ()
    assert (result.hostname, result.firmware_version, result.ip_address) == ("dl-042", "3.2.1", "10.1.2.3")
    assert (result.uptime_seconds, result.cpu_load, result.temperature_c) == (873974, 0.42, 41.5)
    assert (result.memory_total_bytes, result.memory_free_bytes) == (1073741824, 52428800)
    assert (result.disk_total_bytes, result.disk_free_bytes) == (32000000000, 12000000000)
    assert result.reported_at == datetime(2026, 11, 28, 9, 59, tzinfo=UTC)
    assert result.raw["hostname"] == "dl-042"


def test_nested_sys_info_with_sizes_in_gb_and_a_duration_uptime() -> None:
    payload = {
        "system": {
            "hostname": "dl-042",
            "uptime": "10 days, 3:46:14",
            "memory": {"total_gb": 1.0, "free_gb": 0.05},
            "disk": {"total_gb": 29.8, "free_gb": 11.2},
            "cpu_load": 0.4,
            "temperature": 41.5,
        },
        "ts": "2026-11-28T10:00:00Z",
    }
    result = sys_info(payload)
    assert result.issues == ()
    assert result.hostname == "dl-042"
    assert result.uptime_seconds == 10 * 86400 + 3 * 3600 + 46 * 60 + 14
    assert result.memory_total_bytes == GB
    assert result.memory_free_bytes == round(0.05 * GB)
    assert result.disk_total_bytes == round(29.8 * GB)
    assert result.disk_free_bytes == round(11.2 * GB)
    assert (result.cpu_load, result.temperature_c) == (0.4, 41.5)
    assert result.reported_at == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert result.raw == payload
    assert result.firmware_version is None  # not in this payload: the writer keeps the stored one


def test_flat_gb_keys_inside_system_are_accepted() -> None:
    result = sys_info(
        {"system": {"memory_total_gb": 2, "memory_free_gb": 0.5, "disk_total_gb": 16, "disk_free_gb": 8.0}}
    )
    assert (result.memory_total_bytes, result.memory_free_bytes) == (2 * GB, GB // 2)
    assert (result.disk_total_bytes, result.disk_free_bytes) == (16 * GB, 8 * GB)


def test_unitless_sizes_are_gb_inside_system_and_bytes_at_the_top_level() -> None:
    assert sys_info({"system": {"memory": {"total": 4, "free": 0.5}}}).memory_total_bytes == 4 * GB
    assert sys_info({"memory": {"total": 4096}}).memory_total_bytes == 4096


def test_unitless_size_inside_system_that_is_clearly_bytes_stays_bytes() -> None:
    assert sys_info({"system": {"mem_total": 1073741824}}).memory_total_bytes == 1073741824


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("mem_total_bytes", 1000, 1000),
        ("memory_total_kb", 1000, 1024000),
        ("mem_total_mb", 512, 512 * 1024**2),
        ("memory_total", "2048", 2048),
    ],
)
def test_size_suffixes_give_the_unit(key: str, value: Any, expected: int) -> None:
    assert sys_info({key: value}).memory_total_bytes == expected


@pytest.mark.parametrize(
    ("uptime", "seconds"),
    [
        ("3:46:14", 3 * 3600 + 46 * 60 + 14),
        ("1 day, 0:00:01", 86401),
        ("10 days, 3:46:14", 877574),
        ("2 days", 2 * 86400),
        ("0:05:00.250000", 300),
        (3600, 3600),
        (3600.7, 3600),
        ("3600", 3600),
        ({"value": 60, "unit": "s"}, 60),
    ],
)
def test_uptime_forms(uptime: Any, seconds: int) -> None:
    assert sys_info({"uptime": uptime}).uptime_seconds == seconds


@pytest.mark.parametrize(
    "uptime", ["3:99:00", "up 3 days", "-1 day, 0:00:00", -5, "abc", True, 10**12, "1" * 5000, "9" * 21]
)
def test_bad_uptime_is_an_issue(uptime: Any) -> None:
    result = sys_info({"hostname": "dl", "uptime": uptime})
    assert result.uptime_seconds is None
    assert [(i.reason, i.field) for i in result.issues] == [(RejectReason.BAD_VALUE, "uptime")]


@pytest.mark.parametrize(
    ("key", "field", "value", "expected"),
    [
        ("host_name", "hostname", "dl-1", "dl-1"),
        ("host", "hostname", "dl-1", "dl-1"),
        ("fw_version", "firmware_version", "1.2", "1.2"),
        ("firmware", "firmware_version", "1.2", "1.2"),
        ("version", "firmware_version", "1.2", "1.2"),
        ("sw_version", "firmware_version", "1.2", "1.2"),
        ("ip", "ip_address", "10.0.0.1", "10.0.0.1"),
        ("ip_addr", "ip_address", "10.0.0.1", "10.0.0.1"),
        ("uptime_seconds", "uptime_seconds", 5, 5),
        ("uptime_s", "uptime_seconds", 5, 5),
        ("load", "cpu_load", 1.5, 1.5),
        ("load_avg", "cpu_load", [0.5, 0.4, 0.3], 0.5),
        ("cpu_temp", "temperature_c", 50, 50.0),
        ("temperature_c", "temperature_c", -10.5, -10.5),
        ("temp", "temperature_c", "40.5", 40.5),
        ("memory_total", "memory_total_bytes", 10, 10),
        ("memory_free", "memory_free_bytes", 10, 10),
        ("disk_free_bytes", "disk_free_bytes", 10, 10),
        ("timestamp", "reported_at", "2026-11-28T10:00:00Z", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
    ],
)
def test_sys_info_aliases(key: str, field: str, value: Any, expected: Any) -> None:
    result = sys_info({key: value, "cpu_load": 0.5} if field == "reported_at" else {key: value})
    assert getattr(result, field) == expected
    assert result.issues == ()


def test_numeric_firmware_version_becomes_a_string() -> None:
    assert sys_info({"firmware_version": 3}).firmware_version == "3"
    assert sys_info({"version": 3.2}).firmware_version == "3.2"


def test_system_values_win_over_top_level_ones() -> None:
    result = sys_info({"hostname": "top", "system": {"hostname": "nested"}, "ip": "10.0.0.9"})
    assert (result.hostname, result.ip_address) == ("nested", "10.0.0.9")


def test_empty_and_null_sys_info_values_mean_not_in_this_payload() -> None:
    result = sys_info(
        {"hostname": "", "firmware_version": None, "ip_address": "  ", "uptime": None, "mem_total": ""}
    )
    assert (result.hostname, result.firmware_version, result.ip_address) == (None, None, None)
    assert (result.uptime_seconds, result.memory_total_bytes) == (None, None)
    assert result.issues == ()


def test_an_empty_alias_does_not_hide_a_later_one() -> None:
    assert sys_info({"firmware_version": "", "fw_version": "2.0"}).firmware_version == "2.0"


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("temperature", 999, "temperature_c"),
        ("temperature", "hot", "temperature_c"),
        ("cpu_load", -1, "cpu_load"),
        ("cpu_load", float("inf"), "cpu_load"),
        ("hostname", "dl\x00042", "hostname"),
        ("hostname", "h" * 256, "hostname"),
        ("hostname", 42, "hostname"),
        ("ip_address", "1" * 65, "ip_address"),
        ("firmware_version", "v" * 101, "firmware_version"),
        ("mem_total", -1, "memory_total_bytes"),
        ("disk_total", 2**63, "disk_total_bytes"),
        ("disk_free", [1], "disk_free_bytes"),
    ],
)
def test_bad_sys_info_values_are_issues_and_none(key: str, value: Any, field: str) -> None:
    body = json.dumps({"hostname": "dl-1" if key != "hostname" else value, key: value}).encode()
    result = sys_info(body)
    assert getattr(result, field) is None
    assert [(i.reason, i.field) for i in result.issues] == [(RejectReason.BAD_VALUE, key)]


def test_bad_value_inside_system_names_its_path() -> None:
    result = sys_info({"system": {"memory": {"total_gb": "lots"}}})
    assert [(i.reason, i.field) for i in result.issues] == [
        (RejectReason.BAD_VALUE, "system.memory.total_gb")
    ]


def test_sys_info_bad_ts_is_an_issue() -> None:
    result = sys_info({"hostname": "dl", "ts": "1990-01-01T00:00:00Z"})
    assert result.reported_at is None
    assert [(i.reason, i.field) for i in result.issues] == [(RejectReason.BAD_TIMESTAMP, "ts")]


def test_sys_info_naive_ts_is_taken_in_the_sites_zone() -> None:
    result = sys_info({"hostname": "dl", "ts": "2026-11-28 11:00:00"}, site_tz=ZoneInfo("Europe/Rome"))
    assert result.reported_at == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_sys_info_is_detected_on_an_unclassified_topic() -> None:
    assert sys_info({"hostname": "dl-1", "uptime": 5}, OTHER_TOPIC).hostname == "dl-1"
    assert sys_info({"system": {"hostname": "dl-2"}}, OTHER_TOPIC).hostname == "dl-2"


def test_sys_info_topic_with_an_unrelated_object_is_an_unknown_format() -> None:
    assert rejection({"sensors_last_data": []}, SYS_INFO_TOPIC).reason is RejectReason.UNKNOWN_FORMAT


def test_sys_info_raw_is_cleaned_of_nan() -> None:
    result = sys_info(b'{"hostname": "dl", "temperature": NaN, "extra": [Infinity]}')
    assert result.raw == {"hostname": "dl", "temperature": None, "extra": [None]}
    assert [(i.reason, i.field) for i in result.issues] == [(RejectReason.BAD_VALUE, "temperature")]


# --- the package itself ----------------------------------------------------------------------------


def test_parser_imports_without_django_configured() -> None:
    backend = Path(parse_module.__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(backend)
    code = (
        "import sys, datetime as d\n"
        "from apps.mqtt.parser import parse_message\n"
        "r = parse_message('a/heartbeat', b'{}', received_at=d.datetime.now(d.UTC))\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'\n"
        "print(type(r).__name__)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Heartbeat"


def test_fast_reading_constructor_builds_the_same_object_as_the_dataclass() -> None:
    args: tuple[Any, ...] = (
        "MNA1",
        RECEIVED,
        True,
        *(float(i) for i in range(len(READING_COLUMNS))),
        {"k": 1},
    )
    fast = types_module.new_reading(*args)
    assert fast == SensorReading(*args)
    assert type(fast) is SensorReading


def test_results_are_immutable() -> None:
    reading = only(heartbeat({"sensors_last_data": [seed_sensor()]}))
    with pytest.raises(AttributeError):
        reading.acc_x = 2.0  # type: ignore[misc]


def test_100_sensor_seed_heartbeat_parses_completely() -> None:
    sensors = [
        seed_sensor(
            f"MNA{i:05d}", last_acc00=i / 1000, **({"last_mag_x": 1.0, "last_gyro_z": 2.0} if i % 2 else {})
        )
        for i in range(100)
    ]
    result = heartbeat({"sensors_last_data": sensors, "message_interval_seconds": 5})
    assert len(result.readings) == 100
    assert result.issues == ()
    assert [r.device_name for r in result.readings] == [f"MNA{i:05d}" for i in range(100)]
    assert [r.acc_x for r in result.readings] == [i / 1000 for i in range(100)]
    assert sum(r.mag_x is not None for r in result.readings) == 50
    assert orjson.loads(orjson.dumps([r.raw for r in result.readings])) == sensors
