"""What the client tasks enqueue for the batch writer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apps.mqtt.parser import Heartbeat, Rejection, SysInfo


@dataclass(frozen=True, slots=True)
class HeartbeatItem:
    connection_id: int
    site_id: int
    received_at: dt.datetime
    heartbeat: Heartbeat
    topic: str = ""
    # False for a retained heartbeat older than the timeout: its readings are kept, but it does not
    # make the site or its sensors look alive.
    proves_alive: bool = True
    size: int = 0  # the payload's bytes: what the ingest queue's byte bound counts (0: estimated)


def proves_alive(
    heartbeat: Heartbeat, *, retained: bool, received_at: dt.datetime, timeout: dt.timedelta
) -> bool:
    """A live heartbeat proves the site alive; a retained one (the broker's copy of the last, sent
    on every subscribe) only when its data is newer than the heartbeat timeout."""
    if not retained:
        return True
    stamped = [reading.ts for reading in heartbeat.readings if reading.ts_from_payload]
    return bool(stamped) and received_at - max(stamped) <= timeout


@dataclass(frozen=True, slots=True)
class SysInfoItem:
    connection_id: int
    site_id: int
    received_at: dt.datetime
    info: SysInfo
    topic: str = ""


@dataclass(frozen=True, slots=True)
class RejectedItem:
    site_id: int
    topic: str
    received_at: dt.datetime
    rejection: Rejection


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """An observed change of a connection, written as its row's new state plus one log row."""

    connection_id: int
    site_id: int
    at: dt.datetime
    event_type: str | None  # a ConnectionLog.EventType value; None: counters only, no log row
    message: str = ""
    status: str | None = None  # new observed status, when it changes
    connection_errors: int | None = None
    error_message: str | None = None


IngestItem = HeartbeatItem | SysInfoItem | RejectedItem | ConnectionEvent
