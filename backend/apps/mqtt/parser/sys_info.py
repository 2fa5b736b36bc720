"""sys_info payloads, flat or nested under ``system``: hostname, firmware, address, uptime, load,
temperature and sizes through their aliases, each checked and bounded."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Final

from apps.mqtt.parser.context import Context, IssueList
from apps.mqtt.parser.timestamps import parse_ts
from apps.mqtt.parser.types import RejectReason, SysInfo
from apps.mqtt.parser.values import MISSING, Invalid, to_number

_BIGINT_MAX: Final = 2**63 - 1  # BigIntegerField


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


def _text(value: Any, max_length: int, *, numbers: bool = False) -> str | Invalid | None:
    kind = type(value)
    if numbers and (kind is int or (kind is float and math.isfinite(value))):
        value = str(value)
    elif kind is not str:
        return None if value is None else Invalid("{} is not a string", value)
    text: str = value.strip()
    if not text:
        return None
    if len(text) > max_length:
        return Invalid(f"{{}} is longer than {max_length} characters", text)
    if not text.isprintable():  # control characters (NUL would even break PostgreSQL)
        return Invalid("{} has control characters", text)
    return text


def _uptime(value: Any) -> int | Invalid | None:
    if isinstance(value, str) and (":" in value or "day" in value):
        match = _UPTIME_RE.fullmatch(value.strip())
        if match is None or (match["days"] is None and match["hours"] is None):
            return Invalid("{} is not an uptime", value)
        minutes, seconds = int(match["minutes"] or 0), int(match["seconds"] or 0)
        if minutes > 59 or seconds > 59:
            return Invalid("{} is not an uptime", value)
        days, hours = int(match["days"] or 0), int(match["hours"] or 0)
        total: int | float = days * 86400 + hours * 3600 + minutes * 60 + seconds
    else:
        number = to_number(value)
        if number is None or isinstance(number, Invalid):
            return number
        total = number
    if not 0 <= total <= _MAX_UPTIME:
        return Invalid("{} is not a plausible uptime", value)
    return int(total)


def _bounded(value: Any, low: float, high: float) -> float | Invalid | None:
    number = to_number(value)
    if number is None or isinstance(number, Invalid):
        return number
    if not low <= number <= high:
        return Invalid("{} is out of range", value)
    return float(number)


def _size(value: Any, unit: int, in_system: bool) -> int | Invalid | None:
    number = to_number(value)
    if number is None or isinstance(number, Invalid):
        return number
    if unit == 0:
        unit = _GB if in_system and number < _UNITLESS_BYTES_FROM else 1
    size = number * unit
    if not 0 <= size <= _BIGINT_MAX:
        return Invalid("{} is not a plausible size", value)
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
            return MISSING
        value = value.get(key, MISSING)
        if value is MISSING:
            return MISSING
    return value


# A level of the payload to read: the object, the prefix of its keys in issues, whether it is the
# nested firmware's ``system`` object.
_Level = tuple[dict[str, Any], str, bool]


def _fields(levels: list[_Level], issues: IssueList) -> dict[str, Any]:
    """Each field's first usable value: level by level, alias by alias."""
    found: dict[str, Any] = {}
    for field, converter, aliases in _SYS_FIELDS:
        for level, prefix, in_system in levels:
            for path, unit in aliases:
                raw_value = _lookup(level, path)
                if raw_value is MISSING:
                    continue
                value = _sys_value(converter, unit, raw_value, in_system)
                if isinstance(value, Invalid):
                    issues.report(RejectReason.BAD_VALUE, None, prefix + ".".join(path), value)
                elif value is not None:
                    found[field] = value
                    break
            if field in found:
                break
    return found


def _reported_at(levels: list[_Level], ctx: Context, issues: IssueList) -> datetime | None:
    for level, prefix, _ in levels:
        ts_value = level.get("ts")
        key = "ts"
        if ts_value is None:
            ts_value, key = level.get("timestamp"), "timestamp"
        parsed = parse_ts(ts_value, ctx)
        if isinstance(parsed, Invalid):
            issues.report(RejectReason.BAD_TIMESTAMP, None, prefix + key, parsed)
        elif parsed is not None:
            return parsed
    return None


def parse_sys_info(obj: dict[str, Any], ctx: Context) -> SysInfo | None:
    """The sys_info in ``obj``, or None when it has no sys_info field at all."""
    system = obj.get("system")
    if type(system) is not dict:
        system = None
        if _SYS_KEYS.isdisjoint(obj):
            return None
    # The nested firmware's ``system`` object first, then the top level.
    levels: list[_Level] = [(obj, "", False)]
    if system is not None:
        levels.insert(0, (system, "system.", True))
    issues = IssueList()
    found = _fields(levels, issues)
    reported_at = _reported_at(levels, ctx, issues)

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
