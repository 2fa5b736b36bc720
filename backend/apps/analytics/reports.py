"""CSV reports as generators of rows, site by site, so a response streams with memory bounded by one
site (uptime) or one sensor (downtime), not by the report: connection logs, latest readings and the
sensors' state changes are read through ``.iterator()`` (a server-side cursor on PostgreSQL).
Every report has a column saying whether its time was in maintenance."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from django.db.models import OuterRef, Subquery

from apps.analytics import intervals as iv
from apps.analytics.availability import DowntimeQuery, downtime, raw_stretch, site_availability
from apps.analytics.intervals import Totals
from apps.analytics.selectors import Window, site_totals
from apps.analytics.states import sensor_change
from apps.analytics.timelines import Stretch, connection_timelines, maintenance_by_site
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorData, SensorDevice, SensorStatusChange
from apps.mqtt.parser import READING_COLUMNS
from apps.sites.models import Site

CHUNK = 2000  # rows per fetch from the database's cursor
Row = Sequence[Any]


def _iso(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else ""


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _covers(windows: list[tuple[dt.datetime, dt.datetime]], moment: dt.datetime) -> bool:
    return any(w_start <= moment < w_end for w_start, w_end in windows)


SITE_UPTIME_HEADER = [
    "site_id",
    "site_code",
    "site_name",
    "bucket_start",
    "bucket_end",
    "connection_uptime",
    "heartbeat_uptime",
    "sensors_uptime",
    "expected_heartbeats",
    "received_heartbeats",
    "maintenance_seconds",
    "in_maintenance",
]


def site_uptime_rows(sites: Sequence[Site], window: Window) -> Iterator[Row]:
    yield SITE_UPTIME_HEADER
    for site in sites:
        figures = site_availability(site=site, window=window)
        for bucket in figures["buckets"]:
            yield (
                site.pk,
                site.code,
                site.name,
                _iso(bucket["start"]),
                _iso(bucket["end"]),
                _number(bucket["connection_uptime"]),
                _number(bucket["heartbeat_uptime"]),
                _number(bucket["sensors_uptime"]),
                bucket["expected_heartbeats"],
                bucket["received_heartbeats"],
                bucket["maintenance_seconds"],
                "yes" if bucket["maintenance_seconds"] else "no",
            )


SENSOR_UPTIME_HEADER = [
    "site_code",
    "sensor_id",
    "device_name",
    "bucket_start",
    "bucket_end",
    "uptime_percentage",
    "up_seconds",
    "down_seconds",
    "excluded_seconds",
    "maintenance_seconds",
    "in_maintenance",
]


def sensor_uptime_rows(sites: Sequence[Site], window: Window) -> Iterator[Row]:
    yield SENSOR_UPTIME_HEADER
    edges = window.edges()
    for site in sites:
        connections = dict(MqttConnection.objects.filter(site=site).values_list("id", "site_id"))
        totals = site_totals(site_ids=[site.pk], connections=connections, window=window, edges=edges)
        empty = [Totals() for _ in range(len(edges) - 1)]
        for sensor_id, name in (
            SensorDevice.objects.filter(site=site).order_by("device_name").values_list("id", "device_name")
        ):
            for index, bucket in enumerate(totals.sensors.get(sensor_id, empty)):
                yield (
                    site.code,
                    sensor_id,
                    name,
                    _iso(edges[index]),
                    _iso(edges[index + 1]),
                    _number(bucket.uptime_percentage),
                    round(bucket.up),
                    round(bucket.down),
                    round(bucket.excluded),
                    round(bucket.maintenance),
                    "yes" if bucket.maintenance else "no",
                )


DOWNTIME_HEADER = [
    "site_code",
    "kind",
    "sensor_id",
    "device_name",
    "start",
    "end",
    "duration_seconds",
    "reason",
    "in_maintenance",
]


def downtime_rows(sites: Sequence[Site], window: Window) -> Iterator[Row]:
    """Connection and heartbeat periods per site, then its sensors' periods sensor by sensor from
    the state changes streamed in (sensor, time) order."""
    yield DOWNTIME_HEADER
    stretch = raw_stretch(window)
    for site in sites:
        for period in downtime(site_ids=[site.pk], window=window, query=DowntimeQuery(kind="connection")):
            yield _downtime_row(site, period)
        for period in downtime(site_ids=[site.pk], window=window, query=DowntimeQuery(kind="heartbeat")):
            yield _downtime_row(site, period)
        yield from _sensor_downtime_rows(site, stretch)


def _downtime_row(site: Site, period: dict[str, Any]) -> Row:
    return (
        site.code,
        period["kind"],
        period["sensor"] or "",
        period["device_name"] or "",
        _iso(period["start"]),
        _iso(period["end"]),
        period["duration_seconds"],
        period["reason"],
        "yes" if period["in_maintenance"] else "no",
    )


def _sensor_downtime_rows(site: Site, stretch: Stretch) -> Iterator[Row]:
    maintenance = maintenance_by_site([site.pk], stretch.start, stretch.end).get(site.pk, [])
    connections = list(MqttConnection.objects.filter(site=site).values_list("id", flat=True))
    disabled = [
        interval
        for timeline in connection_timelines(connections, stretch).values()
        for interval in timeline.disabled
    ]
    last = SensorStatusChange.objects.filter(
        sensor_device_id=OuterRef("pk"), timestamp__lt=stretch.start
    ).order_by("-timestamp", "-id")
    sensors = {
        sensor_id: (name, sensor_change(stretch.start, status, reason or "") if status else None)
        for sensor_id, name, status, reason in SensorDevice.objects.filter(site=site)
        .annotate(
            status_before=Subquery(last.values("new_status")[:1]),
            reason_before=Subquery(last.values("reason")[:1]),
        )
        .values_list("id", "device_name", "status_before", "reason_before")
    }
    rows = (
        SensorStatusChange.objects.filter(
            sensor_device__site=site, timestamp__gte=stretch.start, timestamp__lt=stretch.end
        )
        .order_by("sensor_device_id", "timestamp", "id")
        .values_list("sensor_device_id", "timestamp", "new_status", "reason")
        .iterator(chunk_size=CHUNK)
    )
    seen: set[int] = set()
    for sensor_id, changes in itertools.groupby(rows, key=lambda row: row[0]):
        seen.add(sensor_id)
        yield from _periods_of(
            site,
            sensor_id,
            sensors,
            [sensor_change(*row[1:]) for row in changes],
            stretch,
            disabled,
            maintenance,
        )
    for sensor_id in sensors.keys() - seen:  # no change in the window: its state before it holds
        yield from _periods_of(site, sensor_id, sensors, [], stretch, disabled, maintenance)


def _periods_of(
    site: Site,
    sensor_id: int,
    sensors: dict[int, tuple[str, iv.Change | None]],
    changes: list[iv.Change],
    stretch: Stretch,
    disabled: list[tuple[dt.datetime, dt.datetime]],
    maintenance: list[tuple[dt.datetime, dt.datetime]],
) -> Iterator[Row]:
    name, initial = sensors.get(sensor_id, ("", None))
    spans = iv.overlay(stretch.spans(changes, initial), disabled, iv.DISABLED)
    for period in iv.downtime_periods(spans, maintenance=maintenance, until=stretch.now):
        yield (
            site.code,
            "sensor",
            sensor_id,
            name,
            _iso(period.start),
            "" if period.ongoing else _iso(period.end),
            round(period.seconds),
            period.reason,
            "yes" if period.in_maintenance else "no",
        )


LOG_HEADER = ["timestamp", "site_code", "event_type", "message", "in_maintenance"]


def log_rows(sites: Sequence[Site], window: Window) -> Iterator[Row]:
    """Connection logs of the window, oldest first, streamed from the database."""
    yield LOG_HEADER
    site_ids = [site.pk for site in sites]
    maintenance = maintenance_by_site(site_ids, window.start, window.end)
    rows = (
        ConnectionLog.objects.filter(
            mqtt_connection__site_id__in=site_ids, timestamp__gte=window.start, timestamp__lt=window.end
        )
        .order_by("timestamp", "id")
        .values_list(
            "timestamp", "mqtt_connection__site_id", "mqtt_connection__site__code", "event_type", "message"
        )
        .iterator(chunk_size=CHUNK)
    )
    for at, site_id, code, event_type, message in rows:
        yield (
            _iso(at),
            code,
            event_type,
            message,
            "yes" if _covers(maintenance.get(site_id, []), at) else "no",
        )


READING_HEADER = ["site_code", "device_name", "status", "timestamp", "received_at", *READING_COLUMNS]


def reading_rows(sites: Sequence[Site]) -> Iterator[Row]:
    """The sensors' latest readings (at most 3 each), newest first per sensor."""
    yield READING_HEADER
    rows = (
        SensorData.objects.filter(sensor_device__site__in=[site.pk for site in sites])
        .order_by("sensor_device__site__code", "sensor_device__device_name", "-timestamp")
        .values_list(
            "sensor_device__site__code",
            "sensor_device__device_name",
            "sensor_device__status",
            "timestamp",
            "received_at",
            *READING_COLUMNS,
        )
        .iterator(chunk_size=CHUNK)
    )
    for code, name, status, at, received, *values in rows:
        yield (code, name, status, _iso(at), _iso(received), *("" if v is None else v for v in values))
