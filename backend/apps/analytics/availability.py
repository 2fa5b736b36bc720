"""The figures the API and the reports give (the issue 12 contract): a site's availability with its
buckets, its sensors' availability, its downtime periods. Selectors: reads only, a fixed number of
queries per call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q

from apps.analytics import intervals as iv
from apps.analytics.intervals import Totals
from apps.analytics.models import HeartbeatHour
from apps.analytics.selectors import (
    Window,
    bucket_of,
    floor_hour,
    mean,
    site_totals,
    sum_totals,
)
from apps.analytics.timelines import Stretch, connection_timelines, maintenance_by_site, sensor_timelines
from apps.mqtt.models import MqttConnection, SensorDevice
from apps.sites.models import Site


def figure(totals: Totals) -> dict[str, Any]:
    return {
        "uptime_percentage": totals.uptime_percentage,
        "up_seconds": round(totals.up),
        "down_seconds": round(totals.down),
        "excluded_seconds": round(totals.excluded),
        "maintenance_seconds": round(totals.maintenance),
    }


def _connection_of(site: Site) -> tuple[int, float] | None:
    """The site's connection id and its heartbeat interval (reported, else configured)."""
    row = (
        MqttConnection.objects.filter(site=site)
        .values_list("id", "reported_heartbeat_interval", "expected_heartbeat_interval")
        .first()
    )
    return (row[0], float(row[1] or row[2])) if row else None


def _received_per_bucket(site: Site, edges: Sequence[dt.datetime]) -> list[int]:
    received = [0] * (len(edges) - 1)
    for hour, count in HeartbeatHour.objects.filter(
        site=site, hour__gte=floor_hour(edges[0]), hour__lt=edges[-1]
    ).values_list("hour", "received"):
        received[bucket_of(edges, max(hour, edges[0]))] += count
    return received


def _maintenance_per_bucket(
    windows: list[tuple[dt.datetime, dt.datetime]], edges: list[dt.datetime]
) -> list[int]:
    spans = [iv.Span(start, end, iv.MAINTENANCE) for start, end in windows]
    return [round(t.maintenance) for t in iv.totals_by_bucket(spans, edges)]


def site_availability(*, site: Site, window: Window) -> dict[str, Any]:
    edges = window.edges()
    buckets = len(edges) - 1
    connection = _connection_of(site)
    connections = {connection[0]: site.pk} if connection else {}
    totals = site_totals(site_ids=[site.pk], connections=connections, window=window, edges=edges)
    empty = [Totals() for _ in range(buckets)]
    conn = totals.connection.get(connection[0], empty) if connection else empty
    beat = totals.heartbeat.get(connection[0], empty) if connection else empty
    sensor_ids = list(SensorDevice.objects.filter(site=site).values_list("id", flat=True))
    sensors = [totals.sensors.get(sensor_id, empty) for sensor_id in sensor_ids]
    interval = connection[1] if connection else 0.0
    expected = [round((t.up + t.down) / interval) if interval else 0 for t in beat]
    received = _received_per_bucket(site, edges)
    maintenance = _maintenance_per_bucket(totals.maintenance.get(site.pk, []), edges)
    expected_total, received_total = sum(expected), sum(received)
    return {
        "site": site.pk,
        "start": window.start,
        "end": window.end,
        "bucket": window.bucket,
        "resolution": window.resolution,
        "connection": figure(sum_totals(conn)),
        "heartbeat": figure(sum_totals(beat)),
        "sensors": {
            "uptime_percentage": mean([sum_totals(s).uptime_percentage for s in sensors]),
            "count": len(sensor_ids),
        },
        "completeness": {
            "expected": expected_total,
            "received": received_total,
            "percentage": completeness(expected_total, received_total),
        },
        "buckets": [
            {
                "start": edges[index],
                "end": edges[index + 1],
                "connection_uptime": conn[index].uptime_percentage,
                "heartbeat_uptime": beat[index].uptime_percentage,
                "sensors_uptime": mean([s[index].uptime_percentage for s in sensors]),
                "maintenance_seconds": maintenance[index],
                "expected_heartbeats": expected[index],
                "received_heartbeats": received[index],
            }
            for index in range(buckets)
        ],
    }


def completeness(expected: int, received: int) -> float | None:
    """Received as a share of expected, at most 100 (a datalogger beating faster than its stated
    interval is complete, not more than complete)."""
    return round(min(100.0, 100.0 * received / expected), 2) if expected else None


def sensors_availability(*, site: Site, window: Window, ordering: str) -> list[dict[str, Any]]:
    """Every sensor of the site with its figure and buckets, by device name (or lowest uptime
    first, unknown last), for the view to paginate."""
    edges = window.edges()
    connection = _connection_of(site)
    connections = {connection[0]: site.pk} if connection else {}
    totals = site_totals(site_ids=[site.pk], connections=connections, window=window, edges=edges)
    empty = [Totals() for _ in range(len(edges) - 1)]
    rows = []
    for sensor_id, name in (
        SensorDevice.objects.filter(site=site).order_by("device_name", "pk").values_list("id", "device_name")
    ):
        per_bucket = totals.sensors.get(sensor_id, empty)
        whole = sum_totals(per_bucket)
        rows.append(
            {
                "sensor": sensor_id,
                "device_name": name,
                "uptime_percentage": whole.uptime_percentage,
                "down_seconds": round(whole.down),
                "buckets": [
                    {"start": start, "uptime_percentage": bucket.uptime_percentage}
                    for start, bucket in zip(edges, per_bucket, strict=False)
                ],
            }
        )
    if ordering == "uptime":
        rows.sort(
            key=lambda r: (r["uptime_percentage"] is None, r["uptime_percentage"] or 0.0, r["device_name"])
        )
    return rows


@dataclass(frozen=True, slots=True)
class DowntimeQuery:
    kind: str | None = None
    sensor: int | None = None


def downtime(
    *, site_ids: Sequence[int], window: Window, query: DowntimeQuery = DowntimeQuery()
) -> list[dict[str, Any]]:
    """Downtime periods of these sites, newest first, clipped to the window, from the raw rows (so
    within the raw retention): connection, heartbeat and sensor periods, each marked when it
    overlaps a maintenance window. A fixed number of queries."""
    stretch = raw_stretch(window)
    maintenance = maintenance_by_site(site_ids, window.start, window.end)
    connections = dict(MqttConnection.objects.filter(site_id__in=site_ids).values_list("id", "site_id"))
    timelines = connection_timelines(list(connections), stretch)
    disabled = {connections[cid]: timeline.disabled for cid, timeline in timelines.items()}
    rows: list[dict[str, Any]] = []
    for connection_id, timeline in timelines.items():
        site_id = connections[connection_id]
        for kind, spans in (("connection", timeline.connection), ("heartbeat", timeline.heartbeat)):
            if query.kind in (None, kind) and query.sensor is None:
                rows += _periods(kind, site_id, None, None, spans, maintenance.get(site_id, []), window)
    if query.kind in (None, "sensor"):
        sensors = Q(site_id__in=site_ids) & (Q(pk=query.sensor) if query.sensor is not None else Q())
        names = dict(SensorDevice.objects.filter(sensors).values_list("id", "device_name"))
        for sensor_id, (site_id, spans) in sensor_timelines(sensors, stretch).items():
            laid = iv.overlay(spans, disabled.get(site_id, []), iv.DISABLED)
            rows += _periods(
                "sensor", site_id, sensor_id, names.get(sensor_id), laid, maintenance.get(site_id, []), window
            )
    rows.sort(key=lambda row: row["start"], reverse=True)
    return rows


def raw_stretch(window: Window) -> Stretch:
    """The window, from where raw rows are kept on (ANALYTICS_RAW_RETENTION_DAYS): older periods are
    not listed rather than made up from the one row kept per object before the cut."""
    kept_from = window.now - dt.timedelta(days=settings.ANALYTICS_RAW_RETENTION_DAYS)
    start = min(max(window.start, kept_from), window.end)
    return Stretch(start, window.end, window.now)


def _periods(
    kind: str,
    site_id: int,
    sensor_id: int | None,
    name: str | None,
    spans: list[iv.Span],
    maintenance: list[tuple[dt.datetime, dt.datetime]],
    window: Window,
) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "site": site_id,
            "sensor": sensor_id,
            "device_name": name,
            "start": period.start,
            "end": None if period.ongoing else period.end,
            "duration_seconds": round(period.seconds),
            "reason": period.reason,
            "in_maintenance": period.in_maintenance,
        }
        for period in iv.downtime_periods(spans, maintenance=maintenance, until=window.now)
    ]


def sensor_uptime_totals(*, site_ids: Sequence[int], window: Window) -> dict[int, Totals]:
    """Each sensor's seconds over the whole window (the reports and the benchmark): roll-ups summed
    in the database, raw rows around them."""
    edges = [window.start, window.end]
    connections = dict(MqttConnection.objects.filter(site_id__in=site_ids).values_list("id", "site_id"))
    totals = site_totals(site_ids=site_ids, connections=connections, window=window, edges=edges)
    return {sensor_id: per_bucket[0] for sensor_id, per_bucket in totals.sensors.items()}


def sensor_uptime_last_24h(*, sensor_id: int, site_id: int, now: dt.datetime) -> float | None:
    """One sensor's uptime percentage over the last 24 h (the admin's sensor page)."""
    window = Window(start=now - dt.timedelta(hours=24), end=now, bucket="day", now=now)
    totals = sensor_uptime_totals(site_ids=[site_id], window=window)
    found = totals.get(sensor_id)
    return found.uptime_percentage if found else None
