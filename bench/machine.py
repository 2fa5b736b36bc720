"""What the figures were measured on: hardware, software versions, the commit, and how busy the machine
was (load average, and a fixed pure-Python workload timed, to compare runs on a noisy machine)."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from typing import Any

import psutil

from bench.common import REPO


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _command_output(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def mosquitto_version() -> str:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        return "not found"
    first = _command_output([binary, "-h"]).splitlines()
    return first[0] if first else "unknown"


def redis_version(url: str) -> str:
    import redis

    try:
        return str(redis.Redis.from_url(url, socket_timeout=5).info("server")["redis_version"])
    except redis.RedisError as exc:
        return f"unreachable ({exc})"


def calibration_ms() -> float:
    """The best of 5 timings of a fixed pure-Python workload: higher means a slower or busier CPU."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000


def busy() -> dict[str, Any]:
    times = psutil.cpu_times()
    return {
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "calibration_ms": round(calibration_ms(), 2),
        # Cumulative CPU seconds, for the steal share between two samples (see steal_percent).
        "cpu_seconds": round(sum(times), 2),
        "steal_seconds": round(getattr(times, "steal", 0.0), 2),
    }


def steal_percent(start: dict[str, Any], end: dict[str, Any]) -> float | None:
    """The share of CPU time the hypervisor gave to other guests between two ``busy()`` samples: on
    a shared virtual machine, the figures of a run with much steal are low for that reason."""
    if "cpu_seconds" not in start or "cpu_seconds" not in end:
        return None
    total = end["cpu_seconds"] - start["cpu_seconds"]
    return round(100 * (end["steal_seconds"] - start["steal_seconds"]) / total, 1) if total > 0 else None


def describe(*, postgres: str | None, redis_url: str | None) -> dict[str, Any]:
    commit = _command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_command_output(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {
        "cpu_model": cpu_model(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        "redis": redis_version(redis_url) if redis_url else None,
        "mosquitto": mosquitto_version(),
        "commit": commit + ("-dirty" if dirty else ""),
    }
