"""An MQTT broker inside the process (amqtt), for `make demo` and small installs without Mosquitto.

It accepts anonymous clients on 127.0.0.1 only: it is a convenience, not a production broker.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from amqtt.broker import Broker

logger = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class EmbeddedBroker:
    host: str
    port: int
    _broker: Broker

    async def stop(self) -> None:
        await self._broker.shutdown()


async def start_embedded_broker(*, host: str = "127.0.0.1", port: int = 0) -> EmbeddedBroker:
    """Start listening on ``port`` (0: a free one) in the running event loop."""
    port = port or _free_port(host)
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    logger.info("embedded MQTT broker listening on %s:%d", host, port)
    return EmbeddedBroker(host, port, broker)
