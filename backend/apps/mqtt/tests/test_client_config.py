"""Pure parts of the supervisor: backoff, refusal codes, TLS contexts, configuration equality."""

from __future__ import annotations

import random
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from apps.mqtt.services.connections import set_topics
from apps.mqtt.worker.backoff import backoff_delay, refused_credentials
from apps.mqtt.worker.config import TlsConfig, build_tls_context, load_desired_state
from conftest import make_tls_material


def test_backoff_doubles_from_the_first_delay_and_stays_at_the_maximum_after_the_attempts() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, base=5, maximum=300, attempts=5, rng=rng) for n in range(1, 9)]
    for failures, delay in enumerate(delays[:4], start=1):
        nominal = 5 * 2 ** (failures - 1)
        assert 0.8 * nominal <= delay <= 1.2 * nominal
    assert all(0.8 * 300 <= delay <= 300 for delay in delays[4:])  # error: retries at the maximum


def test_backoff_never_goes_below_the_first_delay_nor_above_the_maximum() -> None:
    rng = random.Random(1)
    for failures in range(0, 40):
        assert 5 <= backoff_delay(failures, base=5, maximum=60, attempts=100, rng=rng) <= 60


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        (ReasonCode(PacketTypes.CONNACK, "Bad user name or password"), True),
        (ReasonCode(PacketTypes.CONNACK, "Not authorized"), True),
        (ReasonCode(PacketTypes.CONNACK, "Server unavailable"), False),
        (4, True),
        (5, True),
        (3, False),
    ],
)
def test_only_credential_refusals_stop_the_retries(code: int | ReasonCode, refused: bool) -> None:
    assert refused_credentials(aiomqtt.MqttCodeError(code)) is refused
    assert not refused_credentials(aiomqtt.MqttError("timed out"))


def test_tls_context_verifies_the_broker_unless_explicitly_told_not_to() -> None:
    ca = make_tls_material("ca").certificate_pem
    verified = build_tls_context(TlsConfig(ca, "", "", "", insecure=False))
    assert verified.verify_mode == ssl.CERT_REQUIRED
    assert verified.check_hostname
    insecure = build_tls_context(TlsConfig(ca, "", "", "", insecure=True))
    assert insecure.verify_mode == ssl.CERT_NONE
    assert not insecure.check_hostname


def test_tls_context_presents_the_client_certificate_in_a_handshake(tmp_path: Path) -> None:
    client = make_tls_material("datalogger-client")
    server = make_tls_material("broker")
    (tmp_path / "server.pem").write_text(server.certificate_pem)
    (tmp_path / "server.key").write_text(server.key_pem)
    broker = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    broker.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    broker.verify_mode = ssl.CERT_REQUIRED  # a broker that asks for the client's certificate
    broker.load_verify_locations(cadata=client.certificate_pem)
    context = build_tls_context(TlsConfig("", "", client.certificate_pem, client.key_pem, insecure=True))

    ours, theirs = socket.socketpair()
    with ours, theirs:
        seen: list[Any] = []

        def serve() -> None:
            with broker.wrap_socket(theirs, server_side=True) as tls:
                seen.append(tls.getpeercert())

        thread = threading.Thread(target=serve)
        thread.start()
        with context.wrap_socket(ours, server_hostname="broker"):
            thread.join(timeout=10)

    [peer] = seen
    assert peer is not None
    assert peer["subject"] == ((("commonName", "datalogger-client"),),)


def test_missing_ca_file_is_a_readable_error() -> None:
    with pytest.raises(FileNotFoundError):
        build_tls_context(TlsConfig("", "/nonexistent/ca.pem", "", "", insecure=False))


@pytest.mark.django_db(transaction=True)  # the loader closes stale connections, as in its thread
def test_desired_state_changes_when_anything_that_needs_a_reconnect_changes(make_connection) -> None:
    conn = make_connection()
    set_topics(connection=conn)
    before = load_desired_state().configs[conn.pk]
    assert load_desired_state().configs[conn.pk] == before
    assert before.topics == (
        (f"{conn.site.code}/datalogger_o/heartbeat", "heartbeat"),
        (f"{conn.site.code}/sys_info", "sys_info"),
    )
    conn.set_password("new")
    conn.save()
    assert load_desired_state().configs[conn.pk] != before


@pytest.mark.django_db(transaction=True)  # the loader closes stale connections, as in its thread
def test_disabled_connections_and_inactive_sites_are_not_started(make_connection) -> None:
    disabled = make_connection(enabled=False)
    inactive = make_connection()
    inactive.site.is_active = False
    inactive.site.save()
    state = load_desired_state()
    assert set(state.disabled) == {disabled.pk, inactive.pk}
    assert not state.configs
