"""One site flooding the worker (``bench/run.py flood``, issue 11 must-hold 4), run as a child process
with the redis-postgres stack's Django environment (uvicorn + ``run_mqtt``, Redis, PostgreSQL):

20 quiet sites x 100 sensors publish a heartbeat every second (the project's simulator, as in
bench/e2e.py), each watched by a WebSocket client; one more site floods: 300 heartbeats of 5,000
random sensor names each (~0.85 MB, the parser's limit of sensors per message), published as fast
as the machine's Mosquitto takes them by a paho client in its own process. Measured: the quiet
sites' update latency (publish → ``sensors_update`` on their socket, the way e2e.py measures it)
in a window without the flood and in one with it, the worker's peak RSS, what the worker dropped
(``ingest_dropped_total`` by reason) and how many sensors the flooding site ended with.

``python -m bench.flood publish CONFIG OUT`` is the flooding publisher (started by this module).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from bench.common import LOOPBACK, PYTHON, REPO, child_main, percentile, setup_django, write_json
from bench.e2e import (
    Session,
    connected_count,
    create_sites,
    delete_sites,
    http_get,
    log,
    staff_session,
    wait_until,
)

FLOOD_SENSORS = 5000
FLOOD_HEARTBEATS = 300
QUIET_SITES = 20
P99_TARGET_MS = 1000.0
RSS_TARGET_MB = 300.0


# ---------------------------------------------------------------- the flooding publisher


def flood_payload(sensors: int, now: float) -> bytes:
    """A heartbeat in the seed's list format naming ``sensors`` random devices."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    readings = [
        {"device_name": uuid.uuid4().hex[:12], "ts": stamp, "last_acc00": 0.01, "last_acc01": -0.02}
        | {"last_acc02": 0.98, "last_incli_x": 0.1, "last_incli_y": -0.3}
        for _ in range(sensors)
    ]
    return orjson.dumps({"sensors_last_data": readings})


def publish_flood(config: dict[str, Any]) -> dict[str, Any]:
    """Publish ``heartbeats`` payloads one after the other, each as soon as the previous one is
    written to the socket (QoS 0, as the worker subscribes)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config["client_id"])
    client.connect(LOOPBACK, config["broker_port"])
    client.loop_start()
    sent_bytes = 0
    started = time.monotonic()
    try:
        for _ in range(config["heartbeats"]):
            payload = flood_payload(config["sensors"], time.time())
            client.publish(config["topic"], payload, qos=0).wait_for_publish(timeout=60)
            sent_bytes += len(payload)
    finally:
        seconds = time.monotonic() - started
        client.disconnect()
        client.loop_stop()
    return {"heartbeats": config["heartbeats"], "bytes": sent_bytes, "seconds": seconds}


# ---------------------------------------------------------------- the worker's own counters


def worker_counters(port: int) -> dict[str, float]:
    """``ingest_dropped_total`` by reason, ``mqtt_messages_received_total`` by kind, the queue's depth
    and the flushes' count and seconds."""
    counters: dict[str, float] = {}
    for line in (http_get(port, "/metrics") or "").splitlines():
        for family, label in (("ingest_dropped_total", "reason"), ("mqtt_messages_received_total", "kind")):
            prefix = f'{family}{{{label}="'
            if line.startswith(prefix):
                name, _, value = line[len(prefix) :].partition('"} ')
                counters[f"{family.split('_')[1]}:{name}"] = float(value)
        name, _, value = line.partition(" ")
        if name in ("ingest_queue_depth", "ingest_flush_seconds_count", "ingest_flush_seconds_sum"):
            counters[name] = float(value)
    return counters


class CounterSampler(threading.Thread):
    """The worker's counters every ``every`` seconds: where the time goes during the flood."""

    def __init__(self, port: int, every: float = 0.5) -> None:
        super().__init__(name="bench-flood-counters", daemon=True)
        self.port = port
        self.every = every
        self.samples: list[dict[str, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.samples.append({"t": time.time(), **worker_counters(self.port)})


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {
        key: value - before.get(key, 0.0) for key, value in after.items() if value != before.get(key, 0.0)
    }


def latency_ms(series: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    values = sorted(1000 * value for published, value in series if start <= published <= end)
    return {
        "count": len(values),
        **{f"p{q}": percentile(values, q) for q in (50, 95, 99)},
        "max": values[-1] if values else None,
    }


# ---------------------------------------------------------------- the run


def measure(session: Session, stem: str, seconds: float, flood: dict[str, Any] | None) -> dict[str, Any]:
    """Quiet sites publishing for ``seconds``; with ``flood``, the flood starts 2 s in."""
    assert session.servers is not None
    port = session.servers.metrics_ports[0]
    before = worker_counters(port)
    outcome: dict[str, Any] = {}
    flooder = None
    if flood is not None:

        def run_flood() -> None:
            time.sleep(2.0)
            outcome["started"] = time.time()
            outcome.update(run_publisher(session.work, flood))
            outcome["ended"] = time.time()

        flooder = threading.Thread(target=run_flood, name="bench-flood")
        flooder.start()
    counters = CounterSampler(port)
    counters.start()
    result = session.measure(stem, interval=1.0, same_tick=False, duration=seconds)
    if flooder is not None:
        flooder.join()
    counters.done.set()
    counters.join()
    result["counter_samples"] = counters.samples
    series = result.pop("series")
    result["latency_ms"] = latency_ms(series, 0.0, float("inf"))
    if outcome:
        # "During the flood": heartbeats published from its first message until 10 s after its last
        # left the publisher (the worker may still be reading the broker's backlog then).
        result["flood"] = {key: outcome[key] for key in ("heartbeats", "bytes", "seconds")}
        result["latency_during_flood_ms"] = latency_ms(series, outcome["started"], outcome["ended"] + 10)
    result["worker_counters"] = delta(worker_counters(port), before)
    return result


def run_publisher(work: Path, flood: dict[str, Any]) -> dict[str, Any]:
    config_path, out_path = work / "flood-publisher-config.json", work / "flood-publisher-out.json"
    config_path.write_text(json.dumps(flood))
    command = [PYTHON, "-m", "bench.flood", "publish", str(config_path), str(out_path)]
    subprocess.run(command, cwd=REPO, check=True, timeout=600)
    return dict(json.loads(out_path.read_text()))


def flood_site_sensors(site_id: int) -> int:
    from apps.mqtt.models import SensorDevice

    return SensorDevice.objects.filter(site_id=site_id).count()


def run(config: dict[str, Any]) -> dict[str, Any]:
    tag = f"{config['run_id']}F"
    flood_sites = create_sites(
        f"{tag}X",
        1,
        first_id=config["site_id_base"] + 999,
        prefix=f"bench{config['run_id']}",
        broker_port=config["broker_port"],
        interval=1.0,
    )
    ((flood_code, flood_id),) = flood_sites.items()
    spec = {"name": "flood", "sites": config["quiet_sites"], "interval": 1.0, "sample_every": 1.0}
    flood = {
        "client_id": f"bench{config['run_id']}-flood",
        "broker_port": config["broker_port"],
        "topic": f"{flood_code}/datalogger_o/heartbeat",
        "heartbeats": config["flood_heartbeats"],
        "sensors": config["flood_sensors"],
    }
    try:
        with Session(config, spec, 1) as session:
            assert session.servers is not None
            assert session.sampler is not None
            servers = session.servers
            wait_until("the flooding site's connection", lambda: connected_count([flood_id]) == 1, servers)
            log("flood: baseline, no flood")
            baseline = measure(session, "baseline", config["baseline_seconds"], None)
            log(f"flood: baseline p99 {baseline['latency_ms']['p99'] or 0:.0f} ms; flooding")
            flooded = measure(session, "flooded", config["flood_seconds"], flood)
            during = flooded["latency_during_flood_ms"]
            log(f"flood: during the flood p99 {during['p99'] or 0:.0f} ms")
            rss = [row["worker"]["rss"] / 2**20 for row in session.sampler.samples if "worker" in row]
            sensors = flood_site_sensors(flood_id)
    finally:
        delete_sites([flood_id])
    return {
        "baseline": baseline,
        "flooded": flooded,
        "worker_rss_mb_peak": max(rss) if rss else None,
        "worker_rss_mb_last": rss[-1] if rss else None,
        "flood_site_sensors": sensors,
        "clients": session.clients_result,
    }


# ---------------------------------------------------------------- the summary


def summary(results: dict[str, Any], *, command: str) -> str:
    flood = results["flood"]
    baseline, flooded = flood["baseline"], flood["flooded"]
    during = flooded["latency_during_flood_ms"]
    peak = flood["worker_rss_mb_peak"] or 0.0
    busy = results["busy"]

    def row(name: str, lat: dict[str, Any], window: dict[str, Any], undelivered: str) -> str:
        worker = window["processes"].get("worker", {})
        cells = [f"{lat[key]:.0f}" if lat[key] is not None else "-" for key in ("p50", "p95", "p99", "max")]
        return (
            f"| {name} | {lat['count']} | {' | '.join(cells)} | {undelivered} | "
            f"{worker.get('cpu_percent', 0):.0f} | {worker.get('rss_mb_max', 0):.0f} |"
        )

    p99 = during["p99"]
    lines = [
        f"# Flood benchmark {results['stamp']}"
        + (" (QUICK: smoke run, do not quote)" if results["quick"] else ""),
        "",
        f"Command: `{command}`; commit {results['machine']['commit']}; load average at start "
        f"{busy['start']['load_average']}, at end {busy['end']['load_average']} "
        f"({results['machine']['logical_cores']} cores, shared).",
        "",
        f"{flood['parameters']['quiet_sites']} quiet sites x 100 sensors @ 1 s; one site floods "
        f"{flooded['flood']['heartbeats']} heartbeats x {flood['parameters']['flood_sensors']:,} "
        "random names "
        f"({flooded['flood']['bytes'] / 2**20:.0f} MB) in {flooded['flood']['seconds']:.1f} s. "
        "redis-postgres stack, one `run_mqtt`.",
        "",
        "## Targets",
        "",
        f"- Other sites' update p99 during the flood ≤ {P99_TARGET_MS:.0f} ms: "
        f"{'met' if p99 is not None and p99 <= P99_TARGET_MS else 'NOT met'} ({p99 or 0:.0f} ms)",
        f"- Worker RSS ≤ {RSS_TARGET_MB:.0f} MB: {'met' if peak <= RSS_TARGET_MB else 'NOT met'} "
        f"(peak {peak:.0f} MB)",
        "",
        "## Quiet sites' update latency (ms)",
        "",
        "| window | heartbeats | p50 | p95 | p99 | max | undelivered | worker CPU % | worker RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
        row("no flood", baseline["latency_ms"], baseline, str(baseline["undelivered"])),
        row("whole flooded window", flooded["latency_ms"], flooded, str(flooded["undelivered"])),
        row("during the flood", during, flooded, "-"),
        "",
        f"The flooding site has {flood['flood_site_sensors']} sensors (`MQTT_MAX_SENSORS_PER_SITE`). "
        f"Worker RSS peak {peak:.0f} MB, {flood['worker_rss_mb_last'] or 0:.0f} MB at the end.",
        "",
        "Worker counters over the flooded window: "
        + ", ".join(f"`{key}` {value:.0f}" for key, value in sorted(flooded["worker_counters"].items())),
    ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "publish":
        config = json.loads(Path(sys.argv[2]).read_text())
        Path(sys.argv[3]).write_text(json.dumps(publish_flood(config)))
        return
    config, out = child_main(sys.argv)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    connection.close()
    config["session_key"] = staff_session()
    write_json(out, run(config))


if __name__ == "__main__":
    main()
