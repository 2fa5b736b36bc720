"""End-to-end benchmark of one stack, run as a child process with the stack's Django environment:
simulator → Mosquitto → MQTT worker → database → channel layer → WebSocket clients.

Stacks (bench/run.py sets the environment):
``memory-sqlite``   one uvicorn process running the worker in its loop, in-memory channel layer,
                    SQLite (WAL): the embedded default and small installs.
``redis-postgres``  uvicorn for the web plus ``manage.py run_mqtt``, Redis pub/sub channel layer,
                    PostgreSQL: production.

Each session (a fixed load, a ramp, a soak) gets new sites (unique codes and ids, so nothing else on the
shared broker or Redis can mix in), fresh server processes, one WebSocket client per site, and one
untimed warm-up heartbeat per site (sensor registration) before anything is measured. Latency is the
time from the simulator handing a heartbeat to its MQTT client to the ``sensors_update`` carrying that
heartbeat's ``ts`` arriving at the site's socket. A heartbeat whose update never arrives is
``undelivered`` (dropped, lost, or merged into a later update of the same flush).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.common import (
    BACKEND,
    LOOPBACK,
    PYTHON,
    REPO,
    SENSORS_PER_SITE,
    child_main,
    distribution,
    setup_django,
    write_json,
)
from bench.workers import SERVICES, ServiceCPU, bench_database, leases_settled

START_TIMEOUT = 90.0  # seconds for the servers to come up and every MQTT client to connect
STOP_TIMEOUT = 10.0
UVICORN = (PYTHON, "-m", "uvicorn", "config.asgi:application", "--app-dir", str(BACKEND), "--host", LOOPBACK)
UVICORN += ("--no-access-log", "--log-level", "warning", "--lifespan", "on")


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- processes


class Sampler(threading.Thread):
    """Every ``every`` seconds: CPU time and RSS of the named processes, and the machine's CPU use."""

    def __init__(
        self, processes: dict[str, psutil.Process], every: float = 1.0, services: ServiceCPU | None = None
    ) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.processes = processes
        self.every = every
        self.services = services
        self.names = [*processes, *(SERVICES if services else ())]
        self.samples: list[dict[str, Any]] = []
        self._stop_event = threading.Event()
        psutil.cpu_percent()  # the first call only starts the machine-wide measurement

    def sample(self) -> dict[str, Any]:
        row: dict[str, Any] = {"t": time.time(), "machine_cpu_percent": psutil.cpu_percent()}
        for name, process in self.processes.items():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                row[name] = {"cpu": times.user + times.system, "rss": process.memory_info().rss}
        if self.services is not None:
            row.update(self.services.sample())
        return row

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.samples.append(self.sample())

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def window(self, start: float, end: float) -> dict[str, Any]:
        """CPU % of one core and RSS (MB) per process between two times, and the machine's CPU %."""
        rows = [row for row in self.samples if start <= row["t"] <= end]
        if len(rows) < 2:
            return {}
        first, last = rows[0], rows[-1]
        result: dict[str, Any] = {
            "machine_cpu_percent": sum(row["machine_cpu_percent"] for row in rows[1:]) / (len(rows) - 1)
        }
        for name in self.names:
            if name in first and name in last:
                rss = [row[name]["rss"] / 2**20 for row in rows if name in row]
                result[name] = {
                    "cpu_percent": 100 * (last[name]["cpu"] - first[name]["cpu"]) / (last["t"] - first["t"]),
                    "rss_mb_max": max(rss),
                    "rss_mb_last": rss[-1],
                }
        return result


@dataclass
class Servers:
    """The web server and (multi-process stacks) the separate MQTT workers of one session.
    ``metrics_ports`` serve the workers' Prometheus metrics: the web server's when the worker runs
    inside it, else each run_mqtt's own ``--metrics-port``."""

    port: int
    metrics_ports: list[int]
    web: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def processes(self) -> dict[str, psutil.Process]:
        """``worker`` is the first (or only) run_mqtt, ``worker2``… the others."""
        found = {"web": psutil.Process(self.web.pid)}
        for number, worker in enumerate(self.workers, start=1):
            found["worker" if number == 1 else f"worker{number}"] = psutil.Process(worker.pid)
        return found

    def check_alive(self) -> None:
        for process, path in zip((self.web, *self.workers), self.logs, strict=True):
            if process.poll() is not None:
                tail = path.read_text()[-3000:]
                raise RuntimeError(f"{path.name}: the process exited with {process.returncode}:\n{tail}")

    def stop(self) -> None:
        signals = [(self.web, signal.SIGINT), *((worker, signal.SIGTERM) for worker in self.workers)]
        for process, signum in signals:
            if process.poll() is None:
                process.send_signal(signum)
        for process, _signum in signals:
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"pid {process.pid} did not stop within {STOP_TIMEOUT:.0f} s: killed")
                process.kill()
                process.wait()


def server_env(work: Path) -> dict[str, str]:
    """A stopped worker's unwritten items go to the run's folder: never to the checkout's var/spool,
    where a later worker on another database would read them back."""
    return {**os.environ, "MQTT_SPOOL_DIR": str(work / "spool")}


def start_worker(work: Path, name: str, metrics_port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """One ``manage.py run_mqtt`` with its metrics on ``metrics_port``, its output in a log file."""
    path = work / f"{name}.log"
    process = subprocess.Popen(
        [PYTHON, str(BACKEND / "manage.py"), "run_mqtt", "--metrics-port", str(metrics_port)],
        cwd=REPO,
        env=server_env(work),
        stdout=path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, path


def distinct_ports(count: int) -> list[int]:
    """``count`` free ports, all different: each socket stays bound until every port is chosen
    (ports picked one after the other may repeat)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def start_servers(work: Path, name: str, separate_worker: bool, workers: int = 1) -> Servers:
    port, *metrics_ports = distinct_ports(1 + (workers if separate_worker else 0))
    web_log = work / f"{name}-web.log"
    web = subprocess.Popen(
        [*UVICORN, "--port", str(port)],
        cwd=REPO,
        env=server_env(work),
        stdout=web_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    servers = Servers(port=port, metrics_ports=[port], web=web, logs=[web_log])
    if separate_worker:
        servers.metrics_ports = metrics_ports
        for number, metrics_port in enumerate(servers.metrics_ports, start=1):
            process, path = start_worker(work, f"{name}-worker{number}", metrics_port)
            servers.workers.append(process)
            servers.logs.append(path)
    return servers


def wait_until(
    what: str, condition: Callable[[], bool], servers: Servers, timeout: float = START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        servers.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def http_get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}{path}", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def scrape_metrics(ports: int | list[int]) -> dict[str, float] | None:
    """The workers' Prometheus figures the benchmark reads, summed over the workers (one port or
    several); None when one cannot be read."""
    names = {
        "ingest_dropped_total": "dropped",
        "ingest_flush_seconds_sum": "flush_seconds_sum",
        "ingest_flush_seconds_count": "flush_count",
        "ingest_readings_stored_total": "readings_stored",
        'mqtt_messages_received_total{kind="heartbeat"}': "heartbeats_received",
        "ingest_queue_depth": "queue_depth",
    }
    figures = dict.fromkeys(names.values(), 0.0)
    for port in [ports] if isinstance(ports, int) else ports:
        text = http_get(port, "/metrics")
        if text is None:
            return None
        for line in text.splitlines():
            match = re.match(r"^(\w+)(\{[^}]*\})? ([0-9.eE+-]+)$", line)
            if match is None:
                continue
            name = names.get(match.group(1)) or names.get(match.group(1) + (match.group(2) or ""))
            if name is not None:
                figures[name] += float(match.group(3))
    return figures


# ---------------------------------------------------------------- load generators


def run_json_process(args: list[str], config: dict[str, Any], work: Path, stem: str, timeout: float) -> Any:
    config_path, out_path = work / f"{stem}-config.json", work / f"{stem}-out.json"
    config_path.write_text(json.dumps(config))
    subprocess.run([*args, str(config_path), str(out_path)], cwd=REPO, check=True, timeout=timeout)
    return json.loads(out_path.read_text())


@dataclass
class ClientsProcess:
    process: subprocess.Popen[bytes]
    records: Path
    out: Path

    def drain(self, sent: list[list[Any]], site_by_code: dict[str, int], timeout: float) -> None:
        """Wait until every published heartbeat's update has arrived, or ``timeout`` seconds."""
        wanted = {(site_by_code[code], key) for code, key, _published in sent}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not wanted <= self.read_records().keys():
            time.sleep(0.25)

    def read_records(self) -> dict[tuple[int, int], float]:
        """(site id, ts key) → first arrival time."""
        arrivals: dict[tuple[int, int], float] = {}
        if self.records.exists():
            for line in self.records.read_text().splitlines():
                site, key, received = line.split()
                arrivals.setdefault((int(site), int(key)), float(received))
        return arrivals

    def stop(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if not self.out.exists():
            return {"errors": [f"the clients process ended with {self.process.returncode} and no result"]}
        return dict(json.loads(self.out.read_text()))


def start_clients(
    work: Path, name: str, port: int, site_ids: list[int], session_key: str, deadline: float, servers: Servers
) -> ClientsProcess:
    ready = work / f"{name}-clients-ready"
    config = {
        "sites": [(site_id, f"ws://{LOOPBACK}:{port}/ws/mqtt/site/{site_id}/") for site_id in site_ids],
        "session_key": session_key,
        "origin": f"http://{LOOPBACK}:{port}",
        "records_file": str(work / f"{name}-records.txt"),
        "ready_file": str(ready),
        "deadline": deadline,
    }
    config_path, out = work / f"{name}-clients-config.json", work / f"{name}-clients-out.json"
    config_path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.loadgen", "clients", str(config_path), str(out)], cwd=REPO
    )
    clients = ClientsProcess(process, Path(config["records_file"]), out)

    def connected() -> bool:
        if process.poll() is not None:
            raise RuntimeError(
                f"the WebSocket clients exited early: {out.read_text() if out.exists() else ''}"
            )
        return ready.exists()

    wait_until(f"{len(site_ids)} WebSocket clients to get their snapshot", connected, servers)
    return clients


def publish(
    work: Path,
    stem: str,
    codes: list[str],
    *,
    broker_port: int,
    interval: float,
    same_tick: bool,
    duration: float | None,
    count: int | None,
) -> dict[str, Any]:
    config = {
        "site_codes": codes,
        "broker_port": broker_port,
        "interval": interval,
        "same_tick": same_tick,
        "duration": duration,
        "count": count,
    }
    limit = (duration or interval * (count or 1)) + 60
    return run_json_process([PYTHON, "-m", "bench.loadgen", "publish"], config, work, stem, limit)


def latency(
    sent: list[list[Any]], arrivals: dict[tuple[int, int], float], site_by_code: dict[str, int]
) -> tuple[list[tuple[float, float]], int]:
    """(publish time, latency in s) of each delivered heartbeat, and how many were not delivered."""
    series: list[tuple[float, float]] = []
    undelivered = 0
    for code, key, published in sent:
        received = arrivals.get((site_by_code[code], key))
        if received is None:
            undelivered += 1
        else:
            series.append((published, received - published))
    return series, undelivered


# ---------------------------------------------------------------- the database


def create_sites(
    tag: str, count: int, *, first_id: int, prefix: str, broker_port: int, interval: float
) -> dict[str, int]:
    from apps.mqtt.models import MqttConnection
    from apps.mqtt.services.connections import set_topics
    from apps.sites.models import Site

    site_by_code: dict[str, int] = {}
    for number in range(count):
        code = f"{tag}{number + 1:03d}"
        site = Site.objects.create(id=first_id + number, name=f"Bench {code}", code=code)
        connection = MqttConnection.objects.create(
            site=site,
            broker_host=LOOPBACK,
            broker_port=broker_port,
            client_id_prefix=prefix,
            expected_heartbeat_interval=max(1, round(interval)),
            enabled=True,
        )
        set_topics(connection=connection)
        site_by_code[code] = site.pk
    return site_by_code


def delete_sites(site_ids: list[int]) -> None:
    from apps.sites.models import Site

    Site.objects.filter(pk__in=site_ids).delete()


def connected_count(site_ids: list[int]) -> int:
    from apps.mqtt.models import MqttConnection

    return MqttConnection.objects.filter(site_id__in=site_ids, status=MqttConnection.Status.CONNECTED).count()


def staff_session() -> str:
    """A staff user and a logged-in session for the WebSocket clients; returns the session key."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.create_user("bench-staff", is_staff=True)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]  # a session of another is void
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return session.session_key


def database_size() -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection

    from apps.mqtt.models import ConnectionLog, SensorData, SensorDevice, SensorStatusChange

    rows = {
        "sensors": SensorDevice.objects.count(),
        "readings": SensorData.objects.count(),
        "sensor_status_changes": SensorStatusChange.objects.count(),
        "connection_logs": ConnectionLog.objects.count(),
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_database_size(current_database()), pg_total_relation_size('mqtt_sensordata')"
            )
            total, readings = cursor.fetchone()
    else:
        path = Path(settings.DATABASES["default"]["NAME"])
        total = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        with connection.cursor() as cursor:
            cursor.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'mqtt_sensordata%'")
            readings = cursor.fetchone()[0]
    return {"t": time.time(), "bytes": total, "readings_table_bytes": readings, "rows": rows}


# ---------------------------------------------------------------- sessions


class Session:
    """One load on fresh servers, sites and clients; ``measure`` runs publishers against them."""

    def __init__(self, config: dict[str, Any], spec: dict[str, Any], number: int) -> None:
        self.config = config
        self.spec = spec
        self.name = spec["name"]
        self.work = Path(config["work_dir"])
        self.tag = f"{config['run_id']}S{number}"
        self.first_id = config["site_id_base"] + number * 1000
        self.site_by_code: dict[str, int] = {}
        self.servers: Servers | None = None
        self.clients: ClientsProcess | None = None
        self.sampler: Sampler | None = None
        self.clients_result: dict[str, Any] = {}

    def __enter__(self) -> Session:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        spec = self.spec
        self.site_by_code = create_sites(
            self.tag,
            spec["sites"],
            first_id=self.first_id,
            prefix=f"bench{self.config['run_id']}",
            broker_port=self.config["broker_port"],
            interval=spec.get("interval", 5.0),
        )
        site_ids = list(self.site_by_code.values())
        log(f"{self.name}: {len(site_ids)} sites; starting the servers")
        workers = spec.get("workers", 1)
        self.servers = servers = start_servers(
            self.work, self.name, self.config["separate_worker"], workers=workers
        )
        wait_until("the web server", lambda: http_get(servers.port, "/healthz") is not None, servers)
        if workers > 1:
            # The first worker up claims every connection; the others get theirs as its extra leases
            # expire (MQTT_LEASE_SECONDS): nothing is measured before that hand-over is over.
            pids = [worker.pid for worker in servers.workers]
            settling = time.monotonic()
            wait_until(
                f"{workers} workers' leases to settle", lambda: leases_settled(site_ids, pids), servers
            )
            log(f"{self.name}: leases settled in {time.monotonic() - settling:.1f} s")
        wait_until(
            f"{len(site_ids)} MQTT connections", lambda: connected_count(site_ids) == len(site_ids), servers
        )
        deadline = spec.get("duration", 0) + spec.get("step_seconds", 0) * len(spec.get("rates", [])) + 600
        self.clients = start_clients(
            self.work, self.name, servers.port, site_ids, self.config["session_key"], deadline, servers
        )
        processes = {**servers.processes(), "ws_clients": psutil.Process(self.clients.process.pid)}
        self.sampler = Sampler(processes, services=ServiceCPU(bench_database()))
        self.sampler.start()
        warmup = self._publish(f"{self.name}-warmup", interval=1.0, same_tick=False, duration=None, count=1)
        self.clients.drain(warmup["sent"], self.site_by_code, START_TIMEOUT)
        log(f"{self.name}: warmed up")

    def __exit__(self, *exc: object) -> None:
        try:
            if self.clients is not None:
                self.clients_result = self.clients.stop()
            if self.sampler is not None:
                self.sampler.stop()
        finally:
            if self.servers is not None:
                self.servers.stop()
            delete_sites(list(self.site_by_code.values()))

    def measure(
        self,
        stem: str,
        *,
        interval: float,
        same_tick: bool,
        duration: float,
        during: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Publish for ``duration`` seconds and return the figures of that window."""
        assert self.servers is not None
        assert self.clients is not None
        assert self.sampler is not None
        before = scrape_metrics(self.servers.metrics_ports)
        started = time.time()
        if during is None:
            published = self._publish(stem, interval=interval, same_tick=same_tick, duration=duration)
        else:
            published = self._publish_while(stem, interval, duration, during)
        ended = time.time()
        self.clients.drain(published["sent"], self.site_by_code, self.config["drain_seconds"])
        self.servers.check_alive()
        after = scrape_metrics(self.servers.metrics_ports)
        series, undelivered = latency(published["sent"], self.clients.read_records(), self.site_by_code)
        sites = len(self.site_by_code)
        heartbeats = len(published["sent"])
        result: dict[str, Any] = {
            "sites": sites,
            "sensors_per_site": SENSORS_PER_SITE,
            "interval_s": interval,
            "same_tick": same_tick,
            "offered_heartbeats_per_s": sites / interval,
            "offered_readings_per_s": sites * SENSORS_PER_SITE / interval,
            "seconds": ended - started,
            "heartbeats_published": heartbeats,
            "heartbeats_per_s": heartbeats / (ended - started),
            "readings_per_s": heartbeats * SENSORS_PER_SITE / (ended - started),
            "latency_ms": distribution([value for _published, value in series], scale=1000),
            "undelivered": undelivered,
            "publish_failures": published["failures"],
            "publisher_late_ticks": published["late_ticks"],
            "publisher_cpu_percent": 100 * published["cpu_seconds"] / published["seconds"],
            "processes": self.sampler.window(started, ended),
        }
        if before is not None and after is not None:
            flushes = after["flush_count"] - before["flush_count"]
            result["worker_metrics"] = {
                "dropped": after["dropped"] - before["dropped"],
                "flushes": flushes,
                "flush_ms_mean": 1000 * (after["flush_seconds_sum"] - before["flush_seconds_sum"]) / flushes
                if flushes
                else None,
                "readings_stored": after["readings_stored"] - before["readings_stored"],
            }
        else:
            result["worker_metrics"] = None  # the metrics endpoint did not answer
        result["series"] = series
        return result

    def _publish(
        self, stem: str, *, interval: float, same_tick: bool, duration: float | None, count: int | None = None
    ) -> dict[str, Any]:
        return publish(
            self.work,
            stem,
            list(self.site_by_code),
            broker_port=self.config["broker_port"],
            interval=interval,
            same_tick=same_tick,
            duration=duration,
            count=count,
        )

    def _publish_while(
        self, stem: str, interval: float, duration: float, during: Callable[[], None]
    ) -> dict[str, Any]:
        """Publish in the background and call ``during`` every sample period until it is done."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            outcome.update(self._publish(stem, interval=interval, same_tick=False, duration=duration))

        thread = threading.Thread(target=target, name="bench-publisher")
        thread.start()
        while thread.is_alive():
            during()
            thread.join(self.spec["sample_every"])
        if not outcome:
            raise RuntimeError("the publisher failed (see its output above)")
        return outcome


def sustainable(step: dict[str, Any], p99_limit_ms: float) -> bool:
    p99 = step["latency_ms"]["p99"]
    drops = (step["worker_metrics"] or {}).get("dropped", 0)
    return (
        p99 is not None
        and p99 <= p99_limit_ms
        and step["undelivered"] == 0
        and not drops
        and step["publish_failures"] == 0
        and step["publisher_late_ticks"] == 0
    )


def summarise(result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    worker = result["processes"].get("worker") or result["processes"].get("web") or {}
    return (
        f"{result['heartbeats_per_s']:.1f} hb/s ({result['readings_per_s']:.0f} readings/s): latency p50 "
        f"{lat['p50'] or 0:.1f} p99 {lat['p99'] or 0:.1f} max {lat['max'] or 0:.1f} ms, undelivered "
        f"{result['undelivered']}, worker CPU {worker.get('cpu_percent', 0):.1f} %"
        f" RSS {worker.get('rss_mb_max', 0):.0f} MB"
    )


def run_fixed(config: dict[str, Any], spec: dict[str, Any], number: int) -> dict[str, Any]:
    with Session(config, spec, number) as session:
        result = session.measure(
            spec["name"], interval=spec["interval"], same_tick=spec["same_tick"], duration=spec["duration"]
        )
    result.pop("series")
    result["clients"] = session.clients_result
    log(f"{spec['name']}: {summarise(result)}")
    return {"name": spec["name"], "kind": "fixed", **result}


def run_ramp(config: dict[str, Any], spec: dict[str, Any], number: int) -> dict[str, Any]:
    """Steps of rising rate (a shorter interval for the same sites); the highest sustainable rate is the
    last step before the first one that is not. ``past_failure`` more steps show the knee in the plot."""
    steps: list[dict[str, Any]] = []
    highest: dict[str, Any] | None = None
    failed = 0
    with Session(config, spec, number) as session:
        for index, rate in enumerate(spec["rates"]):
            interval = spec["sites"] / rate
            step = session.measure(
                f"{spec['name']}-{index}", interval=interval, same_tick=False, duration=spec["step_seconds"]
            )
            step.pop("series")
            step["sustainable"] = sustainable(step, config["p99_limit_ms"])
            steps.append(step)
            verdict = "sustainable" if step["sustainable"] else "NOT sustainable"
            log(f"{spec['name']} @ {rate:g} hb/s offered: {summarise(step)}; {verdict}")
            if not step["sustainable"]:
                failed += 1
            elif not failed:
                highest = step
            if failed > spec["past_failure"]:
                break
    return {
        "name": spec["name"],
        "kind": "ramp",
        "workers": spec.get("workers", 1),
        "sites": spec["sites"],
        "p99_limit_ms": config["p99_limit_ms"],
        "steps": steps,
        "highest_sustainable": None
        if highest is None
        else {
            key: highest[key]
            for key in ("offered_heartbeats_per_s", "heartbeats_per_s", "readings_per_s", "latency_ms")
        },
        "clients": session.clients_result,
    }


def run_soak(config: dict[str, Any], spec: dict[str, Any], number: int) -> dict[str, Any]:
    sizes: list[dict[str, Any]] = []
    with Session(config, spec, number) as session:
        sizes.append(database_size())
        result = session.measure(
            spec["name"],
            interval=spec["interval"],
            same_tick=False,
            duration=spec["duration"],
            during=lambda: sizes.append(database_size()),
        )
        sizes.append(database_size())
        assert session.sampler is not None
        samples = session.sampler.samples
    series = result.pop("series")
    window = spec["window_seconds"]
    start = series[0][0] if series else 0.0
    windows: dict[int, list[float]] = {}
    for published, value in series:
        windows.setdefault(int((published - start) // window), []).append(value)
    drift = [
        {"from_s": k * window, **distribution(values, scale=1000)} for k, values in sorted(windows.items())
    ]
    rss = {
        name: [
            (row["t"] - start, row[name]["rss"] / 2**20)
            for row in samples
            if name in row and row["t"] >= start
        ]
        for name in session.sampler.processes
    }
    log(f"{spec['name']}: {summarise(result)}")
    return {
        "name": spec["name"],
        "kind": "soak",
        **result,
        "latency_windows": drift,
        "database": sizes,
        "growth": soak_growth(sizes, rss, drift),
        "rss_mb": rss,
        "clients": session.clients_result,
    }


def soak_growth(
    sizes: list[dict[str, Any]], rss: dict[str, list[tuple[float, float]]], windows: list[dict[str, Any]]
) -> dict[str, Any]:
    """What grew over the soak. The database is compared from the first sample in which every sensor's
    ring was full (3 readings each): before that the readings table is still filling, as it should."""
    last = sizes[-1]
    full = next((s for s in sizes if s["rows"]["readings"] >= 3 * s["rows"]["sensors"] > 0), None)
    database = None
    if full is not None:
        database = {
            "over_seconds": last["t"] - full["t"],
            "bytes": last["bytes"] - full["bytes"],
            "readings_table_bytes": (last["readings_table_bytes"] or 0) - (full["readings_table_bytes"] or 0),
            "readings_rows": last["rows"]["readings"] - full["rows"]["readings"],
            "log_rows": sum(
                last["rows"][k] - full["rows"][k] for k in ("sensor_status_changes", "connection_logs")
            ),
        }
    return {
        "database_after_ring_full": database,
        "rss_mb": {name: series[-1][1] - series[0][1] for name, series in rss.items() if series},
        "latency_p99_ms": windows[-1]["p99"] - windows[0]["p99"] if len(windows) > 1 else None,
    }


RUNNERS = {"fixed": run_fixed, "ramp": run_ramp, "soak": run_soak}


def main() -> None:
    config, out = child_main(sys.argv)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    connection.close()
    config["session_key"] = staff_session()
    results = []
    for number, spec in enumerate(config["sessions"], start=1):
        results.append(RUNNERS[spec["kind"]](config, spec, number))
    write_json(out, {"stack": config["stack"], "vendor": connection.vendor, "sessions": results})


if __name__ == "__main__":
    main()
