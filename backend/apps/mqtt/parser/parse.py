"""The entry point: topic + bytes → ``Heartbeat``, ``SysInfo`` or ``Rejection``; never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from itertools import islice
from typing import Any, Final

import orjson

from apps.mqtt.parser.context import Context
from apps.mqtt.parser.heartbeat import parse_heartbeat
from apps.mqtt.parser.raw import embedded
from apps.mqtt.parser.sys_info import parse_sys_info
from apps.mqtt.parser.types import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Heartbeat,
    MessageKind,
    ParseResult,
    Rejection,
    RejectReason,
    SysInfo,
)
from apps.mqtt.parser.values import show

_SAMPLE_CHARS: Final = 200
_BOM: Final = b"\xef\xbb\xbf"


def _sample(payload: bytes) -> str:
    # 800 bytes always decode to at least 200 characters; NUL is not storable in PostgreSQL text.
    return payload[: _SAMPLE_CHARS * 4].decode("utf-8", "replace")[:_SAMPLE_CHARS].replace("\x00", "\ufffd")


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


def foreign_topic(topic: str, site_code: str) -> Rejection | None:
    """A message filed under a site must name the site: its code is one of the topic's levels
    (a wildcard subscription may deliver other sites' traffic, which must never count as this
    site's)."""
    if site_code in topic.split("/"):
        return None
    detail = f"the topic does not contain the site code {site_code!r} as a level"
    return Rejection(reason=RejectReason.FOREIGN_TOPIC, detail=detail, sample="")


def parse_message(
    topic: str,
    payload: bytes,
    *,
    kind: MessageKind = MessageKind.AUTO,
    received_at: datetime,
    site_tz: tzinfo = UTC,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> ParseResult:
    """Parse one MQTT message. Never raises: see docs/payloads.md for what comes out."""
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
    received_at = _utc(received_at)
    kind = _kind(kind, topic)

    body = payload[3:] if payload.startswith(_BOM) else payload  # some firmware writes a UTF-8 BOM
    if not body or body.isspace():
        return Rejection(RejectReason.EMPTY, "empty payload", _sample(payload))
    decoded = _decode(body, payload)
    if isinstance(decoded, Rejection):
        return decoded
    obj, clean, nul = decoded
    result = _dispatch(obj, Context(received_at, site_tz, clean=clean, nul=nul), kind)
    if result is None:
        keys = ", ".join(show(key) for key in islice(obj, 5))
        expected = "a heartbeat or sys_info" if kind is MessageKind.AUTO else f"a {kind.value}"
        return Rejection(
            RejectReason.UNKNOWN_FORMAT, f"not {expected} payload; keys: {keys or 'none'}", _sample(payload)
        )
    return result


def _utc(received_at: datetime) -> datetime:
    if received_at.tzinfo is None:
        return received_at.replace(tzinfo=UTC)
    if received_at.tzinfo is not UTC:
        return received_at.astimezone(UTC)
    return received_at


def _kind(kind: Any, topic: str) -> MessageKind:
    if type(kind) is not MessageKind:  # a plain "heartbeat" from MqttTopic.message_type works too
        kind = _KIND_BY_VALUE.get(kind, MessageKind.AUTO) if isinstance(kind, str) else MessageKind.AUTO
    if kind is MessageKind.AUTO:
        return classify_topic(topic)
    return kind


def _decode(body: bytes, payload: bytes) -> tuple[dict[str, Any], bool, bool] | Rejection:
    """The JSON object in ``body``, whether its raw form needs cleaning before it is stored, and
    whether it holds NUL escapes; or the rejection."""
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
            RejectReason.NOT_AN_OBJECT, f"the payload is {show(obj)}, expected an object", _sample(payload)
        )
    if not clean:
        try:  # only nesting deeper than orjson can write fails here; cheap next to the parse
            orjson.dumps(embedded(obj))
        except orjson.JSONEncodeError:
            clean = True
    return obj, clean, nul


def _dispatch(obj: dict[str, Any], ctx: Context, kind: MessageKind) -> Heartbeat | SysInfo | None:
    if kind is MessageKind.HEARTBEAT:
        return parse_heartbeat(obj, ctx, bare_ok=True)
    if kind is MessageKind.SYS_INFO:
        return parse_sys_info(obj, ctx)
    if "sensors_last_data" in obj:
        return parse_heartbeat(obj, ctx, bare_ok=False)
    if type(obj.get("system")) is dict:
        return parse_sys_info(obj, ctx)
    # Devices at the top level first: a legacy heartbeat may also carry a "version" key.
    return parse_heartbeat(obj, ctx, bare_ok=False) or parse_sys_info(obj, ctx)
