"""Strict readers for settings taken from the environment.

Every reader names the variable in its error, so a bad value fails at start-up with a message an
operator can act on, instead of surfacing later as a confusing runtime error. Any variable ``NAME``
may instead be given as ``NAME_FILE``, the path of a file holding the value (Docker and systemd
secrets), so keys need not sit in the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if path:
        if value:  # empty counts as unset, so compose can pass both through and the operator set one
            raise ImproperlyConfigured(f"{name} and {name}_FILE are both set; set only one of them.")
        try:
            value = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc.strerror}.") from None
    return None if value is None else value.strip()


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        number = default
    else:
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small; the minimum is {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is too large; the maximum is {maximum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_parsed(name: str, default: str, parse: Callable[[str], T], what: str) -> T:
    """Read a variable and convert it with ``parse``; any exception becomes a named start-up error."""
    value = env_str(name, default)
    try:
        return parse(value)
    except Exception as exc:  # the parser's own error type varies; the message is what matters
        raise ImproperlyConfigured(f"{name} is not a valid {what}: {exc}") from None
