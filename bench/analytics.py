"""Uptime analytics at scale (issue 12, must-hold 6, first half): "30-day uptime of 10,000 sensors with a
state change per sensor per hour answers in <= 2 s on PostgreSQL".

A child process on a fresh PostgreSQL database (``python bench/run.py analytics``). In it:

- 100 sites x 100 sensors, and 721 hours of history: one state change per sensor per hour (online and
  offline in turn, at a different second of each hour per sensor), 7.2 million rows written by
  INSERT ... SELECT generate_series in the server;
- the hourly roll-ups of the first 720 hours, written by SQL from the same pattern (the roll-up job
  would take minutes for 720 hours; its one-hour cost is measured below), days summed by the job's
  own ``roll_up_day``. The last closed hour is rolled up by the job itself (``run_rollups``), and its
  rows are checked against the SQL's arithmetic for every sensor, so the SQL-built history is what
  the job writes;
- timed: the job's run that rolls up one closed hour (10,000 sensors + 100 connections), the job's
  ``roll_up_hour`` alone, and the 30-day uptime of all 10,000 sensors (``sensor_uptime_totals``, the
  selector the uptime report and the API use: daily roll-ups summed in the database, raw rows for the
  partial hours at both ends), plus the API views of one site (availability and sensors' availability
  over 30 days, DRF in process, no HTTP)."""

from __future__ import annotations

import datetime as dt
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import child_main, setup_django, write_json

SITES = 100
SENSORS_PER_SITE = 100
HOURS = 721  # history before the current hour: 30 days and a margin for the window's partial head
TARGET_SECONDS = 2.0

# The second of hour k at which sensor s changes state, and its state from then (SQL and Python).
OFFSET_SQL = "((s.id * 7919 + k * 104729) %% 3600)"
ONLINE_SQL = "((s.id + k) %% 2 = 0)"


def offset(sensor_id: int, k: int) -> int:
    return (sensor_id * 7919 + k * 104729) % 3600


def build(now: dt.datetime) -> dict[str, Any]:
    """Sites, connections, sensors, 7.2 M state changes, the roll-ups of the first 720 hours."""
    from django.db import connection as db

    from apps.analytics.models import RollupProgress
    from apps.analytics.selectors import floor_hour
    from apps.analytics.services import roll_up_day
    from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice
    from apps.sites.models import Site

    start = floor_hour(now) - dt.timedelta(hours=HOURS)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    sites = Site.objects.bulk_create(Site(name=f"Bench {i}", code=f"BAN{i:04d}") for i in range(SITES))
    connections = MqttConnection.objects.bulk_create(
        MqttConnection(site=s, broker_host="127.0.0.1") for s in sites
    )
    SensorDevice.objects.bulk_create(
        SensorDevice(site=site, device_name=f"S{j:03d}") for site in sites for j in range(SENSORS_PER_SITE)
    )
    ConnectionLog.objects.bulk_create(
        ConnectionLog(mqtt_connection=c, event_type="connected", timestamp=start - dt.timedelta(hours=1))
        for c in connections
    )
    with db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mqtt_sensorstatuschange"
            " (sensor_device_id, old_status, new_status, reason, timestamp)"
            f" SELECT s.id, '', CASE WHEN {ONLINE_SQL} THEN 'online' ELSE 'offline' END,"
            f" CASE WHEN {ONLINE_SQL} THEN '' ELSE 'missing from 3 heartbeats in a row' END,"
            f" %s + k * interval '1 hour' + {OFFSET_SQL} * interval '1 second'"
            " FROM mqtt_sensordevice s CROSS JOIN generate_series(0, %s) AS k",
            [start, HOURS - 1],
        )
        timings["state_changes_s"] = time.perf_counter() - began
        began = time.perf_counter()
        # Hour k: the previous change's state until this hour's change, then the new one; before the
        # first change, unknown (excluded).
        prev_online = "((s.id + k - 1) %% 2 = 0)"
        cursor.execute(
            "INSERT INTO analytics_uptimerollup (kind, period, object_id, site_id, start, up_seconds,"
            " down_seconds, excluded_seconds, maintenance_seconds)"
            " SELECT 'sensor', 'hour', s.id, s.site_id, %s + k * interval '1 hour',"
            f" (CASE WHEN k > 0 AND {prev_online} THEN {OFFSET_SQL} ELSE 0 END)"
            f" + (CASE WHEN {ONLINE_SQL} THEN 3600 - {OFFSET_SQL} ELSE 0 END),"
            f" (CASE WHEN k > 0 AND NOT {prev_online} THEN {OFFSET_SQL} ELSE 0 END)"
            f" + (CASE WHEN NOT {ONLINE_SQL} THEN 3600 - {OFFSET_SQL} ELSE 0 END),"
            f" CASE WHEN k = 0 THEN {OFFSET_SQL} ELSE 0 END, 0"
            " FROM mqtt_sensordevice s CROSS JOIN generate_series(0, %s) AS k",
            [start, HOURS - 2],
        )
        cursor.execute(
            "INSERT INTO analytics_uptimerollup (kind, period, object_id, site_id, start, up_seconds,"
            " down_seconds, excluded_seconds, maintenance_seconds)"
            " SELECT kind, 'hour', c.id, c.site_id, %s + k * interval '1 hour', 3600, 0, 0, 0"
            " FROM mqtt_mqttconnection c CROSS JOIN generate_series(0, %s) AS k"
            " CROSS JOIN (VALUES ('connection'), ('heartbeat')) AS kinds(kind)",
            [start, HOURS - 2],
        )
        cursor.execute("ANALYZE")
    day = start.replace(hour=0) + dt.timedelta(days=1)
    last_closed = start + dt.timedelta(hours=HOURS - 1)
    while day + dt.timedelta(days=1) <= last_closed:
        roll_up_day(day=day)
        day += dt.timedelta(days=1)
    RollupProgress.objects.create(key="uptime", rolled_until=last_closed)
    timings["rollups_s"] = time.perf_counter() - began
    return {"start": start, "last_closed": last_closed, "timings": timings}


def check_job_against_sql(hour: dt.datetime, k: int) -> dict[str, Any]:
    """The job's roll-up of hour k against the pattern's arithmetic, for every sensor."""
    from apps.analytics.models import UptimeRollup

    worst, rows = 0.0, 0
    for object_id, up, down in UptimeRollup.objects.filter(
        kind="sensor", period="hour", start=hour
    ).values_list("object_id", "up_seconds", "down_seconds"):
        o = offset(object_id, k)
        online, before = (object_id + k) % 2 == 0, (object_id + k - 1) % 2 == 0
        expect_up = (o if before else 0) + (3600 - o if online else 0)
        worst = max(worst, abs(up - expect_up), abs(down - (3600 - expect_up)))
        rows += 1
    return {"rows": rows, "max_difference_seconds": worst}


def rollup_storage() -> dict[str, Any]:
    """The roll-up table's size with its indexes, per row (hourly and daily rows have the same
    columns), and what 10,000 sensors (+ 100 connections x 2 kinds) keep at the default retentions."""
    from django.db import connection

    from apps.analytics.models import UptimeRollup

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE analytics_uptimerollup")
        cursor.execute("SELECT pg_total_relation_size('analytics_uptimerollup')")
        total = int(cursor.fetchone()[0])
    rows = {period: UptimeRollup.objects.filter(period=period).count() for period in ("hour", "day")}
    per_row = total / sum(rows.values())
    objects = SITES * (SENSORS_PER_SITE + 2)
    hourly_days, daily_days = 90, 400
    kept = objects * (24 * hourly_days + daily_days)
    return {
        "bytes": total,
        "rows": rows,
        "bytes_per_row": round(per_row, 1),
        "estimate_defaults": {
            "hourly_days": hourly_days,
            "daily_days": daily_days,
            "rows": kept,
            "bytes": round(kept * per_row),
            "bytes_hourly_only_400_days": round(objects * 24 * daily_days * per_row),
        },
    }


def timed(function: Any, repeat: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - began)
    return seconds, result


def api_views(site_id: int) -> dict[str, list[float]]:
    from django.contrib.auth.models import User
    from rest_framework.test import APIRequestFactory, force_authenticate

    from apps.analytics.api import SiteAvailabilityView, SiteSensorsAvailabilityView

    user = User.objects.create_user("bench-staff", is_staff=True)
    factory = APIRequestFactory()
    result = {}
    for name, view, path in (
        ("site_availability_30d", SiteAvailabilityView.as_view(), "availability/"),
        ("sensors_availability_30d", SiteSensorsAvailabilityView.as_view(), "sensors/availability/"),
    ):

        def call(view: Any = view, path: str = path) -> int:
            request = factory.get(f"/api/sites/{site_id}/{path}?window=30d&page_size=100")
            force_authenticate(request, user=user)
            response = view(request, site_id=site_id)
            assert response.status_code == 200, response.data
            return int(response.status_code)

        result[name], _ = timed(call, 5)
    return result


def main() -> None:
    config, out = child_main(sys.argv)
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    if connection.vendor != "postgresql":
        raise SystemExit("the analytics benchmark runs on PostgreSQL")
    # Everything imported before the long build, so the run uses one version of the code.
    from apps.analytics import api  # noqa: F401
    from apps.analytics.availability import sensor_uptime_totals
    from apps.analytics.selectors import Window
    from apps.analytics.services import roll_up_hour, run_rollups
    from apps.sites.models import Site

    now = timezone.now()
    print(f"analytics: building {SITES * SENSORS_PER_SITE} sensors x {HOURS} hours", flush=True)
    built = build(now)
    last_closed = built["last_closed"]
    job_seconds, report = timed(lambda: run_rollups(now=now, max_hours=1, prune_always=False), 1)
    assert report.hours == 1, report
    check = check_job_against_sql(last_closed, HOURS - 1)
    hour_seconds, _ = timed(lambda: roll_up_hour(hour=last_closed), config["repeat"])
    site_ids = list(Site.objects.values_list("id", flat=True))
    window = Window(start=now - dt.timedelta(days=30), end=now, bucket="day", now=now)
    uptime_seconds, totals = timed(
        lambda: sensor_uptime_totals(site_ids=site_ids, window=window), config["repeat"]
    )
    percentages = [t.uptime_percentage for t in totals.values() if t.uptime_percentage is not None]
    print(f"  30-day uptime of {len(totals)} sensors: {[round(s, 3) for s in uptime_seconds]} s", flush=True)
    views = api_views(site_ids[0])
    rollup_size = rollup_storage()
    result = {
        "sensors": SITES * SENSORS_PER_SITE,
        "state_changes": SITES * SENSORS_PER_SITE * HOURS,
        "build": built["timings"],
        "job_run_one_hour_s": job_seconds[0],
        "roll_up_hour_s": hour_seconds,
        "job_check": check,
        "uptime_30d_all_sensors_s": uptime_seconds,
        "sensors_answered": len(totals),
        "mean_uptime_percentage": statistics.fmean(percentages) if percentages else None,
        "api_views_s": views,
        "rollup_table_size": rollup_size,
    }
    print(
        f"  30-day uptime of {len(totals)} sensors: median {statistics.median(uptime_seconds):.3f} s;"
        f" roll-up of one hour {statistics.median(hour_seconds):.2f} s; job check {check}",
        flush=True,
    )
    write_json(out, result)


def summary(results: dict[str, Any], *, command: str) -> str:
    data = results["analytics"]
    uptime = data["uptime_30d_all_sensors_s"]
    median = statistics.median(uptime)
    lines = [
        f"# Analytics benchmark {results['stamp']}"
        + (" (QUICK: smoke run, do not quote)" if results["quick"] else ""),
        "",
        f"Command: `{command}`. PostgreSQL, {data['sensors']:,} sensors, "
        f"{data['state_changes']:,} state changes (one per sensor per hour). "
        f"Target: 30-day uptime of all sensors <= {TARGET_SECONDS:g} s.",
        "",
        "| Measure | Median | Max |",
        "|---|---|---|",
        f"| 30-day uptime, all {data['sensors_answered']:,} sensors (selector) | {median:.3f} s "
        f"| {max(uptime):.3f} s |",
        f"| Roll-up of one hour (roll_up_hour) | {statistics.median(data['roll_up_hour_s']):.2f} s | "
        f"{max(data['roll_up_hour_s']):.2f} s |",
        f"| Job run rolling up one closed hour (run_rollups) | {data['job_run_one_hour_s']:.2f} s | |",
    ]
    for name, seconds in data["api_views_s"].items():
        lines.append(
            f"| API view {name} (one site, 100 sensors) | {statistics.median(seconds):.3f} s "
            f"| {max(seconds):.3f} s |"
        )
    lines += [
        "",
        f"Target {'met' if median <= TARGET_SECONDS else 'MISSED'}. Job's rows vs the SQL-built history: "
        f"{data['job_check']['rows']:,} sensors, "
        f"max difference {data['job_check']['max_difference_seconds']:g} s. "
        f"Build: {data['build']}.",
    ]
    size = data["rollup_table_size"]
    estimate = size["estimate_defaults"]
    lines.append(
        f"Roll-up table: {size['bytes'] / 1e9:.2f} GB for {size['rows']['hour']:,} hourly and "
        f"{size['rows']['day']:,} daily rows, {size['bytes_per_row']:g} bytes a row with its indexes; at "
        f"{estimate['hourly_days']} days hourly + {estimate['daily_days']} days daily: "
        f"{estimate['rows']:,} rows, {estimate['bytes'] / 1e9:.1f} GB "
        f"(hourly for {estimate['daily_days']} days: {estimate['bytes_hourly_only_400_days'] / 1e9:.1f} GB)."
    )
    return "\n".join(lines)


def bench(run: Any) -> Path:
    """``python bench/run.py analytics``: a child on a fresh PostgreSQL database, results and summary."""
    from bench import machine
    from bench.common import run_child
    from bench.databases import postgres_database, postgres_version

    args = run.args
    args.out.mkdir(parents=True, exist_ok=True)
    config = {"work_dir": str(run.work / "analytics"), "repeat": run.pick(None, 5, 2)}
    results: dict[str, Any] = {
        "stamp": run.stamp,
        "machine": machine.describe(postgres=postgres_version(args.postgres_url), redis_url=None),
        "busy": {"start": machine.busy()},
        "quick": args.quick,
    }
    print("== analytics: PostgreSQL", flush=True)
    with postgres_database(args.postgres_url, f"bench_analytics_{run.run_id}") as url:
        results["analytics"] = run_child("bench.analytics", config, env=run.env(url), timeout=3600)
    results["busy"]["end"] = machine.busy()
    write_json(args.out / f"{run.stamp}-analytics.json", results)
    text = summary(results, command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]))
    path = args.out / f"{run.stamp}-analytics-summary.md"
    path.write_text(text + "\n")
    return path


if __name__ == "__main__":
    main()
