"""Several ``run_mqtt`` workers in the end-to-end benchmark: when their leases have settled (each
worker holding its fair share, nothing expired) and what the machine's shared services cost, so a
ratio of 2 workers to 1 can be read against the CPU left to the workers on this machine."""

from __future__ import annotations

import math
from typing import Any

import psutil

# The machine's services a ramp loads besides the bench's own processes, by process name: Mosquitto
# and Redis machine-wide (other users of them at the same time count too), PostgreSQL only the
# backends of the bench's database (their process title names it).
SERVICES = {"mosquitto": ("mosquitto",), "postgres": ("postgres",), "redis": ("redis-server",)}


def leases_settled(site_ids: list[int], worker_pids: list[int]) -> bool:
    """Every connection of ``site_ids`` leased, unexpired, to one of the workers, each worker within
    its fair share: until then a worker may still hand connections over, and a step measured meanwhile
    would count the hand-over's reconnections."""
    from django.db.models import Count
    from django.utils import timezone

    from apps.mqtt.models import ConnectionLease

    held = dict(
        ConnectionLease.objects.filter(connection__site_id__in=site_ids, expires_at__gt=timezone.now())
        .exclude(worker_id="")
        .values_list("worker_id")
        .annotate(count=Count("id"))
        .values_list("worker_id", "count")
    )
    pids = {int(worker_id.split(":")[1]) for worker_id in held}
    share = math.ceil(len(site_ids) / len(worker_pids))
    return (
        pids == set(worker_pids)
        and sum(held.values()) == len(site_ids)
        and all(count <= share for count in held.values())
    )


def bench_database() -> str:
    """The name of the database this (Django) process uses: its PostgreSQL backends carry it."""
    from django.conf import settings

    return str(settings.DATABASES["default"]["NAME"])


class ServiceCPU:
    """Cumulative CPU seconds and current RSS of each service's processes (PostgreSQL forks a
    backend per connection: those of ``database``). A process that appears after the first sample
    counts from zero, one that ends keeps what it had counted."""

    def __init__(self, database: str) -> None:
        self.database = f" {database} "
        self._seen: dict[int, float] = {}
        self._totals = dict.fromkeys(SERVICES, 0.0)
        self._first = True

    def sample(self) -> dict[str, dict[str, float]]:
        rss = dict.fromkeys(SERVICES, 0)
        seen: dict[int, float] = {}
        for process in psutil.process_iter(["name", "cmdline", "cpu_times", "memory_info"]):
            service = _service(process.info["name"] or "")
            times, memory = process.info["cpu_times"], process.info["memory_info"]
            if service is None or times is None or memory is None:
                continue
            if service == "postgres" and self.database not in " ".join(process.info["cmdline"] or []):
                continue  # another database's backend, or the server's own processes
            cpu = times.user + times.system
            seen[process.pid] = cpu
            if not self._first:
                self._totals[service] += cpu - self._seen.get(process.pid, 0.0)
            rss[service] += memory.rss
        self._seen, self._first = seen, False
        return {name: {"cpu": self._totals[name], "rss": rss[name]} for name in SERVICES}


def _service(name: str) -> str | None:
    for service, names in SERVICES.items():
        if name in names:
            return service
    return None


# ---------------------------------------------------------------- summary


def _step_row(label: str, step: dict[str, Any] | None) -> list[str]:
    if step is None:
        return [label, "no step was sustainable", *["-"] * 6]
    processes = step["processes"]
    workers = [value for name, value in sorted(processes.items()) if name.startswith("worker")]

    def cpu(name: str) -> str:
        value = processes.get(name, {}).get("cpu_percent")
        return "-" if value is None else f"{value:.0f} %"

    return [
        label,
        f"{step['heartbeats_per_s']:.1f} ({step['readings_per_s']:,.0f})",
        f"{step['latency_ms']['p99'] or 0:,.1f}",
        " + ".join(f"{worker['cpu_percent']:.0f} %" for worker in workers) or "-",
        cpu("web"),
        f"{step['publisher_cpu_percent']:.0f} % / {cpu('ws_clients')}",
        f"{cpu('mosquitto')} / {cpu('postgres')} / {cpu('redis')}",
        f"{processes.get('machine_cpu_percent', 0):.0f} %",
    ]


HEADER = [
    "workers: step",
    "heartbeats/s (readings/s)",
    "p99 ms",
    "worker CPU (each)",
    "web CPU",
    "publisher / WebSocket clients CPU",
    "Mosquitto / PostgreSQL / Redis CPU",
    "machine CPU",
]


def ramps_by_workers(e2e: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The redis-postgres ramps by their worker count."""
    return {
        session.get("workers", 1): session
        for stack in e2e.get("stacks", [])
        for session in stack["sessions"]
        if session["kind"] == "ramp" and stack["stack"] == "redis-postgres"
    }


def _highest(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ramp's highest sustainable step: the last before the first that is not (as run_ramp)."""
    best = None
    for step in steps:
        if not step["sustainable"]:
            break
        best = step
    return best


def ratio(e2e: dict[str, Any]) -> float | None:
    """Highest sustainable heartbeats/s of the most workers over that of the fewest."""
    ramps = ramps_by_workers(e2e)
    if len(ramps) < 2:
        return None
    tops = [_highest(ramp["steps"]) for _count, ramp in sorted(ramps.items())]
    return tops[-1]["heartbeats_per_s"] / tops[0]["heartbeats_per_s"] if tops[0] and tops[-1] else None


def section(e2e: dict[str, Any]) -> list[str]:
    """The summary's "Several workers" section; nothing without ramps of more than one worker."""
    ramps = ramps_by_workers(e2e)
    if len(ramps) < 2:
        return []
    rows: list[list[str]] = []
    for count, ramp in sorted(ramps.items()):
        rows.append(_step_row(f"{count}: highest sustainable", _highest(ramp["steps"])))
        failed = next((step for step in ramp["steps"] if not step["sustainable"]), None)
        if failed is not None:
            rows.append(_step_row(f"{count}: first not sustainable", failed))
    share = ratio(e2e)
    return [
        "## Several workers (redis-postgres ramp)",
        "",
        "The same ramp with 1 and with 2 `run_mqtt` workers sharing the connections through leases"
        " (measured once every lease had settled at the fair share). CPU is % of one core over the"
        f" step; the machine has {psutil.cpu_count()} logical cores, shared by the workers, the web"
        " server, the load generators and the machine's Mosquitto, PostgreSQL and Redis (PostgreSQL:"
        " the backends of the bench's database; Mosquitto and Redis machine-wide: other users of them"
        " count too).",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        f"Highest sustainable rate, {max(ramps)} workers / {min(ramps)}: "
        + ("not measured (no sustainable step)" if share is None else f"**{share:.2f}x**"),
        "",
    ]
