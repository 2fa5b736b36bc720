"""The MQTT supervisor: one client task per enabled connection, reconciled with the database every
few seconds and at once on a nudge (start, stop, restart on a configuration change). With the client
tasks, the worker's only code that talks to the MQTT library (the simulator has its own publisher)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import random
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from apps.mqtt.ingest.events import fenced
from apps.mqtt.ingest.items import ConnectionEvent
from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.worker.client import ClientTask
from apps.mqtt.worker.config import ConnectionConfig, DesiredState, load_desired_state
from apps.mqtt.worker.leases import Leases, new_worker_id
from apps.mqtt.worker.writer import IngestSink

logger = logging.getLogger(__name__)

Status = MqttConnection.Status
Event = ConnectionLog.EventType


def _stop_reason(running: ConnectionConfig, wanted: ConnectionConfig | None, owned: bool) -> str:
    """Why a running client must stop ("" if it runs on)."""
    if wanted == running and owned:
        return ""
    if wanted is None:
        return "monitoring disabled"
    if not owned:
        return "its lease went to another worker"
    if wanted.restart_requested_at != running.restart_requested_at:
        return "restart requested by an operator"
    return "configuration changed"


class MqttSupervisor:
    """Keeps one ClientTask per enabled connection in step with the database."""

    def __init__(
        self,
        *,
        writer: IngestSink,
        clock: Callable[[], dt.datetime] = timezone.now,
        reconcile_interval: float | None = None,
        rng: random.Random | None = None,
        worker_id: str | None = None,
    ) -> None:
        mqtt = settings.MQTT_SETTINGS
        self.leases = Leases(worker_id or new_worker_id(), seconds=settings.MQTT_LEASE_SECONDS, clock=clock)
        self._writer = writer
        self._clock = clock
        # A turn at least every third of the lease: the leases are renewed in the reconcile.
        self._reconcile_interval = min(
            reconcile_interval or float(mqtt["RECONCILE_INTERVAL"]), self.leases.renew_every
        )
        self._qos = mqtt["DEFAULT_QOS"]
        self._heartbeat_timeout = float(mqtt["HEARTBEAT_TIMEOUT"])
        self._max_payload_bytes = mqtt["MAX_PAYLOAD_BYTES"]
        self._rng = rng or random.Random()
        self._clients: dict[int, tuple[ClientTask, asyncio.Task[None]]] = {}
        self._refused: dict[int, ConnectionConfig] = {}  # refused credentials, until the config changes
        self._nudged = asyncio.Event()
        self._stopping = asyncio.Event()
        self.reconciles = 0  # passes of the run loop, done or failed: tests wait on it

    def nudge(self) -> None:
        """Reconcile now (after an operator's change), instead of at the next interval."""
        self._nudged.set()

    def stop(self) -> None:
        self._stopping.set()
        self._nudged.set()

    @property
    def client_ids(self) -> set[int]:
        return set(self._clients)

    async def run(self) -> None:
        logger.info("MQTT supervisor started (reconcile every %.1f s)", self._reconcile_interval)
        try:
            while not self._stopping.is_set():
                # Cleared before reading: a nudge that comes during the read triggers another turn.
                self._nudged.clear()
                try:
                    await self.reconcile()
                except Exception:  # a database hiccup must not stop the worker; retry next turn
                    logger.exception("reconcile failed; retrying in %.0f s", self._reconcile_interval)
                    if self.leases.expired():  # not renewed in time: a peer may hold them now
                        await self._stop_unleased()
                self.reconciles += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudged.wait(), self._reconcile_interval)
        finally:
            await self._stop_all()

    async def _stop_unleased(self) -> None:
        logger.error("leases not renewed in time: stopping %d clients", len(self._clients))
        self.leases.tokens.clear()
        for connection_id in list(self._clients):
            await self._stop_client(connection_id, "its lease could not be renewed")

    async def reconcile(self) -> None:
        desired = await asyncio.to_thread(load_desired_state)
        # A disabled connection whose status does not say so yet and a broken one are leased like
        # the running ones: only the holder writes their status, under its token (fenced).
        pending = {conn for conn, observed in desired.disabled.items() if observed.status != Status.DISABLED}
        owned = await asyncio.to_thread(
            self.leases.sync, set(desired.configs) | set(desired.broken) | pending
        )
        self._log_ownership(owned & set(desired.configs))
        for connection_id, (client, _task) in list(self._clients.items()):
            reason = _stop_reason(client.config, desired.configs.get(connection_id), connection_id in owned)
            if reason:
                await self._stop_client(connection_id, reason)
        for connection_id, config in desired.configs.items():
            if connection_id in self._clients or connection_id not in owned:
                continue
            if self._refused.get(connection_id) == config:
                continue  # still the refused credentials: wait for an edit
            self._refused.pop(connection_id, None)
            self._start_client(config)
        await self._write_own_statuses(desired, pending, owned)

    async def _write_own_statuses(self, desired: DesiredState, pending: set[int], owned: set[int]) -> None:
        """The statuses no client writes: disabled, secrets unreadable (the lease holder's to write)."""
        for connection_id in desired.disabled:
            self._refused.pop(connection_id, None)
        for connection_id in sorted(pending & owned):
            site_id = desired.disabled[connection_id].site_id
            self._submit(connection_id, site_id, Event.DISABLED, "Connection disabled", Status.DISABLED, "")
        for connection_id, (observed, reason) in desired.broken.items():
            await self._stop_client(connection_id, "its secrets cannot be read")
            if connection_id in owned and (
                observed.status != Status.ERROR or observed.error_message != reason
            ):
                self._submit(connection_id, observed.site_id, Event.ERROR, reason, Status.ERROR, reason)

    def _log_ownership(self, owned: set[int]) -> None:
        state = (frozenset(owned), tuple(self.leases.peers))
        if state == getattr(self, "_ownership", None):
            return
        self._ownership = state
        logger.info(
            "worker %s runs %d connections %s; live peers: %s",
            self.leases.worker_id,
            len(owned),
            sorted(owned),
            ", ".join(self.leases.peers) or "none",
        )

    def _submit(
        self,
        connection_id: int,
        site_id: int,
        event: str,
        message: str,
        status: str,
        error: str,
        lease: tuple[str, int] | None = None,
    ) -> None:
        """A status write of the supervisor's own, under the lease it holds on the connection now
        (or the client's, for a client that ended): skipped if that lease moved on meanwhile."""
        self._writer.submit(
            fenced(
                ConnectionEvent(
                    connection_id=connection_id,
                    site_id=site_id,
                    at=self._clock(),
                    event_type=event,
                    message=message,
                    status=status,
                    connection_errors=0 if status == Status.DISABLED else None,
                    error_message=error,
                ),
                *(lease or self.leases.fence_for(connection_id)),
            )
        )

    def _start_client(self, config: ConnectionConfig) -> None:
        client = ClientTask(
            config,
            writer=self._writer,
            clock=self._clock,
            qos=self._qos,
            heartbeat_timeout=self._heartbeat_timeout,
            max_payload_bytes=self._max_payload_bytes,
            rng=self._rng,
            lease=self.leases.fence_for(config.connection_id),
        )
        task = asyncio.create_task(client.run(), name=f"mqtt-{config.site_code}")
        task.add_done_callback(functools.partial(self._client_ended, config.connection_id))
        self._clients[config.connection_id] = (client, task)

    def _client_ended(self, connection_id: int, task: asyncio.Task[None]) -> None:
        entry = self._clients.get(connection_id)
        if entry is None or entry[1] is not task:
            return
        del self._clients[connection_id]
        if task.cancelled():
            return
        client = entry[0]
        if client.credentials_refused:
            self._refused[connection_id] = client.config
        elif task.exception() is not None:
            # A bug, not a network problem: make it visible on the connection, and retry.
            reason = f"client crashed: {task.exception()!r}"[:500]
            logger.error("%s: %s; restarting at the next reconcile", client.config.site_code, reason)
            self._submit(
                connection_id, client.config.site_id, Event.ERROR, reason, Status.ERROR, reason, client.lease
            )

    async def _stop_client(self, connection_id: int, reason: str) -> None:
        entry = self._clients.pop(connection_id, None)
        if entry is None:
            return
        client, task = entry
        client.stop_reason = reason
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=3)

    async def _stop_all(self) -> None:
        tasks = [task for _client, task in self._clients.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=3)
        self._clients.clear()
