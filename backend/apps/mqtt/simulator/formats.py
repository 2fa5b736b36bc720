"""The payload formats a simulated datalogger writes: heartbeat and sys_info variants, their
topics, reading keys and timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Final

HEARTBEAT_FORMATS: Final[tuple[str, ...]] = ("seed", "keyed", "unprefixed", "unit-value", "legacy")
SYS_INFO_FORMATS: Final[tuple[str, ...]] = ("flat", "nested")
# Not a format of its own: each site gets one of the real formats, chosen by its index.
MIXED: Final = "mixed"

# (acc x, acc y, acc z, incli x, incli y, mag x, mag y, mag z, gyro x, gyro y, gyro z) per format.
_SEED_KEYS: Final = (
    "last_acc00",
    "last_acc01",
    "last_acc02",
    "last_incli_x",
    "last_incli_y",
    "last_mag_x",
    "last_mag_y",
    "last_mag_z",
    "last_gyro_x",
    "last_gyro_y",
    "last_gyro_z",
)
_PLAIN_KEYS: Final = (
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
READING_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "seed": _SEED_KEYS,
    "keyed": _SEED_KEYS,
    "unprefixed": _PLAIN_KEYS,
    "unit-value": _SEED_KEYS,
    "legacy": _PLAIN_KEYS,
}
UNITS: Final = ("g", "g", "g", "deg", "deg", "uT", "uT", "uT", "dps", "dps", "dps")
# Formats whose sensors are a list of objects carrying their own device_name.
LISTED_FORMATS: Final = frozenset({"seed", "unprefixed", "unit-value"})


def heartbeat_topic(site_code: str) -> str:
    return f"{site_code}/datalogger_o/heartbeat"


def sys_info_topic(site_code: str) -> str:
    return f"{site_code}/sys_info"


def resolve_heartbeat_format(fmt: str, index: int = 0) -> str:
    """The format of the site at ``index``: ``mixed`` cycles through all formats so that any 5
    consecutive sites cover every variant."""
    if fmt == MIXED:
        return HEARTBEAT_FORMATS[index % len(HEARTBEAT_FORMATS)]
    if fmt not in HEARTBEAT_FORMATS:
        raise ValueError(f"unknown heartbeat format {fmt!r}; use one of {', '.join(HEARTBEAT_FORMATS)}")
    return fmt


def resolve_sys_info_format(fmt: str, index: int = 0) -> str:
    if fmt == MIXED:
        return SYS_INFO_FORMATS[index % len(SYS_INFO_FORMATS)]
    if fmt not in SYS_INFO_FORMATS:
        raise ValueError(f"unknown sys_info format {fmt!r}; use one of {', '.join(SYS_INFO_FORMATS)}")
    return fmt


def _as_utc(now: dt.datetime) -> dt.datetime:
    # A naive time would be ambiguous (the worker reads naive stamps in the site's zone).
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.UTC)


def format_ts(now: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2026-11-28T10:00:00.123Z``."""
    now = _as_utc(now)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def format_ts_naive(now: dt.datetime) -> str:
    """The older firmware's stamp: UTC, a space separator, no zone: ``2026-11-28 10:00:00``."""
    return f"{_as_utc(now):%Y-%m-%d %H:%M:%S}"
