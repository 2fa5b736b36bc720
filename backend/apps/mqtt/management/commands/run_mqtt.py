"""Run the MQTT worker until SIGINT/SIGTERM: the supervisor's client tasks plus the writer thread."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand

from apps.mqtt.services.mqtt_manager import MqttSupervisor
from apps.mqtt.services.writer import IngestWriter

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the MQTT worker: one client per enabled connection, batched writes, liveness."

    def handle(self, *args: Any, **options: Any) -> None:
        writer = IngestWriter()
        writer.start()
        self.stdout.write("MQTT worker started; Ctrl-C stops it.")
        try:
            asyncio.run(self._serve(writer))
        finally:
            writer.stop(timeout=1.5)  # the supervisor took up to 3 s: stay within the 5 s budget
        self.stdout.write("MQTT worker stopped.")

    async def _serve(self, writer: IngestWriter) -> None:
        supervisor = MqttSupervisor(writer=writer)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, supervisor.stop)
        await supervisor.run()
