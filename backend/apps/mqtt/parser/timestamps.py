"""Payload timestamps: ISO 8601 (``T`` or a space, aware or naive = the site's zone) or a Unix epoch
(seconds or milliseconds), as aware UTC; absurd ones (before 2000, over a day ahead) are invalid."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Final

from apps.mqtt.parser.context import Context
from apps.mqtt.parser.values import Invalid

_MIN_TS: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MIN_EPOCH: Final = _MIN_TS.timestamp()
_EPOCH_MS_ABOVE: Final = 1e11  # an epoch above this (year 5138 in seconds) is in milliseconds


def parse_ts(value: Any, ctx: Context) -> datetime | Invalid | None:
    """A payload ts as aware UTC; None when absent or empty; Invalid when unusable or absurd."""
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
    return Invalid("{} is not a time", value)  # bool, list, object


def _parse_ts_uncached(value: Any, kind: type, ctx: Context) -> datetime | Invalid | None:
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
                return Invalid("{} is not an ISO 8601 time", value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=ctx.site_tz)
            parsed = parsed.astimezone(UTC)
        else:
            return _from_epoch(float(value), value, ctx)
    except (ValueError, OverflowError, TypeError):  # out of datetime's range, or a hostile tzinfo
        return Invalid("{} is not a usable time", value)
    if parsed < _MIN_TS or parsed > ctx.latest:
        return Invalid("{} is before 2000 or more than a day ahead", value)
    return parsed


def _from_epoch(epoch: float, value: Any, ctx: Context) -> datetime | Invalid:
    if not math.isfinite(epoch):
        return Invalid("{} is not a finite time", value)
    if epoch > _EPOCH_MS_ABOVE:
        epoch /= 1000.0
    if epoch < _MIN_EPOCH or epoch > ctx.latest_epoch:
        return Invalid("{} is before 2000 or more than a day ahead", value)
    return datetime.fromtimestamp(epoch, UTC)
