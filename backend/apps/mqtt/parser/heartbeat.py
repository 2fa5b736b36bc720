"""Heartbeats in every variant (list, keyed, legacy, malformed): one ``SensorReading`` per device,
the last one kept per device name, with an ``ItemIssue`` for each field or sensor dropped."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from itertools import islice
from typing import Any, Final

from apps.mqtt.parser.context import Context, IssueList
from apps.mqtt.parser.timestamps import parse_ts
from apps.mqtt.parser.types import (
    MAX_SENSORS_PER_MESSAGE,
    READING_COLUMNS,
    Heartbeat,
    RejectReason,
    SensorReading,
    new_reading,
)
from apps.mqtt.parser.values import MAX_READING, MISSING, Invalid, to_float


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


# Payload key -> column index, and key -> precedence when two aliases of one column are present.
_COLUMN_OF, _RANK_OF = _build_reading_aliases()
_TS_KEYS: Final = ("ts", "timestamp")
# What makes a top-level object a device entry in the legacy format.
_DEVICE_MARKERS: Final = frozenset(_COLUMN_OF) | frozenset(_TS_KEYS)
# Top-level keys of a heartbeat that are about the message, not a device.
_HEARTBEAT_META: Final = frozenset({*_TS_KEYS, "message_interval_seconds"})
_MAX_DEVICE_NAME: Final = 100
_MAX_INTERVAL: Final = 86400.0
# Control, format, surrogate and line/paragraph separator characters have no place in a name.
_BAD_NAME_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_BAD_NAME: Final = RejectReason.BAD_DEVICE_NAME


def _device_name(value: Any) -> str | Invalid:
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
            return Invalid("empty device name", reason=RejectReason.MISSING_DEVICE_NAME)
        if len(name) > _MAX_DEVICE_NAME:
            return Invalid(f"device name {{}} is longer than {_MAX_DEVICE_NAME} characters", name, _BAD_NAME)
        return Invalid("device name {} has control characters", name, _BAD_NAME)
    if value is None:
        return Invalid("no device_name", reason=RejectReason.MISSING_DEVICE_NAME)
    return Invalid("device name {} is not a string", value, _BAD_NAME)


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

    def __init__(self, ctx: Context, default_ts: datetime | None, issues: IssueList) -> None:
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
            if type(value) is float and -MAX_READING <= value <= MAX_READING:
                values[column] = value  # the common case, without a call
                continue
            number = to_float(value)
            if isinstance(number, Invalid):
                self.issues.report(RejectReason.BAD_VALUE, name, key, number)
                number = None
            values[column] = number

        ts_value = item.get("ts")
        if ts_value is None:
            ts_value = item.get("timestamp")
        parsed = parse_ts(ts_value, ctx) if ts_value is not None else None
        if parsed is None:  # absent or "": the message's ts, else the receive time
            ts, from_payload = self.default_ts, self.default_from_payload
        elif isinstance(parsed, Invalid):
            self.issues.report(RejectReason.BAD_TIMESTAMP, name, "ts", parsed)
            ts, from_payload = ctx.received_at, False
        else:
            ts, from_payload = parsed, True

        raw = ctx.raw(item) if ctx.clean else item
        if name in self.readings:
            self.issues.report(
                RejectReason.DUPLICATE_DEVICE, name, None, "device listed twice; the last is kept"
            )
        self.readings[name] = new_reading(name, ts, from_payload, *values, raw)

    def add_item(self, index: int, item: Any) -> None:
        """An entry of the list format: an object with a device_name."""
        if type(item) is not dict:
            invalid = Invalid("{} is not an object", item)
            self.issues.report(RejectReason.NOT_AN_OBJECT, None, None, invalid, "sensors_last_data", index)
            return
        name = _device_name(item.get("device_name"))
        if isinstance(name, Invalid):
            self.issues.report(name.reason, None, "device_name", name, "sensors_last_data", index)
        else:
            self.add(name, item)

    def add_entry(self, key: str, value: Any, where: str) -> None:
        """An entry of the keyed or legacy format: the key is the device name."""
        name = _device_name(key)
        if isinstance(name, Invalid):
            self.issues.report(name.reason, None, "device_name", name, where)
        elif type(value) is not dict:
            self.issues.report(
                RejectReason.NOT_AN_OBJECT, name, None, Invalid("{} is not an object", value), where
            )
        else:
            self.add(name, value)


_ENTRY_WHERE: Final = {"keyed": "sensors_last_data entry", "legacy": "top-level entry"}


def _devices(obj: dict[str, Any], bare_ok: bool, issues: IssueList) -> tuple[str, Any] | None:
    """The heartbeat's format and its device entries (a list, a dict or (name, object) pairs), or
    None when ``obj`` does not have a heartbeat's shape."""
    container = obj.get("sensors_last_data", MISSING)
    if container is MISSING:
        legacy_devices = [
            (key, value)
            for key, value in obj.items()
            if type(value) is dict and not _DEVICE_MARKERS.isdisjoint(value)
        ]
        if not legacy_devices and not (bare_ok and _HEARTBEAT_META.issuperset(obj)):
            return None
        return "legacy", legacy_devices
    if container is None:  # firmware in Go writes an empty (nil) list as null
        return "list", ()
    if type(container) is list:
        return "list", container
    if type(container) is dict:
        return "keyed", container
    expected = Invalid("sensors_last_data is {}, expected a list or an object", container)
    issues.report(RejectReason.BAD_VALUE, None, "sensors_last_data", expected)
    return "malformed", ()


def _message_ts(obj: dict[str, Any], fmt: str, ctx: Context, issues: IssueList) -> datetime | None:
    """The message-level ts (in the legacy format a device could be called "ts": skip those)."""
    ts_value = obj.get("ts")
    if ts_value is None:
        ts_value = obj.get("timestamp")
    if ts_value is None or (fmt == "legacy" and type(ts_value) is dict):
        return None
    parsed = parse_ts(ts_value, ctx)
    if isinstance(parsed, Invalid):
        issues.report(RejectReason.BAD_TIMESTAMP, None, "ts", parsed, "message ts")
        return None
    return parsed


def _interval(obj: dict[str, Any], issues: IssueList) -> float | None:
    value = obj.get("message_interval_seconds")
    if value is None:
        return None
    number = to_float(value)
    if isinstance(number, float) and 0.0 < number <= _MAX_INTERVAL:
        return number
    if number is not None:
        invalid = number if isinstance(number, Invalid) else Invalid("{} is not in (0, 86400]", number)
        issues.report(RejectReason.BAD_VALUE, None, "message_interval_seconds", invalid)
    return None


def parse_heartbeat(obj: dict[str, Any], ctx: Context, *, bare_ok: bool) -> Heartbeat | None:
    """The heartbeat in ``obj``, or None when ``obj`` does not have a heartbeat's shape."""
    issues = IssueList()
    found = _devices(obj, bare_ok, issues)
    if found is None:
        return None
    fmt, devices = found
    message_ts = _message_ts(obj, fmt, ctx, issues)
    interval = _interval(obj, issues)
    if len(devices) > MAX_SENSORS_PER_MESSAGE:
        issues.report(
            RejectReason.TOO_MANY_SENSORS,
            None,
            None if fmt == "legacy" else "sensors_last_data",
            f"{len(devices)} sensor entries; only the first {MAX_SENSORS_PER_MESSAGE} were read",
        )
    builder = _HeartbeatBuilder(ctx, message_ts, issues)
    if fmt == "list":
        for index, item in enumerate(islice(devices, MAX_SENSORS_PER_MESSAGE)):
            builder.add_item(index, item)
    elif fmt in _ENTRY_WHERE:
        pairs = devices.items() if fmt == "keyed" else devices
        where = _ENTRY_WHERE[fmt]
        for key, value in islice(pairs, MAX_SENSORS_PER_MESSAGE):
            builder.add_entry(key, value, where)
    return Heartbeat(
        readings=tuple(builder.readings.values()),
        issues=issues.freeze(),
        message_interval_seconds=interval,
        format=fmt,
    )
