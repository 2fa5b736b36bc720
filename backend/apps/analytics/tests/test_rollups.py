"""Roll-ups and retention: after pruning, 30-day figures are what they were from the raw rows
(exact to the hour); the last row before the cut is kept; maintenance planned after the fact is
rolled up again."""

from __future__ import annotations

import datetime as dt
import io
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.analytics.availability import downtime, sensors_availability, site_availability
from apps.analytics.models import RollupProgress, UptimeRollup
from apps.analytics.runner import RollupRunner
from apps.analytics.selectors import Window
from apps.analytics.services import run_rollups
from apps.analytics.tests.conftest import NOW, hours_ago, log, maintenance
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, SensorStatusChange
from apps.sites.models import MaintenanceWindow

pytestmark = pytest.mark.django_db

DAYS = 33


def history(connection: MqttConnection, sensors: int = 3) -> None:
    """33 days of irregular state changes (seeded): sensors, the connection, the heartbeat."""
    rng = random.Random(12)
    start = NOW - dt.timedelta(days=DAYS)
    log(connection, "connected", start - dt.timedelta(hours=1))
    at = start
    while at < NOW:
        at += dt.timedelta(minutes=rng.randint(600, 3000))
        log(connection, "disconnected", at, "lost")
        at += dt.timedelta(minutes=rng.randint(1, 90))
        log(connection, "connected", at)
        log(connection, "heartbeat_missed", at + dt.timedelta(minutes=3))
        log(connection, "heartbeat_resumed", at + dt.timedelta(minutes=rng.randint(4, 50)))
    for index in range(sensors):
        sensor = SensorDevice.objects.create(site=connection.site, device_name=f"S{index}")
        at, status = start - dt.timedelta(minutes=index), "online"
        rows = []
        while at < NOW:
            rows.append(SensorStatusChange(sensor_device=sensor, new_status=status, timestamp=at, reason="r"))
            at += dt.timedelta(minutes=rng.randint(20, 700))
            status = rng.choice(["online", "offline", "stale"]) if status == "online" else "online"
        SensorStatusChange.objects.bulk_create(rows)
    maintenance(connection.site, hours_ago(24 * 20 + 0.5), hours_ago(24 * 19))


def figures(connection: MqttConnection, bucket: str) -> dict[str, Any]:
    window = Window(start=NOW - dt.timedelta(days=30), end=NOW, bucket=bucket, now=NOW)
    site = site_availability(site=connection.site, window=window)
    sensors = sensors_availability(site=connection.site, window=window, ordering="name")
    return {
        "connection": site["connection"]["uptime_percentage"],
        "heartbeat": site["heartbeat"]["uptime_percentage"],
        "sensors": site["sensors"]["uptime_percentage"],
        "connection_down": site["connection"]["down_seconds"],
        "buckets": [
            (b["connection_uptime"], b["heartbeat_uptime"], b["sensors_uptime"]) for b in site["buckets"]
        ],
        "per_sensor": [(s["uptime_percentage"], s["down_seconds"]) for s in sensors],
        "expected": site["completeness"]["expected"],
    }


def close(left: Any, right: Any) -> bool:
    """Equal, numbers within a rounding step (sums of float seconds in another order)."""
    if isinstance(left, int | float) and isinstance(right, int | float):
        return abs(left - right) <= 1.0001 if isinstance(left, int) else abs(left - right) <= 0.0101
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(close(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(close(left[k], right[k]) for k in left)
    return bool(left == right)


def test_pruning_keeps_30_day_figures_exact_to_the_hour(
    monitored_site: MqttConnection, settings: Any
) -> None:
    history(monitored_site)
    raw_days, raw_hours = figures(monitored_site, "day"), figures(monitored_site, "hour")
    raw_rows = SensorStatusChange.objects.count() + ConnectionLog.objects.count()
    settings.ANALYTICS_RAW_RETENTION_DAYS = 2

    report = run_rollups(now=NOW, max_hours=24 * 40)

    assert report.hours > 24 * DAYS
    assert report.pruned["status_changes"] > 0
    assert report.pruned["connection_logs"] > 0
    assert SensorStatusChange.objects.count() + ConnectionLog.objects.count() < raw_rows / 5
    assert close(figures(monitored_site, "day"), raw_days)
    assert close(figures(monitored_site, "hour"), raw_hours)
    assert raw_days["sensors"] not in (None, 0.0, 100.0)


def test_pruning_keeps_each_sensors_last_change_before_the_cut(
    monitored_site: MqttConnection, settings: Any
) -> None:
    sensor = SensorDevice.objects.create(site=monitored_site.site, device_name="S1")
    for days, status in ((10, "online"), (9, "offline"), (8, "online"), (7, "offline")):
        SensorStatusChange.objects.create(
            sensor_device=sensor, new_status=status, timestamp=NOW - dt.timedelta(days=days)
        )
    settings.ANALYTICS_RAW_RETENTION_DAYS = 2

    run_rollups(now=NOW, max_hours=24 * 40)

    assert list(SensorStatusChange.objects.values_list("new_status", flat=True)) == ["offline"]
    last_day = Window(start=hours_ago(24), end=NOW, bucket="hour", now=NOW)
    assert site_availability(site=monitored_site.site, window=last_day)["sensors"]["uptime_percentage"] == 0.0
    [period] = downtime(site_ids=[monitored_site.site_id], window=last_day)
    assert (period["start"], period["end"]) == (hours_ago(24), None)
    # Older than the raw retention: no periods made up from the one row kept.
    pruned_days = Window(
        start=NOW - dt.timedelta(days=10), end=NOW - dt.timedelta(days=6), bucket="day", now=NOW
    )
    assert downtime(site_ids=[monitored_site.site_id], window=pruned_days) == []


def test_maintenance_added_moved_or_deleted_after_the_roll_up_is_rolled_up_again(
    monitored_site: MqttConnection,
) -> None:
    sensor = SensorDevice.objects.create(site=monitored_site.site, device_name="S1")
    SensorStatusChange.objects.create(sensor_device=sensor, new_status="online", timestamp=hours_ago(30))
    SensorStatusChange.objects.create(sensor_device=sensor, new_status="offline", timestamp=hours_ago(12))
    run_rollups(now=NOW)
    last_day = Window(start=hours_ago(24), end=NOW, bucket="hour", now=NOW)
    assert (
        site_availability(site=monitored_site.site, window=last_day)["sensors"]["uptime_percentage"] == 50.0
    )

    maintenance(monitored_site.site, hours_ago(12), hours_ago(6))
    report = run_rollups(now=NOW)

    assert report.rerolled_hours == 6
    figures = site_availability(site=monitored_site.site, window=last_day)
    assert figures["sensors"]["uptime_percentage"] == round(100 * 12 / 18, 2)

    window = MaintenanceWindow.objects.get(site=monitored_site.site)
    window.ends_at = hours_ago(9)  # shortened: 3 of its hours count again
    window.save()
    assert run_rollups(now=NOW).rerolled_hours == 6  # the old span and the new one
    assert site_availability(site=monitored_site.site, window=last_day)["sensors"][
        "uptime_percentage"
    ] == round(100 * 12 / 21, 2)
    window.delete()
    run_rollups(now=NOW)
    assert (
        site_availability(site=monitored_site.site, window=last_day)["sensors"]["uptime_percentage"] == 50.0
    )


def test_the_command_rolls_up_closed_hours_once(make_connection: Callable[..., MqttConnection]) -> None:
    log(make_connection(), "connected", timezone.now() - dt.timedelta(hours=3))
    out = io.StringIO()
    call_command("rollup_analytics", stdout=out)
    again = io.StringIO()
    call_command("rollup_analytics", stdout=again)

    assert "Rolled up 3 hour(s)" in out.getvalue()
    assert RollupProgress.objects.get(key="uptime").rolled_until is not None
    assert "Rolled up 0 hour(s)" in again.getvalue()
    assert UptimeRollup.objects.filter(kind="connection", period="hour").exists()


@pytest.mark.django_db(transaction=True)
def test_the_workers_runner_rolls_up_closed_hours_from_its_thread(
    make_connection: Callable[..., MqttConnection],
) -> None:
    log(make_connection(), "connected", timezone.now() - dt.timedelta(hours=2))
    runner = RollupRunner(clock=timezone.now, interval=60)

    thread = threading.Thread(target=runner.run_once)  # as the worker runs it: off the event loop
    thread.start()
    thread.join(timeout=60)

    assert UptimeRollup.objects.filter(kind="heartbeat", period="hour").count() == 2
