"""WebSocket consumers. ``/ws/mqtt/status/``: every connection change of the sites the user may see
(staff: all of them); ``/ws/mqtt/site/<id>/``: one site, for whoever may see it (a snapshot on
connect, then deltas). Close codes: 4401 not logged in, 4403 not allowed."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.mqtt import metrics
from apps.mqtt.realtime.broadcast import STATUS_GROUP, site_group
from apps.mqtt.realtime.snapshots import site_snapshot
from apps.sites.selectors import can_view_site, sites_visible_to

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401
FORBIDDEN = 4403


# Group events (realtime/broadcast.py) carry their frame as ready JSON text and never touch the
# database: they skip the close_old_connections that channels' dispatch runs in a worker thread
# before every handler, a thread round trip per event per socket.
_FORWARDED_EVENTS = frozenset({"sensors.update", "sensor.status", "site.update", "status.update"})


class _JsonConsumer(AsyncJsonWebsocketConsumer):
    kind = ""
    group: str | None = None
    # The sites whose events this socket forwards; None: all (staff).
    visible_sites: frozenset[int] | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] in _FORWARDED_EVENTS:
            if self.visible_sites is not None and message.get("site_id") not in self.visible_sites:
                return
            text = message.get("text")
            if isinstance(text, str):
                await self.send(text_data=text)
            else:  # e.g. from a worker of another version: skipped, the socket stays open
                logger.warning("skipped a %s event without its frame", message["type"])
        else:
            await super().dispatch(message)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return orjson.dumps(content).decode()

    async def _refuse(self, code: int) -> None:
        # Accept first: a close before the handshake reaches the browser as a bare HTTP 403, and
        # the page could not tell "log in" from "not yours".
        await self.accept()
        await self.close(code=code)

    async def _join(self, group: str) -> None:
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        metrics.WEBSOCKET_CLIENTS.labels(self.kind).inc()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            metrics.WEBSOCKET_CLIENTS.labels(self.kind).dec()
            self.group = None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The sockets are read-only; a ping gets a pong so clients can check the link."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})


class StatusConsumer(_JsonConsumer):
    """Staff get every site's changes; anyone else those of the sites visible to them when the socket
    opened (a site granted later shows after the page's next reconnect)."""

    kind = "status"

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(UNAUTHENTICATED)
            return
        if not user.is_staff:
            self.visible_sites = await database_sync_to_async(_visible_site_ids)(user)
        await self._join(STATUS_GROUP)


def _visible_site_ids(user: Any) -> frozenset[int]:
    return frozenset(sites_visible_to(user).values_list("pk", flat=True))


class SiteConsumer(_JsonConsumer):
    kind = "site"

    async def connect(self) -> None:
        user = self.scope.get("user")
        site_id = self.scope["url_route"]["kwargs"]["site_id"]
        if user is None or not user.is_authenticated:
            await self._refuse(UNAUTHENTICATED)
            return
        if not await database_sync_to_async(can_view_site)(user, site_id):
            await self._refuse(FORBIDDEN)
            return
        # Join before reading the snapshot, so no change falls between the two.
        await self._join(site_group(site_id))
        snapshot = await database_sync_to_async(site_snapshot)(site_id)
        await self.send_json({"type": "snapshot", "data": snapshot})
