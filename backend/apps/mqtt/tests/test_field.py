"""Issue 11's field findings: readings ordered by their ts (a replayed buffer never becomes the
newest), invalid filter values refused with a 400, client ids unique per install."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from django.conf import settings
from django.test import Client
from prometheus_client import REGISTRY

from apps.mqtt.ingest.batch import write_batch
from apps.mqtt.models import MqttConnection, SensorDevice
from apps.mqtt.realtime.broadcast import events_for
from apps.mqtt.realtime.snapshots import site_snapshot
from apps.mqtt.sensor_shape import iso as iso_of
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import BACKEND, POLICY, T0, beat
from apps.mqtt.worker.config import load_desired_state
from apps.sites.models import Site

pytestmark = pytest.mark.django_db


def _counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _seconds(n: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=n)


# ---------------------------------------------------------------- readings ordered by their ts


def _ring(name: str = "S1") -> list[dt.datetime]:
    sensor = SensorDevice.objects.get(device_name=name)
    return list(sensor.readings.order_by("-timestamp").values_list("timestamp", flat=True))


def test_a_replayed_older_reading_never_becomes_the_newest_in_the_database_snapshot_or_delta(
    make_connection: Callable[..., MqttConnection],
) -> None:
    conn = make_connection()
    for step in (0, 5, 10):
        write_batch([beat(conn, ["S1"], _seconds(step))], now=_seconds(step), policy=POLICY)
    stored, replayed = _counter("ingest_readings_stored_total"), _counter("ingest_readings_replayed_total")

    # After a reconnect the datalogger replays its buffer: one reading newer than the ring's oldest
    # (7 s), one older than all of it (-5 s).
    changes = write_batch(
        [beat(conn, ["S1"], _seconds(15), ts=_seconds(7)), beat(conn, ["S1"], _seconds(16), ts=_seconds(-5))],
        now=_seconds(16),
        policy=POLICY,
    )

    sensor = SensorDevice.objects.get(device_name="S1")
    assert sensor.last_reading_ts == _seconds(10)
    assert sensor.last_reading_at == _seconds(10)
    assert sensor.reading_seq == 3
    assert _ring() == [_seconds(10), _seconds(5), _seconds(0)]  # dropped, not inserted in order
    # Listed, so alive: seen and counted, online (its ts stood still for 6 s only).
    assert (sensor.status, sensor.total_messages, sensor.last_seen_at) == ("online", 5, _seconds(16))
    assert _counter("ingest_readings_replayed_total") - replayed == 2
    assert _counter("ingest_readings_stored_total") == stored
    # The delta carries the sensor (seen again) without a new reading.
    [frame] = [
        orjson.loads(event["text"]) for _, event in events_for(changes) if event["type"] == "sensors.update"
    ]
    [delta] = frame["sensors"]
    assert (delta["device_name"], delta["readings"]) == ("S1", [])
    assert dt.datetime.fromisoformat(delta["last_reading_at"]) == _seconds(10)  # the newest's arrival
    [shown] = site_snapshot(conn.site_id)["sensors"]
    assert [reading["timestamp"] for reading in shown["readings"]] == [
        iso_of(_seconds(step)) for step in (10, 5, 0)
    ]

    # The next live reading is the newest again, and overwrites the oldest slot.
    changes = write_batch([beat(conn, ["S1"], _seconds(20))], now=_seconds(20), policy=POLICY)
    assert _ring() == [_seconds(20), _seconds(10), _seconds(5)]
    assert [r["timestamp"] for r in changes.sites[conn.site_id].sensors["S1"]["readings"]] == [
        iso_of(_seconds(20))
    ]


def test_readings_out_of_order_within_one_flush_keep_the_newest(
    make_connection: Callable[..., MqttConnection],
) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1", "S2"], _seconds(0))], now=_seconds(0), policy=POLICY)
    changes = write_batch(
        [
            beat(conn, ["S1", "S2"], _seconds(5), ts=_seconds(10)),
            beat(conn, ["S1"], _seconds(6), ts=_seconds(8)),  # arrives later, is older
            beat(conn, ["S1"], _seconds(7), ts=_seconds(10)),  # a repeat of the newest
        ],
        now=_seconds(7),
        policy=POLICY,
    )

    assert _ring("S1") == [_seconds(10), _seconds(0)]
    assert SensorDevice.objects.get(device_name="S1").last_reading_ts == _seconds(10)
    delta = changes.sites[conn.site_id].sensors["S1"]
    assert [r["timestamp"] for r in delta["readings"]] == [iso_of(_seconds(10))]
    assert site_snapshot(conn.site_id)["sensors"][0]["readings"][0]["timestamp"] == iso_of(_seconds(10))


def test_a_repeat_is_counted_as_a_repeat_and_a_replay_as_a_replay(
    make_connection: Callable[..., MqttConnection],
) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1"], _seconds(0), ts=_seconds(0))], now=_seconds(0), policy=POLICY)
    repeated, replayed = (
        _counter("ingest_readings_repeated_total"),
        _counter("ingest_readings_replayed_total"),
    )
    write_batch([beat(conn, ["S1"], _seconds(5), ts=_seconds(0))], now=_seconds(5), policy=POLICY)
    assert (
        _counter("ingest_readings_repeated_total") - repeated,
        _counter("ingest_readings_replayed_total"),
    ) == (
        1,
        replayed,
    )
    write_batch([beat(conn, ["S1"], _seconds(6), ts=_seconds(-1))], now=_seconds(6), policy=POLICY)
    assert _counter("ingest_readings_repeated_total") - repeated == 1
    assert _counter("ingest_readings_replayed_total") - replayed == 1


def test_a_sensor_that_only_replays_goes_stale_like_one_whose_ts_stands_still(
    make_connection: Callable[..., MqttConnection],
) -> None:
    conn = make_connection()
    write_batch([beat(conn, ["S1"], _seconds(0))], now=_seconds(0), policy=POLICY)
    write_batch([beat(conn, ["S1"], _seconds(31), ts=_seconds(-60))], now=_seconds(31), policy=POLICY)
    sensor = SensorDevice.objects.get(device_name="S1")
    assert (sensor.status, sensor.last_reading_ts) == ("stale", _seconds(0))


# ---------------------------------------------------------------- invalid filter values are a 400


@pytest.fixture
def listed(make_connection: Callable[..., MqttConnection], make_site: Callable[..., Site]) -> Site:
    site = make_site()
    make_connection(site=site, enabled=True)
    make_connection(enabled=False)
    SensorDevice.objects.create(site=site, device_name="ON", is_active=True)
    SensorDevice.objects.create(site=site, device_name="OFF", is_active=False)
    return site


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/connections/?enabled=garbage", "enabled"),
        ("/api/connections/?enabled=yes%20please", "enabled"),
        ("/api/connections/?enabled=true&enabled=2", "enabled"),
        ("/api/connections/?status=exploded", "status"),
        ("/api/connections/?site=abc", "site"),
        ("/api/sites/{site}/sensors/?is_active=maybe", "is_active"),
        ("/api/sites/{site}/sensors/?status=asleep", "status"),
        ("/api/logs/?event_type=exploded", "event_type"),
        ("/api/logs/?since=yesterday", "since"),
        ("/api/logs/?until=2025-02-30T00:00:00Z", "until"),
    ],
)
def test_every_invalid_filter_value_is_a_400_naming_the_parameter(
    staff_client: Client, listed: Site, path: str, field: str
) -> None:
    response = staff_client.get(path.format(site=listed.pk))

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]


def test_boolean_filters_take_true_false_1_0_in_any_case_and_ignore_an_empty_value(
    staff_client: Client, listed: Site
) -> None:
    def enabled(query: str) -> list[bool]:
        response = staff_client.get(f"/api/connections/{query}")
        assert response.status_code == 200, response.content
        return sorted(row["enabled"] for row in response.json()["results"])

    def active(query: str) -> list[str]:
        response = staff_client.get(f"/api/sites/{listed.pk}/sensors/{query}")
        assert response.status_code == 200, response.content
        return sorted(row["device_name"] for row in response.json()["results"])

    assert enabled("?enabled=true") == enabled("?enabled=TRUE") == enabled("?enabled=1") == [True]
    assert enabled("?enabled=false") == enabled("?enabled=False") == enabled("?enabled=0") == [False]
    assert enabled("?enabled=") == enabled("") == [False, True]
    assert active("?is_active=true") == ["ON"]
    assert active("?is_active=0") == ["OFF"]
    assert active("?is_active=") == ["OFF", "ON"]


def test_the_schema_still_describes_the_boolean_filters_as_booleans(staff_client: Client) -> None:
    schema = staff_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    parameters = {
        (path, parameter["name"]): parameter["schema"]["type"]
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", ())
    }
    assert parameters[("/api/connections/", "enabled")] == "boolean"
    assert parameters[("/api/sites/{site_id}/sensors/", "is_active")] == "boolean"


# ---------------------------------------------------------------- client ids unique per install


@pytest.mark.django_db(transaction=True)  # the loader closes stale connections, as in its thread
def test_the_workers_client_id_holds_the_install_part(
    make_connection: Callable[..., MqttConnection], make_site: Callable[..., Site]
) -> None:
    conn = make_connection(site=make_site(), client_id_prefix="mon")
    set_topics(connection=conn)
    config = load_desired_state().configs[conn.pk]
    instance = settings.MQTT_CLIENT_ID_INSTANCE
    assert config.client_id == f"mon_{instance}_{conn.site_id}"
    assert len(instance) == 8  # the default: 8 hex digits
    assert int(instance, 16) >= 0


def _install(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process reading the settings, as a worker starting with this environment would."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DATABASE_URL", "MQTT_CLIENT_ID_INSTANCE", "MQTT_MAX_SENSORS_PER_SITE"}
    }
    # DEBUG=1: no Fernet key needed; the SECRET_KEY given is used.
    environment.update(
        {"DEBUG": "1", "FIELD_ENCRYPTION_KEYS": "", "DJANGO_SETTINGS_MODULE": "config.settings"}
    )
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path}/db.sqlite3"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.MQTT_CLIENT_ID_INSTANCE)"],
        cwd=BACKEND,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _instance(tmp_path: Path, **env: str) -> str:
    result = _install(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_two_installs_get_different_client_ids_and_one_install_keeps_its_own_across_restarts(
    tmp_path: Path,
) -> None:
    first = _instance(tmp_path, SECRET_KEY="install-one-" + "x" * 40)
    assert _instance(tmp_path, SECRET_KEY="install-one-" + "x" * 40) == first  # a restart
    # Another install: its own SECRET_KEY, or the same key with its own database (two checkouts).
    other_key = _instance(tmp_path, SECRET_KEY="install-two-" + "y" * 40)
    other_database = _instance(
        tmp_path, SECRET_KEY="install-one-" + "x" * 40, DATABASE_URL=f"sqlite:///{tmp_path}/other.sqlite3"
    )
    assert len({first, other_key, other_database}) == 3
    assert all(len(value) == 8 for value in (first, other_key, other_database))
    assert "install" not in first  # a hash, never the key itself
    # Set explicitly, it is used as given.
    assert _instance(tmp_path, SECRET_KEY="k" * 50, MQTT_CLIENT_ID_INSTANCE="plant-b.2") == "plant-b.2"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MQTT_CLIENT_ID_INSTANCE", "has space"),
        ("MQTT_CLIENT_ID_INSTANCE", "under_score"),
        ("MQTT_CLIENT_ID_INSTANCE", "x" * 33),
        ("MQTT_CLIENT_ID_INSTANCE", "ünï"),
        ("MQTT_MAX_SENSORS_PER_SITE", "0"),
        ("MQTT_MAX_SENSORS_PER_SITE", "many"),
    ],
)
def test_a_bad_client_id_part_or_sensor_cap_stops_start_up_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = _install(tmp_path, SECRET_KEY="k" * 50, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr
