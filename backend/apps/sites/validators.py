"""Validators for site fields that end up inside MQTT topic names."""

from __future__ import annotations

import unicodedata
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

_TOPIC_SPECIAL = {"/": "a slash", "+": "a '+' wildcard", "#": "a '#' wildcard"}


def validate_topic_level(value: str) -> None:
    """A site code becomes exactly one MQTT topic level, so it may not contain separators,
    wildcards, whitespace or control characters, nor start with '$' (reserved for the broker)."""
    if not value:
        raise ValidationError("The code may not be empty.", code="empty")
    if value.startswith("$"):
        raise ValidationError(
            "The code may not start with '$': brokers reserve such topics ($SYS).", code="dollar"
        )
    for char in value:
        if char in _TOPIC_SPECIAL:
            raise ValidationError(
                "The code is one MQTT topic level and may not contain %(what)s.",
                code="topic_special",
                params={"what": _TOPIC_SPECIAL[char]},
            )
        if char.isspace():
            raise ValidationError("The code may not contain whitespace.", code="whitespace")
        if unicodedata.category(char).startswith("C"):
            raise ValidationError(
                "The code may not contain control characters (found U+%(cp)04X).",
                code="control",
                params={"cp": ord(char)},
            )


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(value)s is not a known IANA time zone (e.g. UTC, Europe/Rome).",
            code="time_zone",
            params={"value": value},
        ) from None
