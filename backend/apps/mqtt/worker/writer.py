"""The writer thread: takes what the client tasks enqueue and flushes it at once, in batches of up
to ``max_batch`` items (whatever queued up during the previous flush), runs the liveness sweep, and
hands each committed change set to ``on_change``. The event loop only enqueues; every database
call happens here.

The queue (worker/queue.py) holds one FIFO per site, drained round-robin so a noisy site cannot delay
the others, and is bounded in heartbeats and in bytes (``MQTT_QUEUE_MAX_BYTES``): under overload a
site's newer heartbeat supersedes its unwritten older one, and over the byte bound the oldest
heartbeats of the site holding the most go first (counted in ``ingest_dropped_total``). Connection
events and sys_info are few and never dropped. A site holding more than 1/``SITE_SHARE`` of the
bytes while the writer is writing is told so (``sheds``): its client drops the next payloads unparsed,
sparing the event loop (0.05-0.1 s for 5,000 sensors) and the writer a flood they cannot keep up
with. While the database is away nothing is shed: the byte bound keeps each site's newest instead.
A database outage does not lose the queue: the batch is retried with backoff until it is written;
a writer stopped while the database is away leaves its queue to ``unwritten()`` (the worker spools
it to a file and writes it at its next start, worker/runtime.py).

``ShardedWriter`` runs several of them, each owning the sites whose id modulo their number is its
own: a site's items stay in order in one writer, while PostgreSQL runs the writers' transactions
side by side (on SQLite, which writes one transaction at a time, one writer is the default).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol, runtime_checkable

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connections
from django.utils import timezone

from apps.mqtt import metrics
from apps.mqtt.ingest.batch import write_batch
from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.items import IngestItem
from apps.mqtt.ingest.policy import IngestPolicy
from apps.mqtt.worker.liveness import LivenessPolicy, sweep
from apps.mqtt.worker.queue import SiteQueues

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
ChangeHandler = Callable[[ChangeSet], None]
SITE_SHARE: Final = 32  # a site holding more than 1/32 of a writer's byte bound (1 MiB of 32) is shed
# A flush stops taking items once it holds this much: one 5,000-sensor heartbeat, or about sixty of
# 100 sensors. A flush's time is what a quiet site waits, twice at worst.
BATCH_BYTES: Final = 1024 * 1024


class IngestSink(Protocol):
    """Where the client tasks put what they receive: an IngestWriter or a ShardedWriter."""

    def submit(self, item: IngestItem) -> None: ...


@runtime_checkable
class SheddingSink(IngestSink, Protocol):
    """A sink that tells when a site's next payloads are to be dropped unparsed (the writers; a
    sink that only collects items, in tests, has no backlog)."""

    def sheds(self, site_id: int) -> bool: ...


def queue_max_bytes() -> int:
    return int(settings.MQTT_SETTINGS["QUEUE_MAX_BYTES"])


class IngestWriter:
    def __init__(
        self,
        *,
        on_change: ChangeHandler | None = None,
        on_sweep: Callable[[dt.datetime], None] | None = None,
        clock: Clock = timezone.now,
        ingest_policy: IngestPolicy | None = None,
        liveness_policy: LivenessPolicy | None = None,
        idle_wait: float = 0.1,
        max_batch: int = 100,
        max_batch_bytes: int = BATCH_BYTES,
        max_pending_heartbeats: int = 10_000,
        max_pending_bytes: int | None = None,
        sweep_interval: float = 2.0,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self._on_change = on_change
        self._on_sweep = on_sweep
        self._clock = clock
        self._ingest_policy = ingest_policy or IngestPolicy.from_settings()
        self._liveness_policy = liveness_policy or LivenessPolicy.from_settings()
        self._idle_wait = idle_wait
        self._max_batch = max_batch
        self._max_batch_bytes = max_batch_bytes
        self._sweep_interval = sweep_interval
        self._shard = shard  # (index, count): this writer sweeps the sites with id % count == index
        self._cond = threading.Condition()
        self._pending = SiteQueues(
            max_heartbeats=max_pending_heartbeats,
            max_bytes=queue_max_bytes() if max_pending_bytes is None else max_pending_bytes,
        )
        self._site_share = self._pending.max_bytes // SITE_SHARE
        self._database_away = False  # the last flush failed for want of the database
        self._reported_depth = 0  # this writer's share of the queue-depth gauge
        self._stopping = False
        self._stop_requested = threading.Event()  # wakes a retry backoff at once on stop
        self._in_hand = 0  # items taken from the queue and not yet written (or put back)
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self.last_tick: float | None = None  # monotonic time of the last loop turn (worker alive)

    # ------------------------------------------------------------------ producer side (any thread)

    def submit(self, item: IngestItem) -> None:
        with self._cond:
            self._pending.put(item)
            self._report_depth()
            # Wake the writer at once: an idle system writes each heartbeat as it comes, and under
            # load batches grow by themselves while a flush is running.
            self._cond.notify()

    def sheds(self, site_id: int) -> bool:
        """The site holds more than its share of the queue's bytes while the writer is writing: its
        next payload is dropped unparsed, counted as ``site_backlog``."""
        with self._cond:
            if self._database_away or self._pending.site_bytes(site_id) <= self._site_share:
                return False
            self._pending.dropped("site_backlog", site_id)
            return True

    def request_sweep(self) -> None:
        with self._cond:
            self._last_sweep = 0.0
            self._cond.notify()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    @property
    def drained(self) -> bool:
        """Everything submitted so far is written (or was refused by the database, logged)."""
        with self._cond:
            return not self._pending and not self._in_hand

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        index, count = self._shard
        name = "ingest-writer" if count == 1 else f"ingest-writer-{index}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 4.0) -> None:
        """Flush what is queued and stop; gives up after ``timeout`` seconds (logged)."""
        self.request_stop()
        self.join(timeout)

    def request_stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._stop_requested.set()
            self._cond.notify()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error(
                    "ingest writer did not finish within %.1f s; %d items unwritten", timeout, self.pending
                )

    def unwritten(self) -> list[IngestItem]:
        """After ``stop()``: take what is still queued (the database was away), oldest first. A
        batch the thread may still be retrying (it did not finish in time) is not among them."""
        with self._cond:
            items = self._pending.drain()
            self._report_depth()
            return items

    # ------------------------------------------------------------------ the thread

    def _take(self) -> list[IngestItem]:
        with self._cond:
            if not self._pending and not self._stopping:
                self._cond.wait(self._idle_wait)
            batch = self._pending.take(max_items=self._max_batch, max_bytes=self._max_batch_bytes)
            self._in_hand = len(batch)
            self._report_depth()
            return batch

    def _requeue_front(self, batch: list[IngestItem]) -> None:
        with self._cond:
            self._pending.put_back(batch)
            self._report_depth()

    def _report_depth(self) -> None:
        """Move the gauge by this writer's change, so it shows the sum over a ShardedWriter's writers
        (caller holds the lock)."""
        depth = len(self._pending)
        metrics.QUEUE_DEPTH.inc(depth - self._reported_depth)
        self._reported_depth = depth

    def _run(self) -> None:
        backoff = 0.5
        while True:
            with self._cond:
                done = self._stopping and not self._pending
            if done:
                break
            self.last_tick = time.monotonic()
            close_old_connections()
            batch = self._take()
            try:
                if batch:
                    self._flush(batch)
                backoff = 0.5
                self._database_away = False
            except (OperationalError, InterfaceError) as exc:
                # The database is away: keep the batch and retry; nothing good is dropped.
                self._database_away = True
                metrics.WRITE_ERRORS.labels("database_unavailable").inc()
                logger.error(
                    "database unavailable (%s); retrying %d items in %.1f s", exc, len(batch), backoff
                )
                self._requeue_front(batch)
                close_old_connections()
                with self._cond:
                    if self._stopping:
                        logger.error(
                            "stopping with the database away: %d items unwritten", len(self._pending)
                        )
                        break
                self._stop_requested.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:
                # A bug must not stop the thread: every later heartbeat would be lost unseen.
                metrics.WRITE_ERRORS.labels("unexpected").inc()
                logger.exception("writer step failed; going on")
            with self._cond:
                self._in_hand = 0  # written, put back at the front, or (a bug) logged
            self._sweep_when_due()
        with self._cond:  # what is left unwritten (logged above) leaves the gauge with the thread
            metrics.QUEUE_DEPTH.inc(-self._reported_depth)
            self._reported_depth = 0
        connections.close_all()  # this thread's connections: none may outlive the writer
        logger.info("ingest writer stopped")

    def _sweep_when_due(self) -> None:
        """Apart from the flush: a sweep that fails must never send a written batch round again."""
        if time.monotonic() - self._last_sweep < self._sweep_interval:
            return
        self._last_sweep = time.monotonic()
        now = self._clock()
        with self._cond:
            queued = self._pending.sites_with_heartbeats()
        try:
            self._emit(
                sweep(now=now, policy=self._liveness_policy, shard=self._shard, exclude_site_ids=queued)
            )
            if self._on_sweep is not None:
                self._on_sweep(now)
        except Exception:
            metrics.WRITE_ERRORS.labels("sweep").inc()
            logger.exception("liveness sweep failed; retrying at the next one")
            close_old_connections()

    def _flush(self, batch: list[IngestItem]) -> None:
        started = time.perf_counter()
        try:
            changes = write_batch(batch, now=self._clock(), policy=self._ingest_policy)
        except (OperationalError, InterfaceError):
            raise
        except (DatabaseError, ValueError, TypeError, KeyError):
            # A row the database (or the writer) refuses must not block the rest: write items one
            # by one and log the ones that still fail.
            metrics.WRITE_ERRORS.labels("bisect").inc()
            logger.exception("batch of %d items failed; writing them one by one", len(batch))
            changes = ChangeSet()
            for index, item in enumerate(batch):
                try:
                    changes.merge(write_batch([item], now=self._clock(), policy=self._ingest_policy))
                except (OperationalError, InterfaceError):
                    self._emit(changes)
                    del batch[:index]  # what was written one by one is not sent round again
                    raise
                except (DatabaseError, ValueError, TypeError, KeyError):
                    metrics.WRITE_ERRORS.labels("item_failed").inc()
                    logger.exception("could not write %s of site %s", type(item).__name__, item.site_id)
        metrics.FLUSH_SECONDS.observe(time.perf_counter() - started)
        self._emit(changes)

    def _emit(self, changes: ChangeSet) -> None:
        if changes and self._on_change is not None:
            try:
                self._on_change(changes)
            except Exception:
                logger.exception("change handler failed")


class ShardedWriter:
    """``count`` writers, each owning the sites whose id modulo ``count`` is its index (its items and
    its liveness sweep), behind the single writer's interface. ``on_sweep`` runs after the first
    writer's sweeps only. The byte bound (``max_pending_bytes``, default ``MQTT_QUEUE_MAX_BYTES``)
    is the whole worker's: each writer holds its share."""

    def __init__(
        self,
        count: int,
        *,
        on_sweep: Callable[[dt.datetime], None] | None = None,
        max_pending_bytes: int | None = None,
        **options: Any,
    ) -> None:
        if count < 1:
            raise ValueError("a ShardedWriter needs at least one writer")
        share = (queue_max_bytes() if max_pending_bytes is None else max_pending_bytes) // count
        self.writers = [
            IngestWriter(
                shard=(index, count),
                on_sweep=on_sweep if index == 0 else None,
                max_pending_bytes=share,
                **options,
            )
            for index in range(count)
        ]

    def submit(self, item: IngestItem) -> None:
        self.writers[item.site_id % len(self.writers)].submit(item)

    def sheds(self, site_id: int) -> bool:
        return self.writers[site_id % len(self.writers)].sheds(site_id)

    def request_sweep(self) -> None:
        for writer in self.writers:
            writer.request_sweep()

    @property
    def pending(self) -> int:
        return sum(writer.pending for writer in self.writers)

    @property
    def drained(self) -> bool:
        return all(writer.drained for writer in self.writers)

    def start(self) -> None:
        for writer in self.writers:
            writer.start()

    def unwritten(self) -> list[IngestItem]:
        return [item for writer in self.writers for item in writer.unwritten()]

    def stop(self, timeout: float = 4.0) -> None:
        """Stop every writer at once (each flushes what it holds), all within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for writer in self.writers:
            writer.request_stop()
        for writer in self.writers:
            writer.join(max(0.0, deadline - time.monotonic()))
