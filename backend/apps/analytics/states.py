"""Which state each kind of row puts an object in (the contract's definitions), pure.

- Sensor: ``online`` is up; ``offline`` and ``stale`` are down (the reason names the status and the
  change's own reason).
- Connection: ``connected`` is up; connecting / disconnected / error, and an operator's start or
  restart (connecting follows), are down; ``disabled`` and an operator's stop are disabled
  (excluded). Heartbeat rows do not change it.
- Site heartbeat: ``heartbeat_missed`` is down until ``heartbeat_resumed``; a stop or disable makes
  it disabled, and only a start after that brings it back (up: the liveness sweep logs a new miss if
  it stays silent; a reconnection alone keeps a missing heartbeat missing, as the worker does).
  Before its first such row it is up from the connection's first ``connected`` on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from apps.analytics.intervals import DISABLED, DOWN, UP, Change

ONLINE = "online"

CONNECTION_EVENTS = frozenset(
    {"connecting", "connected", "disconnected", "error", "disabled", "started", "stopped", "restarted"}
)
HEARTBEAT_EVENTS = frozenset({"heartbeat_missed", "heartbeat_resumed", "disabled", "started", "stopped"})

_CONNECTION_STATE = {
    "connected": UP,
    "connecting": DOWN,
    "disconnected": DOWN,
    "error": DOWN,
    "started": DOWN,
    "restarted": DOWN,
    "disabled": DISABLED,
    "stopped": DISABLED,
}


def sensor_change(at: dt.datetime, new_status: str, reason: str) -> Change:
    if new_status == ONLINE:
        return Change(at, UP, "")
    return Change(at, DOWN, f"{new_status}: {reason}" if reason else new_status)


def connection_change(at: dt.datetime, event_type: str, message: str) -> Change | None:
    state = _CONNECTION_STATE.get(event_type)
    if state is None:
        return None
    return Change(at, state, f"{event_type}: {message}" if message and state == DOWN else event_type)


def heartbeat_state(event_type: str, previous: str | None) -> str | None:
    """The heartbeat's state after this row, or None when the row does not change it."""
    if event_type == "heartbeat_missed":
        return DOWN
    if event_type == "heartbeat_resumed":
        return UP
    if event_type in ("disabled", "stopped"):
        return DISABLED
    if event_type == "started" and previous in (DISABLED, None):
        return UP
    if event_type == "connected" and previous is None:
        return UP  # monitored from the first connection on; never missed yet
    return None


def heartbeat_changes(rows: Iterable[tuple[dt.datetime, str, str]], *, initial: str | None) -> list[Change]:
    """A connection's log rows (time, event type, message; oldest first) → its heartbeat's changes;
    ``initial`` is the state before the first row."""
    previous = initial
    changes: list[Change] = []
    for at, event_type, message in rows:
        state = heartbeat_state(event_type, previous)
        if state is None:
            continue
        reason = (message or "heartbeat missing") if state == DOWN else event_type
        changes.append(Change(at, state, reason))
        previous = state
    return changes
