"""The MQTT worker as one object that runs in an event loop: the writer thread, the supervisor, the
broadcast of each committed change set, the listener for operators' nudges and the worker's own
heartbeat row. `run_mqtt` runs it alone; the web server runs it in its loop in single-process mode.

Nothing queued is lost on a stop while the database is away: what the writers could not write is
spooled to a file (``Spool``, in ``settings.MQTT_SPOOL_DIR``), and the next worker to start writes it
before anything else. The file is versioned JSON, not pickle: a file that anyone who can write to
var/ could turn into code execution at the next start is not a fair price, and JSON read back field
by field against the item classes (unknown fields dropped, missing ones defaulted) survives an
upgrade between the stop and the start, or refuses clearly (moved aside as ``.bad``, logged)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import logging
import os
import re
import socket
import time
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.utils import timezone

from apps.alerts.runner import AlertRunner
from apps.analytics.runner import RollupRunner
from apps.mqtt import metrics
from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.events import FencedConnectionEvent
from apps.mqtt.ingest.items import ConnectionEvent, HeartbeatItem, IngestItem, RejectedItem, SysInfoItem
from apps.mqtt.models import WorkerHeartbeat
from apps.mqtt.realtime.broadcast import CONTROL_GROUP, broadcast
from apps.mqtt.worker.leases import new_worker_id
from apps.mqtt.worker.supervisor import MqttSupervisor
from apps.mqtt.worker.writer import ShardedWriter

logger = logging.getLogger(__name__)

SPOOL_FORMAT = "dlmon-ingest-spool"
SPOOL_VERSION = 1
_ITEM_KINDS: dict[str, type[Any]] = {
    kind.__name__: kind
    for kind in (HeartbeatItem, SysInfoItem, RejectedItem, ConnectionEvent, FencedConnectionEvent)
}


def _decode(hint: Any, value: Any) -> Any:
    """A JSON value back into the type a dataclass field declares (the items and the parser's
    results: dataclasses, tuples of them, datetimes, enums, numbers, strings, raw JSON objects)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _decode(hint, value)
    if origin is tuple:
        return tuple(_decode(typing.get_args(hint)[0], element) for element in value)
    if origin is dict or hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return _decode_dataclass(typing.cast(type[Any], hint), value)
    if hint is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float:
        return float(value)
    return value


def _decode_dataclass(kind: type[Any], data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(kind)
    names = {field.name for field in dataclasses.fields(kind)}
    return kind(**{name: _decode(hints[name], value) for name, value in data.items() if name in names})


class Spool:
    """Items a stopping worker could not write, one file per stop, written by the next start.

    A worker claims the files it finds by renaming them (``….replaying``), so two workers starting
    side by side never replay one file twice, and deletes them once their items are written. A
    worker that dies during its replay leaves its ``.replaying`` files (logged at the next start):
    their items may have been written in part, so they are not replayed by themselves."""

    def __init__(self, folder: Path, worker_id: str) -> None:
        self.folder = folder
        self._name = re.sub(r"[^A-Za-z0-9_.-]", "_", worker_id)
        self.claimed: list[Path] = []

    def save(self, items: list[IngestItem]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        document = {
            "format": SPOOL_FORMAT,
            "version": SPOOL_VERSION,
            "written_at": timezone.now(),
            "items": [{"kind": type(item).__name__, "item": item} for item in items],
        }
        path = self.folder / f"ingest-{time.time_ns()}-{self._name}.json"
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as file:
            file.write(orjson.dumps(document))
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)  # complete or absent, never half written
        return path

    def claim(self) -> list[IngestItem]:
        """Every spooled item (oldest file first), each file renamed so no other worker takes it."""
        if not self.folder.is_dir():
            return []
        for leftover in sorted(self.folder.glob("*.replaying")):
            logger.error("spool file %s was left by a worker that died replaying it; not replayed", leftover)
        items: list[IngestItem] = []
        for path in sorted(self.folder.glob("ingest-*.json")):
            claimed = path.with_name(f"{path.name}.{self._name}.replaying")
            try:
                path.rename(claimed)
            except OSError:
                continue  # another worker took it
            try:
                items += self._read(claimed)
            except (OSError, ValueError, TypeError, KeyError) as exc:
                logger.error("spool file %s is unreadable (%s); moved aside as .bad", path, exc)
                claimed.rename(path.with_name(f"{path.name}.bad"))
                continue
            self.claimed.append(claimed)
        return items

    @staticmethod
    def _read(path: Path) -> list[IngestItem]:
        document = orjson.loads(path.read_bytes())
        if document.get("format") != SPOOL_FORMAT or document.get("version") != SPOOL_VERSION:
            raise ValueError(f"format {document.get('format')!r} version {document.get('version')!r}")
        return [_decode_dataclass(_ITEM_KINDS[entry["kind"]], entry["item"]) for entry in document["items"]]

    def release(self) -> None:
        """The claimed files' items are written (or spooled again): delete the files."""
        for path in self.claimed:
            path.unlink(missing_ok=True)
        self.claimed = []


class MqttWorker:
    def __init__(
        self,
        *,
        clock: Callable[[], dt.datetime] = timezone.now,
        reconcile_interval: float | None = None,
        layer: BaseChannelLayer | None = None,
        idle_wait: float = 0.1,
        sweep_interval: float = 2.0,
        spool_dir: Path | None = None,
        replay_wait: float = 10.0,
    ) -> None:
        self._clock = clock
        self._layer = layer if layer is not None else get_channel_layer()
        self.worker_id = new_worker_id()
        self._started_at = clock()
        self.spool = Spool(spool_dir or settings.MQTT_SPOOL_DIR, self.worker_id)
        self._replay_wait = replay_wait
        self.writer = ShardedWriter(
            settings.MQTT_SETTINGS["INGEST_WRITERS"],
            on_change=self._on_change,
            on_sweep=self._write_heartbeat,
            clock=clock,
            idle_wait=idle_wait,
            sweep_interval=sweep_interval,
        )
        self.supervisor = MqttSupervisor(
            writer=self.writer, clock=clock, reconcile_interval=reconcile_interval, worker_id=self.worker_id
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        # Committed changes not yet broadcast: one set, which later flushes merge into while the
        # sender is busy (an overloaded worker held one set per flush, unbounded).
        self._outbox: ChangeSet | None = None
        self._outbox_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        spooled = await asyncio.to_thread(self.spool.claim)
        for item in spooled:  # first in the queues: written before anything this worker receives
            self.writer.submit(item)
        metrics.UNSPOOLED.inc(len(spooled))
        self.writer.start()
        if spooled:
            await self._replay(len(spooled))
        self._tasks = [asyncio.create_task(self.supervisor.run(), name="mqtt-supervisor")]
        if self._layer is not None:
            self._tasks.append(asyncio.create_task(self._listen_for_nudges(), name="mqtt-control"))
            self._tasks.append(asyncio.create_task(self._send_broadcasts(), name="mqtt-broadcast"))
        if settings.ALERTS_IN_WORKER:  # the alert evaluator and sender, in their own threads
            alerts = AlertRunner(worker_id=self.worker_id, clock=self._clock)
            self._tasks.append(asyncio.create_task(alerts.run(), name="alerts"))
        if settings.ANALYTICS_ROLLUP_INTERVAL:  # uptime roll-ups and retention, in a thread
            rollups = RollupRunner(clock=self._clock)
            self._tasks.append(asyncio.create_task(rollups.run(), name="analytics-rollups"))
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
        await asyncio.to_thread(self._spool_unwritten)
        await asyncio.to_thread(self._release_leases)
        logger.info("MQTT worker %s stopped", self.worker_id)

    def _release_leases(self) -> None:
        """After the last flush, so no state this worker observed lands after a successor's."""
        try:
            self.supervisor.leases.release_all()
        except Exception:  # the database away: the leases expire by themselves
            logger.warning("leases not released (database away?); they expire by themselves")

    async def _replay(self, count: int) -> None:
        """Wait (up to ``replay_wait``) for the spooled items to be written, then delete their files.
        Should the database still be away, the clients start anyway (their items queue behind the
        spooled ones), and the files stay until a stop spools whatever is left again."""
        logger.info("writing %d items spooled by a worker stopped while the database was away", count)
        for _ in range(max(1, int(self._replay_wait / 0.05))):
            if self.writer.drained:
                break
            await asyncio.sleep(0.05)
        else:
            logger.warning("spooled items not written yet (database away?); their files are kept")
            return
        await asyncio.to_thread(self.spool.release)
        logger.info("spooled items written")

    def _spool_unwritten(self) -> None:
        unwritten = self.writer.unwritten()
        if unwritten:
            try:
                path = self.spool.save(unwritten)
            except OSError:
                logger.exception("%d unwritten items could not be spooled: lost", len(unwritten))
                return  # the claimed files (if any) are kept: what they held may be unwritten
            metrics.SPOOLED.inc(len(unwritten))
            logger.warning("database away: %d unwritten items spooled to %s", len(unwritten), path)
        self.spool.release()  # what they held is written, or in the file just saved

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
        self._loop.call_soon_threadsafe(self._to_outbox, changes)

    def _to_outbox(self, changes: ChangeSet) -> None:
        """In the loop: merged into what waits to be broadcast (each sensor's newest state with the
        readings of both, every status transition in order), so a broadcast that falls behind holds
        one set whatever the number of flushes; counted in ``broadcast_changes_merged_total``."""
        if self._outbox is None:
            self._outbox = changes
        else:
            self._outbox.merge(changes)
            metrics.BROADCAST_CHANGES_MERGED.inc()
        self._outbox_ready.set()

    async def _send_broadcasts(self) -> None:
        assert self._layer is not None
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            changes, self._outbox = self._outbox, None
            if changes is None:
                continue
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
