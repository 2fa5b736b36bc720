"""The parser's results and limits: what ``parse_message`` returns (``Heartbeat``, ``SysInfo``,
``Rejection``, with ``ItemIssue`` for what was dropped inside a usable message) and the reading columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

DEFAULT_MAX_PAYLOAD_BYTES: Final = 1024 * 1024
# A 1 MiB payload can hold half a million sensor entries: these bound the work (tens of ms) and the
# memory one message may cost the client loop. Sites have ~100 sensors.
MAX_SENSORS_PER_MESSAGE: Final = 5000
MAX_ISSUES_PER_MESSAGE: Final = 100


class MessageKind(StrEnum):
    HEARTBEAT = "heartbeat"
    SYS_INFO = "sys_info"
    AUTO = "auto"


class RejectReason(StrEnum):
    # Whole-message rejections.
    TOO_LARGE = "too_large"
    EMPTY = "empty"  # zero-length or blank payload (e.g. a retained message being cleared)
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"  # also item-level: a sensor entry that is not an object
    UNKNOWN_FORMAT = "unknown_format"
    # Set by the MQTT client, not the parser: a topic without the site's code as one of its levels
    # (a wildcard subscription catching another site's traffic) is never filed under this site.
    FOREIGN_TOPIC = "foreign_topic"
    # Never produced: a heartbeat whose sensors were all rejected is still a Heartbeat (the site is
    # alive); kept so that metric label sets written against it stay valid.
    NO_SENSORS = "no_sensors"
    INTERNAL_ERROR = "internal_error"  # a parser bug caught at the boundary; tests assert it never occurs
    # Message-level limits, reported as an ItemIssue (the part within the limits is still used).
    TOO_MANY_SENSORS = "too_many_sensors"
    TOO_MANY_ISSUES = "too_many_issues"
    # Item-level reasons (ItemIssue).
    MISSING_DEVICE_NAME = "missing_device_name"
    BAD_DEVICE_NAME = "bad_device_name"
    DUPLICATE_DEVICE = "duplicate_device"
    BAD_VALUE = "bad_value"
    BAD_TIMESTAMP = "bad_timestamp"


@dataclass(frozen=True, slots=True)
class ItemIssue:
    """A per-item / per-field problem; the rest of the message is still used."""

    reason: RejectReason
    device_name: str | None
    field: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class SensorReading:
    device_name: str
    ts: datetime  # aware UTC; the receive time when the payload has no usable ts
    ts_from_payload: bool
    acc_x: float | None
    acc_y: float | None
    acc_z: float | None
    incli_x: float | None
    incli_y: float | None
    mag_x: float | None
    mag_y: float | None
    mag_z: float | None
    gyro_x: float | None
    gyro_y: float | None
    gyro_z: float | None
    raw: dict[str, Any]  # the sensor's own object as received (sanitised only when it had to be)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    readings: tuple[SensorReading, ...]
    issues: tuple[ItemIssue, ...]
    message_interval_seconds: float | None
    format: str  # "list" | "keyed" | "legacy" | "malformed"


@dataclass(frozen=True, slots=True)
class SysInfo:
    """None means "not in this payload": the writer never overwrites a stored value with it."""

    hostname: str | None
    firmware_version: str | None
    ip_address: str | None
    uptime_seconds: int | None
    cpu_load: float | None
    temperature_c: float | None
    memory_total_bytes: int | None
    memory_free_bytes: int | None
    disk_total_bytes: int | None
    disk_free_bytes: int | None
    reported_at: datetime | None
    raw: dict[str, Any]
    issues: tuple[ItemIssue, ...]


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    detail: str
    sample: str  # the payload's first 200 characters (decoded with errors="replace"), for operators


ParseResult = Heartbeat | SysInfo | Rejection

# The SensorData columns, in SensorReading's field order.
READING_COLUMNS: Final = (
    "acc_x",
    "acc_y",
    "acc_z",
    "incli_x",
    "incli_y",
    "mag_x",
    "mag_y",
    "mag_z",
    "gyro_x",
    "gyro_y",
    "gyro_z",
)


def _reading_factory() -> Callable[..., SensorReading]:
    """SensorReading(...) at half the cost. A frozen dataclass's __init__ calls object.__setattr__
    for each of the 15 fields, which was the largest single cost per sensor; calling the slots'
    descriptors directly gives the same object (a test checks it equals the normal constructor's)."""
    new = object.__new__
    (s_name, s_ts, s_from, s_ax, s_ay, s_az, s_ix, s_iy, s_mx, s_my, s_mz, s_gx, s_gy, s_gz, s_raw) = (
        getattr(SensorReading, field.name).__set__ for field in fields(SensorReading)
    )

    def new_reading(
        device_name: str,
        ts: datetime,
        ts_from_payload: bool,
        acc_x: float | None,
        acc_y: float | None,
        acc_z: float | None,
        incli_x: float | None,
        incli_y: float | None,
        mag_x: float | None,
        mag_y: float | None,
        mag_z: float | None,
        gyro_x: float | None,
        gyro_y: float | None,
        gyro_z: float | None,
        raw: dict[str, Any],
    ) -> SensorReading:
        reading = new(SensorReading)
        s_name(reading, device_name)
        s_ts(reading, ts)
        s_from(reading, ts_from_payload)
        s_ax(reading, acc_x)
        s_ay(reading, acc_y)
        s_az(reading, acc_z)
        s_ix(reading, incli_x)
        s_iy(reading, incli_y)
        s_mx(reading, mag_x)
        s_my(reading, mag_y)
        s_mz(reading, mag_z)
        s_gx(reading, gyro_x)
        s_gy(reading, gyro_y)
        s_gz(reading, gyro_z)
        s_raw(reading, raw)
        return reading

    return new_reading


new_reading: Final = _reading_factory()
