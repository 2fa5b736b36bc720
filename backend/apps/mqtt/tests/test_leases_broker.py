"""Must-hold 2 as the broker sees it: ``run_mqtt`` processes sharing the connections on one private
Mosquitto, the workers' claims (their leases in the database, the sockets their processes hold)
compared with the broker's own log of client sessions, and a worker killed (SIGKILL, not a stop)
with the default lease settings.

The broker log is replayed line by line into the open sessions of each client id ("New client
connected from <address>:<port> as <id>" opens one; "Client <id> disconnected / closed its
connection / has exceeded timeout", a socket error or "already connected, closing old connection"
closes one). A sample takes the log's length, the workers' TCP connections to the broker (psutil)
and the leases: the sessions are those of the log up to that length, and a session's port names the
process that holds it."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.mqtt.models import ConnectionLease, MqttConnection
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import BACKEND, Mosquitto, database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_HOST = "other-host"
# run_mqtt as a worker of another host: a peer can tell it is dead only once its leases expire.
AS_OTHER_HOST = (
    "import runpy, socket, sys; "
    f"socket.gethostname = lambda: {OTHER_HOST!r}; "
    "sys.argv = ['manage.py', *sys.argv[1:]]; "
    "runpy.run_path('manage.py', run_name='__main__')"
)
BROKER_LOGGING = ("log_type all", "connection_messages true", "log_timestamp true")

_OPENED = re.compile(r"New client connected from [^ ]+:(\d+) as (\S+) \(")
_CLOSED = re.compile(
    r"Client (\S+) (?:disconnected|closed its connection|has exceeded timeout)"
    r"|(?:Socket error|Bad socket read/write) on client (\S+)"
)
_KICKED = re.compile(r"Client (\S+) already connected, closing old connection")


@dataclass
class Sessions:
    """The broker's client sessions, replayed from its log."""

    open: dict[str, list[int]] = field(default_factory=dict)  # client id → ports of open sessions
    overlaps: list[str] = field(default_factory=list)  # a client id opened while already open
    kicks: list[str] = field(default_factory=list)
    opened: list[tuple[int, str, int]] = field(default_factory=list)  # (log offset, client id, port)

    @classmethod
    def replay(cls, text: str) -> Sessions:
        sessions = cls()
        offset = 0
        for line in text.splitlines(keepends=True):
            sessions._apply(line, offset)
            offset += len(line.encode())
        return sessions

    def _apply(self, line: str, offset: int) -> None:
        if match := _OPENED.search(line):
            port, client = int(match[1]), match[2]
            ports = self.open.setdefault(client, [])
            if ports:
                self.overlaps.append(line.strip())
            ports.append(port)
            self.opened.append((offset, client, port))
        elif match := _KICKED.search(line):
            self.kicks.append(line.strip())
            self._close(match[1])
        elif match := _CLOSED.search(line):
            self._close(match[1] or match[2])

    def _close(self, client: str) -> None:
        if self.open.get(client):
            self.open[client].pop(0)


class Broker:
    def __init__(self, mosquitto: Mosquitto) -> None:
        self.port = mosquitto.port
        self.log = mosquitto.folder / "broker.log"

    def length(self) -> int:
        return self.log.stat().st_size

    def sessions(self, upto: int | None = None) -> Sessions:
        data = self.log.read_bytes()
        return Sessions.replay(data[:upto].decode(errors="replace"))


class WorkerProcess:
    """``manage.py run_mqtt`` with the default lease and reconcile settings."""

    def __init__(self, folder: Path, name: str, *, other_host: bool = False) -> None:
        self.log = folder / f"{name}.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MQTT_LEASE_SECONDS", "MQTT_RECONCILE_INTERVAL", "MQTT_WORKER_METRICS_PORT")
        }
        env |= {
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": "",
            # The test's own part: by default it derives from the database's name, which differs
            # between the test process (its test database) and the worker's settings.
            "MQTT_CLIENT_ID_INSTANCE": settings.MQTT_CLIENT_ID_INSTANCE,
            "MQTT_SPOOL_DIR": str(folder / f"{name}-spool"),
        }
        command = [sys.executable, "-c", AS_OTHER_HOST] if other_host else [sys.executable, "manage.py"]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [*command, "run_mqtt", "--metrics-port", "0"], cwd=BACKEND, env=env, stdout=sink, stderr=sink
            )
        self.pid = self.process.pid

    def broker_ports(self, broker_port: int) -> set[int]:
        """The local ports of this process's open TCP connections to the broker."""
        try:
            sockets = psutil.Process(self.pid).net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            return set()
        return {
            sock.laddr.port
            for sock in sockets
            if sock.raddr and sock.raddr.port == broker_port and sock.status == psutil.CONN_ESTABLISHED
        }

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)  # reaped: a zombie would still answer kill(pid, 0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _pid(worker_id: str) -> int:
    return int(worker_id.split(":")[1])


def claims(connection_ids: list[int]) -> dict[int, tuple[int, dt.datetime]]:
    """Each connection's unexpired lease: (holder's pid, expires_at). On SQLite the install's."""
    leases = ConnectionLease.objects.filter(expires_at__gt=timezone.now()).exclude(worker_id="")
    if connection.vendor == "sqlite":
        leases = leases.filter(key=ConnectionLease.INSTALL)
    else:
        leases = leases.filter(connection_id__in=connection_ids)
    held = {}
    for conn, worker, until in leases.values_list("connection_id", "worker_id", "expires_at"):
        assert until is not None  # filtered on
        for each in connection_ids if conn is None else [conn]:  # the install: every connection
            held[each] = (_pid(worker), until)
    return held


@dataclass
class Sample:
    sessions: Sessions
    ports: dict[int, set[int]]  # pid → local ports to the broker
    claims: dict[int, tuple[int, dt.datetime]]


@dataclass
class Move:
    seconds: float  # from the kill until the new session was seen
    holder: int  # pid of the worker that runs it now
    before_expiry: bool  # seen before the killed worker's lease would have expired


class Fleet:
    """Worker processes over connections of one private broker."""

    def __init__(self, broker: Broker, connections: list[MqttConnection], folder: Path) -> None:
        self.broker = broker
        self.client_ids = {conn.pk: conn.client_id for conn in connections}
        self.folder = folder
        self.workers: list[WorkerProcess] = []

    def start(self, name: str, *, other_host: bool = False) -> WorkerProcess:
        self.workers.append(WorkerProcess(self.folder, name, other_host=other_host))
        return self.workers[-1]

    def sample(self) -> Sample:
        length = self.broker.length()  # first: every session of the log prefix is already open
        ports = {worker.pid: worker.broker_ports(self.broker.port) for worker in self.workers}
        return Sample(self.broker.sessions(length), ports, claims(list(self.client_ids)))

    def disagreements(self, sample: Sample) -> list[str]:
        """Every connection must have exactly one broker session, held by the process that holds
        its lease: what is not so."""
        wrong = []
        for conn, client in self.client_ids.items():
            open_ports = sample.sessions.open.get(client, [])
            holder = sample.claims[conn][0] if conn in sample.claims else None
            if len(open_ports) != 1:
                wrong.append(f"{client}: {len(open_ports)} sessions in the broker log")
            elif holder is None or open_ports[0] not in sample.ports.get(holder, set()):
                wrong.append(f"{client}: session on port {open_ports[0]}, lease held by pid {holder}")
        return wrong

    def shares(self, sample: Sample) -> list[int]:
        """How many connections each running worker holds, in increasing order."""
        counts = {worker.pid: 0 for worker in self.workers if worker.process.poll() is None}
        for pid, _until in sample.claims.values():
            counts[pid] = counts.get(pid, 0) + 1
        return sorted(counts.values())

    def wait_until_agreed(self, shares: list[int], *, within: float) -> None:
        last: list[Sample] = []

        def agreed() -> bool:
            last[:] = [self.sample()]
            statuses = set(
                MqttConnection.objects.filter(pk__in=self.client_ids).values_list("status", flat=True)
            )
            return (
                statuses == {"connected"}
                and not self.disagreements(last[0])
                and self.shares(last[0]) == shares
            )

        try:
            wait_until(agreed, within=within, interval=0.5)
        except AssertionError:
            pytest.fail(f"no agreement: {self.disagreements(last[0])[:5]}, shares {self.shares(last[0])}")

    def kill_and_follow(self, victim: WorkerProcess, *, within: float) -> dict[int, Move]:
        """SIGKILL ``victim``, then follow its connections until each has a new broker session, held
        by a surviving worker: when, where, and whether before its lease would have expired."""
        expiry = {conn: until for conn, (pid, until) in self.sample().claims.items() if pid == victim.pid}
        kill_offset = self.broker.length()
        victim.kill()
        killed_at = time.monotonic()
        moves: dict[int, Move] = {}

        def followed() -> bool:
            sample = self.sample()
            new = {client: port for offset, client, port in sample.sessions.opened if offset >= kill_offset}
            for conn in expiry.keys() - moves.keys():
                client = self.client_ids[conn]
                port = new.get(client)
                holder = next((pid for pid, ports in sample.ports.items() if port in ports), None)
                if holder is not None and port in sample.sessions.open.get(client, []):
                    moves[conn] = Move(time.monotonic() - killed_at, holder, timezone.now() < expiry[conn])
            return moves.keys() == expiry.keys()

        wait_until(followed, within=within, interval=0.25)
        return moves


def test_the_broker_log_replay_finds_open_sessions_kicks_and_overlaps() -> None:
    """The checker itself, on lines Mosquitto 2.0 writes (two clients with one id, then a socket
    closed without a DISCONNECT)."""
    log = """\
1796015987: New client connected from 127.0.0.1:45269 as dup1 (p2, c1, k60).
1796015988: Client dup1 already connected, closing old connection.
1796015988: New client connected from 127.0.0.1:35979 as dup1 (p2, c1, k60).
1796015988: Received DISCONNECT from dup1
1796015988: Client dup1 disconnected.
1796015988: New client connected from 127.0.0.1:60333 as k1 (p2, c1, k60).
1796015989: New client connected from 127.0.0.1:43711 as dup1 (p2, c1, k60).
1796015989: New client connected from 127.0.0.1:43712 as k1 (p2, c1, k60).
1796015989: Client k1 closed its connection.
"""
    sessions = Sessions.replay(log)
    assert sessions.kicks == ["1796015988: Client dup1 already connected, closing old connection."]
    assert sessions.overlaps == ["1796015989: New client connected from 127.0.0.1:43712 as k1 (p2, c1, k60)."]
    assert sessions.open == {"dup1": [43711], "k1": [43712]}
    assert [(client, port) for _offset, client, port in sessions.opened][-1] == ("k1", 43712)


@pytest.fixture
def fleet(
    mosquitto: Callable[..., Mosquitto],
    make_connection: Callable[..., MqttConnection],
    make_site: Callable[..., Any],
    tmp_path: Path,
) -> Iterator[Callable[[int], Fleet]]:
    """``fleet(n)``: n connections on a private broker that logs every session, and no worker yet."""
    broker = Broker(mosquitto(extra=BROKER_LOGGING))
    made: list[Fleet] = []

    def make(count: int) -> Fleet:
        connections = []
        for index in range(count):
            site = make_site(code=f"W{index:02d}x{uuid.uuid4().hex[:8]}")
            conn = make_connection(site=site, broker_port=broker.port, retry_delay=1)
            set_topics(connection=conn)
            connections.append(conn)
        made.append(Fleet(broker, connections, tmp_path))
        return made[-1]

    yield make
    for run in made:
        for worker in run.workers:
            worker.stop()
            # Shown by pytest when the test fails.
            print(f"--- {worker.log.name}\n{worker.log.read_text(errors='replace')[-3000:]}")


def _assert_never_two_sessions_of_one_client_id(broker: Broker) -> None:
    sessions = broker.sessions()
    assert sessions.kicks == [], sessions.kicks[:5]
    assert sessions.overlaps == [], sessions.overlaps[:5]
    assert "already connected" not in broker.log.read_text(errors="replace")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: leases per connection")
def test_three_workers_claims_match_the_broker_log_and_a_killed_workers_connections_move_within_30_s(
    fleet: Callable[[int], Fleet],
) -> None:
    """Two workers on this host and one on "another host", default settings (15 s leases). Killing a
    worker of this host: its peer here takes its share at once (the pid is gone), the other host's
    worker takes the rest once those leases expire. Never two sessions of one client id."""
    run = fleet(30)
    victim, peer_here, peer_there = (
        run.start("here-1"),
        run.start("here-2"),
        run.start("there", other_host=True),
    )
    started = time.monotonic()
    run.wait_until_agreed([10, 10, 10], within=120)
    settled_in = time.monotonic() - started

    # The steady window: every second, one session per client id, on the lease holder's socket.
    for _second in range(10):
        sample = run.sample()
        assert run.disagreements(sample) == []
        assert run.shares(sample) == [10, 10, 10]
        time.sleep(1)

    moves = run.kill_and_follow(victim, within=45)
    assert len(moves) == 10
    assert max(move.seconds for move in moves.values()) <= 30, moves
    here = [move for move in moves.values() if move.holder == peer_here.pid]
    there = [move for move in moves.values() if move.holder == peer_there.pid]
    assert len(here) + len(there) == 10
    assert here  # at once: this host knows the killed pid is gone...
    assert all(move.before_expiry for move in here)
    assert there  # ...the other host can only wait for the leases to expire
    assert not any(move.before_expiry for move in there)

    # Afterwards every status is right, and the claims and the broker agree again.
    run.wait_until_agreed([15, 15], within=30)
    time.sleep(2)  # no late write of the killed worker turns a status back
    run.wait_until_agreed([15, 15], within=1)
    _assert_never_two_sessions_of_one_client_id(run.broker)
    print(
        f"\nshared in {settled_in:.1f} s; after the kill {len(here)} moved at once within "
        f"{max(move.seconds for move in here):.1f} s, {len(there)} after their leases expired within "
        f"{max(move.seconds for move in there):.1f} s"
    )


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only: one worker holds the install")
def test_sqlite_second_worker_process_stands_by_off_the_broker_and_takes_over_a_killed_holder(
    fleet: Callable[[int], Fleet],
) -> None:
    run = fleet(10)
    first = run.start("first")
    run.wait_until_agreed([10], within=60)
    second = run.start("second")
    wait_until(lambda: "standby: worker" in second.log.read_text(errors="replace"), within=60)
    for _second in range(5):
        sample = run.sample()
        assert run.disagreements(sample) == []
        assert run.shares(sample) == [0, 10]
        assert sample.ports[second.pid] == set()  # standing by: not a single session
        time.sleep(1)

    moves = run.kill_and_follow(first, within=45)
    assert {move.holder for move in moves.values()} == {second.pid}
    assert max(move.seconds for move in moves.values()) <= 30, moves
    run.wait_until_agreed([10], within=30)
    _assert_never_two_sessions_of_one_client_id(run.broker)
    print(f"\nthe standby took over within {max(move.seconds for move in moves.values()):.1f} s")
