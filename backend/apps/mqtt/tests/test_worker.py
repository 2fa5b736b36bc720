"""The worker against real Mosquitto brokers: connect, ingest every variant, survive bad input,
broker restarts, TLS and passwords, and follow the operator's edits."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import time
from collections.abc import Callable

import aiomqtt
import orjson
import pytest
from django.utils import timezone

from apps.mqtt.models import (
    ConnectionLog,
    MqttConnection,
    MqttTopic,
    RejectedMessage,
    SensorData,
    SensorDevice,
    SystemInfo,
    WorkerHeartbeat,
)
from apps.mqtt.services.connections import set_topics
from apps.mqtt.services.control import Action, control_connection
from apps.mqtt.tests.conftest import Mosquitto, Worker, connected, eventually, iso, make_pki, seed_heartbeat

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def _orm_in_test_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test set-up and assertions use the ORM directly from the async test body; only the tests do:
    the worker itself does its database work in threads."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _connection(
    make_connection: Callable[..., MqttConnection], make_site, code: str, port: int = 1883, **fields: object
) -> MqttConnection:
    fields.setdefault("retry_delay", 1)
    fields.setdefault("max_retry_delay", 2)
    conn = make_connection(site=make_site(code=code), broker_host="127.0.0.1", broker_port=port, **fields)
    set_topics(connection=conn)
    return conn


def _status(conn_id: int) -> str:
    return MqttConnection.objects.get(pk=conn_id).status


def _events(conn_id: int) -> list[str]:
    return list(
        ConnectionLog.objects.filter(mqtt_connection_id=conn_id)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


async def test_seed_heartbeat_of_100_sensors_reaches_the_database(
    make_connection, make_site, site_code, publisher: aiomqtt.Client
) -> None:
    conn = _connection(make_connection, make_site, site_code)
    devices = [f"MNA{index:05d}" for index in range(100)]
    async with Worker():
        await connected(conn)
        ts = timezone.now().replace(microsecond=0)
        published = time.monotonic()
        await publisher.publish(f"{site_code}/datalogger_o/heartbeat", seed_heartbeat(devices, ts))
        await eventually(
            lambda: SensorData.objects.filter(sensor_device__site_id=conn.site_id).count() == 100,
            interval=0.01,
        )
        latency = time.monotonic() - published
    print(f"\n100-sensor heartbeat in the database {latency * 1000:.0f} ms after publishing")

    sensors = SensorDevice.objects.filter(site_id=conn.site_id)
    assert sensors.count() == 100
    assert set(sensors.values_list("status", "total_messages", "reading_seq")) == {("online", 1, 1)}
    assert all(sensor.last_seen_at is not None for sensor in sensors)
    reading = SensorData.objects.get(
        sensor_device__device_name="MNA00005", sensor_device__site_id=conn.site_id
    )
    assert (reading.timestamp, reading.acc_x, reading.acc_z, reading.mag_x, reading.gyro_z) == (
        ts,
        0.005,
        0.98,
        12.0,
        0.5,
    )
    conn.refresh_from_db()
    assert conn.last_heartbeat_at is not None
    assert _events(conn.pk)[:2] == ["connecting", "connected"]


def _variant(site_code: str, ts: dt.datetime) -> dict[str, tuple[str, bytes]]:
    naive_rome = ts.astimezone(dt.timezone(dt.timedelta(hours=1))).replace(tzinfo=None)
    heartbeat = f"{site_code}/datalogger_o/heartbeat"
    return {
        "keyed": (
            heartbeat,
            orjson.dumps({"sensors_last_data": {"K1": {"ts": iso(ts), "last_acc00": 0.5}}}),
        ),
        "unprefixed": (
            heartbeat,
            orjson.dumps({"sensors_last_data": [{"device_name": "K1", "ts": iso(ts), "acc_x": 0.5}]}),
        ),
        "unit_value": (
            heartbeat,
            orjson.dumps(
                {
                    "sensors_last_data": [
                        {"device_name": "K1", "ts": iso(ts), "last_acc00": {"unit": "g", "value": 0.5}}
                    ]
                }
            ),
        ),
        "legacy": (heartbeat, orjson.dumps({"K1": {"ts": iso(ts), "acc_x": 0.5}})),
        # Naive ts with a space: the site's zone (Europe/Rome, UTC+1 in November).
        "naive_space_ts": (
            heartbeat,
            orjson.dumps(
                {
                    "sensors_last_data": [
                        {"device_name": "K1", "ts": naive_rome.strftime("%Y-%m-%d %H:%M:%S"), "acc_x": 0.5}
                    ]
                }
            ),
        ),
    }


@pytest.mark.parametrize("variant", ["keyed", "unprefixed", "unit_value", "legacy", "naive_space_ts"])
async def test_each_heartbeat_variant_is_ingested(
    make_connection, make_site, site_code, publisher: aiomqtt.Client, variant: str
) -> None:
    conn = _connection(make_connection, make_site, site_code)
    await asyncio.to_thread(
        lambda: type(conn.site).objects.filter(pk=conn.site_id).update(time_zone="Europe/Rome")
    )
    ts = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=2)
    async with Worker():
        await connected(conn)
        topic, payload = _variant(site_code, ts)[variant]
        await publisher.publish(topic, payload)
        reading = await eventually(
            lambda: SensorData.objects.filter(
                sensor_device__site_id=conn.site_id, sensor_device__device_name="K1"
            ).first()
        )
    assert (reading.acc_x, reading.timestamp) == (0.5, ts)


async def test_heartbeat_without_ts_takes_the_receive_time(
    make_connection, make_site, site_code, publisher: aiomqtt.Client
) -> None:
    conn = _connection(make_connection, make_site, site_code)
    async with Worker():
        await connected(conn)
        before = timezone.now()
        await publisher.publish(
            f"{site_code}/datalogger_o/heartbeat",
            b'{"sensors_last_data": [{"device_name": "K1", "acc_x": 1}]}',
        )
        reading = await eventually(
            lambda: SensorData.objects.filter(sensor_device__site_id=conn.site_id).first()
        )
    assert before <= reading.timestamp <= timezone.now()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {
                "hostname": "dl-1",
                "firmware_version": "3.2.1",
                "uptime": 873974,
                "mem_total": 1073741824,
                "disk_free": 5,
            },
            {
                "hostname": "dl-1",
                "uptime_seconds": 873974,
                "memory_total_bytes": 1073741824,
                "disk_free_bytes": 5,
            },
        ),
        (
            {"system": {"hostname": "dl-2", "uptime": "10 days, 3:46:14", "memory": {"total_gb": 1.0}}},
            {
                "hostname": "dl-2",
                "uptime_seconds": 10 * 86400 + 3 * 3600 + 46 * 60 + 14,
                "memory_total_bytes": 1024**3,
            },
        ),
    ],
    ids=["flat", "nested"],
)
async def test_sys_info_variants_are_stored(
    make_connection, make_site, site_code, publisher: aiomqtt.Client, payload: dict, expected: dict
) -> None:
    conn = _connection(make_connection, make_site, site_code)
    async with Worker():
        await connected(conn)
        await publisher.publish(f"{site_code}/sys_info", orjson.dumps(payload))
        info = await eventually(lambda: SystemInfo.objects.filter(site_id=conn.site_id).first())
    assert {key: getattr(info, key) for key in expected} == expected
    assert info.raw_data == payload


async def test_stream_of_malformed_payloads_never_disconnects_or_stops_the_worker(
    make_connection, make_site, site_code, publisher: aiomqtt.Client, settings
) -> None:
    # 202 messages at once: the client's queue must not drop any (its bound has its own tests).
    settings.MQTT_SETTINGS = {**settings.MQTT_SETTINGS, "CLIENT_QUEUE_MESSAGES": 1000}
    conn = _connection(make_connection, make_site, site_code)
    heartbeat = f"{site_code}/datalogger_o/heartbeat"
    garbage = [
        b"",
        b"\xff\xfe\x00garbage",
        b"{not json",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"sensors_last_data": "nope"}',
        b'{"sensors_last_data": [{"device_name": "N1", "last_acc00": NaN, "last_acc01": Infinity}]}',
        b'{"sensors_last_data": [{"device_name": 5}, {"ts": "yesterday"}, 7, null]}',
        b"x" * (1024 * 1024 + 1),
        orjson.dumps({"deep": [[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]}),
    ]
    async with Worker() as worker:
        await connected(conn)
        for _round in range(20):
            for payload in garbage:
                await publisher.publish(heartbeat, payload)
        await publisher.publish(f"{site_code}/unknown/topic", b"{}")
        await publisher.publish(heartbeat, seed_heartbeat(["GOOD1"], timezone.now()))
        await eventually(
            lambda: SensorDevice.objects.filter(site_id=conn.site_id, device_name="GOOD1").exists()
        )
        assert worker.supervisor.client_ids == {conn.pk}
    assert _events(conn.pk)[:2] == ["connecting", "connected"]
    assert "disconnected" not in _events(conn.pk)[:-1]  # only the final stop disconnects
    rejected = dict(RejectedMessage.objects.filter(site_id=conn.site_id).values_list("reason", "count"))
    assert rejected["too_large"] == 20
    assert rejected["not_json"] >= 20
    # NaN values rejected field by field; the sensor itself is kept.
    n1 = SensorData.objects.filter(
        sensor_device__site_id=conn.site_id, sensor_device__device_name="N1"
    ).first()
    assert n1 is not None
    assert n1.acc_x is None
    assert n1.acc_y is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in n1.raw_data.values())


async def test_broker_restart_is_logged_and_ingest_resumes(
    make_connection, make_site, site_code, mosquitto
) -> None:
    broker: Mosquitto = mosquitto()
    conn = _connection(make_connection, make_site, site_code, port=broker.port, keep_alive_interval=5)
    async with Worker():
        await connected(conn)
        broker.stop()
        await eventually(lambda: "disconnected" in _events(conn.pk))
        # The loss is failure 1; a second means a reconnection was tried against the stopped broker.
        await eventually(lambda: MqttConnection.objects.get(pk=conn.pk).connection_errors >= 2)
        broker.start()
        await eventually(lambda: _events(conn.pk).count("connected") == 2, within=15)
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.publish(
                f"{site_code}/datalogger_o/heartbeat", seed_heartbeat(["R1"], timezone.now())
            )
        await eventually(lambda: SensorDevice.objects.filter(site_id=conn.site_id, device_name="R1").exists())
    assert _events(conn.pk)[:5] == ["connecting", "connected", "disconnected", "connecting", "connected"]


async def test_tls_with_own_ca_connects_and_wrong_ca_ends_in_error_with_reason(
    make_connection, make_site, site_code, mosquitto, tmp_path
) -> None:
    pki = make_pki(tmp_path / "pki")
    other = make_pki(tmp_path / "other")
    broker: Mosquitto = mosquitto(pki=pki)
    good = _connection(
        make_connection, make_site, site_code, port=broker.port, ssl_enabled=True, ca_certificate=pki.ca_pem
    )
    wrong = _connection(
        make_connection,
        make_site,
        site_code + "w",
        port=broker.port,
        ssl_enabled=True,
        ca_certificate=other.ca_pem,
        retry_attempts=3,
    )
    async with Worker():
        await connected(good)
        await eventually(lambda: _status(wrong.pk) == "error")
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, tls_params=aiomqtt.TLSParameters(ca_certs=str(pki.ca_file))
        ) as client:
            await client.publish(
                f"{site_code}/datalogger_o/heartbeat", seed_heartbeat(["TLS1"], timezone.now())
            )
        await eventually(
            lambda: SensorDevice.objects.filter(site_id=good.site_id, device_name="TLS1").exists()
        )
    wrong.refresh_from_db()
    assert "certificate verify failed" in wrong.error_message
    log = ConnectionLog.objects.filter(mqtt_connection=wrong, event_type="error").first()
    assert log is not None
    assert "certificate verify failed" in log.message


async def test_wrong_password_ends_in_error_without_retry_storm_until_the_password_changes(
    make_connection, make_site, site_code, mosquitto
) -> None:
    broker: Mosquitto = mosquitto(password=("logger", "right-password"))
    conn = _connection(make_connection, make_site, site_code, port=broker.port, username="logger")
    conn.set_password("wrong-password")
    conn.save()
    async with Worker(reconcile_interval=0.5) as worker:
        await eventually(lambda: _status(conn.pk) == "error")
        passes = worker.supervisor.reconciles
        # Six reconciles (3 s, longer than the retry delays) with the refused credentials: none may
        # reconnect.
        await eventually(lambda: worker.supervisor.reconciles >= passes + 6)
        assert worker.supervisor.client_ids == set()
        assert _events(conn.pk) == ["connecting", "error"]
        refused = (broker.folder / "broker.log").read_text().count("not authorised")
        assert refused == 1, refused

        def change_password() -> None:
            fresh = MqttConnection.objects.get(pk=conn.pk)
            fresh.set_password("right-password")
            fresh.save()

        await asyncio.to_thread(change_password)
        await connected(conn)
    error = ConnectionLog.objects.get(mqtt_connection=conn, event_type="error").message
    assert "Not authorized" in error
    assert "not retrying until the connection's configuration changes" in error
    assert _events(conn.pk) == ["connecting", "error", "connecting", "connected", "disconnected"]


async def test_operator_edits_reach_the_worker_within_10_seconds(
    make_connection, make_site, site_code, publisher: aiomqtt.Client
) -> None:
    conn = _connection(make_connection, make_site, site_code)
    async with Worker(reconcile_interval=5):  # the default interval
        await connected(conn)

        # Disable: the client stops and the connection shows disabled.
        await asyncio.to_thread(control_connection, connection=conn, action=Action.STOP, actor=None)
        await eventually(lambda: _status(conn.pk) == "disabled", within=10)

        # Enable again with a changed topic: the new subscription is used.
        def retopic() -> None:
            MqttTopic.objects.filter(connection=conn, message_type="heartbeat").update(
                pattern="{code}/v2/heartbeat"
            )
            control_connection(connection=conn, action=Action.START, actor=None)

        await asyncio.to_thread(retopic)
        await eventually(lambda: _events(conn.pk).count("connected") == 2, within=10)
        await publisher.publish(f"{site_code}/v2/heartbeat", seed_heartbeat(["V2"], timezone.now()))
        await eventually(lambda: SensorDevice.objects.filter(site_id=conn.site_id, device_name="V2").exists())
    events = _events(conn.pk)
    assert events[:6] == ["connecting", "connected", "stopped", "disconnected", "disabled", "started"]


async def test_worker_records_its_own_heartbeat(make_connection, make_site, site_code) -> None:
    conn = _connection(make_connection, make_site, site_code)
    async with Worker() as worker:
        await connected(conn)
        beat = await eventually(
            lambda: WorkerHeartbeat.objects.filter(worker_id=worker.worker.worker_id).first()
        )
    assert beat.pid == os.getpid()
    assert beat.is_alive(timezone.now())


async def test_wildcard_subscription_never_files_another_sites_traffic_under_this_site(
    make_connection, make_site, site_code, publisher: aiomqtt.Client
) -> None:
    conn = _connection(make_connection, make_site, site_code)
    MqttTopic.objects.create(connection=conn, pattern="+/datalogger_o/heartbeat", message_type="heartbeat")
    async with Worker():
        await connected(conn)
        other = f"{site_code}OTHER"
        await publisher.publish(
            f"{other}/datalogger_o/heartbeat", seed_heartbeat(["FOREIGN"], timezone.now())
        )
        await publisher.publish(
            f"{site_code}/datalogger_o/heartbeat", seed_heartbeat(["OWN"], timezone.now())
        )
        await eventually(
            lambda: SensorDevice.objects.filter(site_id=conn.site_id, device_name="OWN").exists()
        )
        # The broker is shared: other sites' traffic (other tests, a running bench) is foreign too.
        rejected = await eventually(
            lambda: RejectedMessage.objects.filter(
                site_id=conn.site_id, reason="foreign_topic", topic=f"{other}/datalogger_o/heartbeat"
            ).first()
        )
    assert rejected.count >= 1
    assert not SensorDevice.objects.filter(device_name="FOREIGN").exists()


class _RecordingLayer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    async def group_send(self, group: str, message: dict[str, object]) -> None:
        self.sent.append((group, message))


async def test_changes_committed_while_the_broadcast_is_behind_wait_as_one_merged_set() -> None:
    from prometheus_client import REGISTRY

    from apps.mqtt.ingest.changes import ChangeSet
    from apps.mqtt.worker.runtime import MqttWorker

    def sensor(reading: int) -> dict[str, object]:
        return {"device_name": "S1", "status": "online", "readings": [{"ts": reading}]}

    def merged() -> float:
        return REGISTRY.get_sample_value("broadcast_changes_merged_total") or 0.0

    layer = _RecordingLayer()
    worker = MqttWorker(layer=layer)
    worker._loop = asyncio.get_running_loop()
    before = merged()
    for reading, site_id in ((1, 1), (2, 1), (3, 2)):
        changes = ChangeSet()
        changes.site(site_id).sensors["S1"] = sensor(reading)
        worker._on_change(changes)  # as the writer thread does, one per flush
    await asyncio.sleep(0)  # the loop takes them in

    assert merged() - before == 2
    sender = asyncio.create_task(worker._send_broadcasts())
    await eventually(lambda: len(layer.sent) == 2, within=5)
    sender.cancel()

    frames = {group: orjson.loads(str(message["text"])) for group, message in layer.sent}
    assert frames["mqtt_site_1"]["sensors"][0]["readings"] == [{"ts": 2}, {"ts": 1}]
    assert frames["mqtt_site_2"]["sensors"][0]["readings"] == [{"ts": 3}]
