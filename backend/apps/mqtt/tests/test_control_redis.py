"""Must-hold 2: control crosses processes. The MQTT worker runs in its own process (`manage.py run_mqtt`)
with the Redis channel layer; the operations view's stop and start (the API), posted through
Django's test client in this process (also on Redis), reach it as nudges and the observed state
follows.

The worker's periodic reconcile is set to 60 s, beyond the 10 s hang guard: an observed change can
only come from the nudge crossing Redis. The time from the POST to the observed state is measured
and printed (the target is 2 s), never asserted.

Isolation: Redis pub/sub ignores database numbers, so each run uses a channel prefix of its own
(CHANNEL_LAYER_PREFIX), for the worker and for this process alike.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from channels.layers import channel_layers, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.contrib.auth.models import User
from django.test import Client, override_settings

from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import BACKEND, database_url, port_open, require, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = ("127.0.0.1", 6379)
HANG_GUARD = 10.0  # seconds; guards against a hang only (the target, 2 s, is measured and printed)


@pytest.fixture
def redis_url() -> str:
    require(port_open(*REDIS), "Redis is not reachable on 127.0.0.1:6379")
    return f"redis://{REDIS[0]}:{REDIS[1]}/0"


@pytest.fixture
def channel_prefix() -> str:
    return f"dlmon-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis_layer(redis_url: str, channel_prefix: str) -> Iterator[None]:
    """This process on the Redis pub/sub layer too. override_settings fires setting_changed, on which
    channels' layer manager drops its cached backends; clear them anyway, before and after, so no
    in-memory layer made earlier in the session can answer get_channel_layer()."""
    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": channel_prefix},
        }
    }
    channel_layers.backends.clear()
    with override_settings(CHANNEL_LAYERS=layers):
        channel_layers.backends.clear()
        assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)
        yield
    channel_layers.backends.clear()


def _status(pk: int) -> str:
    return MqttConnection.objects.values_list("status", flat=True).get(pk=pk)


def _logged(pk: int, event: str, *, after: int) -> bool:
    return ConnectionLog.objects.filter(mqtt_connection_id=pk, event_type=event, id__gt=after).exists()


def _last_log_id() -> int:
    return ConnectionLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _seconds_until(condition: Callable[[], bool], *, timeout: float, started: float) -> float:
    """Poll the database every 20 ms; the seconds from ``started`` to the condition."""
    wait_until(condition, within=timeout)
    return time.monotonic() - started


def test_stop_and_start_from_the_operations_api_reach_the_worker_process_over_redis(
    make_connection,
    make_site,
    site_code,
    system_broker,
    staff_user: User,
    redis_url,
    channel_prefix,
    redis_layer,
    tmp_path: Path,
) -> None:
    conn = make_connection(
        site=make_site(code=site_code, name=f"Redis {site_code}"),
        broker_host=system_broker[0],
        broker_port=system_broker[1],
        retry_delay=1,
    )
    set_topics(connection=conn)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CHANNEL_LAYER_PREFIX": channel_prefix,
        "MQTT_RECONCILE_INTERVAL": "60",
        "MQTT_WORKER_IN_WEB": "0",
    }
    output = tmp_path / "run_mqtt.log"
    with output.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_mqtt"],
            cwd=BACKEND,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    client = Client()
    client.force_login(staff_user)
    try:
        _seconds_until(lambda: _status(conn.pk) == "connected", timeout=20, started=time.monotonic())

        before = _last_log_id()
        posted = time.monotonic()
        response = client.post(f"/api/connections/{conn.pk}/stop/")
        assert response.status_code == 200, response.content
        stopped_in = _seconds_until(
            lambda: _status(conn.pk) == "disabled" and _logged(conn.pk, "disabled", after=before),
            timeout=HANG_GUARD,
            started=posted,
        )

        before = _last_log_id()
        posted = time.monotonic()
        response = client.post(f"/api/connections/{conn.pk}/start/")
        assert response.status_code == 200, response.content
        started_in = _seconds_until(
            lambda: _status(conn.pk) == "connected" and _logged(conn.pk, "connected", after=before),
            timeout=HANG_GUARD,
            started=posted,
        )
    except BaseException:
        print(output.read_text()[-3000:])
        raise
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(5)

    print(
        f"\nRedis layer, worker in its own process: stop → disabled in {stopped_in:.3f} s, "
        f"start → connected in {started_in:.3f} s (target 2 s; periodic reconcile 60 s)"
    )
    events = list(
        ConnectionLog.objects.filter(mqtt_connection=conn)
        .order_by("id")
        .values_list("event_type", "actor__username")
    )
    assert ("stopped", staff_user.username) in events
    assert ("started", staff_user.username) in events
    kinds = [kind for kind, _ in events]
    stop = kinds.index("stopped")
    assert "disabled" in kinds[stop:]
    assert "connected" in kinds[kinds.index("started") :]
