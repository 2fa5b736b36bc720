"""Run the MQTT worker until SIGINT/SIGTERM (the multi-process mode, beside the web server)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from prometheus_client import start_http_server

from apps.mqtt.worker.runtime import MqttWorker


class Command(BaseCommand):
    help = "Run the MQTT worker: one client per enabled connection, batched writes, liveness."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.MQTT_WORKER_METRICS_PORT,
            help="serve the worker's Prometheus metrics on 127.0.0.1:PORT (0: off; default from "
            "MQTT_WORKER_METRICS_PORT)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["metrics_port"]
        if port:
            start_http_server(port, addr=settings.MQTT_WORKER_METRICS_ADDRESS)
            self.stdout.write(
                f"Worker metrics on http://{settings.MQTT_WORKER_METRICS_ADDRESS}:{port}/metrics"
            )
        asyncio.run(self._serve())
        self.stdout.write("MQTT worker stopped.")

    async def _serve(self) -> None:
        worker = MqttWorker()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, worker.supervisor.stop)
        await worker.start()
        self.stdout.write(
            f"MQTT worker {worker.worker_id} started; Ctrl-C stops it. Its connections and peers are"
            " logged as they change (metrics: mqtt_leases_held, mqtt_worker_peers)."
        )
        await worker.wait()
        await worker.stop()
