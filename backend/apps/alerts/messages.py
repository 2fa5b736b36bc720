"""The words of an alert: its title and message, for the app and every channel."""

from __future__ import annotations

from apps.alerts.models import Condition, Kind
from apps.sites.models import Site

_LISTED = 20  # sensors named in a message; the alert's affected_sensors holds them all


def _sensors(affected: list[str]) -> str:
    if not affected:
        return ""
    shown = ", ".join(affected[:_LISTED])
    more = f" and {len(affected) - _LISTED} more" if len(affected) > _LISTED else ""
    return f" Affected sensors ({len(affected)}): {shown}{more}."


def describe(condition: Condition, *, site: Site, affected: list[str]) -> tuple[str, str]:
    where = f"{site.name} ({site.code})"
    since = f"since {condition.since:%Y-%m-%d %H:%M:%S} UTC"
    sensor = affected[0] if affected else "?"
    kind = condition.kind
    if kind == Kind.CONNECTION_DOWN:
        return f"{where}: connection down", f"The MQTT connection has been down {since}.{_sensors(affected)}"
    if kind == Kind.HEARTBEAT_MISSING:
        count = f" ({len(affected)} sensors)" if affected else ""
        return (
            f"{where}: site silent, heartbeat missing{count}",
            f"No heartbeat from the datalogger {since}.{_sensors(affected)}",
        )
    if kind == Kind.SENSOR_OFFLINE:
        return f"{where}: sensor {sensor} offline", f"Sensor {sensor} offline {since} ({condition.reason})."
    if kind == Kind.SENSOR_STALE:
        return f"{where}: sensor {sensor} stale", f"Sensor {sensor} has sent no new reading {since}."
    subject = f"sensor {sensor}" if condition.sensor_id else "site connection"
    return f"{where}: {subject} flapping", f"The {subject} is flapping: {condition.reason}."
