"""The domain rules the MQTT client applies to each message, pure: whose topic it is, and whether a
retained heartbeat proves the site alive."""

from __future__ import annotations

import datetime as dt

import orjson

from apps.mqtt.ingest.items import proves_alive
from apps.mqtt.parser import Heartbeat, RejectReason, foreign_topic, parse_message

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(seconds=30)


def _heartbeat(ts: dt.datetime | None) -> Heartbeat:
    sensor: dict[str, object] = {"device_name": "S1", "last_acc00": 0.1}
    if ts is not None:
        sensor["ts"] = ts.isoformat()
    result = parse_message(
        "SITE/datalogger_o/heartbeat", orjson.dumps({"sensors_last_data": [sensor]}), received_at=NOW
    )
    assert isinstance(result, Heartbeat)
    return result


def test_a_topic_naming_the_site_code_as_a_level_is_the_sites() -> None:
    assert foreign_topic("SITE1/datalogger_o/heartbeat", "SITE1") is None
    assert foreign_topic("fleet/SITE1/sys_info", "SITE1") is None


def test_another_sites_topic_is_rejected_as_foreign() -> None:
    rejection = foreign_topic("SITE10/datalogger_o/heartbeat", "SITE1")  # a prefix is not a level
    assert rejection is not None
    assert rejection.reason == RejectReason.FOREIGN_TOPIC
    assert "'SITE1'" in rejection.detail


def test_a_live_heartbeat_always_proves_the_site_alive() -> None:
    old = _heartbeat(NOW - dt.timedelta(hours=1))
    assert proves_alive(old, retained=False, received_at=NOW, timeout=TIMEOUT)


def test_a_retained_heartbeat_proves_it_only_when_its_data_is_fresh() -> None:
    fresh = _heartbeat(NOW - dt.timedelta(seconds=10))
    stale = _heartbeat(NOW - dt.timedelta(minutes=5))
    unstamped = _heartbeat(None)  # its time is the receive time: it says nothing about when it was sent
    assert proves_alive(fresh, retained=True, received_at=NOW, timeout=TIMEOUT)
    assert not proves_alive(stale, retained=True, received_at=NOW, timeout=TIMEOUT)
    assert not proves_alive(unstamped, retained=True, received_at=NOW, timeout=TIMEOUT)
