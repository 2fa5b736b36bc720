"""Pure, total parsing of datalogger MQTT messages: topic + bytes in, a typed result out.

``parse_message`` never raises: any bytes on any topic give a :class:`Heartbeat`, a :class:`SysInfo`
or a :class:`Rejection` with a reason. Problems confined to one sensor or one field are reported as
:class:`ItemIssue` values and the rest of the message is still used. No ORM, no Django settings, no
I/O: this package is importable (and testable) without Django configured.

Every payload variant, rejection reason, alias and limit is specified in ``docs/payloads.md``.

Modules: ``parse`` (the entry point: size cap, decoding, which kind), ``heartbeat`` and ``sys_info``
(the two kinds, every variant), ``timestamps``, ``values`` (coercion), ``raw`` (JSON hygiene of the
stored raw objects), ``context`` (per-message state and issue list), ``types`` (the results).
"""

from apps.mqtt.parser.parse import classify_topic, foreign_topic, parse_message
from apps.mqtt.parser.types import (
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
)

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
    "foreign_topic",
    "parse_message",
]
