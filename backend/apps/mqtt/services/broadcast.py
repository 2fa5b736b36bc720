"""Change sets → channel-layer events. The one module that knows the group names and event shapes.

Groups: ``mqtt_status`` (staff dashboards: every connection change), ``mqtt_site_<id>`` (one site's
page: batched sensor updates, sensor status changes, site updates) and ``mqtt_control`` (the MQTT
worker: nudges after an operator's action).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer

from apps.mqtt.services.ingest import ChangeSet

STATUS_GROUP = "mqtt_status"
CONTROL_GROUP = "mqtt_control"


def site_group(site_id: int) -> str:
    return f"mqtt_site_{site_id}"


def _json_ready(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _json_ready(value) for key, value in data.items()}


def events_for(changes: ChangeSet) -> list[tuple[str, dict[str, Any]]]:
    """(group, message) pairs for a committed change set: one of each kind per site, never one per
    sensor."""
    events: list[tuple[str, dict[str, Any]]] = []
    for site in changes.sites.values():
        group = site_group(site.site_id)
        if site.sensors:
            events.append(
                (
                    group,
                    {
                        "type": "sensors.update",
                        "site_id": site.site_id,
                        # Already JSON-ready (ingest builds them so): no per-field pass here.
                        "sensors": list(site.sensors.values()),
                    },
                )
            )
        if site.sensor_status:
            events.append(
                (group, {"type": "sensor.status", "site_id": site.site_id, "changes": site.sensor_status})
            )
        if site.connection or site.system_info or site.sensor_counts:
            data = {"site_id": site.site_id, **_jsonable(site.connection)}
            if site.sensor_counts:
                data["sensor_counts"] = site.sensor_counts
            if site.system_info:
                data["system_info_updated"] = True
            events.append((group, {"type": "site.update", "data": data}))
            if site.connection or site.sensor_counts:
                events.append((STATUS_GROUP, {"type": "status.update", "data": data}))
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
