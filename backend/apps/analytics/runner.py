"""The roll-up job inside the MQTT worker: every ANALYTICS_ROLLUP_INTERVAL seconds, in a thread (the
event loop never blocks), it rolls up any hour closed since the last run, and prunes once it has.
Several workers take turns through a PostgreSQL advisory lock (SQLite has one worker)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import close_old_connections
from django.db import connection as db

from apps.analytics.services import run_rollups

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x616E616C79  # "analy": one roll-up job at a time across workers


@contextlib.contextmanager
def _job_lock() -> Iterator[bool]:
    if db.vendor != "postgresql":
        yield True
        return
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with db.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])


class RollupRunner:
    def __init__(self, *, clock: Callable[[], dt.datetime], interval: float | None = None) -> None:
        self._clock = clock
        self._interval = interval if interval is not None else float(settings.ANALYTICS_ROLLUP_INTERVAL)

    def run_once(self) -> None:
        try:
            with _job_lock() as held:
                if held:
                    report = run_rollups(now=self._clock(), max_hours=6, prune_always=False)
                    if report.hours or report.rerolled_hours:
                        logger.info("analytics: rolled up %d hour(s), pruned %s", report.hours, report.pruned)
        except Exception:  # the next run tries again; the worker's ingest goes on regardless
            logger.exception("analytics roll-up failed")
        finally:
            close_old_connections()

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.run_once)
            await asyncio.sleep(self._interval)
