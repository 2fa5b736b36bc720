"""What a flush reports: per site, the sensors that changed (in the real-time sensor shape), their
status transitions, the connection fields, whether sys_info arrived, and the sensor counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.mqtt.models import READING_RING_SIZE
from apps.mqtt.sensor_shape import merge_sensor_states


@dataclass(slots=True)
class SiteChanges:
    """What one flush changed at one site: the seam for the real-time broadcast."""

    site_id: int
    # device name → the sensor in the shape of apps/mqtt/sensor_shape.py, with this flush's readings
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    sensor_status: list[dict[str, Any]] = field(default_factory=list)  # transitions, in order
    connection: dict[str, Any] = field(default_factory=dict)  # changed connection fields
    system_info: bool = False
    sensor_counts: dict[str, int] = field(default_factory=dict)  # total / online / stale / offline


@dataclass(slots=True)
class ChangeSet:
    sites: dict[int, SiteChanges] = field(default_factory=dict)

    def site(self, site_id: int) -> SiteChanges:
        changes = self.sites.get(site_id)
        if changes is None:
            changes = self.sites[site_id] = SiteChanges(site_id)
        return changes

    def merge(self, other: ChangeSet) -> None:
        for site_id, theirs in other.sites.items():
            mine = self.site(site_id)
            for name, sensor in theirs.sensors.items():
                held = mine.sensors.get(name)
                mine.sensors[name] = (
                    sensor if held is None else merge_sensor_states(held, sensor, READING_RING_SIZE)
                )
            mine.sensor_status.extend(theirs.sensor_status)
            mine.connection.update(theirs.connection)
            mine.system_info = mine.system_info or theirs.system_info
            mine.sensor_counts.update(theirs.sensor_counts)

    def __bool__(self) -> bool:
        return bool(self.sites)
