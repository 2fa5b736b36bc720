"""ASGI lifespan: in single-process mode (settings.MQTT_WORKER_IN_WEB) the web server's event loop
also runs the MQTT worker, so the in-memory channel layer reaches the browsers without Redis."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


class WorkerLifespan:
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        worker = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if settings.MQTT_WORKER_IN_WEB:
                    from apps.mqtt.worker.runtime import MqttWorker

                    try:
                        worker = MqttWorker()
                        await worker.start()
                    except Exception as exc:
                        logger.exception("the MQTT worker could not start")
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if worker is not None:
                    await worker.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
