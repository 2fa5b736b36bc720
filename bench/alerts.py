"""Alert evaluation's cost against the worker's (issue 12, must-hold 6, second half): "alert
evaluation adds <= 5 % to the worker's CPU at 100 sites x 100 sensors @ 5 s".

A child process per database (``python bench/run.py alerts``, or ``python -m bench.alerts`` for both
databases directly). In it:

- the worker's ingest CPU for one 5 s interval of that load: 100 seed-format heartbeats of 100 sensors,
  parsed and written by ``write_batch`` 10 per flush (process CPU time, median over the rounds). This
  is the writer's part only (no MQTT client, no broadcast), so the real worker costs more and the
  share below is an upper bound;
- the evaluator's CPU per tick (one tick per 5 s, ``evaluate()`` timed with process CPU time) under
  three state-change rates: quiet (no change), churn (one sensor per site changing every tick: 20
  changes/s, every sensor flapping every ~8 min) and outages (every tick one site goes silent with its
  100 sensors, and the one silenced two ticks earlier comes back: an alert opened and one resolved
  per tick, ~300 rows). Every rule notifies a webhook channel, so notification rows are written too
  (sending them is network wait in the sender's thread, not measured).

The share is evaluator CPU per tick / ingest CPU per interval. On PostgreSQL both leave the
database server's CPU out (another process)."""

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

from bench.common import SENSORS_PER_SITE, child_main, distribution, setup_django, write_json

SITES = 100
INTERVAL = 5.0
PER_FLUSH = 10
TARGET_PERCENT = 5.0
SCENARIOS = ("quiet", "churn", "outages")


def ingest_cpu_per_interval(rounds: int) -> tuple[list[float], list[Any]]:
    """CPU seconds of parse + write for each round of one heartbeat per site (= 5 s of load)."""
    from django.conf import settings

    from apps.mqtt.ingest.batch import write_batch
    from apps.mqtt.ingest.items import HeartbeatItem
    from apps.mqtt.ingest.policy import IngestPolicy
    from apps.mqtt.parser import MessageKind, parse_message
    from bench.ingest import make_fixture

    fixture = make_fixture("ALB", SITES, rounds + 1)
    policy = IngestPolicy.from_settings()
    max_bytes = settings.MQTT_SETTINGS["MAX_PAYLOAD_BYTES"]

    def flush(start: int, stop: int) -> None:
        items = []
        for k in range(start, stop):
            site = k % SITES
            parsed = parse_message(
                fixture.topics[site],
                fixture.payloads[k],
                kind=MessageKind.HEARTBEAT,
                received_at=fixture.received[k],
                max_bytes=max_bytes,
            )
            items.append(
                HeartbeatItem(
                    fixture.connection_ids[site],
                    fixture.site_ids[site],
                    fixture.received[k],
                    parsed,  # type: ignore[arg-type]  # a Heartbeat: the simulator's own payloads
                    fixture.topics[site],
                )
            )
        write_batch(items, now=fixture.received[stop - 1], policy=policy)

    cpu: list[float] = []
    for round_ in range(rounds + 1):
        began = time.process_time()
        for start in range(round_ * SITES, (round_ + 1) * SITES, PER_FLUSH):
            flush(start, start + PER_FLUSH)
        if round_:  # the first round registers the sensors
            cpu.append(time.process_time() - began)
    from apps.mqtt.models import MqttConnection

    return cpu, list(MqttConnection.objects.filter(site_id__in=fixture.site_ids).order_by("site_id"))


def _rows_for_tick(
    scenario: str, tick: int, connections: list[Any], sensors: dict[int, list[Any]], now: dt.datetime
) -> int:
    from apps.mqtt.models import ConnectionLog, SensorStatusChange

    logs: list[ConnectionLog] = []
    changes: list[SensorStatusChange] = []

    def status(devices: list[Any], new: str, reason: str) -> None:
        old = "online" if new == "offline" else "offline"
        changes.extend(
            SensorStatusChange(sensor_device=d, old_status=old, new_status=new, reason=reason, timestamp=now)
            for d in devices
        )

    if scenario == "churn":
        new = "offline" if tick % 2 == 0 else "online"
        for index, connection in enumerate(connections):
            device = sensors[connection.site_id][(tick // 2 + index) % SENSORS_PER_SITE]
            status([device], new, "missed 3 heartbeats" if new == "offline" else "listed in heartbeat")
    elif scenario == "outages":
        silent = connections[tick % len(connections)]
        logs.append(ConnectionLog(mqtt_connection=silent, event_type="heartbeat_missed", timestamp=now))
        status(sensors[silent.site_id], "offline", "site heartbeat missing")
        if tick >= 2:
            back = connections[(tick - 2) % len(connections)]
            logs.append(ConnectionLog(mqtt_connection=back, event_type="heartbeat_resumed", timestamp=now))
            status(sensors[back.site_id], "online", "listed in heartbeat")
    ConnectionLog.objects.bulk_create(logs)
    SensorStatusChange.objects.bulk_create(changes)
    return len(logs) + len(changes)


def evaluator_cpu(scenario: str, ticks: int, connections: list[Any]) -> dict[str, Any]:
    from apps.alerts.evaluator import evaluate
    from apps.alerts.lease import claim_evaluator
    from apps.alerts.models import Alert, Condition
    from apps.mqtt.models import SensorDevice

    sensors: dict[int, list[Any]] = {}
    for device in SensorDevice.objects.filter(site__in=[c.site_id for c in connections]).order_by("id"):
        sensors.setdefault(device.site_id, []).append(device)
    Condition.objects.all().delete()
    alerts_before = Alert.objects.count()
    cpu: list[float] = []
    rows = 0
    start = dt.datetime.now(dt.UTC)
    claim_evaluator(worker_id="bench", now=start, seconds=3600)
    for tick in range(ticks):
        now = start + dt.timedelta(seconds=INTERVAL * tick)
        rows += _rows_for_tick(scenario, tick, connections, sensors, now)
        began = time.process_time()
        evaluate(now=now + dt.timedelta(seconds=0.5))
        cpu.append(time.process_time() - began)
    return {
        "ticks": ticks,
        "rows_per_tick": rows / ticks,
        "alerts_opened": Alert.objects.count() - alerts_before,
        "cpu_ms": distribution(cpu, scale=1000),
        "cpu_ms_mean": statistics.fmean(cpu) * 1000,
    }


def main() -> None:
    config, out = child_main(sys.argv)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from apps.alerts.models import AlertRule, NotificationChannel

    hook = NotificationChannel(name="bench hook", kind="webhook", webhook_url="http://127.0.0.1:9/")
    hook.set_secret("bench")
    hook.save()
    for rule in AlertRule.objects.all():
        rule.channels.add(hook)
    vendor = connection.vendor
    ingest, connections = ingest_cpu_per_interval(config["rounds"])
    worker_ms = statistics.median(ingest) * 1000
    print(f"alerts on {vendor}: worker ingest CPU {worker_ms:.1f} ms per 5 s interval", flush=True)
    scenarios = {}
    for scenario in config["scenarios"]:
        result = evaluator_cpu(scenario, config["ticks"], connections)
        result["percent_of_worker_p50"] = result["cpu_ms"]["p50"] / worker_ms * 100
        result["percent_of_worker_mean"] = result["cpu_ms_mean"] / worker_ms * 100
        result["percent_of_worker_p99"] = result["cpu_ms"]["p99"] / worker_ms * 100
        print(
            f"  {scenario}: {result['rows_per_tick']:.0f} rows/tick, evaluator CPU p50"
            f" {result['cpu_ms']['p50']:.2f} ms mean {result['cpu_ms_mean']:.2f} ms per tick"
            f" = {result['percent_of_worker_mean']:.2f} % of the worker's",
            flush=True,
        )
        scenarios[scenario] = result
    write_json(
        out,
        {
            "vendor": vendor,
            "worker_ingest_cpu_ms_per_interval": distribution(ingest, scale=1000),
            "scenarios": scenarios,
        },
    )


def summary(results: dict[str, Any], *, command: str) -> str:
    lines = [
        f"# Alerts benchmark {results['stamp']}"
        + (" (QUICK: smoke run, do not quote)" if results["quick"] else ""),
        "",
        f"Command: `{command}`. {SITES} sites x {SENSORS_PER_SITE} sensors @ {INTERVAL:g} s; one evaluator "
        f"tick per interval. Target: evaluation <= {TARGET_PERCENT:g} % of the worker's CPU.",
        "",
        "| Database | Worker ingest CPU ms / 5 s (p50) | Scenario | Rows / tick | Evaluator CPU ms / tick "
        "(p50 / mean / p99) | Share of the worker (mean) | Target |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend in results["alerts"]["backends"]:
        worker = backend["worker_ingest_cpu_ms_per_interval"]["p50"]
        for name, scenario in backend["scenarios"].items():
            cpu = scenario["cpu_ms"]
            share = scenario["percent_of_worker_mean"]
            lines.append(
                f"| {backend['vendor']} | {worker:.1f} | {name} | {scenario['rows_per_tick']:.0f} | "
                f"{cpu['p50']:.2f} / {scenario['cpu_ms_mean']:.2f} / {cpu['p99']:.2f} | {share:.2f} % | "
                f"{'met' if share <= TARGET_PERCENT else 'MISSED'} |"
            )
    return "\n".join(lines)


def bench(run: Any) -> Path:
    """``python bench/run.py alerts``: a child per database, results and summary in bench/results."""
    from bench import machine
    from bench.common import run_child
    from bench.databases import postgres_database, postgres_version, sqlite_url

    args = run.args
    args.out.mkdir(parents=True, exist_ok=True)
    config = {
        "work_dir": str(run.work / "alerts"),
        "rounds": run.pick(None, 20, 4),
        "ticks": run.pick(None, 60, 10),
        "scenarios": list(SCENARIOS),
    }
    results: dict[str, Any] = {
        "stamp": run.stamp,
        "machine": machine.describe(postgres=postgres_version(args.postgres_url), redis_url=None),
        "busy": {"start": machine.busy()},
        "quick": args.quick,
    }
    backends = []
    for backend in args.backends:
        print(f"== alerts: {backend}", flush=True)
        if backend == "sqlite":
            backends.append(
                run_child("bench.alerts", config, env=run.env(sqlite_url(run.work, "alerts")), timeout=1800)
            )
        else:
            with postgres_database(args.postgres_url, f"bench_alerts_{run.run_id}") as url:
                backends.append(run_child("bench.alerts", config, env=run.env(url), timeout=1800))
    results["alerts"] = {"parameters": config, "backends": backends}
    results["busy"]["end"] = machine.busy()
    write_json(args.out / f"{run.stamp}-alerts.json", results)
    text = summary(results, command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]))
    path = args.out / f"{run.stamp}-alerts-summary.md"
    path.write_text(text + "\n")
    return path


if __name__ == "__main__":
    main()
