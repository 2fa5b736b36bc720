"""The conditions the evaluator is timing, in memory for one tick: read with the tick's rows, changed by
the new state change rows, written back in a fixed number of statements.

What each row means (the contract's definitions): a connection connecting / disconnected / in error
is down until ``connected``; a heartbeat is missing from ``heartbeat_missed`` to ``heartbeat_resumed``;
a sensor is down while ``offline`` or ``stale``. An operator's stop or disable is not an outage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.alerts.models import Condition, Kind

Key = tuple[int, str, int | None]  # site, kind, sensor

CONNECTION_DOWN_EVENTS = frozenset({"connecting", "disconnected", "error"})
OPERATOR_OFF_EVENTS = frozenset({"disabled", "stopped"})
# Sensors taken offline because of their site: the site's own alert covers them.
SITE_REASONS = frozenset({"site heartbeat missing", "monitoring disabled"})
# A site's connection and heartbeat coming and going: what makes a site flap.
SITE_FLAP_EVENTS = ("connected", "disconnected", "heartbeat_missed", "heartbeat_resumed")


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    site_id: int
    event_type: str
    timestamp: dt.datetime
    recent: int = 0  # the site's SITE_FLAP_EVENTS within the longest flapping window, when read


@dataclass(frozen=True, slots=True)
class ChangeRow:
    id: int
    sensor_id: int
    site_id: int
    device_name: str
    new_status: str
    reason: str
    timestamp: dt.datetime
    recent: int = 0  # the sensor's changes (not SITE_REASONS) within the longest flapping window


@dataclass(slots=True)
class Board:
    conditions: dict[Key, Condition]
    heartbeat_grace: dt.timedelta
    cleared: list[Condition] = field(default_factory=list)
    added: dict[int, Condition] = field(default_factory=dict)  # id(condition) → condition: not saved yet
    touched: set[Key] = field(default_factory=set)
    names: dict[int, str] = field(default_factory=dict)  # sensor id → device name, from this tick's rows
    recovered: dict[int, dt.datetime] = field(default_factory=dict)  # site → when its heartbeat resumed

    @classmethod
    def of(cls, rows: list[Condition], *, heartbeat_grace: dt.timedelta) -> Board:
        rows = sorted(rows, key=lambda row: (row.since, row.pk))  # the model's order: alerts open in it
        return cls({(row.site_id, row.kind, row.sensor_id): row for row in rows}, heartbeat_grace)

    def get(self, site_id: int, kind: str, sensor_id: int | None = None) -> Condition | None:
        return self.conditions.get((site_id, kind, sensor_id))

    def start(
        self, site_id: int, kind: str, at: dt.datetime, *, sensor_id: int | None = None, reason: str = ""
    ) -> Condition:
        key = (site_id, kind, sensor_id)
        existing = self.conditions.get(key)
        if existing is not None:
            return existing
        condition = Condition(
            site_id=site_id, kind=kind, sensor_id=sensor_id, since=at, last_change_at=at, reason=reason
        )
        self.conditions[key] = condition
        self.added[id(condition)] = condition
        return condition

    def clear(self, site_id: int, kind: str, sensor_id: int | None = None) -> None:
        condition = self.conditions.pop((site_id, kind, sensor_id), None)
        if condition is None:
            return
        if self.added.pop(id(condition), None) is None:
            self.cleared.append(condition)

    def mark(self, condition: Condition) -> None:
        """An existing row whose fields changed: written back at the end of the tick."""
        self.touched.add((condition.site_id, condition.kind, condition.sensor_id))

    def site_is_down(self, site_id: int) -> bool:
        return any(
            self.get(site_id, kind) is not None for kind in (Kind.CONNECTION_DOWN, Kind.HEARTBEAT_MISSING)
        )

    # ------------------------------------------------------------------ the rows

    def apply_log(self, row: LogRow) -> None:
        site, at = row.site_id, row.timestamp
        if row.event_type in CONNECTION_DOWN_EVENTS:
            self.start(site, Kind.CONNECTION_DOWN, at)
        elif row.event_type == "connected":
            self._connection_back(site, at)
        elif row.event_type in OPERATOR_OFF_EVENTS:
            self.clear(site, Kind.CONNECTION_DOWN)
            self.clear(site, Kind.HEARTBEAT_MISSING)
        elif row.event_type == "heartbeat_missed":
            self.start(site, Kind.HEARTBEAT_MISSING, at)
        elif row.event_type == "heartbeat_resumed":
            self.clear(site, Kind.HEARTBEAT_MISSING)
            self._site_back(site, at)

    def _connection_back(self, site_id: int, at: dt.datetime) -> None:
        down = self.get(site_id, Kind.CONNECTION_DOWN)
        self.clear(site_id, Kind.CONNECTION_DOWN)
        heartbeat = self.get(site_id, Kind.HEARTBEAT_MISSING)
        if down is not None and heartbeat is not None and heartbeat.alert_id is None:
            # The heartbeat went missing because the connection was down: it gets its timeout to
            # come back after the reconnection before it counts on its own.
            heartbeat.since = at + self.heartbeat_grace
            self.mark(heartbeat)

    def _site_back(self, site_id: int, at: dt.datetime) -> None:
        """The sensors still offline after their site's recovery count on their own from then
        (the evaluator looks them up: no row says they stayed offline)."""
        self.recovered[site_id] = at

    def apply_change(self, row: ChangeRow) -> None:
        self.names[row.sensor_id] = row.device_name
        site, sensor, at = row.site_id, row.sensor_id, row.timestamp
        if row.reason == "site heartbeat missing":
            return  # the site's own condition covers it; the site's alert names it
        if row.new_status == "online" or row.reason == "monitoring disabled":
            self.clear(site, Kind.SENSOR_OFFLINE, sensor)
            self.clear(site, Kind.SENSOR_STALE, sensor)
            return
        kind, other = (
            (Kind.SENSOR_OFFLINE, Kind.SENSOR_STALE)
            if row.new_status == "offline"
            else (Kind.SENSOR_STALE, Kind.SENSOR_OFFLINE)
        )
        previous = self.get(site, other, sensor)
        self.clear(site, other, sensor)
        # Down since it first went stale or offline, whichever came first.
        since = min(previous.since, at) if previous is not None and previous.alert_id is None else at
        self.start(site, kind, since, sensor_id=sensor, reason=row.reason)
