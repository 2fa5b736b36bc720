"""`manage.py demo` (what `make demo` runs) end to end: embedded broker, simulator, web server and the
worker in its lifespan; live sensors appear, and Ctrl-C stops it all cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from apps.mqtt.tests.conftest import free_port
from apps.mqtt.tests.test_run_mqtt import BACKEND


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def test_demo_serves_live_sensors_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}},
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BACKEND, env=env, check=True)
    port = free_port()
    started = time.monotonic()
    demo = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "demo",
            "--sites",
            "3",
            "--sensors",
            "5",
            "--interval",
            "1",
            "--port",
            str(port),
        ],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        online = 0.0
        while online < 15:
            assert demo.poll() is None, demo.stdout.read().decode()[-3000:]
            assert time.monotonic() - started < 60, "no live sensors (hang guard)"
            time.sleep(0.25)
            try:
                metrics = _get(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                continue  # not listening yet
            match = re.search(r'^sensors_by_status\{status="online"\} (\S+)$', metrics, re.M)
            online = float(match.group(1)) if match else 0.0
        print(f"\ndemo: 15 live sensors {time.monotonic() - started:.1f} s after start (target: 15 s)")
        assert '"alive": true' in _get(f"http://127.0.0.1:{port}/healthz")
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=15)
    finally:
        if demo.poll() is None:
            demo.kill()
    text = output.decode()
    assert demo.returncode == 0, text[-3000:]
    assert "admin / demo-admin" in text
    assert "Demo stopped." in text
