"""The whole system in one process for `make demo`: an embedded MQTT broker, a simulator of the demo
sites and the web server, whose lifespan runs the MQTT worker in the same event loop
(single-process mode)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.mqtt.management.commands.seed_demo import DEMO_CUSTOMER_USER, DEMO_STAFF
from apps.mqtt.simulator.embedded_broker import start_embedded_broker
from apps.mqtt.simulator.faults import NO_FAULTS, Faults
from apps.mqtt.simulator.payloads import SiteSimulator
from apps.mqtt.simulator.runner import BrokerConfig, SimulatorRunner

logger = logging.getLogger(__name__)


class DemoFault(NamedTuple):
    code: str
    label: str  # what the banner says of it
    faults: Faults


# So that a newcomer sees every state within 2 minutes without touching anything (with the worker's
# default 30 s heartbeat timeout): stale sensors (their ts stands still) from ~35 s, offline sensors
# (listed in the first 6 heartbeats, 30 s, so the worker knows them, then missing from 3) from ~45 s, a
# site whose heartbeat is missing (dark for 75 s from 15 s in, then every 5 minutes) from ~45 s to
# ~90 s, and rejected messages (the default demo's first one 20 s in, a test pins it). The other
# sites stay healthy, so the faults stand out.
DEMO_FAULTS: Final[tuple[DemoFault, ...]] = (
    DemoFault("DEMO003", "stale sensors", Faults(stale_sensors=2)),
    DemoFault("DEMO005", "sensors vanish", Faults(vanishing_sensors=3)),
    DemoFault(
        "DEMO007",
        "goes dark 75 s every 5 min",
        Faults(dark_every=300.0, dark_for=75.0, dark_offset=15.0),
    ),
    # About one malformed message every 3 minutes per site: now and then, not a flood.
    DemoFault("DEMO009", "malformed messages", Faults(malformed=0.03)),
    DemoFault("DEMO011", "malformed messages", Faults(malformed=0.03)),
)


def demo_sites(
    count: int, *, sensors: int, interval: float, faults: bool = True
) -> tuple[list[SiteSimulator], list[DemoFault]]:
    """The simulators of DEMO001..DEMO<count> (the sites seed_demo makes) and the faults applied."""
    codes = [f"DEMO{number:03d}" for number in range(1, count + 1)]
    applied = demo_faults(codes, sensors=sensors, interval=interval) if faults else []
    faults_by_code = {fault.code: fault.faults for fault in applied}
    sites = [
        SiteSimulator(
            code,
            index=index,
            sensors=sensors,
            interval=interval,
            seed=index + 1,
            faults=faults_by_code.get(code, NO_FAULTS),
        )
        for index, code in enumerate(codes)
    ]
    return sites, applied


def demo_faults(codes: list[str], *, sensors: int, interval: float) -> list[DemoFault]:
    """The default faults of the sites among ``codes``, with sensor counts capped at ``sensors`` and
    vanishing sensors listed in the first 6 heartbeats."""
    present = set(codes)
    return [
        fault._replace(
            faults=dataclasses.replace(
                fault.faults,
                stale_sensors=min(fault.faults.stale_sensors, sensors),
                vanishing_sensors=min(fault.faults.vanishing_sensors, sensors),
                vanish_after=6 * interval,
            )
        )
        for fault in DEMO_FAULTS
        if fault.code in present
    ]


def describe_faults(faults: list[DemoFault]) -> str:
    """``DEMO003 (stale sensors), DEMO009, DEMO011 (malformed messages)``: consecutive sites with
    the same label share it."""
    parts: list[str] = []
    for i, fault in enumerate(faults):
        last_of_label = i + 1 == len(faults) or faults[i + 1].label != fault.label
        parts.append(f"{fault.code} ({fault.label})" if last_of_label else fault.code)
    return ", ".join(parts)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The demo command owns SIGINT/SIGTERM: it stops the server and everything beside it.
        yield


class Command(BaseCommand):
    help = "Run broker, simulator, MQTT worker and web server together (the demo; DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sites", type=int, default=20)
        parser.add_argument("--sensors", type=int, default=100, help="sensors per simulated site")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between heartbeats")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--broker-port", type=int, default=0, help="embedded broker's port (0: a free one)"
        )
        parser.add_argument(
            "--no-faults",
            action="store_true",
            help=f"every site healthy; by default faults on {describe_faults(list(DEMO_FAULTS))}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("the demo runs with DEBUG=1 only (it serves public demo logins).")
        if not settings.MQTT_WORKER_IN_WEB:
            raise CommandError("the demo runs the MQTT worker in the web server: unset REDIS_URL.")
        if not 1 <= options["sites"] <= 1000 or not 1 <= options["sensors"] <= 1000:
            raise CommandError("--sites and --sensors must be between 1 and 1000.")
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive.")
        sites, faults = demo_sites(
            options["sites"],
            sensors=options["sensors"],
            interval=options["interval"],
            faults=not options["no_faults"],
        )
        asyncio.run(self._run(options, sites, faults))

    async def _run(
        self, options: dict[str, Any], sites: list[SiteSimulator], faults: list[DemoFault]
    ) -> None:
        broker = await start_embedded_broker(port=options["broker_port"])
        await asyncio.to_thread(
            call_command,
            "seed_demo",
            sites=options["sites"],
            broker_port=broker.port,
            verbosity=0,
            stdout=self.stdout,
        )
        simulator = SimulatorRunner(
            sites, BrokerConfig(broker.host, broker.port), interval=options["interval"], summary_every=60
        )
        server = _Server(
            uvicorn.Config(
                "config.asgi:application",
                host=options["host"],
                port=options["port"],
                lifespan="on",
                log_level="warning",
            )
        )

        def stop() -> None:
            server.should_exit = True
            simulator.stop()

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        tasks = [
            asyncio.create_task(simulator.run(), name="simulator"),
            asyncio.create_task(server.serve(), name="web"),
        ]
        self._banner(options, broker.port, faults)
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    logger.error("%s stopped: %r", task.get_name(), task.exception())
        finally:
            stop()
            await asyncio.wait(tasks, timeout=6)
            await broker.stop()
        self.stdout.write("Demo stopped.")

    def _banner(self, options: dict[str, Any], broker_port: int, faults: list[DemoFault]) -> None:
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS(f"\nDemo running: {base}/"))
        self.stdout.write(
            f"  staff login:    {DEMO_STAFF[0]} / {DEMO_STAFF[1]}   (every site; operations at {base}/ops/)"
        )
        self.stdout.write(
            f"  customer login: {DEMO_CUSTOMER_USER[0]} / {DEMO_CUSTOMER_USER[1]}   (its own sites only)"
        )
        self.stdout.write(f"  admin: {base}/admin/   API docs: {base}/api/docs/   metrics: {base}/metrics")
        self.stdout.write(
            f"  {options['sites']} simulated sites x {options['sensors']} sensors"
            f" every {options['interval']:g} s"
            f" through the embedded broker on 127.0.0.1:{broker_port}. Ctrl-C stops."
        )
        if faults:
            self.stdout.write(f"  faults on {describe_faults(faults)}; --no-faults for a clean run\n")
        else:
            self.stdout.write("  no faults: every site healthy\n")
