"""Run the MQTT worker until SIGINT/SIGTERM (the multi-process mode, beside the web server)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from apps.mqtt.services.worker import MqttWorker


class Command(BaseCommand):
    help = "Run the MQTT worker: one client per enabled connection, batched writes, liveness."

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._serve())
        self.stdout.write("MQTT worker stopped.")

    async def _serve(self) -> None:
        worker = MqttWorker()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, worker.supervisor.stop)
        await worker.start()
        self.stdout.write("MQTT worker started; Ctrl-C stops it.")
        await worker.wait()
        await worker.stop()
