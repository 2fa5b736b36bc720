"""The MQTT worker as one object that runs in an event loop: the writer thread, the supervisor, the
broadcast of each committed change set, the listener for operators' nudges and the worker's own
heartbeat row. `run_mqtt` runs it alone; the web server runs it in its loop in single-process mode."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.utils import timezone

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.models import WorkerHeartbeat
from apps.mqtt.realtime.broadcast import CONTROL_GROUP, broadcast
from apps.mqtt.worker.supervisor import MqttSupervisor
from apps.mqtt.worker.writer import ShardedWriter

logger = logging.getLogger(__name__)


class MqttWorker:
    def __init__(
        self,
        *,
        clock: Callable[[], dt.datetime] = timezone.now,
        reconcile_interval: float | None = None,
        layer: BaseChannelLayer | None = None,
        idle_wait: float = 0.1,
        sweep_interval: float = 2.0,
    ) -> None:
        self._clock = clock
        self._layer = layer if layer is not None else get_channel_layer()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._started_at = clock()
        self.writer = ShardedWriter(
            settings.MQTT_SETTINGS["INGEST_WRITERS"],
            on_change=self._on_change,
            on_sweep=self._write_heartbeat,
            clock=clock,
            idle_wait=idle_wait,
            sweep_interval=sweep_interval,
        )
        self.supervisor = MqttSupervisor(
            writer=self.writer, clock=clock, reconcile_interval=reconcile_interval
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue[ChangeSet] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.writer.start()
        self._tasks = [asyncio.create_task(self.supervisor.run(), name="mqtt-supervisor")]
        if self._layer is not None:
            self._tasks.append(asyncio.create_task(self._listen_for_nudges(), name="mqtt-control"))
            self._tasks.append(asyncio.create_task(self._send_broadcasts(), name="mqtt-broadcast"))
        logger.info("MQTT worker %s started", self.worker_id)

    async def stop(self) -> None:
        """Stop the clients (logging their disconnection) and flush what is queued: within 5 s."""
        deadline = time.monotonic() + 4.5
        self.supervisor.stop()
        for task in self._tasks[1:]:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3.0)
        # Whatever is left of the budget goes to the writer, so a flush in progress can commit.
        await asyncio.to_thread(self.writer.stop, max(1.0, deadline - time.monotonic()))
        logger.info("MQTT worker %s stopped", self.worker_id)

    async def wait(self) -> None:
        """Until the supervisor ends (it runs until stop())."""
        if self._tasks:
            await asyncio.wait(self._tasks[:1])

    # ------------------------------------------------------------------ writer-thread hooks

    def _on_change(self, changes: ChangeSet) -> None:
        # Called in the writer thread after the commit; the channel layer lives in the loop. One
        # queue and one sender keep the events in commit order (a newer state never overtaken).
        if self._layer is None or self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, changes)

    async def _send_broadcasts(self) -> None:
        assert self._layer is not None
        while True:
            changes = await self._outbox.get()
            try:
                await broadcast(changes, self._layer)
            except Exception:
                logger.exception("broadcast failed")

    def _write_heartbeat(self, now: dt.datetime) -> None:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self._started_at,
                "last_seen_at": now,
                "connections": len(self.supervisor.client_ids),
            },
        )

    # ------------------------------------------------------------------ control

    async def _listen_for_nudges(self) -> None:
        """Operators' start/stop/restart arrive here as nudges; reconcile at once. Should the layer
        fail (Redis away), the periodic reconcile still applies the change, only later."""
        assert self._layer is not None
        while True:
            channel = None
            try:
                channel = await self._layer.new_channel()
                await self._layer.group_add(CONTROL_GROUP, channel)
                while True:
                    message = await self._layer.receive(channel)
                    if message.get("type") == "control.nudge":
                        self.supervisor.nudge()
            except asyncio.CancelledError:
                if channel is not None:
                    with contextlib.suppress(Exception):
                        await self._layer.group_discard(CONTROL_GROUP, channel)
                raise
            except Exception:
                logger.exception("control channel failed; listening again in 5 s")
                await asyncio.sleep(5)
