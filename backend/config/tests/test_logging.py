"""LOG_FORMAT=json writes one JSON object per line; a repeated warning or error is written once a
minute, then summarised with the count of the repeats held back."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.logging import JsonFormatter, RepeatedErrorFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def output(clock: Clock) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the filter to a string, as the console handler does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatedErrorFilter(period=60, clock=clock))
    logger = logging.getLogger("test.repeats")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def _database_down() -> None:
    raise ConnectionError("connection refused")


def test_100_identical_errors_in_a_minute_give_one_line_and_a_summary_with_the_count(
    output: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    logger, stream = output
    for _ in range(100):
        try:
            _database_down()
        except ConnectionError:
            logger.exception("batch of %d items failed; writing them one by one", 7)
        clock.now += 0.5
    assert stream.getvalue().count("batch of 7 items failed") == 1

    clock.now += 10  # the minute is over: the next line through the handler brings the summary
    logger.info("database back")

    lines = [line for line in stream.getvalue().splitlines() if line and not line.startswith((" ", "Trace"))]
    summaries = [line for line in lines if "were not written" in line]
    assert summaries == [
        "WARNING test.repeats: 99 more like 'batch of %d items failed; writing them one by one' "
        "(ConnectionError) in the last 60 s were not written"
    ]
    assert stream.getvalue().count("Traceback") == 1
    assert lines[-1] == "INFO test.repeats: database back"


def test_different_causes_are_counted_apart_and_info_always_passes(
    output: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = output
    for _ in range(3):
        logger.error("reconcile failed")
        logger.warning("lease lost")
        logger.info("tick")

    text = stream.getvalue()
    assert (text.count("reconcile failed"), text.count("lease lost"), text.count("tick")) == (1, 1, 3)


def test_after_a_quiet_minute_the_same_error_is_written_again(
    output: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    logger, stream = output
    logger.error("reconcile failed")
    clock.now += 61
    logger.error("reconcile failed")

    assert stream.getvalue().count("reconcile failed") == 2
    assert "were not written" not in stream.getvalue()


def test_json_lines_carry_time_level_logger_message_and_the_traceback() -> None:
    logger = logging.getLogger("apps.mqtt.worker.writer")
    try:
        _database_down()
    except ConnectionError:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "flush of %d failed",
            (3,),
            exc_info=sys.exc_info(),
        )

    entry = json.loads(JsonFormatter().format(record))

    assert entry["level"] == "ERROR"
    assert entry["logger"] == "apps.mqtt.worker.writer"
    assert entry["message"] == "flush of 3 failed"
    assert entry["time"].endswith("+00:00")
    assert "ConnectionError: connection refused" in entry["exception"]


def test_json_format_is_chosen_by_log_format(tmp_path: Path) -> None:
    backend = Path(__file__).resolve().parents[2]
    probe = "import django, logging; django.setup(); logging.getLogger('probe').warning('hello %s', 'there')"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=backend, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stderr.strip().splitlines()[-1])
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "probe", "hello there")
