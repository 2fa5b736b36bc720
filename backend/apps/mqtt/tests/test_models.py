import datetime as dt

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from apps.mqtt.crypto import SecretDecryptionError
from apps.mqtt.models import MqttConnection, MqttTopic, SensorData, SensorDevice
from conftest import make_tls_material

pytestmark = pytest.mark.django_db

CLEAR = "s3cret-broker-password"


def _raw_password_column(connection_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM mqtt_mqttconnection WHERE id = %s", [connection_id])
        return cursor.fetchone()[0]


def test_password_is_stored_encrypted_and_decrypts_for_the_worker(make_connection) -> None:
    conn = make_connection()
    conn.set_password(CLEAR)
    conn.save()

    raw = _raw_password_column(conn.pk)
    assert raw
    assert CLEAR not in raw
    assert MqttConnection.objects.get(pk=conn.pk).get_password() == CLEAR


def test_password_survives_key_rotation_and_fails_clearly_without_its_key(make_connection, settings) -> None:
    conn = make_connection()
    conn.set_password(CLEAR)
    conn.save()
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)

    with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode(), *old_keys]):
        assert MqttConnection.objects.get(pk=conn.pk).get_password() == CLEAR
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(SecretDecryptionError, match="FIELD_ENCRYPTION_KEYS"),
    ):
        MqttConnection.objects.get(pk=conn.pk).get_password()


def test_empty_password_stores_nothing(make_connection) -> None:
    conn = make_connection()
    conn.set_password("")
    conn.save()
    assert _raw_password_column(conn.pk) == ""
    assert not conn.has_password


def test_client_id_is_prefix_install_part_and_site_id(make_connection, settings) -> None:
    settings.MQTT_CLIENT_ID_INSTANCE = "inst1"
    conn = make_connection(client_id_prefix="mon")
    assert conn.client_id == f"mon_inst1_{conn.site_id}"


def test_only_one_connection_per_site(make_connection) -> None:
    conn = make_connection()
    with pytest.raises(IntegrityError), transaction.atomic():
        MqttConnection.objects.create(site=conn.site, broker_host="other")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"retry_delay": 60, "max_retry_delay": 30}, "max_retry_delay", "may not be shorter"),
        ({"tls_insecure": True}, "ssl_enabled", "TLS is off"),
        ({"ssl_enabled": True, "ca_cert_path": "relative/ca.pem"}, "ca_cert_path", "absolute path"),
        ({"broker_port": 70000}, "broker_port", "less than or equal to 65535"),
    ],
)
def test_connection_validation_names_the_field(make_site, fields, field, message) -> None:
    conn = MqttConnection(site=make_site(), broker_host="127.0.0.1", **fields)
    with pytest.raises(ValidationError) as excinfo:
        conn.full_clean()
    assert message in " ".join(excinfo.value.message_dict[field])


def test_client_certificate_must_match_its_key(make_site) -> None:
    cert, other = make_tls_material("client"), make_tls_material("other")
    conn = MqttConnection(
        site=make_site(), broker_host="127.0.0.1", ssl_enabled=True, client_certificate=cert.certificate_pem
    )
    with pytest.raises(ValidationError, match="needs its private key"):
        conn.full_clean()
    conn.set_client_key(other.key_pem)
    with pytest.raises(ValidationError, match="does not match"):
        conn.full_clean()
    conn.set_client_key(cert.key_pem)
    conn.full_clean()
    assert cert.key_pem not in conn.client_key_encrypted


def test_topic_pattern_is_unique_per_connection_and_resolves_site_code(make_connection) -> None:
    conn = make_connection()
    topic = MqttTopic.objects.create(connection=conn, pattern="{code}/datalogger_o/heartbeat")
    assert topic.resolve("SITE9") == "SITE9/datalogger_o/heartbeat"
    with pytest.raises(IntegrityError), transaction.atomic():
        MqttTopic.objects.create(connection=conn, pattern="{code}/datalogger_o/heartbeat")


def test_device_name_is_unique_per_site_but_not_across_sites(make_site) -> None:
    first, second = make_site(), make_site()
    SensorDevice.objects.create(site=first, device_name="MNA00542")
    SensorDevice.objects.create(site=second, device_name="MNA00542")
    with pytest.raises(IntegrityError), transaction.atomic():
        SensorDevice.objects.create(site=first, device_name="MNA00542")


def _reading(sensor: SensorDevice, slot: int) -> SensorData:
    return SensorData(sensor_device=sensor, slot=slot, timestamp=timezone.now(), raw_data={})


def test_ring_holds_one_row_per_slot(make_site) -> None:
    sensor = SensorDevice.objects.create(site=make_site(), device_name="S1")
    SensorData.objects.bulk_create([_reading(sensor, slot) for slot in range(SensorData.RING_SIZE)])
    with pytest.raises(IntegrityError), transaction.atomic():
        _reading(sensor, 0).save()


@pytest.mark.parametrize("slot", [3, 4, 1000])
def test_ring_rejects_slots_beyond_three_so_a_sensor_never_has_more_than_three_rows(make_site, slot) -> None:
    sensor = SensorDevice.objects.create(site=make_site(), device_name="S1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _reading(sensor, slot).save()


def test_readings_come_newest_first(make_site) -> None:
    sensor = SensorDevice.objects.create(site=make_site(), device_name="S1")
    base = timezone.now()
    for slot, minutes in enumerate([5, 15, 10]):
        SensorData.objects.create(
            sensor_device=sensor, slot=slot, timestamp=base + dt.timedelta(minutes=minutes), raw_data={}
        )
    assert [r.slot for r in sensor.readings.all()] == [1, 2, 0]


def test_saving_a_loaded_connection_never_overwrites_the_workers_observed_state(make_connection) -> None:
    conn = make_connection()
    loaded_by_form = MqttConnection.objects.get(pk=conn.pk)
    MqttConnection.objects.filter(pk=conn.pk).update(
        status="connected", heartbeat_state="ok", connection_errors=2
    )
    loaded_by_form.broker_host = "edited.example.com"
    loaded_by_form.save()

    conn.refresh_from_db()
    assert (conn.broker_host, conn.status, conn.heartbeat_state, conn.connection_errors) == (
        "edited.example.com",
        "connected",
        "ok",
        2,
    )


def test_saving_a_loaded_sensor_keeps_its_observed_state(make_site) -> None:
    sensor = SensorDevice.objects.create(site=make_site(), device_name="S1")
    loaded = SensorDevice.objects.get(pk=sensor.pk)
    SensorDevice.objects.filter(pk=sensor.pk).update(status="online", reading_seq=7)
    loaded.is_active = False
    loaded.save()
    sensor.refresh_from_db()
    assert (sensor.is_active, sensor.status, sensor.reading_seq) == (False, "online", 7)
