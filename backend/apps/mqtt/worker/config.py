"""What a client needs, read from the database: the connections' configurations (equality tells
whether a client must restart), the disabled and the broken ones; and the TLS context of a
configuration (broker verified unless explicitly skipped)."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import tempfile
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection

from apps.mqtt.crypto import SecretDecryptionError
from apps.mqtt.models import MqttConnection


@dataclass(frozen=True, slots=True)
class TlsConfig:
    ca_pem: str
    ca_path: str
    client_certificate_pem: str
    client_key_pem: str = field(repr=False)
    insecure: bool


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Everything a client task needs; equality tells whether a reconnect is needed."""

    connection_id: int
    site_id: int
    site_code: str
    site_time_zone: str
    host: str
    port: int
    client_id: str
    username: str
    password: str = field(repr=False)  # never in a traceback or a log line
    keepalive: int
    retry_attempts: int
    retry_delay: int
    max_retry_delay: int
    tls: TlsConfig | None
    topics: tuple[tuple[str, str], ...]  # (resolved filter, message kind)
    restart_requested_at: dt.datetime | None = None  # an operator's restart changes the config

    @property
    def broker(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Observed:
    site_id: int
    status: str
    error_message: str


@dataclass(frozen=True, slots=True)
class DesiredState:
    configs: dict[int, ConnectionConfig]
    disabled: dict[int, Observed]
    broken: dict[int, tuple[Observed, str]]  # with why it cannot start


def client_queue_messages() -> int:
    """How many received messages each client holds for its task (``MQTT_CLIENT_QUEUE_MESSAGES``)."""
    return int(settings.MQTT_SETTINGS["CLIENT_QUEUE_MESSAGES"])


def load_desired_state() -> DesiredState:
    """Read the connections from the database (runs in a thread, never on the event loop)."""
    close_old_connections()
    configs: dict[int, ConnectionConfig] = {}
    disabled: dict[int, Observed] = {}
    broken: dict[int, tuple[Observed, str]] = {}
    connections = MqttConnection.objects.select_related("site").prefetch_related("topics")
    for conn in connections:
        observed = Observed(conn.site_id, conn.status, conn.error_message)
        if not conn.enabled or not conn.site.is_active:
            disabled[conn.pk] = observed
            continue
        try:
            password, client_key = conn.get_password(), conn.get_client_key()
        except SecretDecryptionError as exc:
            broken[conn.pk] = (observed, str(exc))
            continue
        tls = (
            TlsConfig(
                ca_pem=conn.ca_certificate,
                ca_path=conn.ca_cert_path,
                client_certificate_pem=conn.client_certificate,
                client_key_pem=client_key,
                insecure=conn.tls_insecure,
            )
            if conn.ssl_enabled
            else None
        )
        configs[conn.pk] = ConnectionConfig(
            connection_id=conn.pk,
            site_id=conn.site_id,
            site_code=conn.site.code,
            site_time_zone=conn.site.time_zone,
            host=conn.broker_host,
            port=conn.broker_port,
            client_id=conn.client_id,
            username=conn.username,
            password=password,
            keepalive=conn.keep_alive_interval,
            retry_attempts=conn.retry_attempts,
            retry_delay=conn.retry_delay,
            max_retry_delay=conn.max_retry_delay,
            tls=tls,
            restart_requested_at=conn.restart_requested_at,
            topics=tuple(
                sorted((topic.resolve(conn.site.code), topic.message_type) for topic in conn.topics.all())
            ),
        )
    # The thread pool may hand this thread to anyone next: leave no connection open in it.
    connection.close()
    return DesiredState(configs, disabled, broken)


def build_tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """An SSL context that verifies the broker (certificate and host name) unless explicitly told
    not to. The client key is decrypted only into a private temporary file for as long as
    ``load_cert_chain`` needs it."""
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH,
        cafile=tls.ca_path or None,
        cadata=tls.ca_pem or None,
    )
    if tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_certificate_pem and tls.client_key_pem:
        with tempfile.TemporaryDirectory(prefix="mqtt-tls-") as folder:
            cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            for path, text in ((cert_path, tls.client_certificate_pem), (key_path, tls.client_key_pem)):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(text)
            context.load_cert_chain(cert_path, key_path)
    return context
