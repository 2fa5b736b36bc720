"""The whole system in one process for `make demo`: an embedded MQTT broker, a simulator of the demo
sites and the web server, whose lifespan runs the MQTT worker in the same event loop
(single-process mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.mqtt.management.commands.seed_demo import DEMO_CUSTOMER_USER, DEMO_STAFF
from apps.mqtt.services.embedded_broker import start_embedded_broker
from apps.mqtt.simulator.payloads import SiteSimulator
from apps.mqtt.simulator.runner import BrokerConfig, SimulatorRunner

logger = logging.getLogger(__name__)


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

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("the demo runs with DEBUG=1 only (it serves public demo logins).")
        if not settings.MQTT_WORKER_IN_WEB:
            raise CommandError("the demo runs the MQTT worker in the web server: unset REDIS_URL.")
        if not 1 <= options["sites"] <= 1000 or not 1 <= options["sensors"] <= 1000:
            raise CommandError("--sites and --sensors must be between 1 and 1000.")
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive.")
        asyncio.run(self._run(options))

    async def _run(self, options: dict[str, Any]) -> None:
        broker = await start_embedded_broker(port=options["broker_port"])
        await asyncio.to_thread(
            call_command, "seed_demo", sites=options["sites"], broker_port=broker.port, stdout=self.stdout
        )
        sites = [
            SiteSimulator(
                f"DEMO{number:03d}",
                index=number - 1,
                sensors=options["sensors"],
                interval=options["interval"],
                seed=number,
            )
            for number in range(1, options["sites"] + 1)
        ]
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
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS(f"\nDemo running: {base}/dashboard/"))
        self.stdout.write(f"  admin: {base}/admin/   API docs: {base}/api/docs/   metrics: {base}/metrics")
        self.stdout.write(f"  staff login:    {DEMO_STAFF[0]} / {DEMO_STAFF[1]}")
        self.stdout.write(f"  customer login: {DEMO_CUSTOMER_USER[0]} / {DEMO_CUSTOMER_USER[1]}")
        self.stdout.write(
            f"  {options['sites']} simulated sites x {options['sensors']} sensors"
            f" every {options['interval']:g} s"
            f" through the embedded broker on 127.0.0.1:{broker.port}. Ctrl-C stops.\n"
        )
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
