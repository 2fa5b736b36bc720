"""`manage.py run_alerts`: the alert evaluator and sender on their own, for installs that run them
apart from `run_mqtt` (set ALERTS_IN_WORKER=0 there). Stops on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from django.core.management.base import BaseCommand

from apps.alerts.runner import AlertRunner
from apps.mqtt.worker.leases import new_worker_id


class Command(BaseCommand):
    help = "Evaluate alert rules from the state changes and send the notifications."

    def handle(self, *args: Any, **options: Any) -> None:
        runner = AlertRunner(worker_id=f"alerts:{new_worker_id()}")
        self.stdout.write(f"alerts runner {runner.worker_id}: evaluating every {runner.interval:g} s")
        asyncio.run(self._run(runner))
        runner.release()
        self.stdout.write("alerts runner stopped")

    async def _run(self, runner: AlertRunner) -> None:
        task = asyncio.create_task(runner.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task
