"""The evaluator and the sender as asyncio tasks of the worker (or of `run_alerts` alone). Their
database work runs in their own threads, never in the event loop and never in the ingest writers'
threads; only the holder of the evaluator's lease evaluates and sends, so several workers alert once.

Each tick: renew the lease, read the new state change rows, open and resolve alerts. The sender
sends what is due every second, each channel in its own thread."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from apps.alerts.dispatch import deliver_due
from apps.alerts.evaluator import evaluate
from apps.alerts.lease import claim_evaluator, release_evaluator

logger = logging.getLogger(__name__)


class AlertRunner:
    def __init__(
        self,
        *,
        worker_id: str,
        clock: Callable[[], dt.datetime] = timezone.now,
        interval: float | None = None,
        send_interval: float = 1.0,
    ) -> None:
        self.worker_id = worker_id
        self._clock = clock
        self.interval = interval if interval is not None else settings.ALERTS_INTERVAL
        self.send_interval = send_interval
        self.holding = False
        # The sender queries only when a tick notified (and at start: what a previous run left) or a
        # retry falls due: a quiet install costs it nothing. The flag is cleared before the query, so
        # a tick that notifies meanwhile is never missed.
        self._nudged = True
        self._retry_at: dt.datetime | None = None
        self._evaluating = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-eval")
        self._sending = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-send")
        self._channels = ThreadPoolExecutor(max_workers=8, thread_name_prefix="alerts-channel")

    async def run(self) -> None:
        try:
            await asyncio.gather(
                self._every(self.interval, self._evaluating, self.tick),
                self._every(self.send_interval, self._sending, self.send),
            )
        finally:
            for pool in (self._evaluating, self._sending, self._channels):
                pool.shutdown(wait=False, cancel_futures=True)

    async def _every(self, seconds: float, pool: ThreadPoolExecutor, work: Callable[[], object]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(pool, work)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away, a bug: logged, tried again next time
                logger.exception("alerts: %s failed", getattr(work, "__name__", work))
            await asyncio.sleep(seconds)

    def tick(self) -> None:
        """Renew the lease; evaluate while holding it. In the evaluating thread."""
        close_old_connections()
        now = self._clock()
        holding = claim_evaluator(worker_id=self.worker_id, now=now, seconds=max(15.0, 3 * self.interval))
        if holding != self.holding:
            logger.info("alerts: this worker %s evaluates", "now" if holding else "no longer")
            self.holding = holding
        if holding:
            grace = dt.timedelta(seconds=float(settings.MQTT_SETTINGS["HEARTBEAT_TIMEOUT"]))
            result = evaluate(now=now, heartbeat_grace=grace)
            if result.opened or result.resolved:
                logger.info("alerts: %d opened, %d resolved", len(result.opened), len(result.resolved))
                self._nudged = True

    def send(self) -> None:
        """Send what is due (the lease holder only). In the sending thread."""
        now = self._clock()
        retry_due = self._retry_at is not None and now >= self._retry_at
        if not self.holding or not (self._nudged or retry_due):
            return
        self._nudged = False
        close_old_connections()
        try:
            self._retry_at = deliver_due(now=now, pool=self._channels).next_due
        except Exception:
            self._nudged = True  # the database away: try again next time
            raise

    def release(self) -> None:
        if self.holding:
            release_evaluator(worker_id=self.worker_id)
            self.holding = False
