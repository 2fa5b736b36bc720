"""The simulator's publishing loop: one MQTT client plays every site, on a schedule, for ever or
until told to stop.

The schedule and the connection are independent: a site's tick that finds no connection counts as a
failure instead of waiting, so an outage shows up in the numbers and the sites do not catch up with a
burst when the broker returns (a real datalogger's QoS 0 messages are lost too).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import random
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from apps.mqtt.simulator.payloads import Message, SiteSimulator

logger = logging.getLogger(__name__)

DEFAULT_PORT = 1883


def parse_broker_url(url: str) -> tuple[str, int]:
    """``mqtt://HOST[:PORT]`` → (host, port). Raises ValueError with a readable reason."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise ValueError(f"bad broker URL {url!r}: {exc}") from None
    if parts.scheme != "mqtt":
        raise ValueError(f"bad broker URL {url!r}: use mqtt://HOST:PORT (TLS is not simulated)")
    if not parts.hostname:
        raise ValueError(f"bad broker URL {url!r}: no host")
    if parts.username or parts.password:
        # Credentials in a URL end up in logs; the command has --username/--password for them.
        raise ValueError(f"bad broker URL {url!r}: pass credentials with --username/--password")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"bad broker URL {url!r}: only mqtt://HOST:PORT is understood")
    if port == 0:
        raise ValueError(f"bad broker URL {url!r}: port must be between 1 and 65535")
    return parts.hostname, port or DEFAULT_PORT


def tick_offsets(n_sites: int, interval: float, same_tick: bool) -> list[float]:
    """Seconds after the start at which each site ticks first: all at once with ``same_tick`` (a load
    test's burst), otherwise spread evenly over one interval, as real dataloggers' clocks are."""
    if same_tick:
        return [0.0] * n_sites
    return [i * interval / n_sites for i in range(n_sites)]


@dataclass(frozen=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr or a log line
    # A fresh id per run, so two simulators on one broker never kick each other off.
    client_id: str = field(default_factory=lambda: f"site-simulator-{uuid.uuid4().hex[:10]}")
    keepalive: int = 30
    # Seconds allowed for connecting, publishing and disconnecting.
    timeout: float = 10.0


@dataclass
class RunnerStats:
    heartbeats: int = 0
    sys_infos: int = 0
    failures: int = 0
    malformed: int = 0  # published messages that were deliberately malformed
    late_ticks: int = 0  # ticks skipped because the loop fell a whole interval behind
    dark_ticks: int = 0  # ticks of sites in a dark period (Faults.dark_*), which published nothing
    connects: int = 0

    @property
    def published(self) -> int:
        return self.heartbeats + self.sys_infos


class _Connection:
    """One connected client and the event set when it is lost."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.lost = asyncio.Event()


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class SimulatorRunner:
    """Publishes every site's heartbeat each ``interval`` and its sys_info each ``sysinfo_interval``
    (and at its first tick). Sites' phases spread over the interval unless ``same_tick``.

    Stops when ``stop()`` is called (SIGINT/SIGTERM call it with ``handle_signals``), after
    ``duration`` seconds, or once every site has had ``count`` ticks. Silenced sites, and sites in a
    dark period, tick but publish nothing (a sys_info due meanwhile goes out at the first tick after
    the dark period, as a rebooted datalogger's would). ``interval`` here is the schedule; each
    SiteSimulator's own ``interval`` is only what its heartbeats announce as
    ``message_interval_seconds`` (the command sets both alike).
    """

    def __init__(
        self,
        sites: Sequence[SiteSimulator],
        broker: BrokerConfig,
        *,
        interval: float,
        sysinfo_interval: float = 60.0,
        same_tick: bool = False,
        duration: float | None = None,
        count: int | None = None,
        silenced: frozenset[str] = frozenset(),
        summary_every: float = 10.0,
        echo: Callable[[str], None] | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        connect_wait: float = 10.0,
    ) -> None:
        if not sites:
            raise ValueError("no sites to simulate")
        if interval <= 0 or sysinfo_interval <= 0:
            raise ValueError("intervals must be positive")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if duration is not None and duration <= 0:
            raise ValueError("duration must be positive")
        self.sites = list(sites)
        self.broker = broker
        self.interval = interval
        self.sysinfo_interval = sysinfo_interval
        self.same_tick = same_tick
        self.duration = duration
        self.count = count
        self.silenced = silenced
        self.summary_every = summary_every
        self.echo: Callable[[str], None] = echo or logger.info
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connect_wait = connect_wait
        self.stats = RunnerStats()
        self._connection: _Connection | None = None
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._failing = False  # so a streak of failed publishes logs once, not once per message

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def stop(self) -> None:
        self._stop.set()

    def first_tick_offsets(self) -> list[float]:
        """Each site's first tick, in seconds after the schedule starts (the order of ``sites``)."""
        return tick_offsets(len(self.sites), self.interval, self.same_tick)

    async def run(self, *, handle_signals: bool = False) -> RunnerStats:
        """Run until a stop condition; returns the counters. ``handle_signals`` makes SIGINT and
        SIGTERM stop the run cleanly (only in the main thread's loop)."""
        loop = asyncio.get_running_loop()
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self.stop)
        connection = asyncio.create_task(self._maintain_connection(), name="simulator-connection")
        summary = asyncio.create_task(self._print_summaries(), name="simulator-summary")
        started = time.monotonic()
        try:
            await self._wait_for_first_connection()
            if not self._stop.is_set():
                await self._schedule()
        finally:
            summary.cancel()
            connection.cancel()  # leaves the client's context: a clean DISCONNECT
            await asyncio.gather(summary, connection, return_exceptions=True)
            if handle_signals:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signum)
            self.echo(self._summary_line(time.monotonic() - started, prefix="stopped"))
        return self.stats

    async def _wait_for_first_connection(self) -> None:
        # Without this the first ticks, due at once, would all count as failures while connecting.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_first_of(self._connected, self._stop), self.connect_wait)
        if not self._connected.is_set() and not self._stop.is_set():
            self.echo(
                f"not connected to {self.broker.host}:{self.broker.port} after {self.connect_wait:g} s; "
                "publishing on schedule anyway (ticks count as failures until connected)"
            )

    async def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + self.duration if self.duration is not None else None
        n = len(self.sites)
        # (due time, site index): a heap so thousands of sites cost log(n) per tick, not n.
        queue = [(start + offset, i) for i, offset in enumerate(self.first_tick_offsets())]
        heapq.heapify(queue)
        ticks = [0] * n
        next_sys_info: list[float | None] = [None] * n
        while queue and not self._stop.is_set():
            now = loop.time()
            wake = queue[0][0] if deadline is None else min(queue[0][0], deadline)
            if wake > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wake - now)
                continue
            if deadline is not None and now >= deadline:
                break
            messages: list[Message] = []
            wall_now = dt.datetime.now(dt.UTC)
            while queue and queue[0][0] <= now:
                due, i = heapq.heappop(queue)
                site = self.sites[i]
                if site.is_dark(wall_now):
                    self.stats.dark_ticks += 1
                elif site.site_code not in self.silenced:
                    sys_info_due = next_sys_info[i]
                    if sys_info_due is None or due >= sys_info_due:
                        messages.append(site.sys_info(wall_now))
                        next_sys_info[i] = due + self.sysinfo_interval
                    messages.append(site.heartbeat(wall_now))
                ticks[i] += 1
                if self.count is not None and ticks[i] >= self.count:
                    continue
                next_due = due + self.interval
                if next_due <= now:
                    # The loop fell a whole interval behind (CPU-bound load test): skip, do not burst.
                    skipped = int((now - next_due) // self.interval) + 1
                    self.stats.late_ticks += skipped
                    next_due += skipped * self.interval
                heapq.heappush(queue, (next_due, i))
            await self._publish(messages)

    async def _publish(self, messages: list[Message]) -> None:
        if not messages:
            return
        connection = self._connection
        if connection is None:
            self.stats.failures += len(messages)
            return
        client = connection.client
        tasks = [asyncio.ensure_future(client.publish(m.topic, m.payload, qos=0)) for m in messages]
        everything = asyncio.gather(*tasks, return_exceptions=True)
        # A publish in flight when the connection dies is never confirmed: aiomqtt would hold it until
        # its timeout and stall every site's schedule, so stop waiting when the connection is lost
        # (or the run is stopped) and count what did not go out as failures.
        interrupt = asyncio.ensure_future(_first_of(connection.lost, self._stop))
        try:
            waiters: set[asyncio.Future[Any]] = {everything, interrupt}
            await asyncio.wait(waiters, timeout=self.broker.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupt.cancel()
        if not everything.done():
            everything.cancel()
        failed: BaseException | None = None
        for message, task in zip(messages, tasks, strict=True):
            error: BaseException | None
            if not task.done() or task.cancelled():
                error = TimeoutError("not confirmed before the connection was lost or the run stopped")
            else:
                error = task.exception()
            if error is not None:
                if not isinstance(error, aiomqtt.MqttError | OSError | TimeoutError):
                    raise error
                self.stats.failures += 1
                failed = error
            elif message.topic.endswith("/sys_info"):
                self.stats.sys_infos += 1
                self.stats.malformed += message.malformed is not None
            else:
                self.stats.heartbeats += 1
                self.stats.malformed += message.malformed is not None
        await asyncio.wait([everything])  # reap the cancelled tasks, so none is left pending at exit
        if failed is not None and not self._failing:
            self.echo(f"publishing failed: {failed}")
        self._failing = failed is not None

    async def _maintain_connection(self) -> None:
        broker = self.broker
        delay = self.backoff_initial
        while True:
            client = aiomqtt.Client(
                broker.host,
                broker.port,
                username=broker.username,
                password=broker.password,
                identifier=broker.client_id,
                keepalive=broker.keepalive,
                timeout=broker.timeout,
            )
            # One tick of a same-tick load test has a publish in flight per site: that is expected,
            # not the "too many pending calls" aiomqtt warns about past 10.
            client.pending_calls_threshold = max(10, 2 * len(self.sites) + 10)
            connection = _Connection(client)
            try:
                async with client:
                    self._connection = connection
                    self._connected.set()
                    self.stats.connects += 1
                    verb = "connected" if self.stats.connects == 1 else "reconnected"
                    self.echo(f"{verb} to {broker.host}:{broker.port} as {broker.client_id}")
                    delay = self.backoff_initial
                    # Nothing is subscribed: the iterator only ends, with MqttError, when the
                    # connection is lost, which is exactly what this task waits for.
                    async for _message in client.messages:
                        pass
            except aiomqtt.MqttError as exc:
                connection.lost.set()
                cause = f" ({exc.__cause__})" if exc.__cause__ else ""
                state = "connection lost" if self._connection is connection else "cannot connect"
                self._connection = None
                self._connected.clear()
                # Jitter, so many simulators restarted together do not reconnect in lockstep.
                wait = delay * random.uniform(0.8, 1.2)
                self.echo(f"{state} to {broker.host}:{broker.port}: {exc}{cause}; retrying in {wait:.1f} s")
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.backoff_max)
            finally:
                connection.lost.set()
                self._connection = None
                self._connected.clear()

    async def _print_summaries(self) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(self.summary_every)
            self.echo(self._summary_line(time.monotonic() - started))

    def _summary_line(self, elapsed: float, *, prefix: str = "running") -> str:
        s = self.stats
        state = "connected" if self.connected else "disconnected"
        return (
            f"{prefix} {elapsed:.1f}s: {len(self.sites)} sites, published {s.published} "
            f"({s.heartbeats} heartbeats, {s.sys_infos} sys_info, {s.malformed} malformed), "
            f"failures {s.failures}, late ticks {s.late_ticks}, {state}"
        )
