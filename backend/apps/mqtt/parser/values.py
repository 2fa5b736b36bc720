"""Value coercion: payload values to finite floats and exact numbers, or an ``Invalid`` that the caller
turns into an ``ItemIssue``."""

from __future__ import annotations

import math
from typing import Any, Final

from apps.mqtt.parser.types import RejectReason

MAX_READING: Final = 1e9
MISSING: Final[Any] = object()


class Invalid:
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
        return self.template.format(show(self.value))


def show(value: Any) -> str:
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


def _str_number(text: str) -> float | Invalid | None:
    stripped = text.strip()
    if not stripped:
        return None
    # float() also takes "1_000", "nan", "inf" and non-ASCII digits: not numbers a datalogger sends.
    if not stripped.isascii() or "_" in stripped:
        return Invalid("{} is not a number", text)
    try:
        number = float(stripped)
    except ValueError:
        return Invalid("{} is not a number", text)
    if not math.isfinite(number):
        return Invalid("{} is not a finite number", text)
    return number


def to_float(value: Any) -> float | Invalid | None:
    """A reading value: finite, |x| <= 1e9, or None when absent/null. Hot path: type checks first."""
    kind = type(value)
    if kind is float:
        if -MAX_READING <= value <= MAX_READING:  # False for NaN and the infinities
            return float(value)
        return Invalid("{} is out of range" if math.isfinite(value) else "{} is not finite", value)
    if kind is int:
        if -MAX_READING <= value <= MAX_READING:
            return float(value)
        return Invalid("{} is out of range", value)
    if value is None:
        return None
    if kind is dict:  # {"unit": "g", "value": 0.01}
        inner = value.get("value", MISSING)
        if inner is MISSING:
            return Invalid("{} without 'value'", value)
        if type(inner) is dict:
            return Invalid("{} with a nested object in 'value'", value)
        return to_float(inner)
    if kind is str:
        number = _str_number(value)
        if isinstance(number, float) and not -MAX_READING <= number <= MAX_READING:
            return Invalid("{} is out of range", value)
        return number
    return Invalid("{} is not a number", value)


def to_number(value: Any) -> int | float | Invalid | None:
    """A sys_info number: finite, ints kept exact; unit/value objects and numeric strings accepted."""
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is float:
        return value if math.isfinite(value) else Invalid("{} is not finite", value)
    if value is None:
        return None
    if kind is dict:
        inner = value.get("value", MISSING)
        if inner is MISSING or type(inner) is dict:
            return Invalid("{} without a usable 'value'", value)
        return to_number(inner)
    if kind is str:
        stripped = value.strip()
        # Exact integers for byte counts; int() refuses more than 4300 digits, float() gives inf.
        if len(stripped) <= 20 and stripped.isascii() and stripped.isdigit():
            return int(stripped)
        return _str_number(value)
    return Invalid("{} is not a number", value)
