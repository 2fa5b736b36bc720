"""Pure, total parsing of datalogger MQTT messages: topic + bytes in, a typed result out.

``parse_message`` never raises: any bytes on any topic give a :class:`Heartbeat`, a :class:`SysInfo`
or a :class:`Rejection` with a reason. Problems confined to one sensor or one field are reported as
:class:`ItemIssue` values and the rest of the message is still used. No ORM, no Django settings, no
I/O: this module is importable (and testable) without Django configured.

Whole-message rejections (``Rejection.reason``)
    too_large (over ``max_bytes``, checked before anything is decoded), empty (zero-length or blank,
    e.g. a retained message being cleared), not_utf8, not_json, not_an_object (valid JSON, not an
    object), unknown_format (an object of no known shape for the kind), internal_error (a parser bug
    caught at the boundary; tests assert it never happens). no_sensors is never produced.

Message kind
    ``kind`` comes from the subscription (``MqttTopic.message_type``; plain strings work). ``AUTO``: the
    topic's last level (``heartbeat`` / ``sys_info``), else the payload's shape, tried in this order:
    ``sensors_last_data`` present -> heartbeat; a ``system`` object -> sys_info; legacy device entries
    -> heartbeat; any sys_info alias key -> sys_info; else unknown_format.

Heartbeat variants (``Heartbeat.format``)
    ``list``       ``{"sensors_last_data": [{"device_name": "MNA00542", "ts": ..., "last_acc00": ...}]}``
                   (the seed's format; ``"sensors_last_data": null`` counts as an empty list).
    ``keyed``      ``{"sensors_last_data": {"MNA00542": {"ts": ..., "last_acc00": ...}}}``; the key is
                   the device name (a ``device_name`` inside the object is ignored).
    ``legacy``     ``{"MNA00542": {"ts": ..., "acc_x": ...}, "ts": ..., ...}``: every top-level key whose
                   value is an object holding at least one reading field or ``ts`` is a device; other
                   keys are ignored. On a heartbeat topic an object holding only ``ts``/``timestamp``/
                   ``message_interval_seconds`` (or nothing) is a legacy heartbeat with no sensors; any
                   other object without devices is unknown_format.
    ``malformed``  ``sensors_last_data`` is neither a list, an object nor null: a heartbeat with no
                   readings and one BAD_VALUE issue (the site is alive, its sensor list is unusable).
    An empty sensor list, or one whose items were all rejected, is still a Heartbeat (the site is alive).
    ``message_interval_seconds`` (top level) is used when in (0, 86400], else a BAD_VALUE issue.

Reading fields (first match wins, in this order, whatever the key order in the payload)
    acc_x: last_acc00, acc00, last_acc_x, acc_x    (acc_y: ...01/_y, acc_z: ...02/_z)
    incli_x/y, mag_x/y/z, gyro_x/y/z: last_<name>, <name>
    A value may be a number, a numeric string ("0.01") or ``{"unit": ..., "value": ...}`` (the unit is
    kept in ``raw`` only; nothing is converted). null and "" mean "no value" (no issue). NaN, Infinity,
    booleans, other strings, lists, objects without ``value`` and magnitudes above 1e9 give None plus a
    BAD_VALUE issue. NaN/Infinity are not JSON: when orjson refuses the payload, the stdlib ``json``
    module (which accepts them) is tried before giving up, so such a message is still usable.

Timestamps (``ts``, alias ``timestamp``; per sensor, else the message's top-level one, else receive time)
    ISO 8601 with ``T`` or a space, with or without fractional seconds, with ``Z``/an offset or naive
    (naive = ``site_tz``), or a Unix epoch: a number, or a string of 9+ digits (milliseconds when
    > 1e11). Always returned as aware UTC. Before 2000-01-01, more than one day after ``received_at``,
    or unparseable: a BAD_TIMESTAMP issue and the receive time (``ts_from_payload=False``); the reading
    is kept. "" means absent. A naive ``received_at`` is taken as UTC.

Device names
    A string, stripped, 1..100 characters, without control/format characters, separators or lone
    surrogates. Otherwise the item is dropped with MISSING_DEVICE_NAME or BAD_DEVICE_NAME; an item that
    is not an object gives NOT_AN_OBJECT. A device repeated in one message: the last one is kept, with
    a DUPLICATE_DEVICE issue.

Limits (a 1 MiB payload may hold half a million entries; these bound one message to ~0.2 s worst case)
    At most MAX_SENSORS_PER_MESSAGE entries are read (then one TOO_MANY_SENSORS issue); at most
    MAX_ISSUES_PER_MESSAGE issues are listed (then one TOO_MANY_ISSUES issue counting the rest).

sys_info aliases (first match wins: inside ``system`` first, then the top level; in each, this order)
    hostname           hostname, host_name, host                            (string, <= 255 chars)
    firmware_version   firmware_version, fw_version, firmware, version, fw,
                       software_version, sw_version                         (string or number, <= 100)
    ip_address         ip_address, ip, ip_addr, ipv4, ipaddress, local_ip   (string, <= 64 chars)
    uptime_seconds     uptime_seconds, uptime_s, uptime_sec, uptime         (seconds, or "10 days, 3:46:14",
                                                                             "1 day, 0:00:01", "3:46:14";
                                                                             <= 100 years)
    cpu_load           cpu_load, load, load_avg, loadavg, load_average      (0..1e6; a list: its first item)
    temperature_c      temperature_c, temp_c, cpu_temp, cpu_temperature,
                       temperature, temp                                    (-100..200 °C)
    memory_total_bytes memory_total_bytes, memory_total, memory_total_kb/_mb/_gb, the same with mem_,
                       then nested {"memory"|"mem": {"total_bytes"|"total"|"total_kb"|"total_mb"|"total_gb"}}
    memory_free_bytes  the same with free
    disk_total_bytes   disk_total_bytes, disk_total, disk_total_kb/_mb/_gb, then {"disk": {"total"...}}
    disk_free_bytes    the same with free                                   (all sizes: 0..2**63-1 bytes)
    reported_at        ts, timestamp
    Size units are binary: kb = 1024, mb = 1024**2, gb = 1024**3 bytes. A size without a unit suffix is
    bytes at the top level (the flat firmware) and GB inside ``system`` (the nested firmware), except
    that a unitless value >= 2**20 inside ``system`` is taken as bytes (no datalogger has a PiB).
    Numbers may be numeric strings or ``{"value": ...}`` objects. Text fields must be printable.
    null, "" and absent all give None, meaning "not in this payload": the writer keeps what it has.
    A bad value is None plus a BAD_VALUE issue whose field is its path, e.g. "system.memory.total_gb".
    On a sys_info topic, an object with neither ``system`` nor any alias key is unknown_format.

Guarantees for the writer
    Every SensorReading.ts is aware UTC (``tzinfo is UTC``); every float is finite or None; ``raw``
    (readings and sys_info) is orjson-serialisable and safe for PostgreSQL jsonb: NaN/Infinity and
    integers beyond 64 bits become null, NUL characters and lone surrogates are replaced, nesting too
    deep to serialise (even two levels down, inside the writer's rows document) is cut. In the
    common case ``raw`` is the parsed object itself (no copy).
    ``Rejection.sample`` has no NUL characters. ``ItemIssue.field`` is always one of this module's
    known field names (payload keys such as "last_acc00" or "system.memory.total_gb"), so it is safe
    as a metric label; device names in issues are validated names or None.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from itertools import islice
from typing import Any, Final

import orjson

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "MAX_ISSUES_PER_MESSAGE",
    "MAX_SENSORS_PER_MESSAGE",
    "READING_COLUMNS",
    "Heartbeat",
    "ItemIssue",
    "MessageKind",
    "ParseResult",
    "RejectReason",
    "Rejection",
    "SensorReading",
    "SysInfo",
    "classify_topic",
    "parse_message",
]

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


def _build_reading_aliases() -> tuple[dict[str, int], dict[str, int]]:
    bases = {"acc_x": ("acc00", "acc_x"), "acc_y": ("acc01", "acc_y"), "acc_z": ("acc02", "acc_z")}
    column_of: dict[str, int] = {}
    rank_of: dict[str, int] = {}
    for index, column in enumerate(READING_COLUMNS):
        rank = 0
        for base in bases.get(column, (column,)):
            for key in (f"last_{base}", base):
                column_of[key] = index
                rank_of[key] = rank
                rank += 1
    return column_of, rank_of


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


_new_reading: Final = _reading_factory()

# Payload key -> column index, and key -> precedence when two aliases of one column are present.
_COLUMN_OF, _RANK_OF = _build_reading_aliases()
_TS_KEYS: Final = ("ts", "timestamp")
# What makes a top-level object a device entry in the legacy format.
_DEVICE_MARKERS: Final = frozenset(_COLUMN_OF) | frozenset(_TS_KEYS)
# Top-level keys of a heartbeat that are about the message, not a device.
_HEARTBEAT_META: Final = frozenset({*_TS_KEYS, "message_interval_seconds"})

_MAX_READING: Final = 1e9
_MAX_DEVICE_NAME: Final = 100
_MAX_INTERVAL: Final = 86400.0
_MIN_TS: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MIN_EPOCH: Final = _MIN_TS.timestamp()
_MAX_FUTURE: Final = timedelta(days=1)
_EPOCH_MS_ABOVE: Final = 1e11  # an epoch above this (year 5138 in seconds) is in milliseconds
_RAW_MAX_DEPTH: Final = 64
_INT_MIN: Final = -(2**63)
_UINT_MAX: Final = 2**64 - 1  # orjson serialises integers in [-2**63, 2**64 - 1]
_BIGINT_MAX: Final = 2**63 - 1  # BigIntegerField
_SAMPLE_CHARS: Final = 200
_BOM: Final = b"\xef\xbb\xbf"
# Control, format, surrogate and line/paragraph separator characters have no place in a name.
_BAD_NAME_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_MISSING: Final[Any] = object()


class _Invalid:
    """A value that was present but unusable; the caller turns it into an ItemIssue. The detail is
    only formatted when an issue is kept (a flood of bad values must not cost a string each)."""

    __slots__ = ("reason", "template", "value")

    def __init__(
        self, template: str, value: Any = None, reason: RejectReason = RejectReason.BAD_VALUE
    ) -> None:
        self.template = template  # "{}" stands for a short description of the value
        self.value = value
        self.reason = reason

    @property
    def detail(self) -> str:
        return self.template.format(_show(self.value))


def _show(value: Any) -> str:
    """A short description of a payload value for issue details (never the whole thing)."""
    kind = type(value)
    if kind is str:
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if kind is int:
        return repr(value) if -(10**15) < value < 10**15 else "a very large integer"
    if value is None or kind is bool or kind is float:
        return repr(value)
    if kind is dict:
        return f"an object with {len(value)} keys"
    if kind is list:
        return f"a list of {len(value)}"
    return kind.__name__


def _sample(payload: bytes) -> str:
    # 800 bytes always decode to at least 200 characters; NUL is not storable in PostgreSQL text.
    return payload[: _SAMPLE_CHARS * 4].decode("utf-8", "replace")[:_SAMPLE_CHARS].replace("\x00", "\ufffd")


# --- JSON hygiene for raw ------------------------------------------------------------------------


def _clean_str(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (only the stdlib fallback lets them through)
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _clean(value: Any, depth: int = 0) -> Any:
    """A copy of a parsed JSON value that orjson can serialise and PostgreSQL jsonb can store."""
    kind = type(value)
    if kind is str:
        return _clean_str(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return value if _INT_MIN <= value <= _UINT_MAX else None
    if kind is dict:
        if depth >= _RAW_MAX_DEPTH:
            return None
        return {_clean_str(k): _clean(v, depth + 1) for k, v in value.items()}
    if kind is list:
        if depth >= _RAW_MAX_DEPTH:
            return None
        return [_clean(v, depth + 1) for v in value]
    return value  # None, bool


# --- values --------------------------------------------------------------------------------------


def _str_number(text: str) -> float | _Invalid | None:
    stripped = text.strip()
    if not stripped:
        return None
    # float() also takes "1_000", "nan", "inf" and non-ASCII digits: not numbers a datalogger sends.
    if not stripped.isascii() or "_" in stripped:
        return _Invalid("{} is not a number", text)
    try:
        number = float(stripped)
    except ValueError:
        return _Invalid("{} is not a number", text)
    if not math.isfinite(number):
        return _Invalid("{} is not a finite number", text)
    return number


def _to_float(value: Any) -> float | _Invalid | None:
    """A reading value: finite, |x| <= 1e9, or None when absent/null. Hot path: type checks first."""
    kind = type(value)
    if kind is float:
        if -_MAX_READING <= value <= _MAX_READING:  # False for NaN and the infinities
            return float(value)
        return _Invalid("{} is out of range" if math.isfinite(value) else "{} is not finite", value)
    if kind is int:
        if -_MAX_READING <= value <= _MAX_READING:
            return float(value)
        return _Invalid("{} is out of range", value)
    if value is None:
        return None
    if kind is dict:  # {"unit": "g", "value": 0.01}
        inner = value.get("value", _MISSING)
        if inner is _MISSING:
            return _Invalid("{} without 'value'", value)
        if type(inner) is dict:
            return _Invalid("{} with a nested object in 'value'", value)
        return _to_float(inner)
    if kind is str:
        number = _str_number(value)
        if isinstance(number, float) and not -_MAX_READING <= number <= _MAX_READING:
            return _Invalid("{} is out of range", value)
        return number
    return _Invalid("{} is not a number", value)


def _number(value: Any) -> int | float | _Invalid | None:
    """A sys_info number: finite, ints kept exact; unit/value objects and numeric strings accepted."""
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is float:
        return value if math.isfinite(value) else _Invalid("{} is not finite", value)
    if value is None:
        return None
    if kind is dict:
        inner = value.get("value", _MISSING)
        if inner is _MISSING or type(inner) is dict:
            return _Invalid("{} without a usable 'value'", value)
        return _number(inner)
    if kind is str:
        stripped = value.strip()
        # Exact integers for byte counts; int() refuses more than 4300 digits, float() gives inf.
        if len(stripped) <= 20 and stripped.isascii() and stripped.isdigit():
            return int(stripped)
        return _str_number(value)
    return _Invalid("{} is not a number", value)


# --- timestamps ----------------------------------------------------------------------------------


class _Context:
    """Per-message state: the receive time, the site's zone, and a ts cache (sensors of one
    heartbeat usually share a handful of ts strings)."""

    __slots__ = ("clean", "latest", "latest_epoch", "nul", "received_at", "site_tz", "ts_cache")

    def __init__(self, received_at: datetime, site_tz: tzinfo, *, clean: bool, nul: bool) -> None:
        self.received_at = received_at
        self.latest = received_at + _MAX_FUTURE
        self.latest_epoch = self.latest.timestamp()
        self.site_tz = site_tz
        # Raw objects need cleaning: the stdlib parsed NaN/Infinity/surrogates, NUL escapes are
        # present, or nesting is deeper than orjson can write.
        self.clean = clean
        self.nul = nul  # the payload has NUL escapes
        self.ts_cache: dict[Any, datetime | _Invalid | None] = {}

    def raw(self, value: dict[str, Any]) -> dict[str, Any]:
        """``value`` made storable, when this message needs it."""
        if not self.nul:
            try:  # at C speed: orjson writes NaN/Infinity as null
                cleaned: dict[str, Any] = orjson.loads(orjson.dumps(_embedded(value)))[0][0]
                return cleaned
            except orjson.JSONEncodeError:  # lone surrogates or deep nesting: the slow way
                pass
        result: dict[str, Any] = _clean(value)
        return result


def _embedded(value: Any) -> list[list[Any]]:
    """``value`` as the writer embeds it: PostgreSQL gets a flush's rows as one JSON array of arrays,
    so a raw object must still serialise two levels deeper than in the payload."""
    return [[value]]


def _parse_ts(value: Any, ctx: _Context) -> datetime | _Invalid | None:
    """A payload ts as aware UTC; None when absent or empty; _Invalid when unusable or absurd."""
    if value is None:
        return None
    kind = type(value)
    if kind is str or kind is int or kind is float:
        cache = ctx.ts_cache
        try:
            return cache[value]
        except KeyError:
            parsed = cache[value] = _parse_ts_uncached(value, kind, ctx)
            return parsed
    return _Invalid("{} is not a time", value)  # bool, list, object


def _parse_ts_uncached(value: Any, kind: type, ctx: _Context) -> datetime | _Invalid | None:
    try:
        if kind is str:
            text = value.strip()
            if not text:
                return None
            # Digits only: an epoch, unless it is too short to be one after 1973 ("20261128" is a date).
            if len(text) >= 9 and text.isascii() and text.replace(".", "", 1).isdigit():
                return _from_epoch(float(text), value, ctx)
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return _Invalid("{} is not an ISO 8601 time", value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=ctx.site_tz)
            parsed = parsed.astimezone(UTC)
        else:
            return _from_epoch(float(value), value, ctx)
    except (ValueError, OverflowError, TypeError):  # out of datetime's range, or a hostile tzinfo
        return _Invalid("{} is not a usable time", value)
    if parsed < _MIN_TS or parsed > ctx.latest:
        return _Invalid("{} is before 2000 or more than a day ahead", value)
    return parsed


def _from_epoch(epoch: float, value: Any, ctx: _Context) -> datetime | _Invalid:
    if not math.isfinite(epoch):
        return _Invalid("{} is not a finite time", value)
    if epoch > _EPOCH_MS_ABOVE:
        epoch /= 1000.0
    if epoch < _MIN_EPOCH or epoch > ctx.latest_epoch:
        return _Invalid("{} is before 2000 or more than a day ahead", value)
    return datetime.fromtimestamp(epoch, UTC)


# --- heartbeat -----------------------------------------------------------------------------------


_BAD_NAME: Final = RejectReason.BAD_DEVICE_NAME


def _device_name(value: Any) -> str | _Invalid:
    if type(value) is str:
        name = value.strip()
        if (
            name
            and len(name) <= _MAX_DEVICE_NAME
            and (
                (name.isascii() and name.isprintable())
                or not any(unicodedata.category(c) in _BAD_NAME_CATEGORIES for c in name)
            )
        ):
            return name
        if not name:
            return _Invalid("empty device name", reason=RejectReason.MISSING_DEVICE_NAME)
        if len(name) > _MAX_DEVICE_NAME:
            return _Invalid(f"device name {{}} is longer than {_MAX_DEVICE_NAME} characters", name, _BAD_NAME)
        return _Invalid("device name {} has control characters", name, _BAD_NAME)
    if value is None:
        return _Invalid("no device_name", reason=RejectReason.MISSING_DEVICE_NAME)
    return _Invalid("device name {} is not a string", value, _BAD_NAME)


class _IssueList(list[ItemIssue]):
    """The first MAX_ISSUES_PER_MESSAGE issues; the rest are only counted (and never formatted)."""

    __slots__ = ("dropped",)

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def report(
        self,
        reason: RejectReason,
        device_name: str | None,
        field: str | None,
        detail: str | _Invalid,
        where: str = "",
        index: int | None = None,
    ) -> None:
        if len(self) >= MAX_ISSUES_PER_MESSAGE:
            self.dropped += 1
            return
        text = detail if isinstance(detail, str) else detail.detail
        if index is not None:
            where = f"{where}[{index}]"
        self.append(ItemIssue(reason, device_name, field, f"{where}: {text}" if where else text))

    def freeze(self) -> tuple[ItemIssue, ...]:
        if not self.dropped:
            return tuple(self)
        detail = f"{self.dropped} more issues not listed"
        return (*self, ItemIssue(RejectReason.TOO_MANY_ISSUES, None, None, detail))


_PLANS: dict[tuple[str, ...], tuple[tuple[str, int], ...]] = {}
# Key layouts remembered, and the most keys (and characters of keys) a remembered one may have: a
# flood of odd payloads can cost the cache its contents, never more memory than this (~2 MiB).
_MAX_PLANS: Final = 1024
_MAX_PLAN_KEYS: Final = 64
_MAX_PLAN_KEY_CHARS: Final = 2048


def _plan(layout: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """The (key, column) pairs to read for a sensor object with these keys: per column, the alias
    of the lowest rank present, whatever the key order."""
    chosen: dict[int, str] = {}
    for key in layout:
        column = _COLUMN_OF.get(key)
        if column is None:
            continue
        previous = chosen.get(column)
        if previous is None or _RANK_OF[key] < _RANK_OF[previous]:
            chosen[column] = key
    plan = tuple((key, column) for column, key in chosen.items())
    if len(layout) <= _MAX_PLAN_KEYS and sum(map(len, layout)) <= _MAX_PLAN_KEY_CHARS:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[layout] = plan
    return plan


class _HeartbeatBuilder:
    """Collects readings (last one per device wins) and issues for one heartbeat."""

    __slots__ = ("ctx", "default_from_payload", "default_ts", "issues", "readings")

    def __init__(self, ctx: _Context, default_ts: datetime | None, issues: _IssueList) -> None:
        self.ctx = ctx
        self.default_ts = default_ts if default_ts is not None else ctx.received_at
        self.default_from_payload = default_ts is not None
        self.readings: dict[str, SensorReading] = {}
        self.issues = issues

    def add(self, name: str, item: dict[str, Any]) -> None:
        ctx = self.ctx
        values: list[float | None] = [None] * 11
        # Which key fills which column depends only on the keys present: worked out once per key
        # layout (a datalogger sends the same one every time), not once per sensor.
        layout = tuple(item)
        plan = _PLANS.get(layout)
        if plan is None:
            plan = _plan(layout)
        for key, column in plan:
            value = item[key]
            if type(value) is float and -_MAX_READING <= value <= _MAX_READING:
                values[column] = value  # the common case, without a call
                continue
            number = _to_float(value)
            if isinstance(number, _Invalid):
                self.issues.report(RejectReason.BAD_VALUE, name, key, number)
                number = None
            values[column] = number

        ts_value = item.get("ts")
        if ts_value is None:
            ts_value = item.get("timestamp")
        parsed = _parse_ts(ts_value, ctx) if ts_value is not None else None
        if parsed is None:  # absent or "": the message's ts, else the receive time
            ts, from_payload = self.default_ts, self.default_from_payload
        elif isinstance(parsed, _Invalid):
            self.issues.report(RejectReason.BAD_TIMESTAMP, name, "ts", parsed)
            ts, from_payload = ctx.received_at, False
        else:
            ts, from_payload = parsed, True

        raw = ctx.raw(item) if ctx.clean else item
        if name in self.readings:
            self.issues.report(
                RejectReason.DUPLICATE_DEVICE, name, None, "device listed twice; the last is kept"
            )
        self.readings[name] = _new_reading(name, ts, from_payload, *values, raw)

    def add_item(self, index: int, item: Any) -> None:
        """An entry of the list format: an object with a device_name."""
        if type(item) is not dict:
            invalid = _Invalid("{} is not an object", item)
            self.issues.report(RejectReason.NOT_AN_OBJECT, None, None, invalid, "sensors_last_data", index)
            return
        name = _device_name(item.get("device_name"))
        if isinstance(name, _Invalid):
            self.issues.report(name.reason, None, "device_name", name, "sensors_last_data", index)
        else:
            self.add(name, item)

    def add_entry(self, key: str, value: Any, where: str) -> None:
        """An entry of the keyed or legacy format: the key is the device name."""
        name = _device_name(key)
        if isinstance(name, _Invalid):
            self.issues.report(name.reason, None, "device_name", name, where)
        elif type(value) is not dict:
            self.issues.report(
                RejectReason.NOT_AN_OBJECT, name, None, _Invalid("{} is not an object", value), where
            )
        else:
            self.add(name, value)


def _heartbeat(obj: dict[str, Any], ctx: _Context, *, bare_ok: bool) -> Heartbeat | None:
    """The heartbeat in ``obj``, or None when ``obj`` does not have a heartbeat's shape."""
    issues = _IssueList()
    container = obj.get("sensors_last_data", _MISSING)
    legacy_devices: list[tuple[str, dict[str, Any]]] = []
    entries = 0
    if container is _MISSING:
        legacy_devices = [
            (key, value)
            for key, value in obj.items()
            if type(value) is dict and not _DEVICE_MARKERS.isdisjoint(value)
        ]
        if not legacy_devices and not (bare_ok and _HEARTBEAT_META.issuperset(obj)):
            return None
        fmt, entries = "legacy", len(legacy_devices)
    elif container is None:  # firmware in Go writes an empty (nil) list as null
        fmt = "list"
    elif type(container) is list:
        fmt, entries = "list", len(container)
    elif type(container) is dict:
        fmt, entries = "keyed", len(container)
    else:
        fmt = "malformed"
        expected = _Invalid("sensors_last_data is {}, expected a list or an object", container)
        issues.report(RejectReason.BAD_VALUE, None, "sensors_last_data", expected)

    # Message-level fields (in the legacy format a device could be called "ts": skip those).
    message_ts: datetime | None = None
    ts_value = obj.get("ts")
    if ts_value is None:
        ts_value = obj.get("timestamp")
    if ts_value is not None and not (fmt == "legacy" and type(ts_value) is dict):
        parsed = _parse_ts(ts_value, ctx)
        if isinstance(parsed, _Invalid):
            issues.report(RejectReason.BAD_TIMESTAMP, None, "ts", parsed, "message ts")
        else:
            message_ts = parsed
    interval: float | None = None
    interval_value = obj.get("message_interval_seconds")
    if interval_value is not None:
        number = _to_float(interval_value)
        if isinstance(number, float) and 0.0 < number <= _MAX_INTERVAL:
            interval = number
        elif number is not None:
            invalid = number if isinstance(number, _Invalid) else _Invalid("{} is not in (0, 86400]", number)
            issues.report(RejectReason.BAD_VALUE, None, "message_interval_seconds", invalid)

    if entries > MAX_SENSORS_PER_MESSAGE:
        issues.report(
            RejectReason.TOO_MANY_SENSORS,
            None,
            None if fmt == "legacy" else "sensors_last_data",
            f"{entries} sensor entries; only the first {MAX_SENSORS_PER_MESSAGE} were read",
        )
    builder = _HeartbeatBuilder(ctx, message_ts, issues)
    if fmt == "list" and container is not None:
        for index, item in enumerate(islice(container, MAX_SENSORS_PER_MESSAGE)):
            builder.add_item(index, item)
    elif fmt == "keyed":
        for key, value in islice(container.items(), MAX_SENSORS_PER_MESSAGE):
            builder.add_entry(key, value, "sensors_last_data entry")
    elif fmt == "legacy":
        for key, value in islice(legacy_devices, MAX_SENSORS_PER_MESSAGE):
            builder.add_entry(key, value, "top-level entry")
    return Heartbeat(
        readings=tuple(builder.readings.values()),
        issues=issues.freeze(),
        message_interval_seconds=interval,
        format=fmt,
    )


# --- sys_info ------------------------------------------------------------------------------------

# Key suffix -> bytes per unit; 0 means contextual (bytes at the top level, GB inside ``system``).
_SIZE_UNITS: Final = (("_bytes", 1), ("", 0), ("_kb", 1024), ("_mb", 1024**2), ("_gb", 1024**3))


def _size_aliases(prefixes: tuple[str, ...], which: str) -> tuple[tuple[tuple[str, ...], int], ...]:
    flat = tuple(((f"{p}_{which}{suffix}",), unit) for p in prefixes for suffix, unit in _SIZE_UNITS)
    nested = tuple(((p, f"{which}{suffix}"), unit) for p in prefixes for suffix, unit in _SIZE_UNITS)
    return flat + nested


def _plain(*keys: str) -> tuple[tuple[tuple[str, ...], int], ...]:
    return tuple(((key,), 0) for key in keys)


# SysInfo field -> (converter, ((path, unit), ...)) in precedence order; a path of two keys is a
# nested object (``memory: {total_gb: ...}``); unit is a byte multiplier for sizes (0: contextual).
_SYS_FIELDS: Final = (
    ("hostname", "text255", _plain("hostname", "host_name", "host")),
    (
        "firmware_version",
        "version",
        _plain(
            "firmware_version", "fw_version", "firmware", "version", "fw", "software_version", "sw_version"
        ),
    ),
    ("ip_address", "text64", _plain("ip_address", "ip", "ip_addr", "ipv4", "ipaddress", "local_ip")),
    ("uptime_seconds", "uptime", _plain("uptime_seconds", "uptime_s", "uptime_sec", "uptime")),
    ("cpu_load", "load", _plain("cpu_load", "load", "load_avg", "loadavg", "load_average")),
    (
        "temperature_c",
        "temperature",
        _plain("temperature_c", "temp_c", "cpu_temp", "cpu_temperature", "temperature", "temp"),
    ),
    ("memory_total_bytes", "size", _size_aliases(("memory", "mem"), "total")),
    ("memory_free_bytes", "size", _size_aliases(("memory", "mem"), "free")),
    ("disk_total_bytes", "size", _size_aliases(("disk",), "total")),
    ("disk_free_bytes", "size", _size_aliases(("disk",), "free")),
)
# Top-level keys that make a payload look like sys_info when the topic does not say.
_SYS_KEYS: Final = frozenset(path[0] for _, _, aliases in _SYS_FIELDS for path, _ in aliases) | {"system"}
_MAX_UPTIME: Final = 100 * 366 * 86400
_MAX_LOAD: Final = 1e6
_TEMPERATURE_RANGE: Final = (-100.0, 200.0)
_GB: Final = 1024**3
_UNITLESS_BYTES_FROM: Final = 2**20  # a unitless size inside ``system`` this big is bytes, not GB
_UPTIME_RE: Final = re.compile(
    r"(?:(?P<days>\d{1,7})\s*days?(?:\s*,\s*|\s+|$))?"
    r"(?:(?P<hours>\d{1,9}):(?P<minutes>\d{1,2})(?::(?P<seconds>\d{1,2})(?:\.\d+)?)?)?",
    re.ASCII,
)


def _text(value: Any, max_length: int, *, numbers: bool = False) -> str | _Invalid | None:
    kind = type(value)
    if numbers and (kind is int or (kind is float and math.isfinite(value))):
        value = str(value)
    elif kind is not str:
        return None if value is None else _Invalid("{} is not a string", value)
    text: str = value.strip()
    if not text:
        return None
    if len(text) > max_length:
        return _Invalid(f"{{}} is longer than {max_length} characters", text)
    if not text.isprintable():  # control characters (NUL would even break PostgreSQL)
        return _Invalid("{} has control characters", text)
    return text


def _uptime(value: Any) -> int | _Invalid | None:
    if isinstance(value, str) and (":" in value or "day" in value):
        match = _UPTIME_RE.fullmatch(value.strip())
        if match is None or (match["days"] is None and match["hours"] is None):
            return _Invalid("{} is not an uptime", value)
        minutes, seconds = int(match["minutes"] or 0), int(match["seconds"] or 0)
        if minutes > 59 or seconds > 59:
            return _Invalid("{} is not an uptime", value)
        days, hours = int(match["days"] or 0), int(match["hours"] or 0)
        total: int | float = days * 86400 + hours * 3600 + minutes * 60 + seconds
    else:
        number = _number(value)
        if number is None or isinstance(number, _Invalid):
            return number
        total = number
    if not 0 <= total <= _MAX_UPTIME:
        return _Invalid("{} is not a plausible uptime", value)
    return int(total)


def _bounded(value: Any, low: float, high: float) -> float | _Invalid | None:
    number = _number(value)
    if number is None or isinstance(number, _Invalid):
        return number
    if not low <= number <= high:
        return _Invalid("{} is out of range", value)
    return float(number)


def _size(value: Any, unit: int, in_system: bool) -> int | _Invalid | None:
    number = _number(value)
    if number is None or isinstance(number, _Invalid):
        return number
    if unit == 0:
        unit = _GB if in_system and number < _UNITLESS_BYTES_FROM else 1
    size = number * unit
    if not 0 <= size <= _BIGINT_MAX:
        return _Invalid("{} is not a plausible size", value)
    return size if isinstance(size, int) else round(size)


def _sys_value(converter: str, unit: int, value: Any, in_system: bool) -> Any:
    if converter == "size":
        return _size(value, unit, in_system)
    if converter == "text255":
        return _text(value, 255)
    if converter == "text64":
        return _text(value, 64)
    if converter == "version":
        return _text(value, 100, numbers=True)
    if converter == "uptime":
        return _uptime(value)
    if converter == "load":
        if type(value) is list:  # a load average triple: the 1-minute value
            value = value[0] if value else None
        return _bounded(value, 0.0, _MAX_LOAD)
    return _bounded(value, *_TEMPERATURE_RANGE)  # "temperature"


def _lookup(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = obj
    for key in path:
        if type(value) is not dict:
            return _MISSING
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _sys_info(obj: dict[str, Any], ctx: _Context) -> SysInfo | None:
    """The sys_info in ``obj``, or None when it has no sys_info field at all."""
    system = obj.get("system")
    if type(system) is not dict:
        system = None
        if _SYS_KEYS.isdisjoint(obj):
            return None
    # The nested firmware's ``system`` object first, then the top level.
    levels: list[tuple[dict[str, Any], str, bool]] = [(obj, "", False)]
    if system is not None:
        levels.insert(0, (system, "system.", True))
    issues = _IssueList()
    found: dict[str, Any] = {}
    for field, converter, aliases in _SYS_FIELDS:
        for level, prefix, in_system in levels:
            for path, unit in aliases:
                raw_value = _lookup(level, path)
                if raw_value is _MISSING:
                    continue
                value = _sys_value(converter, unit, raw_value, in_system)
                if isinstance(value, _Invalid):
                    issues.report(RejectReason.BAD_VALUE, None, prefix + ".".join(path), value)
                elif value is not None:
                    found[field] = value
                    break
            if field in found:
                break

    reported_at: datetime | None = None
    for level, prefix, _ in levels:
        ts_value = level.get("ts")
        key = "ts"
        if ts_value is None:
            ts_value, key = level.get("timestamp"), "timestamp"
        parsed = _parse_ts(ts_value, ctx)
        if isinstance(parsed, _Invalid):
            issues.report(RejectReason.BAD_TIMESTAMP, None, prefix + key, parsed)
        elif parsed is not None:
            reported_at = parsed
            break

    return SysInfo(
        hostname=found.get("hostname"),
        firmware_version=found.get("firmware_version"),
        ip_address=found.get("ip_address"),
        uptime_seconds=found.get("uptime_seconds"),
        cpu_load=found.get("cpu_load"),
        temperature_c=found.get("temperature_c"),
        memory_total_bytes=found.get("memory_total_bytes"),
        memory_free_bytes=found.get("memory_free_bytes"),
        disk_total_bytes=found.get("disk_total_bytes"),
        disk_free_bytes=found.get("disk_free_bytes"),
        reported_at=reported_at,
        raw=ctx.raw(obj) if ctx.clean else obj,
        issues=issues.freeze(),
    )


# --- entry points --------------------------------------------------------------------------------


_KIND_BY_VALUE: Final = {kind.value: kind for kind in MessageKind}


def classify_topic(topic: str) -> MessageKind:
    """HEARTBEAT when the topic's last level is ``heartbeat``, SYS_INFO for ``sys_info``, else AUTO."""
    if type(topic) is not str:
        return MessageKind.AUTO
    last = topic.rpartition("/")[2].lower()
    if last == "heartbeat":
        return MessageKind.HEARTBEAT
    if last == "sys_info":
        return MessageKind.SYS_INFO
    return MessageKind.AUTO


def parse_message(
    topic: str,
    payload: bytes,
    *,
    kind: MessageKind = MessageKind.AUTO,
    received_at: datetime,
    site_tz: tzinfo = UTC,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> ParseResult:
    """Parse one MQTT message. Never raises: see the module docstring for what comes out."""
    try:
        return _parse(topic, payload, kind, received_at, site_tz, max_bytes)
    except Exception as exc:  # a bug here must not reach the client loop; the reason makes it visible
        try:
            sample = _sample(bytes(payload))
        except Exception:
            sample = ""
        return Rejection(RejectReason.INTERNAL_ERROR, f"parser error: {type(exc).__name__}", sample)


def _parse(
    topic: str, payload: bytes, kind: Any, received_at: datetime, site_tz: tzinfo, max_bytes: int
) -> ParseResult:
    if type(payload) is not bytes:
        # bytearray/memoryview from other clients; a str by mistake (surrogates survive to fail UTF-8).
        payload = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else bytes(payload)
    size = len(payload)
    if size > max_bytes:  # before any decoding: only the sample's first bytes are looked at
        return Rejection(
            RejectReason.TOO_LARGE, f"{size} bytes, over the {max_bytes}-byte cap", _sample(payload)
        )
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    elif received_at.tzinfo is not UTC:
        received_at = received_at.astimezone(UTC)
    if type(kind) is not MessageKind:  # a plain "heartbeat" from MqttTopic.message_type works too
        kind = _KIND_BY_VALUE.get(kind, MessageKind.AUTO) if isinstance(kind, str) else MessageKind.AUTO
    if kind is MessageKind.AUTO:
        kind = classify_topic(topic)

    body = payload[3:] if payload.startswith(_BOM) else payload  # some firmware writes a UTF-8 BOM
    if not body or body.isspace():
        return Rejection(RejectReason.EMPTY, "empty payload", _sample(payload))
    # NUL escapes parse fine but PostgreSQL jsonb refuses them: raw objects then need cleaning.
    nul = clean = b"\\u0000" in body
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            return Rejection(
                RejectReason.NOT_UTF8, f"invalid UTF-8 at byte {decode_error.start}", _sample(payload)
            )
        try:
            # The stdlib accepts NaN/Infinity (and 1e400, lone surrogates): fields get rejected one
            # by one instead of the whole message.
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return Rejection(RejectReason.NOT_JSON, str(exc)[:160], _sample(payload))
        clean = True
    if type(obj) is not dict:
        return Rejection(
            RejectReason.NOT_AN_OBJECT, f"the payload is {_show(obj)}, expected an object", _sample(payload)
        )
    if not clean:
        try:  # only nesting deeper than orjson can write fails here; cheap next to the parse
            orjson.dumps(_embedded(obj))
        except orjson.JSONEncodeError:
            clean = True
    ctx = _Context(received_at, site_tz, clean=clean, nul=nul)

    result: Heartbeat | SysInfo | None
    if kind is MessageKind.HEARTBEAT:
        result = _heartbeat(obj, ctx, bare_ok=True)
    elif kind is MessageKind.SYS_INFO:
        result = _sys_info(obj, ctx)
    elif "sensors_last_data" in obj:
        result = _heartbeat(obj, ctx, bare_ok=False)
    elif type(obj.get("system")) is dict:
        result = _sys_info(obj, ctx)
    else:  # devices at the top level first: a legacy heartbeat may also carry a "version" key
        result = _heartbeat(obj, ctx, bare_ok=False) or _sys_info(obj, ctx)
    if result is None:
        keys = ", ".join(_show(key) for key in islice(obj, 5))
        expected = "a heartbeat or sys_info" if kind is MessageKind.AUTO else f"a {kind.value}"
        return Rejection(
            RejectReason.UNKNOWN_FORMAT, f"not {expected} payload; keys: {keys or 'none'}", _sample(payload)
        )
    return result
