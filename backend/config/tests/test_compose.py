"""The compose file, proven without a Docker engine (this machine has none).

``docker-compose config`` must accept it; then the smoke test takes the ``migrate``, ``web`` and
``mqtt-worker`` services' commands and environments from the resolved file and runs them on this
host through the image's own entrypoint (docker/entrypoint.sh, run by sh with the venv's python on
PATH), with the compose network's hosts mapped to this machine's PostgreSQL (a fresh database,
dropped afterwards), Redis (a private channel prefix) and Mosquitto (a unique site code): the
migrations, one web server and two workers, a staff user signed in through the sign-in form, the
site's socket, and a heartbeat published to the broker arriving there as a ``sensors_update``.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
import yaml
from cryptography.fernet import Fernet
from websockets.sync.client import connect
from websockets.sync.connection import Connection
from websockets.typing import Origin

from apps.mqtt.tests.conftest import free_port, port_open, require

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
IMAGE_ROOT = "/app"  # the Dockerfile's WORKDIR: the checkout stands in for it
PASSWORD = "a-long-compose-test-password"
SMOKE_SECONDS = 90.0


def _compose_config(tmp_path: Path) -> dict[str, Any]:
    """The file as docker-compose resolves it, with fresh secrets (and never a developer's .env)."""
    executable = shutil.which("docker-compose")
    require(executable is not None, "docker-compose is not installed (make system-deps installs it)")
    assert executable is not None
    env_file = tmp_path / "compose.env"
    env_file.write_text(
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
        f"POSTGRES_PASSWORD={secrets.token_hex(12)}\n"
    )
    result = subprocess.run(
        [executable, "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_config_passes_and_the_worker_can_scale_after_migrations(tmp_path: Path) -> None:
    services = _compose_config(tmp_path)["services"]
    assert {"postgres", "redis", "mosquitto", "migrate", "web", "mqtt-worker"} <= set(services)
    worker = services["mqtt-worker"]
    # Neither a fixed name nor a host port, so `--scale mqtt-worker=3` can run three.
    assert "container_name" not in worker
    assert "ports" not in worker
    # The spool (what a worker stopped with the database away could not write) outlives containers.
    assert any(f"{IMAGE_ROOT}/var/spool" in str(volume) for volume in worker["volumes"])
    for name in ("web", "mqtt-worker"):
        assert services[name]["image"] == services["migrate"]["image"]  # one image, upgraded together
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert services["migrate"]["restart"] == "no"  # once, not in a loop


def _dockerfile_collectstatic() -> tuple[dict[str, str], list[str]]:
    """The Dockerfile's build-time collectstatic: its throwaway environment and its command."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    run = next(line for line in text.splitlines() if line.startswith("RUN") and "collectstatic" in line)
    words = shlex.split(run.removeprefix("RUN").split("&&")[0])
    env = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    return env, [word for word in words if "=" not in word or word.startswith("-")]


def test_the_images_build_time_collectstatic_runs_with_its_throwaway_keys(tmp_path: Path) -> None:
    # The image's layout in a folder of its own (collectstatic writes to <root>/var/static).
    root = tmp_path / "app"
    shutil.copytree(REPO / "backend", root / "backend", ignore=shutil.ignore_patterns("__pycache__"))
    dist = REPO / "frontend" / "dist"
    if dist.is_dir():
        shutil.copytree(dist, root / "frontend" / "dist")
    env, command = _dockerfile_collectstatic()
    assert "SECRET_KEY" in env, "the build must not need the real keys"
    env.update(
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin", FRONTEND_DIST=str(root / "frontend" / "dist")
    )
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    manifest = orjson.loads((root / "var" / "static" / "staticfiles.json").read_bytes())
    assert "admin/css/base.css" in manifest["paths"]  # DEBUG off: hashed names, as WhiteNoise serves them
    if dist.is_dir():
        assert "app/index.html" in manifest["paths"]


def test_the_health_check_fails_while_nothing_answers_and_passes_with_worker_metrics_off() -> None:
    check = [sys.executable, str(REPO / "docker" / "healthcheck.py")]
    env = {"PATH": os.environ["PATH"], "WEB_PORT": str(free_port())}
    assert subprocess.run([*check, "web"], env=env, capture_output=True, timeout=10).returncode == 1
    env = {"PATH": os.environ["PATH"], "MQTT_WORKER_METRICS_PORT": str(free_port())}
    assert subprocess.run([*check, "worker"], env=env, capture_output=True, timeout=10).returncode == 1
    env = {"PATH": os.environ["PATH"], "MQTT_WORKER_METRICS_PORT": "0"}
    assert subprocess.run([*check, "worker"], env=env, capture_output=True, timeout=10).returncode == 0


# ---------------------------------------------------------------- the services on this host


def _on_this_host(service: dict[str, Any], *, database_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """A service's environment with the compose network's hosts and the image's paths mapped here."""
    compose_env = {name: str(value) for name, value in service["environment"].items() if value is not None}
    assert compose_env["DATABASE_URL"].split("@")[1] == "postgres:5432/dlmon"
    assert compose_env["REDIS_URL"].startswith("redis://redis:6379/")
    env = {name: value.replace(IMAGE_ROOT + "/", f"{REPO}/") for name, value in compose_env.items()}
    env.update(
        DATABASE_URL=database_url,
        # A db of its own for keys (login throttling); pub/sub ignores db numbers, so the channel
        # prefix keeps this run's events apart.
        REDIS_URL="redis://127.0.0.1:6379/14",
        CHANNEL_LAYER_PREFIX=prefix,
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
        HOME=os.environ.get("HOME", "/tmp"),
        **extra,
    )
    return env


def _host_command(command: list[str]) -> list[str]:
    """A compose command or health check as this host runs it: the image's paths in the checkout."""
    return [part.replace(IMAGE_ROOT + "/", f"{REPO}/") for part in command]


@contextmanager
def _fresh_database() -> Iterator[str]:
    name = f"dlmon_compose_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """The long-running services, each in its own process group (uvicorn forks its workers)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with (self.logs / f"{name}.log").open("wb") as sink:
            self.running[name] = subprocess.Popen(
                ["sh", str(ENTRYPOINT), *command],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        for name, process in self.running.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}:\n{self.tail(name)}"

    def tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> dict[str, int]:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        codes = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = process.wait(5)
        return codes


def _wait_healthy(processes: Processes, check: list[str], env: dict[str, str], deadline: float) -> None:
    while True:
        processes.check_alive()
        if subprocess.run(_host_command(check), env=env, capture_output=True, timeout=10).returncode == 0:
            return
        assert time.monotonic() < deadline, f"not healthy in time: {check}"
        time.sleep(0.3)


def _manage(command: list[str], env: dict[str, str]) -> str:
    command = ["sh", str(ENTRYPOINT), *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


SETUP = """
from django.contrib.auth.models import User
from apps.mqtt.models import MqttConnection
from apps.mqtt.services.connections import set_topics
from apps.sites.models import Site
User.objects.create_user("compose-staff", password="{password}", is_staff=True)
site = Site.objects.create(name="Compose smoke", code="{code}")
set_topics(connection=MqttConnection.objects.create(site=site, broker_host="127.0.0.1", broker_port=1883))
print(site.pk)
"""


def _sign_in(port: int) -> str:
    """The sign-in form as a browser posts it; returns the session cookie."""
    token = secrets.token_hex(16)  # a CSRF secret of our own, in the cookie and in the form
    body = urlencode({"username": "compose-staff", "password": PASSWORD, "csrfmiddlewaretoken": token})
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={token}"}
    client.request("POST", "/login/", body, headers)
    response = client.getresponse()
    assert response.status == 302, (response.status, response.read()[:500])
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    return cookies["sessionid"].value


def _publish_until_update(socket: Connection, code: str, deadline: float) -> dict[str, Any]:
    """Heartbeats every half second (the first may precede the worker's subscription) until one
    reaches the socket."""
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"compose-pub-{uuid.uuid4().hex[:8]}")
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    try:
        while time.monotonic() < deadline:
            ts = dt.datetime.now(dt.UTC).isoformat()  # microseconds: each a new reading, never a repeat
            payload = {"sensors_last_data": [{"device_name": "ACC_1", "ts": ts, "last_acc00": 0.01}]}
            publisher.publish(f"{code}/datalogger_o/heartbeat", orjson.dumps(payload), qos=1)
            try:
                frame = orjson.loads(socket.recv(timeout=0.5))
            except TimeoutError:
                continue
            if frame["type"] == "sensors_update":
                return dict(frame)
        raise AssertionError("no sensors_update reached the socket in time")
    finally:
        publisher.loop_stop()
        publisher.disconnect()


def _start_services(
    processes: Processes, services: dict[str, Any], common: dict[str, str], web_env: dict[str, str]
) -> list[tuple[list[str], dict[str, str]]]:
    """The web server and two workers; returns each one's health check with its environment."""
    processes.start("web", services["web"]["command"], web_env)
    checks = [(services["web"]["healthcheck"]["test"][1:], web_env)]
    for number in (1, 2):
        worker_env = _on_this_host(
            services["mqtt-worker"],
            **common,
            MQTT_WORKER_METRICS_ADDRESS="127.0.0.1",
            MQTT_WORKER_METRICS_PORT=str(free_port()),
            MQTT_SPOOL_DIR=str(processes.logs / "spool"),  # the compose file's shared volume
        )
        processes.start(f"worker-{number}", services["mqtt-worker"]["command"], worker_env)
        checks.append((services["mqtt-worker"]["healthcheck"]["test"][1:], worker_env))
    return checks


def _socket_update(port: int, site_id: int, code: str, deadline: float) -> dict[str, Any]:
    session = _sign_in(port)
    url, origin = f"ws://127.0.0.1:{port}/ws/mqtt/site/{site_id}/", Origin(f"http://127.0.0.1:{port}")
    with connect(url, additional_headers={"Cookie": f"sessionid={session}"}, origin=origin) as socket:
        assert orjson.loads(socket.recv(timeout=10))["type"] == "snapshot"
        return _publish_until_update(socket, code, deadline)


@pytest.mark.timeout(SMOKE_SECONDS + 30)
def test_compose_commands_serve_a_heartbeat_to_a_socket_with_web_and_two_workers(tmp_path: Path) -> None:
    for service, address in {"PostgreSQL": 5432, "Redis": 6379, "Mosquitto": 1883}.items():
        require(port_open("127.0.0.1", address), f"{service} is not reachable on 127.0.0.1:{address}")
    services = _compose_config(tmp_path)["services"]
    deadline = time.monotonic() + SMOKE_SECONDS
    prefix, code, web_port = f"compose{uuid.uuid4().hex[:8]}", f"C{uuid.uuid4().hex[:10]}", free_port()
    processes = Processes(tmp_path)
    with _fresh_database() as database_url:
        common = {"database_url": database_url, "prefix": prefix}
        web_env = _on_this_host(services["web"], **common, WEB_HOST="127.0.0.1", WEB_PORT=str(web_port))
        _manage(services["migrate"]["command"], _on_this_host(services["migrate"], **common))
        setup = SETUP.format(password=PASSWORD, code=code)
        site_id = int(_manage(["shell", "-c", setup], web_env).split()[-1])  # after shell's own lines
        try:
            for check, env in _start_services(processes, services, common, web_env):
                _wait_healthy(processes, check, env, deadline)
            update = _socket_update(web_port, site_id, code, deadline)
            processes.check_alive()
        except BaseException:
            for name in processes.running:
                print(f"---- {name} log (tail)\n{processes.tail(name)}")
            raise
        finally:
            codes = processes.stop()
    assert update["site_id"] == site_id
    assert [sensor["device_name"] for sensor in update["sensors"]] == ["ACC_1"]
    assert codes == {"web": 0, "worker-1": 0, "worker-2": 0}, codes  # each stopped cleanly on SIGTERM
