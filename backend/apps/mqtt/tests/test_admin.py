"""The admin, driven through its real forms as an operator would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db.models import Field
from django.test import Client
from django.urls import reverse

from apps.mqtt.admin import MqttConnectionAdmin, MqttConnectionForm
from apps.mqtt.models import ConnectionLog, MqttConnection, MqttTopic, SensorData, SensorDevice
from apps.sites.models import Site
from conftest import make_tls_material

pytestmark = pytest.mark.django_db

SECRET = "Br0ker-pa55word!"


def _topic_formset(rows: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "topics-TOTAL_FORMS": str(len(rows)),
        "topics-INITIAL_FORMS": str(initial),
        "topics-MIN_NUM_FORMS": "0",
        "topics-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"topics-{index}-{key}"] = value
    return data


def _connection_form(site: Site, **overrides: Any) -> dict[str, Any]:
    data = {
        "site": str(site.pk),
        "enabled": "on",
        "broker_host": "broker.example.com",
        "broker_port": "8883",
        "client_id_prefix": "dlmon",
        "username": "logger",
        "new_password": SECRET,
        "keep_alive_interval": "60",
        "retry_attempts": "5",
        "retry_delay": "5",
        "max_retry_delay": "300",
        "expected_heartbeat_interval": "5",
        "ssl_enabled": "on",
        "ca_certificate": "",
        "ca_cert_path": "",
        "client_certificate": "",
        "new_client_key": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _create_site_through_admin(client: Client) -> Site:
    response = client.post(
        reverse("admin:sites_site_add"),
        {"name": "Ponte Nord", "code": "PN01", "time_zone": "Europe/Rome", "is_active": "on"},
    )
    assert response.status_code == 302, response.content
    return Site.objects.get(code="PN01")


def test_operator_creates_site_and_connection_through_admin_forms(staff_client: Client) -> None:
    site = _create_site_through_admin(staff_client)
    response = staff_client.post(
        reverse("admin:mqtt_mqttconnection_add"), {**_connection_form(site), **_topic_formset([])}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors

    connection = MqttConnection.objects.get(site=site)
    assert (connection.broker_host, connection.broker_port, connection.ssl_enabled) == (
        "broker.example.com",
        8883,
        True,
    )
    assert connection.get_password() == SECRET
    assert connection.status == MqttConnection.Status.DISCONNECTED
    # No topic given: the seed's two default subscriptions.
    assert sorted(connection.topics.values_list("pattern", flat=True)) == [
        "{code}/datalogger_o/heartbeat",
        "{code}/sys_info",
    ]


def test_operator_edits_and_deletes_through_admin(staff_client: Client, make_connection) -> None:
    connection = make_connection()
    topic = MqttTopic.objects.create(connection=connection, pattern="{code}/sys_info")
    url = reverse("admin:mqtt_mqttconnection_change", args=[connection.pk])
    form = _connection_form(connection.site, broker_host="mqtt.internal", new_password="")
    topics = _topic_formset(
        [
            {
                "id": str(topic.pk),
                "connection": str(connection.pk),
                "pattern": "{code}/#",
                "message_type": "auto",
            },
            {
                "connection": str(connection.pk),
                "pattern": "+/datalogger_o/heartbeat",
                "message_type": "heartbeat",
            },
        ],
        initial=1,
    )
    response = staff_client.post(url, {**form, **topics})
    assert response.status_code == 302, response.context["adminform"].form.errors
    connection.refresh_from_db()
    assert connection.broker_host == "mqtt.internal"
    assert sorted(connection.topics.values_list("pattern", flat=True)) == [
        "+/datalogger_o/heartbeat",
        "{code}/#",
    ]

    response = staff_client.post(
        reverse("admin:mqtt_mqttconnection_delete", args=[connection.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not MqttConnection.objects.filter(pk=connection.pk).exists()
    response = staff_client.post(
        reverse("admin:sites_site_delete", args=[connection.site.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Site.objects.filter(pk=connection.site.pk).exists()


def test_invalid_site_code_shows_a_clear_error_in_the_admin_form(staff_client: Client) -> None:
    response = staff_client.post(
        reverse("admin:sites_site_add"),
        {"name": "Bad", "code": "PN/01", "time_zone": "UTC", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "may not contain a slash" in response.content.decode()
    assert not Site.objects.exists()


def test_invalid_topic_pattern_shows_a_clear_error_in_the_inline(staff_client: Client, make_site) -> None:
    site = make_site()
    data = {
        **_connection_form(site),
        **_topic_formset([{"pattern": "{code}/#/heartbeat", "message_type": "auto"}]),
    }
    response = staff_client.post(reverse("admin:mqtt_mqttconnection_add"), data)
    assert response.status_code == 200
    assert "must be a whole topic level and the last one" in response.content.decode()
    assert not MqttConnection.objects.exists()


def test_admin_never_renders_the_password_back(staff_client: Client, make_connection) -> None:
    connection = make_connection()
    connection.set_password(SECRET)
    connection.save()
    for url in (
        reverse("admin:mqtt_mqttconnection_change", args=[connection.pk]),
        reverse("admin:mqtt_mqttconnection_changelist"),
    ):
        page = staff_client.get(url).content.decode()
        assert SECRET not in page
        assert connection.password_encrypted not in page
    assert (
        "stored (encrypted)"
        in staff_client.get(
            reverse("admin:mqtt_mqttconnection_change", args=[connection.pk])
        ).content.decode()
    )


def test_blank_password_keeps_the_stored_one_and_clear_removes_it(
    staff_client: Client, make_connection
) -> None:
    connection = make_connection()
    connection.set_password(SECRET)
    connection.save()
    url = reverse("admin:mqtt_mqttconnection_change", args=[connection.pk])

    response = staff_client.post(
        url, {**_connection_form(connection.site, new_password=""), **_topic_formset([])}
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.get_password() == SECRET

    form = _connection_form(connection.site, new_password="", clear_password="on")
    response = staff_client.post(url, {**form, **_topic_formset([])})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert not connection.has_password


def test_client_key_is_write_only_and_checked_against_the_certificate(
    staff_client: Client, make_site
) -> None:
    material, other = make_tls_material("client"), make_tls_material("other")
    site = make_site()
    form = _connection_form(site, client_certificate=material.certificate_pem, new_client_key=other.key_pem)
    response = staff_client.post(reverse("admin:mqtt_mqttconnection_add"), {**form, **_topic_formset([])})
    assert response.status_code == 200
    assert "does not match the private key" in response.content.decode()

    form["new_client_key"] = material.key_pem
    response = staff_client.post(reverse("admin:mqtt_mqttconnection_add"), {**form, **_topic_formset([])})
    assert response.status_code == 302
    connection = MqttConnection.objects.get(site=site)
    assert connection.get_client_key().strip() == material.key_pem.strip()
    page = staff_client.get(
        reverse("admin:mqtt_mqttconnection_change", args=[connection.pk])
    ).content.decode()
    assert "PRIVATE KEY" not in page


def test_enable_and_disable_actions_set_desired_state_and_log_who(
    staff_client: Client, staff_user: User, make_connection
) -> None:
    first, second = make_connection(), make_connection(enabled=False)
    changelist = reverse("admin:mqtt_mqttconnection_changelist")

    staff_client.post(
        changelist, {"action": "disable_connections", "_selected_action": [first.pk, second.pk]}
    )
    first.refresh_from_db()
    assert not first.enabled
    log = ConnectionLog.objects.get(mqtt_connection=first)
    assert (log.event_type, log.actor) == (ConnectionLog.EventType.STOPPED, staff_user)
    assert not ConnectionLog.objects.filter(mqtt_connection=second).exists()  # it was already disabled

    staff_client.post(changelist, {"action": "enable_connections", "_selected_action": [first.pk, second.pk]})
    assert MqttConnection.objects.filter(enabled=True).count() == 2
    assert (
        ConnectionLog.objects.filter(event_type=ConnectionLog.EventType.STARTED, actor=staff_user).count()
        == 2
    )


def test_readings_and_logs_are_read_only_in_the_admin(staff_client: Client, make_connection) -> None:
    connection = make_connection()
    sensor = SensorDevice.objects.create(site=connection.site, device_name="MNA00542")
    reading = SensorData.objects.create(
        sensor_device=sensor, slot=0, timestamp="2026-11-28T10:00:00Z", raw_data={}
    )
    log = ConnectionLog.objects.create(mqtt_connection=connection, event_type="connected")

    for model in (
        "sensordata",
        "connectionlog",
        "sensorstatuschange",
        "systeminfo",
        "rejectedmessage",
        "workerheartbeat",
    ):
        assert staff_client.get(reverse(f"admin:mqtt_{model}_add")).status_code == 403
        assert staff_client.get(reverse(f"admin:mqtt_{model}_changelist")).status_code == 200
    response = staff_client.post(
        reverse("admin:mqtt_sensordata_change", args=[reading.pk]), {"acc_x": "1.0", "slot": "0"}
    )
    assert response.status_code == 403
    response = staff_client.post(reverse("admin:mqtt_connectionlog_delete", args=[log.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert ConnectionLog.objects.filter(pk=log.pk).exists()


def test_sensors_filter_by_site_and_online_state(staff_client: Client, make_site) -> None:
    north, south = make_site(), make_site()
    SensorDevice.objects.create(site=north, device_name="NORTH-ON", status="online")
    SensorDevice.objects.create(site=north, device_name="NORTH-OFF", status="offline")
    SensorDevice.objects.create(site=south, device_name="SOUTH-ON", status="online")
    url = reverse("admin:mqtt_sensordevice_changelist")

    page = staff_client.get(url, {"site__id__exact": north.pk, "status__exact": "online"}).content.decode()
    assert "NORTH-ON" in page
    assert "NORTH-OFF" not in page
    assert "SOUTH-ON" not in page


def test_non_staff_user_cannot_reach_the_admin(client: Client) -> None:
    user = User.objects.create_user("viewer", password="viewer-pass")
    client.force_login(user)
    response = client.get(reverse("admin:mqtt_mqttconnection_changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_client_id_help_text_shows_as_text_in_the_connection_form(
    staff_client: Client, make_connection
) -> None:
    connection = make_connection()

    page = staff_client.get(
        reverse("admin:mqtt_mqttconnection_change", args=[connection.pk])
    ).content.decode()

    # The admin renders help texts as HTML: the former "'<prefix>_<site id>'" showed as "''_".
    assert "joined by underscores (e.g. dlmon_3f9a1c2b_42)" in page


def test_no_help_text_holds_angle_brackets_that_html_would_swallow() -> None:
    help_texts = [
        (f"{model.__name__}.{field.name}", str(field.help_text))
        for app in ("mqtt", "sites")
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        if isinstance(field, Field) and field.help_text
    ]
    help_texts += [
        (f"MqttConnectionForm.{name}", str(field.help_text))
        for name, field in MqttConnectionForm.base_fields.items()
    ]

    assert help_texts
    assert [(name, text) for name, text in help_texts if "<" in text or ">" in text] == []


# 10:00:05 UTC, 11:00:05 in Rome: the admin shows the current time zone, to the second.
HEARTBEAT_AT = dt.datetime(2026, 11, 28, 10, 0, 5, tzinfo=dt.UTC)


@pytest.fixture
def rome(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Rome"


@pytest.mark.usefixtures("rome")
def test_admin_lists_and_read_only_fields_show_times_to_the_second(
    staff_client: Client, make_connection
) -> None:
    connection = make_connection()
    MqttConnection.objects.filter(pk=connection.pk).update(
        last_heartbeat_at=HEARTBEAT_AT, status_changed_at=HEARTBEAT_AT + dt.timedelta(seconds=1)
    )
    sensor = SensorDevice.objects.create(site=connection.site, device_name="MNA00542")
    SensorDevice.objects.filter(pk=sensor.pk).update(last_seen_at=HEARTBEAT_AT + dt.timedelta(seconds=2))
    log = ConnectionLog.objects.create(
        mqtt_connection=connection, event_type="connected", timestamp=HEARTBEAT_AT + dt.timedelta(seconds=3)
    )

    def page(name: str, *args: int) -> str:
        response = staff_client.get(reverse(f"admin:mqtt_{name}", args=args))
        assert response.status_code == 200
        return response.content.decode()

    assert "2026-11-28 11:00:05" in page("mqttconnection_changelist")
    connection_form = page("mqttconnection_change", connection.pk)
    assert "2026-11-28 11:00:05" in connection_form  # last heartbeat
    assert "2026-11-28 11:00:06" in connection_form  # status changed
    assert "2026-11-28 11:00:07" in page("sensordevice_changelist")
    assert "2026-11-28 11:00:07" in page("sensordevice_change", sensor.pk)
    assert "2026-11-28 11:00:08" in page("connectionlog_changelist")
    assert "2026-11-28 11:00:08" in page("connectionlog_change", log.pk)  # the read-only view page
    # Column headers and field labels stay the fields' own.
    assert "Last heartbeat at" in connection_form
    assert "Status changed at" in connection_form


def test_time_columns_still_sort_by_their_field(staff_client: Client, make_connection) -> None:
    early, late = make_connection(), make_connection()
    MqttConnection.objects.filter(pk=early.pk).update(last_heartbeat_at=HEARTBEAT_AT)
    MqttConnection.objects.filter(pk=late.pk).update(last_heartbeat_at=HEARTBEAT_AT + dt.timedelta(hours=1))
    changelist = reverse("admin:mqtt_mqttconnection_changelist")
    column = 1 + MqttConnectionAdmin.list_display.index("precise_last_heartbeat_at")

    for order, expected in ((f"{column}", [early, late]), (f"-{column}", [late, early])):
        response = staff_client.get(changelist, {"o": order})
        assert list(response.context["cl"].result_list) == expected


@pytest.mark.parametrize(
    ("enabled_before", "enabled_field", "event"), [(True, None, "stopped"), (False, "on", "started")]
)
def test_toggling_enabled_in_the_form_logs_who_and_nudges_the_worker(
    staff_client: Client,
    staff_user: User,
    make_connection,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
    enabled_before: bool,
    enabled_field: str | None,
    event: str,
) -> None:
    nudges: list[str] = []

    async def fake_nudge() -> None:
        nudges.append("nudge")

    monkeypatch.setattr("apps.mqtt.services.control.nudge_worker", fake_nudge)
    connection = make_connection(enabled=enabled_before, broker_host="broker.example.com")
    url = reverse("admin:mqtt_mqttconnection_change", args=[connection.pk])
    form = _connection_form(connection.site, enabled=enabled_field, new_password="")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {**form, **_topic_formset([])})

    assert response.status_code == 302, response.context["adminform"].form.errors
    connection.refresh_from_db()
    assert connection.enabled is (not enabled_before)
    log = ConnectionLog.objects.filter(mqtt_connection=connection).latest("timestamp")
    assert (log.event_type, log.actor) == (event, staff_user)
    assert nudges, "the worker hears of it at once"


def test_an_edit_that_keeps_enabled_logs_no_start_or_stop_but_still_nudges(
    staff_client: Client, make_connection, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    nudges: list[str] = []

    async def fake_nudge() -> None:
        nudges.append("nudge")

    monkeypatch.setattr("apps.mqtt.services.control.nudge_worker", fake_nudge)
    connection = make_connection(enabled=True)
    url = reverse("admin:mqtt_mqttconnection_change", args=[connection.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url, {**_connection_form(connection.site, new_password=""), **_topic_formset([])}
        )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not ConnectionLog.objects.filter(mqtt_connection=connection).exists()
    assert nudges == ["nudge"]
