"""Interval arithmetic over state rows, pure (no ORM, no settings): an object's state rows → spans of
one state over a window, clipped at its edges; operator-disabled time and maintenance cut out as
excluded; seconds per state per bucket; downtime periods.

An object is up, down, or excluded from the denominator: unknown (before its first state row, or
after now), disabled by an operator, or in maintenance (maintenance wins over the others)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

UP = "up"
DOWN = "down"
UNKNOWN = "unknown"
DISABLED = "disabled"
MAINTENANCE = "maintenance"
EXCLUDED = frozenset({UNKNOWN, DISABLED, MAINTENANCE})

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Change:
    """A state row, classified: from ``at`` on, the object is in ``state`` (for ``reason``)."""

    at: dt.datetime
    state: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Span:
    start: dt.datetime
    end: dt.datetime
    state: str
    reason: str = ""

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(slots=True)
class Totals:
    """Seconds of a window or bucket by state; ``excluded`` includes ``maintenance``."""

    up: float = 0.0
    down: float = 0.0
    excluded: float = 0.0
    maintenance: float = 0.0

    def add_span(self, state: str, seconds: float) -> None:
        if state == UP:
            self.up += seconds
        elif state == DOWN:
            self.down += seconds
        else:
            self.excluded += seconds
            if state == MAINTENANCE:
                self.maintenance += seconds

    def add(self, other: Totals) -> None:
        self.up += other.up
        self.down += other.down
        self.excluded += other.excluded
        self.maintenance += other.maintenance

    @property
    def uptime_percentage(self) -> float | None:
        return uptime_percentage(self.up, self.down)


def uptime_percentage(up: float, down: float) -> float | None:
    """100 * up / (up + down), 2 decimals; None when nothing was monitored."""
    monitored = up + down
    if monitored <= 0:
        return None
    return round(100.0 * up / monitored, 2)


def spans(
    changes: Iterable[Change],
    *,
    initial: Change | None,
    start: dt.datetime,
    end: dt.datetime,
    until: dt.datetime | None = None,
) -> list[Span]:
    """The object's states over [start, end): ``initial`` is its state at ``start`` (the last row
    before it; None = unknown), then each change (oldest first) from its time. Changes outside the
    window are clipped away; time from ``until`` (now) on is unknown. Adjacent spans of one state
    and reason are merged."""
    stop = min(end, until) if until is not None else end
    result: list[Span] = []
    state, reason = (initial.state, initial.reason) if initial else (UNKNOWN, "")
    since = start
    for change in changes:
        if change.at >= stop:
            break
        if change.at <= start:
            state, reason = change.state, change.reason
            continue
        _append(result, Span(since, change.at, state, reason))
        state, reason, since = change.state, change.reason, change.at
    if since < stop:
        _append(result, Span(since, stop, state, reason))
    if stop < end:
        _append(result, Span(max(stop, start), end, UNKNOWN, ""))
    return result


def _append(result: list[Span], span: Span) -> None:
    if span.end <= span.start:
        return
    if result and result[-1].state == span.state and result[-1].reason == span.reason:
        result[-1] = Span(result[-1].start, span.end, span.state, span.reason)
    else:
        result.append(span)


def union(intervals: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Sorted, non-overlapping intervals covering the same time."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlay(base: Sequence[Span], holes: Sequence[tuple[dt.datetime, dt.datetime]], state: str) -> list[Span]:
    """``base`` with the time inside ``holes`` (sorted, non-overlapping: see ``union``) turned into
    ``state`` (e.g. maintenance), the rest unchanged."""
    if not holes:
        return list(base)
    result: list[Span] = []
    index = 0
    for span in base:
        cursor = span.start
        while index < len(holes) and holes[index][1] <= span.start:
            index += 1
        probe = index
        while probe < len(holes) and holes[probe][0] < span.end:
            hole_start, hole_end = max(holes[probe][0], span.start), min(holes[probe][1], span.end)
            _append(result, Span(cursor, hole_start, span.state, span.reason))
            _append(result, Span(hole_start, hole_end, state, ""))
            cursor = hole_end
            probe += 1
        _append(result, Span(cursor, span.end, span.state, span.reason))
    return result


def bucket_edges(start: dt.datetime, end: dt.datetime, size: dt.timedelta) -> list[dt.datetime]:
    """Bucket boundaries over [start, end), aligned to UTC hours or days: start, every aligned
    boundary between, end (so the first and last buckets are clipped to the window)."""
    utc = start.astimezone(dt.UTC)
    aligned = utc.replace(minute=0, second=0, microsecond=0)
    if size == DAY:
        aligned = aligned.replace(hour=0)
    edges = [start]
    edge = aligned + size
    while edge < end:
        edges.append(edge)
        edge += size
    edges.append(end)
    return edges


def totals_by_bucket(items: Sequence[Span], edges: Sequence[dt.datetime]) -> list[Totals]:
    """Seconds per state in each bucket [edges[i], edges[i + 1])."""
    result = [Totals() for _ in range(len(edges) - 1)]
    bucket = 0
    for span in items:
        while bucket < len(result) and edges[bucket + 1] <= span.start:
            bucket += 1
        probe = bucket
        while probe < len(result) and edges[probe] < span.end:
            seconds = (min(span.end, edges[probe + 1]) - max(span.start, edges[probe])).total_seconds()
            result[probe].add_span(span.state, seconds)
            probe += 1
    return result


def total(items: Iterable[Span]) -> Totals:
    result = Totals()
    for span in items:
        result.add_span(span.state, span.seconds)
    return result


@dataclass(frozen=True, slots=True)
class Period:
    """A downtime period, clipped to the window; ``ongoing`` when still down at its end (now)."""

    start: dt.datetime
    end: dt.datetime
    reason: str
    ongoing: bool
    in_maintenance: bool

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def downtime_periods(
    items: Sequence[Span],
    *,
    maintenance: Sequence[tuple[dt.datetime, dt.datetime]],
    until: dt.datetime | None = None,
) -> list[Period]:
    """Runs of down time (adjacent down spans merged, the first one's reason kept), oldest first.
    ``items`` are spans before maintenance is laid over them, so a period in maintenance is
    listed, marked. A run reaching ``until`` (now) is ongoing."""
    periods: list[Period] = []
    run: list[Span] = []

    def close() -> None:
        start, end = run[0].start, run[-1].end
        periods.append(
            Period(
                start=start,
                end=end,
                reason=run[0].reason,
                ongoing=until is not None and end >= until,
                in_maintenance=any(m_start < end and m_end > start for m_start, m_end in maintenance),
            )
        )
        run.clear()

    for span in items:
        if run and (span.state != DOWN or run[-1].end != span.start):
            close()
        if span.state == DOWN:
            run.append(span)
    if run:
        close()
    return periods
