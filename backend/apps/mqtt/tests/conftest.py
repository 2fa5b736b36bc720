"""Real brokers and a real worker for the MQTT tests.

The machine's Mosquitto (127.0.0.1:1883) serves most tests; tests that need TLS, a password or to kill
the broker start their own ``mosquitto -c <generated conf>`` on a free port. A missing broker skips
the test with the reason, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import orjson
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.db import connection

from apps.mqtt.ingest.items import HeartbeatItem
from apps.mqtt.ingest.policy import IngestPolicy
from apps.mqtt.models import MqttConnection
from apps.mqtt.parser import Heartbeat, parse_message
from apps.mqtt.worker.runtime import MqttWorker

T = TypeVar("T")
SYSTEM_BROKER = ("127.0.0.1", 1883)
BACKEND = Path(__file__).resolve().parents[3]
T0 = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)
POLICY = IngestPolicy(retention=3, max_consecutive_misses=3, stale_after=30.0)


def require(condition: bool, reason: str) -> None:
    """Skip with the reason, or fail under CI, where every service must be there."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database, for a worker or server process started by the test to share."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@pytest.fixture(autouse=True)
def _private_spool(settings: Any, tmp_path: Path) -> None:
    """Every worker of a test spools (and replays) in the test's own folder, never in var/."""
    settings.MQTT_SPOOL_DIR = tmp_path / "worker-spool"


@pytest.fixture
def system_broker() -> tuple[str, int]:
    require(port_open(*SYSTEM_BROKER), "Mosquitto is not reachable on 127.0.0.1:1883")
    return SYSTEM_BROKER


@pytest.fixture
def site_code() -> str:
    """A code unique to this test, so tests sharing a broker never see each other's messages."""
    return f"T{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- heartbeats as dataloggers send them


def iso(moment: dt.datetime) -> str:
    """A time as dataloggers write it: UTC with a ``Z``."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def seed_heartbeat(devices: Sequence[str], ts: dt.datetime, **extra: object) -> bytes:
    """A heartbeat in the seed format (``sensors_last_data`` as a list), every sensor stamped ``ts``;
    sensor ``i`` reads acc_x ``0.001 * i``, and every fifth also carries a magnetometer and a gyroscope
    value. ``extra`` adds top-level keys (``message_interval_seconds=60``)."""
    sensors = [
        {
            "device_name": name,
            "ts": iso(ts),
            "last_acc00": 0.001 * index,
            "last_acc01": -0.02,
            "last_acc02": 0.98,
            "last_incli_x": 0.1,
            "last_incli_y": -0.3,
            **({"last_mag_x": 12.0, "last_gyro_z": 0.5} if index % 5 == 0 else {}),
        }
        for index, name in enumerate(devices)
    ]
    return orjson.dumps({"sensors_last_data": sensors, **extra})


def parsed(payload: bytes, received_at: dt.datetime, topic: str = "S/datalogger_o/heartbeat") -> Heartbeat:
    result = parse_message(topic, payload, received_at=received_at)
    assert isinstance(result, Heartbeat), result
    return result


def beat(
    conn: MqttConnection, devices: Sequence[str], at: dt.datetime, ts: dt.datetime | None = None
) -> HeartbeatItem:
    """The writer's item for a seed heartbeat of ``devices`` received at ``at``."""
    return HeartbeatItem(
        connection_id=conn.pk,
        site_id=conn.site_id,
        received_at=at,
        heartbeat=parsed(seed_heartbeat(devices, ts or at), at),
        topic=f"{conn.site.code}/datalogger_o/heartbeat",
    )


# ---------------------------------------------------------------- own Mosquitto instances


@dataclass
class Pki:
    ca_pem: str
    server_cert: Path
    server_key: Path
    ca_file: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_pki(folder: Path, *, host: str = "localhost") -> Pki:
    """A CA and a server certificate for ``host`` and 127.0.0.1, signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Test CA {uuid.uuid4().hex[:6]}")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (folder / "ca.pem").write_bytes(ca_pem)
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(_key_pem(key))
    return Pki(ca_pem.decode(), folder / "server.pem", folder / "server.key", folder / "ca.pem")


@dataclass
class Mosquitto:
    """A private broker; ``stop()`` kills it and ``start()`` brings it back on the same port."""

    folder: Path
    port: int = field(default_factory=free_port)
    password: tuple[str, str] | None = None
    pki: Pki | None = None
    extra: tuple[str, ...] = ()  # more configuration lines (logging options, say)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            f"log_dest file {self.folder}/broker.log",
            # Run as ourselves: started as root, mosquitto would switch to its own user, which
            # cannot read the test's private temporary folder.
            f"user {getpass.getuser()}",
        ]
        if self.password:
            password_file = self.folder / "passwords"
            if not password_file.exists():
                subprocess.run(
                    ["mosquitto_passwd", "-b", "-c", str(password_file), *self.password],
                    check=True,
                    capture_output=True,
                )
                password_file.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.pki:
            lines += [
                f"cafile {self.pki.ca_file}",
                f"certfile {self.pki.server_cert}",
                f"keyfile {self.pki.server_key}",
            ]
        config = self.folder / "mosquitto.conf"
        config.write_text("\n".join([*lines, *self.extra]) + "\n")
        self.process = subprocess.Popen(["mosquitto", "-c", str(config)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                errors = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto did not start: {errors[-500:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    require(shutil.which("mosquitto") is not None, "the mosquitto binary is not installed")
    started: list[Mosquitto] = []

    def start(**options: Any) -> Mosquitto:
        broker = Mosquitto(folder=tmp_path / f"broker{len(started)}", **options)
        broker.folder.mkdir(parents=True, exist_ok=True)
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()


# ---------------------------------------------------------------- the worker under test


class Worker:
    """The whole MQTT worker (writer thread, supervisor, broadcasts, nudges) in the test's loop,
    with short flush and sweep periods."""

    def __init__(
        self, *, reconcile_interval: float = 1.0, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        options: dict[str, Any] = {"idle_wait": 0.05, "sweep_interval": 0.5}
        if clock is not None:
            options["clock"] = clock
        self.worker = MqttWorker(reconcile_interval=reconcile_interval, **options)
        self.supervisor = self.worker.supervisor
        self.writer = self.worker.writer

    async def __aenter__(self) -> Worker:
        await self.worker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.stop()


def wait_until(condition: Callable[[], object], *, within: float = 10.0, interval: float = 0.02) -> None:
    """Poll a condition from synchronous test code until it holds; ``within`` only guards against a
    hang (the async tests' form, with the probe in a thread, is ``eventually``)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        time.sleep(interval)


async def eventually(probe: Callable[[], T | None], *, within: float = 10.0, interval: float = 0.05) -> T:
    """Poll a synchronous (database) probe in a thread until it returns something truthy; ``within``
    only guards against a hang (speed is measured in bench/, not asserted here)."""
    deadline = time.monotonic() + within

    def run_probe() -> T | None:
        try:
            return probe()
        finally:
            connection.close()  # the thread goes back to the pool: leave no session open

    while True:
        result = await asyncio.to_thread(run_probe)
        if result is not None and result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {result!r})")
        await asyncio.sleep(interval)


async def connected(conn: MqttConnection) -> None:
    """Wait until the worker has connected ``conn`` to its broker."""
    await eventually(lambda: MqttConnection.objects.get(pk=conn.pk).status == MqttConnection.Status.CONNECTED)


@pytest_asyncio.fixture
async def publisher(system_broker: tuple[str, int]) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(*system_broker, identifier=f"test-pub-{uuid.uuid4().hex[:8]}") as client:
        yield client


# ---------------------------------------------------------------- a TCP proxy a test can cut


class TcpProxy:
    """A TCP proxy on 127.0.0.1:``port`` in front of ``target`` (PostgreSQL, Redis, a broker), run by
    an asyncio loop in its own thread. ``cut()`` closes every connection and refuses new ones (the
    port is closed), as a network outage or a restarted server would; ``restore()`` listens again
    on the same port. The machine's shared services themselves are never touched."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread.start()
        self.restore()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers |= {client_writer, server_writer}
        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)
            )
        finally:
            self._writers -= {client_writer, server_writer}

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()  # a reset, not a polite FIN: like a dead server or a broken network
        self._writers.clear()

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        if self._server is None:
            self._call(self._start())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[tuple[str, int]], TcpProxy]]:
    """``tcp_proxy((host, port))`` → a TcpProxy in front of that service, closed after the test."""
    proxies: list[TcpProxy] = []

    def make(target: tuple[str, int]) -> TcpProxy:
        proxy = TcpProxy(target)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()
