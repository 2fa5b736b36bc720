"""Uptime reads: seconds up / down / excluded per object and bucket for any window, with a fixed
number of queries per request whatever the number of sensors.

A window is split in two sources: the hours the roll-up job closed (``UptimeRollup``: hourly rows,
daily rows for whole days when the buckets are days or there are none) and, around them, the raw rows
(apps/analytics/timelines.py). Both add up, so a window older than the raw retention is still exact to
the hour while hourly roll-ups are kept (ANALYTICS_HOURLY_RETENTION_DAYS); one starting before that is
widened to whole UTC days and read from the daily roll-ups (``resolve_window``). A 30-day window
over 10,000 sensors reads ~300,000 daily rows summed in the database instead of millions of state
changes."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q, Sum

from apps.analytics import intervals as iv
from apps.analytics.intervals import DAY, HOUR, Span, Totals
from apps.analytics.models import RollupProgress, UptimeRollup
from apps.analytics.timelines import Stretch, connection_timelines, maintenance_by_site, sensor_timelines

ROLLUP_KEY = "uptime"
Kind = UptimeRollup.Kind
PerBucket = dict[int, list[Totals]]  # object id → totals per bucket


@dataclass(frozen=True, slots=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    bucket: str  # "hour" or "day"
    now: dt.datetime
    resolution: str = "hour"  # "day": widened to whole days, older than the hourly roll-ups

    @property
    def size(self) -> dt.timedelta:
        return HOUR if self.bucket == "hour" else DAY

    def edges(self) -> list[dt.datetime]:
        return iv.bucket_edges(self.start, self.end, self.size)


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: dt.datetime) -> dt.datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def floor_day(moment: dt.datetime) -> dt.datetime:
    return floor_hour(moment).replace(hour=0)


def ceil_day(moment: dt.datetime) -> dt.datetime:
    floor = floor_day(moment)
    return floor if floor == moment else floor + DAY


def hourly_kept_from(now: dt.datetime) -> dt.datetime:
    """Hourly roll-ups are kept from this UTC day on (the job prunes older ones); daily ones before."""
    return floor_day(now - dt.timedelta(days=settings.ANALYTICS_HOURLY_RETENTION_DAYS))


def resolve_window(*, start: dt.datetime, end: dt.datetime, bucket: str, now: dt.datetime) -> Window:
    """The window as it can be answered exactly: one starting before the hourly roll-ups are kept
    starts at its UTC day's start instead (and ends at its day's end if it ends before them too),
    bucketed by day, with resolution "day"; any other window is exact to the second."""
    kept_from = hourly_kept_from(now)
    if start >= kept_from:
        return Window(start=start, end=end, bucket=bucket, now=now)
    end = end if end > kept_from else ceil_day(end)
    return Window(start=floor_day(start), end=end, bucket="day", now=now, resolution="day")


def rolled_until() -> dt.datetime | None:
    return RollupProgress.objects.filter(key=ROLLUP_KEY).values_list("rolled_until", flat=True).first()


@dataclass(frozen=True, slots=True)
class Plan:
    """Where each part of a window is read: raw stretches, and the rolled-up whole hours between."""

    raw: tuple[tuple[dt.datetime, dt.datetime], ...]
    rolled: tuple[dt.datetime, dt.datetime] | None


def plan(start: dt.datetime, end: dt.datetime, rolled: dt.datetime | None) -> Plan:
    if rolled is not None:
        first, last = ceil_hour(start), min(floor_hour(end), rolled)
        if last > first:
            raw = tuple(part for part in ((start, first), (last, end)) if part[1] > part[0])
            return Plan(raw=raw, rolled=(first, last))
    return Plan(raw=((start, end),), rolled=None)


def bucket_of(edges: Sequence[dt.datetime], moment: dt.datetime) -> int:
    return min(max(bisect.bisect_right(edges, moment) - 1, 0), len(edges) - 2)


def _add(target: PerBucket, object_id: int, per_bucket: Sequence[Totals], buckets: int) -> None:
    held = target.get(object_id)
    if held is None:
        held = target[object_id] = [Totals() for _ in range(buckets)]
    for mine, theirs in zip(held, per_bucket, strict=True):
        mine.add(theirs)


def rollup_totals(
    kinds: Sequence[str],
    *,
    site_ids: Sequence[int],
    rolled: tuple[dt.datetime, dt.datetime],
    edges: list[dt.datetime],
    bucket: str,
) -> dict[str, PerBucket]:
    """Rolled-up seconds per kind, object and bucket over ``rolled`` (whole hours): hourly rows, and
    daily rows for its whole days when the buckets are days (or there is a single bucket). One query;
    summed in the database when there is a single bucket."""
    start, end = rolled
    single = len(edges) == 2
    days = single or bucket == "day"
    first_day, last_day = ceil_day(start), floor_day(end)
    hours = Q(period=UptimeRollup.Period.HOUR)
    if days and last_day > first_day:
        edge_hours = Q(start__gte=start, start__lt=first_day) | Q(start__gte=last_day, start__lt=end)
        whole_days = Q(period=UptimeRollup.Period.DAY, start__gte=first_day, start__lt=last_day)
        rows = (hours & edge_hours) | whole_days
    else:
        rows = hours & Q(start__gte=start, start__lt=end)
    query = UptimeRollup.objects.filter(rows, site_id__in=site_ids, kind__in=kinds)
    result: dict[str, PerBucket] = {kind: {} for kind in kinds}
    fields = ("up_seconds", "down_seconds", "excluded_seconds", "maintenance_seconds")
    if single:
        for kind, object_id, up, down, excluded, maintenance in (
            query.values("kind", "object_id")
            .annotate(*(Sum(name) for name in fields))
            .values_list("kind", "object_id", *(f"{name}__sum" for name in fields))
        ):
            result[kind][object_id] = [Totals(up, down, excluded, maintenance)]
        return result
    buckets = len(edges) - 1
    for kind, object_id, at, up, down, excluded, maintenance in query.values_list(
        "kind", "object_id", "start", *fields
    ):
        per_object = result[kind].get(object_id)
        if per_object is None:
            per_object = result[kind][object_id] = [Totals() for _ in range(buckets)]
        per_object[bucket_of(edges, at)].add(Totals(up, down, excluded, maintenance))
    return result


@dataclass(slots=True)
class SiteTotals:
    """Per bucket: the connection's and the heartbeat's seconds (keyed by connection id) and each
    sensor's; the site's maintenance windows over the window."""

    connection: PerBucket
    heartbeat: PerBucket
    sensors: PerBucket
    maintenance: dict[int, list[tuple[dt.datetime, dt.datetime]]]
    sensor_sites: dict[int, int] = field(default_factory=dict)  # sensor id → site id (raw part)


def excluded_spans(
    spans: list[Span],
    *,
    disabled: list[tuple[dt.datetime, dt.datetime]],
    maintenance: list[tuple[dt.datetime, dt.datetime]],
) -> list[Span]:
    """Disabled time, then maintenance (which wins), laid over an object's spans."""
    return iv.overlay(iv.overlay(spans, disabled, iv.DISABLED), maintenance, iv.MAINTENANCE)


def site_totals(
    *,
    site_ids: Sequence[int],
    connections: dict[int, int],
    window: Window,
    edges: list[dt.datetime],
    raw_only: bool = False,
) -> SiteTotals:
    """Seconds per bucket of these sites' connections (``connections``: connection id → site id),
    heartbeats and sensors over the window, raw and rolled up (a fixed number of queries);
    ``raw_only`` for the roll-up job itself."""
    buckets = len(edges) - 1
    maintenance = maintenance_by_site(site_ids, window.start, window.end)
    result = SiteTotals({}, {}, {}, maintenance)
    source = plan(window.start, window.end, None if raw_only else rolled_until())
    for start, end in source.raw:
        stretch = Stretch(start, end, window.now)
        timelines = connection_timelines(list(connections), stretch)
        disabled: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
        for connection_id, timeline in timelines.items():
            site_maintenance = maintenance.get(connections[connection_id], [])
            disabled[connections[connection_id]] = timeline.disabled
            for target, spans in (
                (result.connection, timeline.connection),
                (result.heartbeat, timeline.heartbeat),
            ):
                laid = iv.overlay(spans, site_maintenance, iv.MAINTENANCE)
                _add(target, connection_id, iv.totals_by_bucket(laid, edges), buckets)
        for sensor_id, (site_id, spans) in sensor_timelines(Q(site_id__in=site_ids), stretch).items():
            result.sensor_sites[sensor_id] = site_id
            laid = excluded_spans(
                spans, disabled=disabled.get(site_id, []), maintenance=maintenance.get(site_id, [])
            )
            _add(result.sensors, sensor_id, iv.totals_by_bucket(laid, edges), buckets)
    if source.rolled is not None:
        rolled = rollup_totals(
            [Kind.CONNECTION, Kind.HEARTBEAT, Kind.SENSOR],
            site_ids=site_ids,
            rolled=source.rolled,
            edges=edges,
            bucket=window.bucket,
        )
        targets = {Kind.CONNECTION: result.connection, Kind.HEARTBEAT: result.heartbeat}
        targets[Kind.SENSOR] = result.sensors
        for kind, target in targets.items():
            for object_id, per_bucket in rolled[kind].items():
                _add(target, object_id, per_bucket, buckets)
    return result


def sum_totals(per_bucket: Sequence[Totals]) -> Totals:
    result = Totals()
    for totals in per_bucket:
        result.add(totals)
    return result


def mean(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return round(sum(known) / len(known), 2) if known else None


def bucket_starts(edges: Sequence[dt.datetime]) -> list[dt.datetime]:
    return list(edges[:-1])


def group_by_site(totals: PerBucket, site_of: dict[int, int]) -> dict[int, PerBucket]:
    grouped: dict[int, PerBucket] = defaultdict(dict)
    for object_id, per_bucket in totals.items():
        site_id = site_of.get(object_id)
        if site_id is not None:
            grouped[site_id][object_id] = per_bucket
    return grouped
