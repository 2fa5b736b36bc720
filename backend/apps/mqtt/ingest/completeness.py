"""Heartbeat completeness counters: the flush adds its heartbeats to each site's count for their UTC
hour (apps.analytics.models.HeartbeatHour), with one upsert whatever the number of heartbeats, so the
analytics can say how many of the expected heartbeats arrived without a row per heartbeat."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from apps.mqtt.ingest.items import HeartbeatItem
from apps.mqtt.ingest.sql import UPSERT_HEARTBEAT_HOURS, write_rows


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def write_heartbeat_hours(
    cursor: Any, items: list[HeartbeatItem], adapt: Callable[[dt.datetime | None], Any]
) -> None:
    """Count the heartbeats that prove the site alive (a stale retained one does not), per site
    and hour of arrival, and add them in one statement."""
    counts = Counter((item.site_id, _hour(item.received_at)) for item in items if item.proves_alive)
    if counts:
        rows = [(site_id, adapt(hour), count) for (site_id, hour), count in counts.items()]
        write_rows(cursor, UPSERT_HEARTBEAT_HOURS, rows)
