"""JSON hygiene for ``raw``: a parsed object made serialisable by orjson and storable in PostgreSQL
jsonb (NaN/Infinity and integers beyond 64 bits to null, NUL and lone surrogates replaced, nesting cut)."""

from __future__ import annotations

import math
from typing import Any, Final

_RAW_MAX_DEPTH: Final = 64
_INT_MIN: Final = -(2**63)
_UINT_MAX: Final = 2**64 - 1  # orjson serialises integers in [-2**63, 2**64 - 1]


def _clean_str(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (only the stdlib fallback lets them through)
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def clean_json(value: Any, depth: int = 0) -> Any:
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
        return {_clean_str(k): clean_json(v, depth + 1) for k, v in value.items()}
    if kind is list:
        if depth >= _RAW_MAX_DEPTH:
            return None
        return [clean_json(v, depth + 1) for v in value]
    return value  # None, bool


def embedded(value: Any) -> list[list[Any]]:
    """``value`` as the writer embeds it: PostgreSQL gets a flush's rows as one JSON array of arrays,
    so a raw object must still serialise two levels deeper than in the payload."""
    return [[value]]
