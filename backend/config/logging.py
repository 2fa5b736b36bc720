"""Log output: one JSON object per line as an option (LOG_FORMAT=json), and repeated warnings and
errors held back to one line per cause per minute.

A database outage makes every writer step fail the same way every couple of seconds; printing each
traceback buries the one line that matters. The filter lets the first record of a cause through,
counts the repeats for a minute, then writes one summary line with the count.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Set on the summary records this filter writes, so they pass it.
_SUMMARY = "repeats_suppressed"


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601), level, logger, message, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        suppressed = getattr(record, _SUMMARY, None)
        if suppressed is not None:
            entry[_SUMMARY] = suppressed
        return json.dumps(entry, default=str, ensure_ascii=False)


@dataclass
class _Window:
    started: float
    suppressed: int = 0


Cause = tuple[str, str, str]


def _cause(record: logging.LogRecord) -> Cause:
    """The logger, the message's template (not its arguments) and the exception's type."""
    exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
    return (record.name, str(record.msg), exc_type)


class RepeatedErrorFilter(logging.Filter):
    """Lets the first warning or error of a cause through, drops its repeats for ``period`` seconds,
    then writes one line saying how many were dropped. Lower levels always pass. The summary is
    written by the first record (of any cause) that passes through once the period is over."""

    def __init__(self, period: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.period = period
        self.clock = clock
        self._windows: dict[Cause, _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, _SUMMARY):
            return True
        now = self.clock()
        with self._lock:
            due = self._take_due(now)
            keep = record.levelno < logging.WARNING or self._first_of_window(_cause(record), now)
        # Written outside the lock: a summary passes through this filter again.
        for cause, suppressed in due:
            self._write_summary(cause, suppressed)
        return keep

    def _first_of_window(self, cause: Cause, now: float) -> bool:
        window = self._windows.get(cause)
        if window is None:
            self._windows[cause] = _Window(started=now)
            return True
        window.suppressed += 1
        return False

    def _take_due(self, now: float) -> list[tuple[Cause, int]]:
        expired = [cause for cause, window in self._windows.items() if now - window.started >= self.period]
        return [(cause, n) for cause in expired if (n := self._windows.pop(cause).suppressed)]

    def _write_summary(self, cause: Cause, suppressed: int) -> None:
        name, template, exc_type = cause
        what = f"{template!r}" + (f" ({exc_type})" if exc_type else "")
        logger = logging.getLogger(name)
        summary = logger.makeRecord(
            name,
            logging.WARNING,
            "(summary)",
            0,
            "%d more like %s in the last %.0f s were not written",
            (suppressed, what, self.period),
            None,
        )
        setattr(summary, _SUMMARY, suppressed)
        logger.handle(summary)
