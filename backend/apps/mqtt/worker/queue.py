"""The writer's pending items: one FIFO per site, drained round-robin, bounded in heartbeats and bytes.

Fair: each flush takes one item per site in turn (the rotation goes on where the last flush left
it), so a site with 300 queued heartbeats cannot make a quiet site wait behind them; a site's own
items keep their order. A flush also holds at most ``max_bytes`` (a 5,000-sensor heartbeat costs a
flush what fifty ordinary ones do), so a flooding site's heavy items alternate with light flushes.

Bounded: at most ``max_heartbeats`` heartbeats (beyond that a site's newer heartbeat supersedes its
newest unwritten one, as before) and ``max_bytes`` of estimated size. Over the byte bound the oldest
heartbeat of the site holding the most bytes goes first, and only from a site that keeps a newer
one: a quiet site's only heartbeat, connection events and sys_info are never dropped. Every drop is
counted in ``ingest_dropped_total`` by reason and logged, at most once per ``LOG_EVERY`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from typing import Final

from apps.mqtt import metrics
from apps.mqtt.ingest.items import HeartbeatItem, IngestItem, RejectedItem

logger = logging.getLogger(__name__)

ITEM_BYTES: Final = 512  # what an item without a payload size is counted as (events, sys_info, rejections)
READING_BYTES: Final = 160  # per reading of a heartbeat that carries no payload size (tests, spool)
LOG_EVERY: Final = 10.0


def item_bytes(item: IngestItem) -> int:
    """An item's size for the bounds, without serialising anything: the payload's byte length the
    client noted, else an estimate from the readings' count."""
    if isinstance(item, HeartbeatItem):
        return item.size or ITEM_BYTES + READING_BYTES * len(item.heartbeat.readings)
    return ITEM_BYTES


class SiteQueues:
    """Not thread-safe: the writer holds its lock around every call."""

    def __init__(self, *, max_heartbeats: int, max_bytes: int) -> None:
        self.max_heartbeats = max_heartbeats
        self.max_bytes = max_bytes
        self._queues: dict[int, deque[IngestItem]] = {}
        self._rotation: deque[int] = deque()  # the sites with items, the next one to serve first
        self._site_heartbeats: Counter[int] = Counter()
        self._site_bytes: Counter[int] = Counter()  # bytes of each site's heartbeats
        self.items = 0
        self.heartbeats = 0
        self.bytes = 0
        self._unlogged: Counter[str] = Counter()
        self._logged_at = -LOG_EVERY

    def __len__(self) -> int:
        return self.items

    def sites_with_heartbeats(self) -> frozenset[int]:
        """The sites with a heartbeat waiting here: received, only not yet written."""
        return frozenset(self._site_heartbeats)

    def site_bytes(self, site_id: int) -> int:
        """Bytes of the site's unwritten heartbeats."""
        return self._site_bytes[site_id]

    # ------------------------------------------------------------------ putting

    def put(self, item: IngestItem) -> None:
        size = item_bytes(item)
        if isinstance(item, HeartbeatItem):
            if self.heartbeats >= self.max_heartbeats:
                self._supersede(item, size)
                return
            if not self._make_room(size, item.site_id):
                self.dropped("queue_full", item.site_id)
                return
        elif isinstance(item, RejectedItem):
            # A flood of junk (or a long outage) must not grow the queue without bound.
            if self.items >= self.max_heartbeats or not self._make_room(size, None):
                self.dropped("rejection_queue_full", item.site_id)
                return
        else:
            self._make_room(size, None)  # status events and sys_info are few and always kept
        self._append(item, size)

    def _append(self, item: IngestItem, size: int) -> None:
        queue = self._queues.get(item.site_id)
        if queue is None:
            queue = self._queues[item.site_id] = deque()
            self._rotation.append(item.site_id)
        queue.append(item)
        self._count(item, size, +1)

    def _count(self, item: IngestItem, size: int, sign: int) -> None:
        self.items += sign
        self.bytes += sign * size
        if isinstance(item, HeartbeatItem):
            self.heartbeats += sign
            site = item.site_id
            self._site_heartbeats[site] += sign
            self._site_bytes[site] += sign * size
            if not self._site_heartbeats[site]:  # only sites with heartbeats stay in the tallies
                del self._site_heartbeats[site], self._site_bytes[site]

    def _supersede(self, item: HeartbeatItem, size: int) -> None:
        """The heartbeat bound is reached: the site's newer heartbeat takes the place of its newest
        unwritten one, or is dropped when the site has none."""
        queue = self._queues.get(item.site_id, deque())
        for index in range(len(queue) - 1, -1, -1):
            older = queue[index]
            if isinstance(older, HeartbeatItem):
                self._count(older, item_bytes(older), -1)
                queue[index] = item
                self._count(item, size, +1)
                self.dropped("superseded", item.site_id)
                return
        self.dropped("queue_full", item.site_id)

    def _make_room(self, size: int, site_id: int | None) -> bool:
        """Drop oldest heartbeats until ``size`` more bytes fit; False when nothing may go. A site
        may lose a heartbeat only while it keeps a newer one (``site_id``'s incoming one counts)."""
        while self.bytes + size > self.max_bytes:
            candidates = [
                site
                for site, count in self._site_heartbeats.items()
                if count >= 2 or (count == 1 and site == site_id)
            ]
            if not candidates:
                return False
            victim = max(candidates, key=self._site_bytes.__getitem__)
            queue = self._queues[victim]
            index = next(i for i, queued in enumerate(queue) if isinstance(queued, HeartbeatItem))
            oldest = queue[index]
            del queue[index]
            self._count(oldest, item_bytes(oldest), -1)
            self.dropped("over_bytes", victim)
        return True

    # ------------------------------------------------------------------ taking

    def take(self, *, max_items: int, max_bytes: int) -> list[IngestItem]:
        """Up to ``max_items`` items holding at most ``max_bytes``, one per site in turn. A site whose
        next item does not fit in what is left is served first by the next flush; an item larger
        than ``max_bytes`` makes a flush of its own with whatever small items fit beside it. So
        a flooding site's heavy heartbeats never fill two flushes in a row while others wait."""
        batch: list[IngestItem] = []
        deferred: list[int] = []
        taken = 0
        while self._rotation and len(batch) < max_items:
            site = self._rotation.popleft()
            queue = self._queues[site]
            size = item_bytes(queue[0])
            if batch and taken + size > max_bytes:
                deferred.append(site)
                continue
            item = queue.popleft()
            self._count(item, size, -1)
            batch.append(item)
            taken += size
            if queue:
                self._rotation.append(site)
            else:
                del self._queues[site]
        self._rotation.extendleft(reversed(deferred))
        return batch

    def put_back(self, batch: list[IngestItem]) -> None:
        """A batch that could not be written goes back in front, in its order, its sites served
        first. Not bounded: its items were admitted already."""
        for item in reversed(batch):
            queue = self._queues.setdefault(item.site_id, deque())
            queue.appendleft(item)
            self._count(item, item_bytes(item), +1)
        first = dict.fromkeys(item.site_id for item in batch)
        self._rotation = deque([*first, *(site for site in self._rotation if site not in first)])

    def drain(self) -> list[IngestItem]:
        """Everything, each site's items in order; the queue is empty afterwards."""
        items = [item for site in self._rotation for item in self._queues[site]]
        self._queues.clear()
        self._rotation.clear()
        self._site_heartbeats.clear()
        self._site_bytes.clear()
        self.items = self.heartbeats = self.bytes = 0
        return items

    # ------------------------------------------------------------------ visibility

    def dropped(self, reason: str, site_id: int) -> None:
        """Count a drop, and log the drops at most once per ``LOG_EVERY`` seconds (a flood drops
        thousands: one line each would bury the log)."""
        metrics.DROPPED.labels(reason).inc()
        self._unlogged[f"{reason} (site {site_id})"] += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            self._logged_at = now
            summary = ", ".join(f"{count} {what}" for what, count in self._unlogged.most_common(5))
            logger.warning(
                "ingest queue over its bounds (%d heartbeats, %d bytes pending); dropped: %s",
                self.heartbeats,
                self.bytes,
                summary,
            )
            self._unlogged.clear()
