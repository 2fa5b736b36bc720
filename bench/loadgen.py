"""The load generators of the end-to-end benchmark, each run as its own process (so neither's CPU use
delays the other's clock readings):

``publish``  the project's simulator (SiteSimulator + SimulatorRunner) publishing to the broker, noting
             when each heartbeat is handed to the MQTT client, keyed by (site code, ts in ms).
``clients``  one real WebSocket client per site on ``/ws/mqtt/site/<id>/`` (session cookie), noting
             when each ``sensors_update`` arrives, keyed by (site id, the sensors' ts in ms).

bench/e2e.py joins the two on the key: publish-to-socket latency. Both stop by themselves (duration,
deadline) or on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import BACKEND, LOOPBACK, SENSORS_PER_SITE

if str(BACKEND) not in sys.path:
    sys.path.insert(0, str(BACKEND))

from apps.mqtt.simulator.payloads import Message, SiteSimulator
from apps.mqtt.simulator.runner import BrokerConfig, SimulatorRunner

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MILLISECOND = dt.timedelta(milliseconds=1)


def ts_key(moment: dt.datetime) -> int:
    """Milliseconds since the epoch, truncated as the simulator's ``ts`` is."""
    return (moment - EPOCH) // MILLISECOND


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- publisher


class StampedSite(SiteSimulator):
    """A site that remembers the time stamped into its latest heartbeat."""

    last_heartbeat_at: dt.datetime | None = None

    def heartbeat(self, now: dt.datetime) -> Message:
        self.last_heartbeat_at = now
        return super().heartbeat(now)


class TimedRunner(SimulatorRunner):
    """The simulator's runner, noting the wall time at which each tick's messages go to the client."""

    def __init__(self, sites: list[StampedSite], broker: BrokerConfig, **options: Any) -> None:
        super().__init__(sites, broker, **options)
        self._by_topic = {site.heartbeat_topic: site for site in sites}
        self.sent: list[tuple[str, int, float]] = []  # (site code, ts key, publish time)

    async def _publish(self, messages: list[Message]) -> None:
        sent = time.time()
        for message in messages:
            site = self._by_topic.get(message.topic)
            if site is not None and site.last_heartbeat_at is not None:
                self.sent.append((site.site_code, ts_key(site.last_heartbeat_at), sent))
        await super()._publish(messages)


async def publish(config: dict[str, Any]) -> dict[str, Any]:
    sites = [
        StampedSite(code, index=i, sensors=SENSORS_PER_SITE, interval=config["interval"])
        for i, code in enumerate(config["site_codes"])
    ]
    runner = TimedRunner(
        sites,
        BrokerConfig(host=LOOPBACK, port=config["broker_port"]),
        interval=config["interval"],
        same_tick=config["same_tick"],
        duration=config.get("duration"),
        count=config.get("count"),
        summary_every=3600.0,
        echo=lambda _line: None,
    )
    cpu, began = cpu_seconds(), time.monotonic()
    stats = await runner.run(handle_signals=True)
    return {
        "sent": runner.sent,
        "heartbeats": stats.heartbeats,
        "sys_infos": stats.sys_infos,
        "failures": stats.failures,
        "late_ticks": stats.late_ticks,
        "seconds": time.monotonic() - began,
        "cpu_seconds": cpu_seconds() - cpu,
    }


# ---------------------------------------------------------------- WebSocket clients


class Clients:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.stop = asyncio.Event()
        self.records: list[str] = []  # "site_id ts_key receive_time" lines not yet written
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.ready = 0

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop.set)
        cpu = cpu_seconds()
        writer = asyncio.create_task(self._write_records())
        clients = [asyncio.create_task(self._client(site_id, url)) for site_id, url in self.config["sites"]]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.config["deadline"])
        self.stop.set()
        await asyncio.wait(clients, timeout=10)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        self._flush_records()
        return {"counts": self.counts, "errors": self.errors, "cpu_seconds": cpu_seconds() - cpu}

    async def _client(self, site_id: int, url: str) -> None:
        from websockets.asyncio.client import connect

        try:
            async with connect(
                url,
                additional_headers={"Cookie": f"sessionid={self.config['session_key']}"},
                origin=self.config["origin"],
                max_size=None,
                open_timeout=60,
                ping_interval=None,
            ) as ws:
                snapshot = orjson.loads(await ws.recv())
                if snapshot.get("type") != "snapshot":
                    raise RuntimeError(f"expected a snapshot, got {snapshot.get('type')!r}")
                self.ready += 1
                if self.ready == len(self.config["sites"]):
                    self._mark_ready()
                receiving = asyncio.ensure_future(self._receive(site_id, ws))
                stopping = asyncio.ensure_future(self.stop.wait())
                await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if receiving.done():  # the server closed the socket, or a message could not be read
                    receiving.result()
                    raise RuntimeError("the server closed the socket")
                receiving.cancel()
        except Exception as exc:  # reported to the orchestrator, which fails the scenario
            self.errors.append(f"site {site_id}: {type(exc).__name__}: {exc}")

    def _mark_ready(self) -> None:
        """Every client has its snapshot: the orchestrator may start publishing."""
        Path(self.config["ready_file"]).write_text(str(self.ready))

    async def _receive(self, site_id: int, ws: Any) -> None:
        counts = self.counts
        async for raw in ws:
            received = time.time()
            event = orjson.loads(raw)
            kind = event.get("type", "?")
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "sensors_update" and event["sensors"]:
                # The sensor shape of apps/mqtt/sensor_shape.py: the flush's new readings, newest first.
                readings = event["sensors"][0]["readings"]
                if readings:  # none when the datalogger repeated its ts
                    stamp = dt.datetime.fromisoformat(readings[0]["timestamp"])
                    self.records.append(f"{site_id} {ts_key(stamp)} {received:.6f}\n")

    async def _write_records(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self._flush_records()

    def _flush_records(self) -> None:
        if self.records:
            lines, self.records = self.records, []
            with open(self.config["records_file"], "a") as out:
                out.writelines(lines)


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("publish", "clients"):
        raise SystemExit(
            "usage: python -m bench.loadgen publish|clients CONFIG.json OUT.json (see bench/e2e.py)"
        )
    role, config_path, out_path = sys.argv[1:]
    config = json.loads(Path(config_path).read_text())
    result = asyncio.run(publish(config) if role == "publish" else Clients(config).run())
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
