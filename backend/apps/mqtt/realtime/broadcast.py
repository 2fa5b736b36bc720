"""Change sets → channel-layer events. The one module that knows the group names and event shapes.

Groups: ``mqtt_status`` (the sites overview and the operations view: every connection change; a
customer's socket forwards its own sites' only), ``mqtt_site_<id>`` (one site's
page: batched sensor updates, sensor status changes, site updates) and ``mqtt_control`` (the MQTT
worker: nudges after an operator's action).
"""

from __future__ import annotations

from typing import Any

import orjson
from channels.layers import BaseChannelLayer, get_channel_layer

from apps.mqtt.ingest.changes import ChangeSet

STATUS_GROUP = "mqtt_status"
CONTROL_GROUP = "mqtt_control"


def site_group(site_id: int) -> str:
    return f"mqtt_site_{site_id}"


def _event(kind: str, frame: dict[str, Any], site_id: int) -> dict[str, Any]:
    """A channel-layer event carrying its WebSocket frame as JSON text: serialised once here, not
    once per receiving socket, and cheap for the layer to copy (in memory) or pack (Redis). The
    site id beside it lets a socket that sees only some sites skip the others unparsed."""
    return {"type": kind, "text": orjson.dumps(frame).decode(), "site_id": site_id}


def events_for(changes: ChangeSet) -> list[tuple[str, dict[str, Any]]]:
    """(group, event) pairs for a committed change set: one of each kind per site, never one per
    sensor. Each event's ``text`` is the frame the sockets send as it is."""
    events: list[tuple[str, dict[str, Any]]] = []
    for site in changes.sites.values():
        group = site_group(site.site_id)
        if site.sensors:
            # The sensor rows are JSON-ready already (ingest builds them so).
            sensors = list(site.sensors.values())
            frame = {"type": "sensors_update", "site_id": site.site_id, "sensors": sensors}
            events.append((group, _event("sensors.update", frame, site.site_id)))
        if site.sensor_status:
            frame = {"type": "sensor_status", "site_id": site.site_id, "changes": site.sensor_status}
            events.append((group, _event("sensor.status", frame, site.site_id)))
        if site.connection or site.system_info or site.sensor_counts:
            data = {"site_id": site.site_id, **site.connection}  # orjson writes datetimes as ISO 8601
            if site.sensor_counts:
                data["sensor_counts"] = site.sensor_counts
            if site.system_info:
                data["system_info_updated"] = True
            events.append((group, _event("site.update", {"type": "site_update", "data": data}, site.site_id)))
            if site.connection or site.sensor_counts:
                frame = {"type": "status_update", "data": data}
                events.append((STATUS_GROUP, _event("status.update", frame, site.site_id)))
    return events


async def broadcast(changes: ChangeSet, layer: BaseChannelLayer | None = None) -> None:
    layer = layer or get_channel_layer()
    if layer is None:
        return
    for group, message in events_for(changes):
        await layer.group_send(group, message)


async def nudge_worker(layer: BaseChannelLayer | None = None) -> None:
    layer = layer or get_channel_layer()
    if layer is not None:
        await layer.group_send(CONTROL_GROUP, {"type": "control.nudge"})
