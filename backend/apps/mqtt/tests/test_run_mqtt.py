"""`manage.py run_mqtt` as a real process: connects, and on SIGTERM logs the disconnection and exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import BACKEND, database_url, free_port, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_process_stops_on_sigterm_logging_the_disconnection(
    make_connection, system_broker, site_code
) -> None:
    conn = make_connection(site=None, broker_host=system_broker[0], broker_port=system_broker[1])
    conn.site.code = site_code
    conn.site.save()
    set_topics(connection=conn)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url(),
    }
    metrics_port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_mqtt", "--metrics-port", str(metrics_port)],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: MqttConnection.objects.get(pk=conn.pk).status == "connected", within=15)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            exposed = response.read().decode()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)  # guards against a hang; the budget is 5 s
        stopped_in = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    print(f"\nrun_mqtt exited {stopped_in:.2f} s after SIGTERM")
    assert process.returncode == 0, output.decode()[-2000:]
    assert b"MQTT worker stopped." in output
    assert 'mqtt_connections{status="connected"} 1.0' in exposed
    assert "ingest_flush_seconds_bucket" in exposed
    events = list(
        ConnectionLog.objects.filter(mqtt_connection=conn).order_by("id").values_list("event_type", flat=True)
    )
    assert events == ["connecting", "connected", "disconnected"]
    assert MqttConnection.objects.get(pk=conn.pk).status == "disconnected"
