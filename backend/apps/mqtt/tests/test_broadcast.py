"""Change sets → channel-layer events: one per kind per site, each carrying its frame as JSON text."""

from __future__ import annotations

import datetime as dt

import orjson

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.realtime.broadcast import STATUS_GROUP, events_for, site_group


def test_each_event_carries_the_socket_frame_as_json_text_with_times_in_iso_8601() -> None:
    changes = ChangeSet()
    site = changes.site(7)
    site.sensors["S1"] = {"device_name": "S1", "status": "online", "acc_x": 0.5}
    site.sensors["S2"] = {"device_name": "S2", "status": "online", "acc_x": None}
    site.sensor_status.append({"device_name": "S2", "old": "offline", "new": "online", "reason": "listed"})
    heard = dt.datetime(2026, 11, 28, 10, 0, 0, 250000, tzinfo=dt.UTC)
    site.connection.update({"last_heartbeat_at": heard, "heartbeat_state": "ok"})
    site.sensor_counts = {"total": 2, "online": 2, "stale": 0, "offline": 0}

    events = events_for(changes)

    assert [(group, event["type"]) for group, event in events] == [
        (site_group(7), "sensors.update"),
        (site_group(7), "sensor.status"),
        (site_group(7), "site.update"),
        (STATUS_GROUP, "status.update"),
    ]
    frames = [orjson.loads(event["text"]) for _, event in events]
    assert frames[0] == {"type": "sensors_update", "site_id": 7, "sensors": list(site.sensors.values())}
    assert frames[1] == {"type": "sensor_status", "site_id": 7, "changes": site.sensor_status}
    assert frames[2]["type"] == "site_update"
    assert frames[2]["data"]["last_heartbeat_at"] == heard.isoformat()
    assert frames[2]["data"]["sensor_counts"]["total"] == 2
    assert frames[3] == {"type": "status_update", "data": frames[2]["data"]}


def test_a_site_with_nothing_changed_sends_nothing() -> None:
    changes = ChangeSet()
    changes.site(3)
    assert events_for(changes) == []
