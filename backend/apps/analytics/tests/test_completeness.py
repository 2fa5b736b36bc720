"""Heartbeat completeness counters written by the ingest batch writer: one upsert per flush."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from apps.analytics.models import HeartbeatHour
from apps.mqtt.ingest.batch import write_batch
from apps.mqtt.models import MqttConnection
from apps.mqtt.tests.conftest import POLICY, T0, beat

pytestmark = pytest.mark.django_db


def test_a_flush_counts_its_heartbeats_per_site_and_hour_in_one_statement(
    make_connection: Callable[..., MqttConnection],
) -> None:
    first, second = make_connection(), make_connection()
    hour = T0.replace(minute=0, second=0, microsecond=0)
    before_the_hour = hour - dt.timedelta(seconds=1)
    items = [beat(first, ["S1"], hour + dt.timedelta(seconds=5 * i)) for i in range(10)]
    items += [beat(second, ["S1"], hour), beat(second, ["S1"], before_the_hour)]

    with CaptureQueriesContext(db) as captured:
        write_batch(items, now=hour, policy=POLICY)
    write_batch([beat(first, ["S1"], hour + dt.timedelta(minutes=5))], now=hour, policy=POLICY)

    counted = set(HeartbeatHour.objects.values_list("site_id", "hour", "received"))
    assert counted == {
        (first.site_id, hour, 11),  # added to, across flushes
        (second.site_id, hour, 1),
        (second.site_id, hour - dt.timedelta(hours=1), 1),
    }
    assert sum("analytics_heartbeathour" in q["sql"] for q in captured.captured_queries) == 1


def test_a_stale_retained_heartbeat_is_not_counted(make_connection: Callable[..., MqttConnection]) -> None:
    connection = make_connection()
    retained = dataclasses.replace(beat(connection, ["S1"], T0), proves_alive=False)

    write_batch([retained], now=T0, policy=POLICY)

    assert not HeartbeatHour.objects.exists()
