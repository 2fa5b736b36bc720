"""One sensor shape: the REST API, the site snapshot and the live ``sensors_update`` delta give the
same keys with the same values, so a client merges deltas into a snapshot key for key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from apps.mqtt.ingest.batch import write_batch
from apps.mqtt.ingest.items import HeartbeatItem
from apps.mqtt.ingest.policy import IngestPolicy
from apps.mqtt.models import MqttConnection
from apps.mqtt.parser import Heartbeat, parse_message
from apps.mqtt.realtime.snapshots import site_snapshot
from apps.mqtt.sensor_shape import READING_KEYS, SENSOR_KEYS

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 30, 10, 0, 0, tzinfo=dt.UTC)
POLICY = IngestPolicy(retention=3, max_consecutive_misses=3, stale_after=30.0)


def heartbeat(conn: MqttConnection, at: dt.datetime, *, with_gyro: bool = False) -> HeartbeatItem:
    sensor: dict[str, object] = {
        "device_name": "MNA00001",
        "ts": at.isoformat(),
        "last_acc00": 0.01,
        "last_acc01": -0.02,
        "last_acc02": 0.98,
        "last_incli_x": 0.1,
        "last_incli_y": -0.3,
    }
    if with_gyro:
        sensor |= {"gyro_x": 1.0, "gyro_y": 2.0, "gyro_z": 3.0}
    result = parse_message(
        "S/datalogger_o/heartbeat", orjson.dumps({"sensors_last_data": [sensor]}), received_at=at
    )
    assert isinstance(result, Heartbeat), result
    return HeartbeatItem(connection_id=conn.pk, site_id=conn.site_id, received_at=at, heartbeat=result)


def _instant(value: object) -> object:
    """Times compared as instants: the database and Python may spell the same one differently."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return dt.datetime.fromisoformat(value)
    return value


def _normalised(sensor: dict[str, Any]) -> dict[str, Any]:
    readings = [{k: _instant(v) for k, v in r.items()} for r in sensor["readings"]]
    return {**{k: _instant(v) for k, v in sensor.items() if k != "readings"}, "readings": readings}


def test_api_snapshot_and_delta_give_one_sensor_shape_with_the_same_values(make_connection) -> None:
    conn = make_connection()
    write_batch([heartbeat(conn, T0)], now=T0, policy=POLICY)
    at = T0 + dt.timedelta(seconds=5)
    changes = write_batch([heartbeat(conn, at, with_gyro=True)], now=at, policy=POLICY)

    [delta] = changes.sites[conn.site_id].sensors.values()
    [snapshot] = site_snapshot(conn.site_id)["sensors"]
    client = APIClient()
    client.force_login(User.objects.create_user("staff", is_staff=True))
    [api] = client.get(f"/api/sites/{conn.site_id}/sensors/").json()["results"]

    for sensor in (delta, snapshot, api):
        assert tuple(sensor) == SENSOR_KEYS
        for reading in sensor["readings"]:
            assert tuple(reading) == READING_KEYS
    assert _normalised(api) == _normalised(snapshot)
    # The delta carries only the reading this flush stored; everything else is as stored.
    assert len(delta["readings"]) == 1
    assert _normalised(delta) == {**_normalised(snapshot), "readings": _normalised(snapshot)["readings"][:1]}
    assert delta["readings"][0]["gyro_z"] == 3.0


def test_a_repeated_ts_sends_the_sensor_without_readings(make_connection) -> None:
    conn = make_connection()
    write_batch([heartbeat(conn, T0)], now=T0, policy=POLICY)
    later = T0 + dt.timedelta(seconds=5)
    item = heartbeat(conn, T0)  # same ts, received later
    item = HeartbeatItem(
        connection_id=conn.pk, site_id=conn.site_id, received_at=later, heartbeat=item.heartbeat
    )

    changes = write_batch([item], now=later, policy=POLICY)

    [delta] = changes.sites[conn.site_id].sensors.values()
    assert delta["readings"] == []
    assert delta["total_messages"] == 2
    assert _instant(delta["last_seen_at"]) == later
    assert _instant(delta["last_reading_at"]) == T0  # its newest reading arrived then


def test_two_heartbeats_of_a_site_in_one_flush_send_both_readings_newest_first(make_connection) -> None:
    conn = make_connection()
    second = T0 + dt.timedelta(seconds=5)

    changes = write_batch([heartbeat(conn, T0), heartbeat(conn, second)], now=second, policy=POLICY)

    [delta] = changes.sites[conn.site_id].sensors.values()
    assert [_instant(r["timestamp"]) for r in delta["readings"]] == [second, T0]


def test_heartbeat_state_is_sent_only_when_it_changes(make_connection) -> None:
    conn = make_connection()
    first = write_batch([heartbeat(conn, T0)], now=T0, policy=POLICY)
    at = T0 + dt.timedelta(seconds=5)
    second = write_batch([heartbeat(conn, at)], now=at, policy=POLICY)

    assert first.sites[conn.site_id].connection["heartbeat_state"] == "ok"  # unknown -> ok
    assert "heartbeat_state" not in second.sites[conn.site_id].connection  # ok -> ok: not news
    assert second.sites[conn.site_id].connection["last_heartbeat_at"] == at
