"""Malformed payloads of every kind the worker must survive: broken JSON, wrong types, NaN, a
missing device name, empty, not UTF-8, over the size cap."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Final

import orjson

from apps.mqtt.simulator.formats import LISTED_FORMATS, READING_KEYS

# Relative weights: the huge payload is rare because it costs 1 MiB on the wire each time.
MALFORMED_WEIGHTS: Final[dict[str, int]] = {
    "invalid_json": 3,
    "truncated": 3,
    "json_list": 2,
    "nan_values": 3,
    "wrong_types": 3,
    "missing_device_name": 3,
    "empty": 1,
    "not_utf8": 1,
    "huge": 1,
}
MALFORMED_KINDS: Final[tuple[str, ...]] = tuple(MALFORMED_WEIGHTS)
# A sys_info has no device names to leave out.
SYS_INFO_MALFORMED_KINDS: Final[tuple[str, ...]] = tuple(
    kind for kind in MALFORMED_KINDS if kind != "missing_device_name"
)
# Just over the worker's default 1 MiB cap, so the cap (not JSON parsing) is what rejects it.
HUGE_PAYLOAD_BYTES: Final = 1024 * 1024 + 4096


def break_heartbeat(document: dict[str, Any], fmt: str, kind: str) -> bytes:
    """A good heartbeat ``document`` (a copy the caller gives up, with at least one sensor) broken in
    the way ``kind`` names, for the kinds that depend on the message."""
    if kind == "truncated":
        good = orjson.dumps(document)
        return good[: len(good) // 2]
    if kind == "json_list":
        return orjson.dumps(_sensor_entries(document, fmt))
    first = _sensor_entries(document, fmt)[0]
    keys = READING_KEYS[fmt]
    if kind == "nan_values":
        _set_reading(first, keys[0], float("nan"))
        _set_reading(first, keys[3], float("inf"))
        # orjson writes NaN as null; the stdlib writes the (invalid JSON) NaN/Infinity tokens
        # that some firmware really sends.
        return json.dumps(document, allow_nan=True).encode()
    if kind == "wrong_types":
        _set_reading(first, keys[0], "n/a")
        _set_reading(first, keys[3], [1, 2])
        first["ts"] = 1_764_324_000
        return orjson.dumps(document)
    # missing_device_name
    if fmt in LISTED_FORMATS:
        del first["device_name"]
    else:
        container = document if fmt == "legacy" else document["sensors_last_data"]
        name = next(iter(container))
        container[""] = container.pop(name)
    return orjson.dumps(document)


def break_sys_info(document: dict[str, Any], kind: str) -> bytes:
    """A good sys_info ``document`` broken in the way ``kind`` names, for the kinds that depend on
    the message."""
    if kind == "truncated":
        good = orjson.dumps(document)
        return good[: len(good) // 2]
    if kind == "json_list":
        return orjson.dumps(list(document.items()))
    system = document.get("system", document)
    if kind == "nan_values":
        system["temperature"] = float("nan")
        system["cpu_load"] = float("inf")
        return json.dumps(document, allow_nan=True).encode()
    if kind == "wrong_types":
        system["uptime"] = [1, 2]
        system["hostname"] = 42
        return orjson.dumps(document)
    raise AssertionError(f"unhandled malformed kind {kind!r}")  # every kind is handled above


def generic_malformed(kind: str) -> bytes | None:
    """The payloads that do not depend on the message: None for the kinds that do."""
    if kind == "invalid_json":
        return b'{"sensors_last_data": [{"device_name": "MNA00001", "ts": }]'
    if kind == "empty":
        return b""
    if kind == "not_utf8":
        return b"\xff\xfe\x00\x80 not text \xc3\x28"
    if kind == "huge":
        return _huge_payload()
    return None


@lru_cache(maxsize=1)
def _huge_payload() -> bytes:
    # Valid JSON, so only a size cap can reject it; built once and reused.
    head = b'{"sensors_last_data": [], "padding": "'
    tail = b'"}'
    return head + b"x" * (HUGE_PAYLOAD_BYTES - len(head) - len(tail)) + tail


def _sensor_entries(document: dict[str, Any], fmt: str) -> list[dict[str, Any]]:
    if fmt == "legacy":
        return list(document.values())
    sensors = document["sensors_last_data"]
    return list(sensors.values()) if isinstance(sensors, dict) else sensors


def _set_reading(entry: dict[str, Any], key: str, value: object) -> None:
    current = entry.get(key)
    if isinstance(current, dict):
        current["value"] = value
    else:
        entry[key] = value
