"""Which worker runs which connection: leases in the database, so that two workers never run one
connection (two clients with one client id kick each other off the broker in a loop).

PostgreSQL: one lease per enabled connection. A worker renews the leases it holds every third of
``MQTT_LEASE_SECONDS`` and claims free or expired ones with an atomic conditional UPDATE (the row
re-checked under its lock: of two workers claiming one row, one wins), up to its fair share
(``ceil(enabled / live workers)``, live workers from their heartbeats); above its share it stops
renewing the extra ones, which then expire and go to a worker below its share. Every new claim adds
one to the lease's ``token`` (the fencing token). SQLite writes one transaction at a time: one worker
holds the whole install (the ``install`` row), a second one stands by until that lease expires.

A worker whose renewal fails stops its clients once its lease would have expired (``valid_until``,
on the monotonic clock, with a margin), so a new holder never runs beside it. A holder on this host
whose process is gone (or, in this process, a worker that stopped) is dead: its leases are taken at
once, without waiting for them to expire."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable

from django.db import close_old_connections
from django.db import connection as db
from django.db.models import F, Q
from django.utils import timezone

from apps.mqtt import metrics
from apps.mqtt.models import ConnectionLease, WorkerHeartbeat

logger = logging.getLogger(__name__)

# The workers of this process that are running (a stopped one's leases are free at once).
LIVE_WORKERS: set[str] = set()


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours
    return True


def holder_is_dead(worker_id: str) -> bool:
    """Only what can be known for sure: a worker of this host whose process is gone, or a worker of
    this process that is not running. Anything else is alive until its lease expires."""
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return worker_id not in LIVE_WORKERS
    return not _pid_alive(pid)


class Leases:
    """The leases of one worker; ``sync`` runs in a thread (database calls)."""

    def __init__(self, worker_id: str, *, seconds: float, clock: Callable[[], dt.datetime] = timezone.now):
        self.worker_id = worker_id
        self.seconds = seconds
        self._clock = clock
        self.tokens: dict[str, int] = {}  # key → fencing token of the leases held
        self.valid_until = 0.0  # monotonic: the held leases are surely ours until then
        self.holder: str | None = None  # SQLite: who holds the install, when not this worker
        self.peers: list[str] = []

    @property
    def install_wide(self) -> bool:
        return db.vendor == "sqlite"

    def fence_for(self, connection_id: int) -> tuple[str, int]:
        """The lease (key, fencing token) a client of this connection writes its events under."""
        key = ConnectionLease.INSTALL if self.install_wide else ConnectionLease.key_for(connection_id)
        return key, self.tokens.get(key, 0)

    @property
    def standing_by(self) -> bool:
        """SQLite: another worker holds the install (this one writes nothing)."""
        return self.install_wide and ConnectionLease.INSTALL not in self.tokens

    @property
    def renew_every(self) -> float:
        return self.seconds / 3

    def expired(self) -> bool:
        return bool(self.tokens) and time.monotonic() > self.valid_until

    def sync(self, wanted: set[int]) -> set[int]:
        """Renew, release what is not wanted, claim up to the fair share: the connections this
        worker may run now."""
        close_old_connections()
        LIVE_WORKERS.add(self.worker_id)
        started = time.monotonic()
        now = self._clock()
        until = now + dt.timedelta(seconds=self.seconds)
        self._renew(until)
        self.valid_until = started + self.seconds * 0.8
        dead = self._dead_holders()
        self.peers = self._live_peers(now, dead)
        if self.install_wide:
            owned = set(wanted) if self._claim_install(now, until, dead) else set()
        else:
            owned = self._claim_connections(wanted, now, until, dead)
        metrics.LEASES_HELD.set(len(self.tokens))
        metrics.WORKER_PEERS.set(len(self.peers))
        return owned

    def _renew(self, until: dt.datetime) -> None:
        if not self.tokens:
            return
        mine = ConnectionLease.objects.filter(worker_id=self.worker_id, key__in=list(self.tokens))
        mine.update(expires_at=until)
        held = dict(mine.values_list("key", "token"))
        for key, token in list(self.tokens.items()):
            if held.get(key) != token:
                logger.warning("lease %s was taken by another worker: its client stops", key)
                del self.tokens[key]

    def _dead_holders(self) -> list[str]:
        holders = (
            ConnectionLease.objects.exclude(worker_id="")
            .exclude(worker_id=self.worker_id)
            .values_list("worker_id", flat=True)
            .distinct()
        )
        return [holder for holder in holders if holder_is_dead(holder)]

    def _live_peers(self, now: dt.datetime, dead: list[str]) -> list[str]:
        since = now - dt.timedelta(seconds=self.seconds)
        peers = (
            WorkerHeartbeat.objects.filter(last_seen_at__gte=since)
            .exclude(worker_id=self.worker_id)
            .exclude(worker_id__in=dead)
            .values_list("worker_id", flat=True)
        )
        return sorted(peer for peer in peers if not holder_is_dead(peer))

    def _claim(self, key: str, now: dt.datetime, until: dt.datetime, dead: list[str]) -> bool:
        claimable = Q(worker_id__in=["", self.worker_id]) | Q(expires_at__isnull=True) | Q(expires_at__lt=now)
        if dead:
            claimable |= Q(worker_id__in=dead)
        claimed = (
            ConnectionLease.objects.filter(key=key)
            .filter(claimable)
            .update(worker_id=self.worker_id, token=F("token") + 1, expires_at=until)
        )
        if not claimed:
            return False
        self.tokens[key] = ConnectionLease.objects.values_list("token", flat=True).get(key=key)
        return True

    def _claim_install(self, now: dt.datetime, until: dt.datetime, dead: list[str]) -> bool:
        key = ConnectionLease.INSTALL
        if key in self.tokens:
            return True
        ConnectionLease.objects.get_or_create(key=key)
        if self._claim(key, now, until, dead):
            logger.info("worker %s holds this install", self.worker_id)
            self.holder = None
            return True
        holder = ConnectionLease.objects.values_list("worker_id", flat=True).get(key=key)
        if holder != self.holder:
            logger.warning(
                "standby: worker %s holds this install; taking over when its lease expires", holder
            )
            self.holder = holder
        return False

    def _claim_connections(
        self, wanted: set[int], now: dt.datetime, until: dt.datetime, dead: list[str]
    ) -> set[int]:
        keys = {ConnectionLease.key_for(connection_id): connection_id for connection_id in wanted}
        for key in [key for key in self.tokens if key not in keys]:
            self._release([key])  # disabled or deleted: free at once
        share = math.ceil(len(wanted) / (len(self.peers) + 1)) if wanted else 0
        held = sorted(self.tokens, key=lambda key: keys[key])
        for key in held[share:]:
            logger.info("above the fair share (%d): lease %s left to expire for a peer", share, key)
            del self.tokens[key]  # not renewed: it expires, and a peer below its share takes it
        if len(self.tokens) < share:
            ConnectionLease.objects.bulk_create(
                [
                    ConnectionLease(key=key, connection_id=connection_id)
                    for key, connection_id in keys.items()
                    if key not in self.tokens
                ],
                ignore_conflicts=True,
            )
            claimable = (
                Q(worker_id__in=["", self.worker_id]) | Q(expires_at__isnull=True) | Q(expires_at__lt=now)
            )
            if dead:
                claimable |= Q(worker_id__in=dead)
            candidates = (
                ConnectionLease.objects.filter(key__in=list(keys))
                .filter(claimable)
                .order_by("connection_id")
                .values_list("key", flat=True)
            )
            for key in candidates:
                if len(self.tokens) >= share:
                    break
                if key in self.tokens:
                    continue
                self._claim(key, now, until, dead)
        return {keys[key] for key in self.tokens if key in keys}

    def _release(self, keys: list[str]) -> None:
        ConnectionLease.objects.filter(worker_id=self.worker_id, key__in=keys).update(
            worker_id="", expires_at=None
        )
        for key in keys:
            self.tokens.pop(key, None)

    def release_all(self) -> None:
        """A clean stop (after the writer's last flush): the leases are free at once."""
        LIVE_WORKERS.discard(self.worker_id)
        if self.tokens:
            close_old_connections()
            self._release(list(self.tokens))
        metrics.LEASES_HELD.set(0)
