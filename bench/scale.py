"""1,000 connections on one broker (``bench/run.py scale``), run as a child process with a Django
environment on a throw-away PostgreSQL database and the machine's Redis (the channel layer):

1. A private Mosquitto (generated conf, free port, ``max_connections -1``) so the run neither loads
   the machine's shared broker nor is limited by its settings; 1,000 sites with one enabled
   connection each (bulk-created), 100 sensors per site.
2. Registration: one heartbeat per site, spread over 30 s, written by a first worker that is then
   stopped, so every sensor exists as in a fleet that has run before.
3. The fleet publishes (a few publisher processes, the project's simulator, each playing many sites
   over one MQTT connection: a site's topic can be published from any client), then a fresh
   ``run_mqtt`` starts: the time until each share of the connections is ``connected``, counted from
   the worker's start, as a worker restarting under a live fleet would.
4. After a warm-up, a steady window: the worker's CPU (mean, p95 of 1-second samples) and RSS,
   heartbeats written per second against the 200/s offered, and the update latency: publish → the
   site's ``sensors_update`` event arriving on the channel layer (a subscriber in this process joins
   every site's group).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import itertools
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import psutil

from bench.common import (
    LOOPBACK,
    PYTHON,
    REPO,
    SENSORS_PER_SITE,
    child_main,
    distribution,
    free_port,
    percentile,
    setup_django,
    write_json,
)
from bench.e2e import Sampler, database_size, log, scrape_metrics, start_worker
from bench.loadgen import ts_key
from bench.workers import ServiceCPU, bench_database

# Seconds over which the sites' first heartbeats (sensor registration) are spread before measuring.
REGISTRATION_SECONDS = 30.0

# ---------------------------------------------------------------- the broker and the publishers


def start_broker(work: Path, port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        raise SystemExit("mosquitto is not installed (make system-deps)")
    config = work / "mosquitto.conf"
    lines = [
        f"listener {port} {LOOPBACK}",
        "allow_anonymous true",
        "persistence false",
        "max_connections -1",
        f"log_dest file {work / 'mosquitto.log'}",
        f"user {getpass.getuser()}",  # as root it would switch to a user that cannot read the folder
    ]
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                errors = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"mosquitto did not start: {errors[-500:]}") from None
            time.sleep(0.05)


def start_publishers(
    work: Path, codes: list[str], *, port: int, interval: float, count: int, ticks: int | None = None
) -> list[Any]:
    """``count`` publisher processes (bench/loadgen.py publish), each playing a slice of the sites
    ``ticks`` times or until SIGINT; returns (process, out path) pairs."""
    publishers = []
    stem = "publisher" if ticks is None else "registration"
    for number in range(count):
        config, out = work / f"{stem}{number}-config.json", work / f"{stem}{number}-out.json"
        config.write_bytes(
            orjson.dumps(
                {
                    "site_codes": codes[number::count],
                    "broker_port": port,
                    "interval": interval,
                    "same_tick": False,
                    "duration": None,
                    "count": ticks,
                }
            )
        )
        command = [PYTHON, "-m", "bench.loadgen", "publish", str(config), str(out)]
        publishers.append((subprocess.Popen(command, cwd=REPO), out))
    return publishers


def stop_publishers(publishers: list[Any]) -> list[dict[str, Any]]:
    for process, _out in publishers:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    results = []
    for process, out in publishers:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        results.append(orjson.loads(out.read_bytes()) if out.exists() else {"sent": [], "failures": None})
    return results


def stop(process: subprocess.Popen[bytes] | None, signum: int = signal.SIGTERM, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- the database


def create_sites(tag: str, count: int, *, first_id: int, broker_port: int, interval: float) -> dict[str, int]:
    """``count`` sites, each with one enabled connection and the default topics, in a few bulk
    inserts (one by one, 1,000 sites would take most of a minute)."""
    from apps.mqtt.models import DEFAULT_TOPICS, MqttConnection, MqttTopic
    from apps.sites.models import Site

    sites = Site.objects.bulk_create(
        Site(id=first_id + n, name=f"Scale {tag}{n + 1:04d}", code=f"{tag}{n + 1:04d}") for n in range(count)
    )
    connections = MqttConnection.objects.bulk_create(
        MqttConnection(
            site=site,
            broker_host=LOOPBACK,
            broker_port=broker_port,
            client_id_prefix=f"scale{tag.lower()}",
            expected_heartbeat_interval=max(1, round(interval)),
            enabled=True,
        )
        for site in sites
    )
    MqttTopic.objects.bulk_create(
        MqttTopic(connection=connection, pattern=pattern, message_type=message_type)
        for connection in connections
        for pattern, message_type in DEFAULT_TOPICS
    )
    return {site.code: site.pk for site in sites}


def connected(site_ids: range) -> int:
    from apps.mqtt.models import MqttConnection

    return MqttConnection.objects.filter(
        site_id__gte=site_ids.start, site_id__lt=site_ids.stop, status=MqttConnection.Status.CONNECTED
    ).count()


def heartbeat_states(site_ids: range) -> dict[str, int]:
    from django.db.models import Count

    from apps.mqtt.models import MqttConnection

    rows = (
        MqttConnection.objects.filter(site_id__gte=site_ids.start, site_id__lt=site_ids.stop)
        .values_list("heartbeat_state")
        .annotate(count=Count("id"))
    )
    return {str(state): count for state, count in rows}


# ---------------------------------------------------------------- the channel-layer subscriber


class Subscriber(threading.Thread):
    """Joins every site's group and notes when each ``sensors_update`` arrives: (site id, ts key)
    → receive time."""

    def __init__(self, site_ids: range) -> None:
        super().__init__(name="scale-subscriber", daemon=True)
        self.site_ids = site_ids
        self.arrivals: dict[tuple[int, int], float] = {}
        self.events = 0
        self.joined = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        from channels.layers import get_channel_layer

        from apps.mqtt.realtime.broadcast import site_group

        self._loop, self._done = asyncio.get_running_loop(), asyncio.Event()
        layer = get_channel_layer()
        assert layer is not None
        channel = await layer.new_channel()
        for site_id in self.site_ids:
            await layer.group_add(site_group(site_id), channel)
        self.joined.set()
        receiving = asyncio.ensure_future(self._receive(layer, channel))
        await self._done.wait()
        receiving.cancel()
        for site_id in self.site_ids:
            await layer.group_discard(site_group(site_id), channel)

    async def _receive(self, layer: Any, channel: str) -> None:
        while True:
            message = await layer.receive(channel)
            received = time.time()
            if message.get("type") != "sensors.update":
                continue
            self.events += 1
            frame = orjson.loads(message["text"])
            readings = frame["sensors"][0]["readings"] if frame["sensors"] else []
            if readings:  # newest first (apps/mqtt/sensor_shape.py)
                stamp = dt.datetime.fromisoformat(readings[0]["timestamp"])
                self.arrivals.setdefault((frame["site_id"], ts_key(stamp)), received)

    def stop(self) -> None:
        if self._loop is not None and self._done is not None:
            self._loop.call_soon_threadsafe(self._done.set)
        self.join(30)


# ---------------------------------------------------------------- the run


class Counters(threading.Thread):
    """The worker's counters every ``every`` seconds from its start: how the run got where it is
    (registration of every site's sensors, a backlog building or draining)."""

    def __init__(self, metrics_port: int, every: float) -> None:
        super().__init__(name="scale-counters", daemon=True)
        self.metrics_port, self.every = metrics_port, every
        self.started = time.time()
        self.rows: list[dict[str, float]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            figures = scrape_metrics(self.metrics_port)
            if figures is not None:
                self.rows.append({"t": time.time() - self.started, **figures})

    def stop(self) -> list[dict[str, float]]:
        """Per-interval rates: heartbeats written (readings / 100) and received per s, drops, queue."""
        self._stop_event.set()
        self.join()
        return [
            {
                "t": round(b["t"]),
                "written_per_s": (b["readings_stored"] - a["readings_stored"])
                / SENSORS_PER_SITE
                / (b["t"] - a["t"]),
                "received_per_s": (b["heartbeats_received"] - a["heartbeats_received"]) / (b["t"] - a["t"]),
                "dropped": b["dropped"] - a["dropped"],
                "queue_depth": b["queue_depth"],
            }
            for a, b in itertools.pairwise(self.rows)
        ]


def wait_connected(site_ids: range, worker: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """Seconds from the worker's start until the first, half, 90 % and all of the connections are
    connected (None: not within ``timeout``)."""
    marks = {"first": 1, "half": len(site_ids) // 2, "90%": len(site_ids) * 9 // 10, "all": len(site_ids)}
    started = time.monotonic()
    reached: dict[str, float | None] = dict.fromkeys(marks)
    count = 0
    while time.monotonic() - started < timeout and reached["all"] is None:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode} while connecting")
        count = connected(site_ids)
        elapsed = time.monotonic() - started
        for mark, needed in marks.items():
            if reached[mark] is None and count >= needed:
                reached[mark] = round(elapsed, 2)
        time.sleep(0.25)
    return {"seconds_until": reached, "connected": count, "timeout_s": timeout}


def cpu_per_second(samples: list[dict[str, Any]], name: str, start: float, end: float) -> list[float]:
    """% of one core of ``name`` between consecutive samples inside the window."""
    rows = [row for row in samples if start <= row["t"] <= end and name in row]
    return [100 * (b[name]["cpu"] - a[name]["cpu"]) / (b["t"] - a["t"]) for a, b in itertools.pairwise(rows)]


def steady(
    sampler: Sampler, metrics_port: int, seconds: float, *, sites: int, interval: float
) -> dict[str, Any]:
    """The steady window: CPU, RSS and the worker's counters."""
    before, started = scrape_metrics([metrics_port]), time.time()
    time.sleep(seconds)
    after, ended = scrape_metrics([metrics_port]), time.time()
    elapsed = ended - started
    cpu = sorted(cpu_per_second(sampler.samples, "worker", started, ended))
    window = sampler.window(started, ended)
    result: dict[str, Any] = {
        "seconds": elapsed,
        "window": (started, ended),
        "expected_heartbeats_per_s": sites / interval,
        "worker_cpu_percent": {
            "mean": sum(cpu) / len(cpu) if cpu else None,
            "p95": percentile(cpu, 95),
            "max": cpu[-1] if cpu else None,
        },
        "processes": window,
    }
    if before is not None and after is not None:
        stored = after["readings_stored"] - before["readings_stored"]
        result["heartbeats_written_per_s"] = stored / SENSORS_PER_SITE / elapsed
        result["heartbeats_received_per_s"] = (
            after["heartbeats_received"] - before["heartbeats_received"]
        ) / elapsed
        result["dropped"] = after["dropped"] - before["dropped"]
        flushes = after["flush_count"] - before["flush_count"]
        result["flushes_per_s"] = flushes / elapsed
        result["flush_ms_mean"] = (
            1000 * (after["flush_seconds_sum"] - before["flush_seconds_sum"]) / flushes if flushes else None
        )
    return result


def update_latency(
    sent: list[list[Any]], arrivals: dict[tuple[int, int], float], site_by_code: dict[str, int], window: Any
) -> dict[str, Any]:
    """Publish → channel-layer event of the heartbeats published inside the steady window."""
    start, end = window
    latencies, missing = [], 0
    for code, key, published in sent:
        if not start <= published <= end:
            continue
        received = arrivals.get((site_by_code[code], key))
        if received is None:
            missing += 1
        else:
            latencies.append(received - published)
    return {"ms": distribution(latencies, scale=1000), "without_event": missing}


def register_sensors(
    work: Path, site_by_code: dict[str, int], *, port: int, config: dict[str, Any]
) -> dict[str, Any]:
    """One heartbeat per site, spread over ``registration_seconds``, written by a worker that is
    then stopped: every site's sensors exist, as in a fleet that has run before. A first heartbeat
    creates 100 sensors and their status rows, a one-off cost that would otherwise swamp the
    measured start."""
    from apps.mqtt.models import SensorDevice

    site_ids = list(site_by_code.values())
    wanted = len(site_ids) * SENSORS_PER_SITE
    worker, _log = start_worker(work, "scale-registration", free_port())
    try:
        wait_connected(range(min(site_ids), max(site_ids) + 1), worker, config["connect_timeout"])
        started = time.monotonic()
        publishers = start_publishers(
            work,
            list(site_by_code),
            port=port,
            interval=config.get("registration_seconds", REGISTRATION_SECONDS),
            count=1,
            ticks=1,
        )
        deadline = (
            started + config.get("registration_seconds", REGISTRATION_SECONDS) + config["connect_timeout"]
        )
        while SensorDevice.objects.filter(site_id__in=site_ids).count() < wanted:
            if time.monotonic() > deadline:
                raise RuntimeError("the sites' sensors were not all registered in time")
            time.sleep(1)
        stop_publishers(publishers)
        return {"sensors": wanted, "seconds": round(time.monotonic() - started, 1)}
    finally:
        stop(worker)


def run(config: dict[str, Any]) -> dict[str, Any]:
    work = Path(config["work_dir"])
    sites, interval = config["sites"], config["interval"]
    broker_port = free_port()
    broker = start_broker(work, broker_port)
    worker = subscriber = None
    publishers: list[Any] = []
    site_ids = range(config["site_id_base"], config["site_id_base"] + sites)
    try:
        site_by_code = create_sites(
            config["tag"], sites, first_id=site_ids.start, broker_port=broker_port, interval=interval
        )
        log(f"scale: {sites} sites created; broker on port {broker_port}; registering their sensors")
        registration = register_sensors(work, site_by_code, port=broker_port, config=config)
        log(f"scale: {registration['sensors']:,} sensors registered in {registration['seconds']:g} s")
        # Joined after the registration, whose burst of events could outgrow Redis' output buffer
        # for a pub/sub client (which then drops the subscriber's connection).
        subscriber = Subscriber(site_ids)
        subscriber.start()
        if not subscriber.joined.wait(120):
            raise RuntimeError("the channel-layer subscriber did not join the sites' groups")
        publishers = start_publishers(
            work, list(site_by_code), port=broker_port, interval=interval, count=config["publishers"]
        )
        metrics_port = free_port()
        worker, worker_log = start_worker(work, "scale-worker", metrics_port)
        counters = Counters(metrics_port, config.get("series_every", 5.0))
        counters.start()
        connecting = wait_connected(site_ids, worker, config["connect_timeout"])
        log(f"scale: connected {connecting['connected']}/{sites}: {connecting['seconds_until']}")
        processes = {"worker": psutil.Process(worker.pid), "broker": psutil.Process(broker.pid)}
        for number, (process, _out) in enumerate(publishers):
            processes[f"publisher{number}"] = psutil.Process(process.pid)
        sampler = Sampler(processes, services=ServiceCPU(bench_database()))
        sampler.start()
        time.sleep(config["warmup_seconds"])
        log(f"scale: warmed up; measuring {config['steady_seconds']:g} s")
        window = steady(sampler, metrics_port, config["steady_seconds"], sites=sites, interval=interval)
        time.sleep(config["drain_seconds"])
        states = heartbeat_states(site_ids)
        sampler.stop()
        series = counters.stop()
        published, publishers = stop_publishers(publishers), []
        sent = [row for result in published for row in result["sent"]]
        window["update_latency"] = update_latency(sent, subscriber.arrivals, site_by_code, window["window"])
        window["heartbeat_states_at_end"] = states
        log(
            f"scale: worker CPU mean {window['worker_cpu_percent']['mean'] or 0:.1f} % p95"
            f" {window['worker_cpu_percent']['p95'] or 0:.1f} %, RSS"
            f" {window['processes'].get('worker', {}).get('rss_mb_max', 0):.0f} MB, written"
            f" {window.get('heartbeats_written_per_s', 0):.1f}/s of {window['expected_heartbeats_per_s']:g}/s"
        )
        return {
            "sites": sites,
            "sensors_per_site": SENSORS_PER_SITE,
            "interval_s": interval,
            "publishers": config["publishers"],
            "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "registration": registration,
            "connecting": connecting,
            "steady": window,
            "publish_failures": sum(result.get("failures") or 0 for result in published),
            "publisher_late_ticks": sum(result.get("late_ticks") or 0 for result in published),
            "channel_layer_events": subscriber.events,
            "series": series,
            "database": database_size(),
            "worker_log_tail": worker_log.read_text()[-2000:],
        }
    finally:
        stop_publishers(publishers)
        stop(worker)
        if subscriber is not None:
            subscriber.stop()
        stop(broker)


# ---------------------------------------------------------------- summary


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def summary_section(scale: dict[str, Any]) -> list[str]:
    until = scale["connecting"]["seconds_until"]
    run = scale["steady"]
    processes = run["processes"]
    worker = processes.get("worker", {})
    cpu = run["worker_cpu_percent"]
    lat = run["update_latency"]["ms"]
    publishers = [value["cpu_percent"] for name, value in processes.items() if name.startswith("publisher")]
    rows = [
        [
            "load",
            f"{scale['sites']:,} connections x {scale['sensors_per_site']} sensors"
            f" @ {scale['interval_s']:g} s"
            f" ({scale['publishers']} publisher processes, one MQTT connection each), a private Mosquitto",
        ],
        [
            "sensors registered first (one heartbeat per site, then the worker restarted)",
            f"{scale['registration']['sensors']:,} in {scale['registration']['seconds']:g} s",
        ],
        [
            "connected, from the worker's start",
            f"first {_num(until['first'], 1)} s, half {_num(until['half'], 1)} s,"
            f" 90 % {_num(until['90%'], 1)} s, all {_num(until['all'], 1)} s"
            f" ({scale['connecting']['connected']:,} connected at the end of the wait)",
        ],
        [
            "worker CPU (% of one core, 1-second samples)",
            f"mean {_num(cpu['mean'], 1)} %, p95 {_num(cpu['p95'], 1)} %, max {_num(cpu['max'], 1)} %",
        ],
        ["worker RSS", f"max {_num(worker.get('rss_mb_max'))} MB, last {_num(worker.get('rss_mb_last'))} MB"],
        [
            "heartbeats written / received / expected per s",
            f"{_num(run.get('heartbeats_written_per_s'), 1)}"
            f" / {_num(run.get('heartbeats_received_per_s'), 1)}"
            f" / {run['expected_heartbeats_per_s']:.1f} (dropped {_num(run.get('dropped'))})",
        ],
        ["flushes", f"{_num(run.get('flushes_per_s'), 1)}/s, mean {_num(run.get('flush_ms_mean'), 1)} ms"],
        [
            "update latency (publish → sensors_update on the channel layer)",
            f"p50 {_num(lat['p50'], 1)} ms, p99 {_num(lat['p99'], 1)} ms, max {_num(lat['max'], 1)} ms"
            f" ({lat['count']:,} heartbeats; {run['update_latency']['without_event']:,} without an event;"
            f" {scale['channel_layer_events']:,} sensors_update events in the whole run)",
        ],
        [
            "other CPU (% of one core)",
            f"broker {_num(processes.get('broker', {}).get('cpu_percent'))} %, publishers "
            + " + ".join(f"{value:.0f} %" for value in publishers)
            + f", PostgreSQL {_num(processes.get('postgres', {}).get('cpu_percent'))} %,"
            f" Redis {_num(processes.get('redis', {}).get('cpu_percent'))} %;"
            f" machine {_num(processes.get('machine_cpu_percent'))} %",
        ],
        [
            "sites' heartbeat state at the end",
            ", ".join(f"{k} {v:,}" for k, v in sorted(run["heartbeat_states_at_end"].items())),
        ],
        ["publisher failures / late ticks", f"{scale['publish_failures']} / {scale['publisher_late_ticks']}"],
    ]
    counts = scale["database"]["rows"]
    rows.append(
        [
            "database at the end",
            f"{counts['sensors']:,} sensors, {counts['readings']:,} readings,"
            f" {counts['sensor_status_changes']:,} sensor status changes,"
            f" {counts['connection_logs']:,} connection log rows",
        ]
    )
    series = [
        f"| {row['t']} | {row['written_per_s']:.1f} | {row['received_per_s']:.1f} | {row['dropped']:,.0f}"
        f" | {row['queue_depth']:,.0f} |"
        for row in scale["series"]
    ]
    return [
        f"## {scale['sites']:,} connections on one broker",
        "",
        f"Steady window: {run['seconds']:.0f} s after a warm-up. PostgreSQL and Redis are the machine's:"
        " PostgreSQL's CPU is its backends of the bench database, Redis' machine-wide.",
        "",
        "|  |  |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in rows),
        "",
        "From the worker's start (its counters; written = readings stored / 100):",
        "",
        "| s | heartbeats written/s | received/s | dropped | queue depth |",
        "|---|---|---|---|---|",
        *series,
        "",
    ]


def main() -> None:
    config, out = child_main(sys.argv)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    connection.close()
    write_json(out, {"vendor": connection.vendor, **run(config)})


if __name__ == "__main__":
    main()
