"""What every part of the benchmark shares: paths, the environment of the Django processes, child
processes that exchange JSON, percentiles. Importing this module does not set Django up."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BACKEND = REPO / "backend"
RESULTS = REPO / "bench" / "results"
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"  # the only address any part of the benchmark talks to
SENSORS_PER_SITE = 100


def django_env(
    *, database_url: str, secret_key: str, fernet_key: str, redis_url: str = "", worker_in_web: bool = True
) -> dict[str, str]:
    """The environment of a bench process that runs Django: production settings (DEBUG off, so no
    query log) against the bench database, whatever the caller's shell exports."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret_key,
            "FIELD_ENCRYPTION_KEYS": fernet_key,
            "DEBUG": "0",
            "ALLOWED_HOSTS": f"{LOOPBACK},localhost",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": redis_url,
            "MQTT_WORKER_IN_WEB": "1" if worker_in_web else "0",
            "METRICS_TOKEN": "",
            "PYTHONPATH": os.pathsep.join([str(BACKEND), str(REPO)]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def setup_django() -> None:
    """Set Django up in a child process whose environment came from ``django_env``."""
    if str(BACKEND) not in sys.path:
        sys.path.insert(0, str(BACKEND))
    import django

    django.setup()


def run_child(module: str, config: Mapping[str, Any], *, env: Mapping[str, str], timeout: float) -> Any:
    """Run ``python -m <module> CONFIG.json OUT.json`` and return what it wrote to OUT.json. The child's
    output goes to the terminal, so progress shows as it runs."""
    work = Path(config["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    stem = f"{module.rsplit('.', 1)[-1]}-{time.monotonic_ns()}"
    config_path, out_path = work / f"{stem}-config.json", work / f"{stem}-out.json"
    config_path.write_text(json.dumps(config, indent=2))
    subprocess.run(
        [PYTHON, "-m", module, str(config_path), str(out_path)],
        cwd=REPO,
        env=dict(env),
        check=True,
        timeout=timeout,
    )
    return json.loads(out_path.read_text())


def child_main(argv: Sequence[str]) -> tuple[dict[str, Any], Path]:
    """The config and output path of a child started by ``run_child``."""
    if len(argv) != 3:
        raise SystemExit(f"usage: python -m {argv[0]} CONFIG.json OUT.json (started by bench/run.py)")
    return json.loads(Path(argv[1]).read_text()), Path(argv[2])


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of sorted values, linear between ranks; None when empty."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def distribution(values: Sequence[float], *, scale: float = 1.0) -> dict[str, float | int | None]:
    """count, p50, p90, p99, max and mean of ``values`` multiplied by ``scale`` (e.g. 1000: s → ms)."""
    ordered = sorted(value * scale for value in values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else None,
        "mean": sum(ordered) / len(ordered) if ordered else None,
    }
