"""Property tests: no input on any topic makes the parser raise, and what it returns is always
storable (aware UTC times, finite floats, JSON-serialisable raw objects). Pure: no database."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.mqtt.parser import (
    READING_COLUMNS,
    Heartbeat,
    ItemIssue,
    MessageKind,
    ParseResult,
    Rejection,
    RejectReason,
    SysInfo,
    parse_message,
)

RECEIVED = datetime(2026, 11, 28, 10, 0, 5, tzinfo=UTC)
# All property tests together stay under ~10 s. No deadline: timing on a busy CI machine must not fail a
# test that is about correctness.
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

READING_KEYS = [
    *(f"last_{c}" for c in READING_COLUMNS),
    *READING_COLUMNS,
    "last_acc00",
    "last_acc01",
    "last_acc02",
    "acc00",
]
KNOWN_KEYS = [
    *READING_KEYS,
    "device_name",
    "ts",
    "timestamp",
    "sensors_last_data",
    "message_interval_seconds",
    "system",
    "hostname",
    "firmware_version",
    "version",
    "ip",
    "uptime",
    "cpu_load",
    "load_avg",
    "temperature",
    "mem_total",
    "memory",
    "disk",
    "total_gb",
    "free",
    "unit",
    "value",
]

topics = st.one_of(
    st.sampled_from(["S1/datalogger_o/heartbeat", "S1/sys_info", "S1/other", "", "/", "heartbeat"]),
    st.text(max_size=30),
)
kinds = st.one_of(st.sampled_from(list(MessageKind)), st.sampled_from(["heartbeat", "sys_info", "bogus"]))
zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])

tricky_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\ud800",
            "nan",
            "-Infinity",
            "1e400",
            "0.01",
            "2026-11-28T10:00:00Z",
            "2026-11-28 10:00:00",
            "1795860000",
            "10 days, 3:46:14",
            "99:99:99",
            "x" * 150,
            "9" * 5000,  # int() refuses over 4300 digits
            "1" * 25,
            "-" + "9" * 400,
            "1e-400",
        ]
    ),
    st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{0,8})?\Z"),  # numeric strings: values, sizes, epochs
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e9, -1e9, 1e9 + 1, 1795860000, 1795860000000, 946684799, 0.0, -0.0]),
    tricky_text,
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), tricky_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=25,
)


def encode(value: Any) -> bytes:
    """JSON text the way a sloppy datalogger might write it: NaN/Infinity tokens, escaped surrogates."""
    return json.dumps(value, allow_nan=True).encode()


def check(result: ParseResult) -> None:
    """What every result must satisfy, whatever came in."""
    assert type(result) in (Heartbeat, SysInfo, Rejection)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, RejectReason)
        assert result.reason is not RejectReason.INTERNAL_ERROR, result.detail
        assert result.reason is not RejectReason.NO_SENSORS
        assert len(result.sample) <= 200
        assert "\x00" not in result.sample
        assert isinstance(result.detail, str)
        return
    check_issues(result.issues)
    if isinstance(result, SysInfo):
        check_raw(result.raw)
        assert result.reported_at is None or result.reported_at.tzinfo is UTC
        for name in ("uptime_seconds", "memory_total_bytes", "memory_free_bytes", "disk_total_bytes"):
            value = getattr(result, name)
            assert value is None or (type(value) is int and 0 <= value < 2**63)
        for name in ("cpu_load", "temperature_c"):
            value = getattr(result, name)
            assert value is None or (type(value) is float and math.isfinite(value))
        for name in ("hostname", "firmware_version", "ip_address"):
            value = getattr(result, name)
            assert value is None or (type(value) is str and value and value.isprintable())
        return
    assert result.format in ("list", "keyed", "legacy", "malformed")
    interval = result.message_interval_seconds
    assert interval is None or (type(interval) is float and 0 < interval <= 86400)
    names = [reading.device_name for reading in result.readings]
    assert len(names) == len(set(names))
    for reading in result.readings:
        assert type(reading.device_name) is str
        assert 0 < len(reading.device_name) <= 100
        assert reading.device_name == reading.device_name.strip()
        assert reading.device_name.isprintable() or not reading.device_name.isascii()
        assert reading.ts.tzinfo is UTC
        assert reading.ts.utcoffset() == timedelta(0)
        if not reading.ts_from_payload:
            assert reading.ts == RECEIVED
        assert reading.ts <= RECEIVED + timedelta(days=1)
        for column in READING_COLUMNS:
            value = getattr(reading, column)
            assert value is None or (type(value) is float and math.isfinite(value) and abs(value) <= 1e9)
        check_raw(reading.raw)


def check_raw(raw: dict[str, Any]) -> None:
    assert type(raw) is dict
    orjson.dumps(raw)  # the writer's serialiser
    text = json.dumps(raw, allow_nan=False)  # Django's JSONField serialiser: no NaN
    assert "\\u0000" not in text  # PostgreSQL jsonb refuses NUL


def check_issues(issues: tuple[ItemIssue, ...]) -> None:
    for issue in issues:
        assert isinstance(issue.reason, RejectReason)
        assert issue.reason not in (RejectReason.INTERNAL_ERROR, RejectReason.TOO_LARGE)
        assert isinstance(issue.detail, str)
        assert len(issue.detail) < 300
        assert issue.field is None or (issue.field.isascii() and issue.field.isprintable())


def parse(topic: str, payload: bytes, kind: Any, site_tz: Any = UTC) -> ParseResult:
    return parse_message(topic, payload, kind=kind, received_at=RECEIVED, site_tz=site_tz)


@settings(FAST, max_examples=400)  # cheap examples
@given(topic=topics, payload=st.binary(max_size=300), kind=kinds)
def test_arbitrary_bytes_never_raise(topic: str, payload: bytes, kind: Any) -> None:
    check(parse(topic, payload, kind))


@FAST
@given(topic=topics, value=json_values, kind=kinds, site_tz=zones)
def test_arbitrary_json_never_raises(topic: str, value: Any, kind: Any, site_tz: Any) -> None:
    check(parse(topic, encode(value), kind, site_tz))


sensor_objects = st.dictionaries(keys, json_values, max_size=8)


@settings(FAST, max_examples=60)  # three parses per example
@given(
    topic=topics,
    kind=kinds,
    container=st.one_of(
        st.lists(st.one_of(sensor_objects, json_values), max_size=6),
        st.dictionaries(tricky_text, st.one_of(sensor_objects, json_values), max_size=6),
        json_values,
    ),
    top=st.dictionaries(keys, json_values, max_size=4),
)
def test_arbitrary_heartbeat_shapes_never_raise(
    topic: str, kind: Any, container: Any, top: dict[str, Any]
) -> None:
    check(parse(topic, encode({**top, "sensors_last_data": container}), kind))
    check(parse(topic, encode({**top, "system": container}), kind))
    if isinstance(container, dict):
        check(parse(topic, encode({**top, **container}), kind))  # legacy: devices at the top level


SYS_INFO_KEYS = [
    "hostname",
    "host",
    "firmware_version",
    "version",
    "ip_address",
    "ip",
    "uptime",
    "uptime_seconds",
    "cpu_load",
    "load_avg",
    "temperature",
    "cpu_temp",
    "mem_total",
    "memory_free",
    "memory_total_gb",
    "mem_total_kb",
    "disk_total",
    "disk_free_mb",
    "total",
    "free_gb",
    "ts",
    "timestamp",
]
# Digit strings of any length: int() refuses more than 4300 digits.
long_digits = st.integers(min_value=1, max_value=6000).map(lambda n: "7" * n)
sys_info_values = st.one_of(scalars, long_digits)
sys_info_objects = st.dictionaries(
    st.sampled_from(SYS_INFO_KEYS),
    st.one_of(sys_info_values, st.dictionaries(st.sampled_from(["value", "unit", "total"]), sys_info_values)),
    max_size=10,
)


@FAST
@given(
    topic=topics,
    kind=kinds,
    top=sys_info_objects,
    system=st.one_of(sys_info_objects, json_values),
    memory=sys_info_objects,
    disk=sys_info_objects,
)
def test_arbitrary_sys_info_shapes_never_raise(
    topic: str, kind: Any, top: dict[str, Any], system: Any, memory: dict[str, Any], disk: dict[str, Any]
) -> None:
    check(parse(topic, encode(top), kind))
    nested = {**top, "system": system if not isinstance(system, dict) else {**system, "memory": memory}}
    check(parse(topic, encode({**nested, "disk": disk}), kind))


def valid_sensor(index: int) -> dict[str, Any]:
    return {
        "device_name": f"MNA{index:05d}",
        "ts": "2026-11-28T10:00:00Z",
        "last_acc00": 0.01,
        "last_acc01": -0.02,
        "last_acc02": 0.98,
        "last_incli_x": 0.1,
        "last_incli_y": -0.3,
        "last_mag_x": 1.0,
        "last_gyro_z": 2.0,
    }


@st.composite
def mutated_heartbeats(draw: st.DrawFn) -> bytes:
    sensors = [valid_sensor(i) for i in range(draw(st.integers(0, 5)))]
    message: dict[str, Any] = {"sensors_last_data": sensors, "message_interval_seconds": 5}
    for _ in range(draw(st.integers(0, 4))):  # structural mutations: any field, any value
        target: dict[str, Any] = draw(st.sampled_from([message, *sensors])) if sensors else message
        key = draw(st.one_of(st.sampled_from(sorted(target)), keys) if target else keys)
        if draw(st.booleans()):
            target[key] = draw(json_values)
        else:
            target.pop(key, None)
    payload = bytearray(encode(message))
    for _ in range(draw(st.integers(0, 3))):  # byte mutations: flip, insert, delete, truncate
        if not payload:
            break
        at = draw(st.integers(0, len(payload) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            payload[at] = draw(st.integers(0, 255))
        elif action == "insert":
            payload[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del payload[at]
        else:
            del payload[at:]
    return bytes(payload)


@FAST
@given(topic=topics, kind=kinds, payload=mutated_heartbeats(), site_tz=zones)
def test_mutated_heartbeats_never_raise(topic: str, kind: Any, payload: bytes, site_tz: Any) -> None:
    check(parse(topic, payload, kind, site_tz))


@FAST
@given(count=st.integers(0, 20), bad=st.sets(st.integers(0, 19)), junk=json_values)
def test_bad_items_never_cost_the_good_ones(count: int, bad: set[int], junk: Any) -> None:
    sensors: list[Any] = [valid_sensor(i) for i in range(count)]
    for index in bad:
        if index < count:
            sensors[index] = junk if not isinstance(junk, dict) else {**junk, "device_name": None}
    result = parse("S1/datalogger_o/heartbeat", encode({"sensors_last_data": sensors}), MessageKind.AUTO)
    check(result)
    assert isinstance(result, Heartbeat)
    good = {f"MNA{i:05d}" for i in range(count) if i not in bad}
    assert good <= {reading.device_name for reading in result.readings}


@FAST
@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1, 12), max_value=datetime(2026, 11, 28, 9), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(-12 * 60, 14 * 60),
    separator=st.sampled_from(["T", " "]),
    zone_style=st.sampled_from(["offset", "z", "naive"]),
)
def test_iso_timestamps_round_trip_to_the_same_instant(
    moment: datetime, offset_minutes: int, separator: str, zone_style: str
) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    if zone_style == "z":
        text = moment.replace(tzinfo=None).isoformat(separator) + "Z"
        site_tz: Any = UTC
    elif zone_style == "offset":
        text = moment.astimezone(zone).isoformat(separator)
        site_tz = UTC
    else:  # naive: written in the site's zone
        text = moment.astimezone(zone).replace(tzinfo=None).isoformat(separator)
        site_tz = zone
    payload = encode({"sensors_last_data": [{"device_name": "A", "ts": text}]})
    result = parse("S1/datalogger_o/heartbeat", payload, MessageKind.HEARTBEAT, site_tz)
    assert isinstance(result, Heartbeat)
    (reading,) = result.readings
    assert reading.ts == moment
    assert reading.ts_from_payload is True
    assert reading.ts.tzinfo is UTC
