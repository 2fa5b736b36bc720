"""The MQTT supervisor: one asyncio client task per enabled connection, reconciled with the database
every few seconds and at once on a nudge. The worker's only module that talks to the MQTT library
(the simulator, a separate tool, has its own publisher).

Client tasks parse and enqueue; they never touch the database (the writer thread does). Status
changes travel as ConnectionEvents through the same queue, so they are written in order with data.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import aiomqtt
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from apps.mqtt import metrics
from apps.mqtt.crypto import SecretDecryptionError
from apps.mqtt.ingest.items import ConnectionEvent, HeartbeatItem, RejectedItem, SysInfoItem
from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.parser import (
    Heartbeat,
    MessageKind,
    Rejection,
    RejectReason,
    SysInfo,
    parse_message,
)
from apps.mqtt.services.writer import IngestSink

logger = logging.getLogger(__name__)

Status = MqttConnection.Status
Event = ConnectionLog.EventType

# CONNACK codes that mean "these credentials will not work": MQTT 3.1.1 (4, 5) and 5.0
# (0x86 bad user name or password, 0x87 not authorised, 0x8C bad authentication method).
_AUTH_REFUSED = {4, 5, 134, 135, 140}


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


def backoff_delay(failures: int, *, base: float, maximum: float, attempts: int, rng: random.Random) -> float:
    """Exponential backoff from ``base`` doubling towards ``maximum``, and the maximum itself once
    ``attempts`` failures in a row have turned the connection to error. Jitter (±20 %, never above
    the maximum) keeps many sites cut off together from reconnecting in lock step."""
    delay = maximum if failures >= attempts else min(maximum, base * 2 ** max(0, failures - 1))
    return min(maximum, max(base, delay * rng.uniform(0.8, 1.2)))


class CredentialsRefused(Exception):
    """The broker refused the credentials; retrying cannot help until the configuration changes."""


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:500]


def _refused_credentials(exc: aiomqtt.MqttError) -> bool:
    if not isinstance(exc, aiomqtt.MqttCodeError):
        return False
    code = getattr(exc.rc, "value", exc.rc)
    return isinstance(code, int) and code in _AUTH_REFUSED


def _certificate_rejected(exc: BaseException) -> bool:
    text = _describe(exc)
    return (
        "CERTIFICATE_VERIFY_FAILED" in text
        or "certificate verify failed" in text
        or "hostname mismatch" in text
    )


class ClientTask:
    """One connection's life: connect, subscribe, read, reconnect with backoff."""

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        writer: IngestSink,
        clock: Callable[[], dt.datetime],
        qos: int,
        heartbeat_timeout: float,
        max_payload_bytes: int,
        rng: random.Random,
    ) -> None:
        self.config = config
        self._writer = writer
        self._clock = clock
        self._qos = qos
        self._heartbeat_timeout = dt.timedelta(seconds=heartbeat_timeout)
        self._max_payload_bytes = max_payload_bytes
        self._rng = rng
        self._tz = ZoneInfo(config.site_time_zone)
        self.status: str | None = None
        self.failures = 0
        self.credentials_refused = False
        self.stop_reason = "the worker is stopping"

    def _event(
        self,
        event_type: str | None,
        message: str,
        *,
        status: str | None = None,
        error: str | None = None,
    ) -> None:
        if status is not None and status != self.status:
            if self.status is not None:
                metrics.CONNECTIONS.labels(self.status).dec()
            metrics.CONNECTIONS.labels(status).inc()
            self.status = status
        self._writer.submit(
            ConnectionEvent(
                connection_id=self.config.connection_id,
                site_id=self.config.site_id,
                at=self._clock(),
                event_type=event_type,
                message=message,
                status=status,
                connection_errors=self.failures,
                error_message=error,
            )
        )

    async def run(self) -> None:
        config = self.config
        try:
            while True:
                if self.status not in (Status.CONNECTING, Status.ERROR):
                    self._event(Event.CONNECTING, f"Connecting to {config.broker}", status=Status.CONNECTING)
                try:
                    await self._session()
                except aiomqtt.MqttError as exc:
                    self._failed(exc)
                except (ssl.SSLError, OSError, ValueError) as exc:  # a bad CA file or PEM, for one
                    self._failed(exc)
                if self.credentials_refused:
                    return
                delay = backoff_delay(
                    self.failures,
                    base=config.retry_delay,
                    maximum=config.max_retry_delay,
                    attempts=config.retry_attempts,
                    rng=self._rng,
                )
                logger.info("%s: retrying in %.1f s", config.site_code, delay)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if self.status == Status.CONNECTED:
                self._event(
                    Event.DISCONNECTED, f"Disconnected: {self.stop_reason}", status=Status.DISCONNECTED
                )
            raise
        finally:
            if self.status is not None:
                metrics.CONNECTIONS.labels(self.status).dec()

    async def _session(self) -> None:
        config = self.config
        tls_context = build_tls_context(config.tls) if config.tls else None
        client = aiomqtt.Client(
            config.host,
            config.port,
            identifier=config.client_id,
            username=config.username or None,
            password=config.password or None,
            keepalive=config.keepalive,
            clean_session=True,
            timeout=10,
            tls_context=tls_context,
            tls_insecure=config.tls.insecure if config.tls else None,
        )
        try:
            await client.__aenter__()
        except asyncio.CancelledError:
            # Cancelled while connecting (disabled, edited, deleted): aiomqtt cleans up only after
            # its own errors, so close the half-open paho client or it keeps pinging the broker and
            # holds the client id.
            with contextlib.suppress(Exception):
                client._client.disconnect()  # the paho client inside: no public handle for this
            raise
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_exit(client.__aexit__)  # connected: leave as `async with` would
            for topic_filter, _kind in config.topics:
                await client.subscribe(topic_filter, qos=self._qos)
            self.failures = 0
            topics = ", ".join(topic for topic, _ in config.topics)
            self._event(
                Event.CONNECTED,
                f"Connected to {config.broker}; subscribed to {topics}",
                status=Status.CONNECTED,
                error="",
            )
            logger.info("%s: connected to %s", config.site_code, config.broker)
            async for message in client.messages:
                self._handle(message)

    def _failed(self, exc: BaseException) -> None:
        config = self.config
        self.failures += 1
        reason = _describe(exc)
        logger.warning("%s: %s (failure %d in a row)", config.site_code, reason, self.failures)
        if self.status == Status.CONNECTED:
            self._event(
                Event.DISCONNECTED, f"Connection lost: {reason}", status=Status.DISCONNECTED, error=reason
            )
        if isinstance(exc, aiomqtt.MqttError) and _refused_credentials(exc):
            self.credentials_refused = True
            self._event(
                Event.ERROR,
                f"The broker refused the credentials ({reason}); not retrying until the connection's "
                "configuration changes",
                status=Status.ERROR,
                error=reason,
            )
        elif self.status != Status.ERROR and (
            _certificate_rejected(exc) or self.failures >= config.retry_attempts
        ):
            self._event(
                Event.ERROR, f"{reason} ({self.failures} failed attempts)", status=Status.ERROR, error=reason
            )
        else:
            self._event(None, "", error=reason)  # counters only: not a status change

    def _handle(self, message: aiomqtt.Message) -> None:
        received_at = self._clock()
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        if self.config.site_code not in topic.split("/"):
            metrics.MESSAGES_RECEIVED.labels("rejected").inc()
            detail = f"the topic does not contain the site code {self.config.site_code!r} as a level"
            rejection = Rejection(reason=RejectReason.FOREIGN_TOPIC, detail=detail, sample="")
            self._writer.submit(RejectedItem(self.config.site_id, topic, received_at, rejection))
            return
        kind = MessageKind.AUTO
        for topic_filter, message_kind in self.config.topics:
            if message.topic.matches(topic_filter):
                kind = MessageKind(message_kind)
                break
        try:
            result = parse_message(
                topic,
                payload,
                kind=kind,
                received_at=received_at,
                site_tz=self._tz,
                max_bytes=self._max_payload_bytes,
            )
        except Exception as exc:  # the parser is total; a bug in it must still not stop the client
            logger.exception("%s: parser failed on %s", self.config.site_code, topic)
            result = Rejection(reason=RejectReason.NOT_JSON, detail=f"parser error: {exc}", sample="")
        config = self.config
        if isinstance(result, Heartbeat):
            metrics.MESSAGES_RECEIVED.labels("heartbeat").inc()
            self._writer.submit(
                HeartbeatItem(
                    connection_id=config.connection_id,
                    site_id=config.site_id,
                    received_at=received_at,
                    heartbeat=result,
                    topic=topic,
                    proves_alive=not message.retain or self._fresh(result, received_at),
                )
            )
        elif isinstance(result, SysInfo):
            metrics.MESSAGES_RECEIVED.labels("sys_info").inc()
            self._writer.submit(SysInfoItem(config.connection_id, config.site_id, received_at, result, topic))
        else:
            metrics.MESSAGES_RECEIVED.labels("rejected").inc()
            self._writer.submit(RejectedItem(config.site_id, topic, received_at, result))

    def _fresh(self, heartbeat: Heartbeat, received_at: dt.datetime) -> bool:
        """A retained heartbeat proves life only if its data is newer than the heartbeat timeout."""
        stamped = [reading.ts for reading in heartbeat.readings if reading.ts_from_payload]
        return bool(stamped) and received_at - max(stamped) <= self._heartbeat_timeout


class MqttSupervisor:
    """Keeps one ClientTask per enabled connection in step with the database."""

    def __init__(
        self,
        *,
        writer: IngestSink,
        clock: Callable[[], dt.datetime] = timezone.now,
        reconcile_interval: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        mqtt = settings.MQTT_SETTINGS
        self._writer = writer
        self._clock = clock
        self._reconcile_interval = reconcile_interval or float(mqtt["RECONCILE_INTERVAL"])
        self._qos = mqtt["DEFAULT_QOS"]
        self._heartbeat_timeout = float(mqtt["HEARTBEAT_TIMEOUT"])
        self._max_payload_bytes = mqtt["MAX_PAYLOAD_BYTES"]
        self._rng = rng or random.Random()
        self._clients: dict[int, tuple[ClientTask, asyncio.Task[None]]] = {}
        self._refused: dict[int, ConnectionConfig] = {}  # refused credentials, until the config changes
        self._nudged = asyncio.Event()
        self._stopping = asyncio.Event()

    def nudge(self) -> None:
        """Reconcile now (after an operator's change), instead of at the next interval."""
        self._nudged.set()

    def stop(self) -> None:
        self._stopping.set()
        self._nudged.set()

    @property
    def client_ids(self) -> set[int]:
        return set(self._clients)

    async def run(self) -> None:
        logger.info("MQTT supervisor started (reconcile every %.1f s)", self._reconcile_interval)
        try:
            while not self._stopping.is_set():
                # Cleared before reading: a nudge that comes during the read triggers another turn.
                self._nudged.clear()
                try:
                    await self.reconcile()
                except Exception:  # a database hiccup must not stop the worker; retry next turn
                    logger.exception("reconcile failed; retrying in %.0f s", self._reconcile_interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudged.wait(), self._reconcile_interval)
        finally:
            await self._stop_all()

    async def reconcile(self) -> None:
        desired = await asyncio.to_thread(load_desired_state)
        for connection_id, (client, _task) in list(self._clients.items()):
            wanted = desired.configs.get(connection_id)
            if wanted == client.config:
                continue
            if wanted is None:
                reason = "monitoring disabled"
            elif wanted.restart_requested_at != client.config.restart_requested_at:
                reason = "restart requested by an operator"
            else:
                reason = "configuration changed"
            await self._stop_client(connection_id, reason)
        for connection_id, config in desired.configs.items():
            if connection_id in self._clients:
                continue
            if self._refused.get(connection_id) == config:
                continue  # still the refused credentials: wait for an edit
            self._refused.pop(connection_id, None)
            self._start_client(config)
        for connection_id, observed in desired.disabled.items():
            self._refused.pop(connection_id, None)
            if observed.status != Status.DISABLED:
                self._submit(
                    connection_id,
                    observed.site_id,
                    Event.DISABLED,
                    "Connection disabled",
                    Status.DISABLED,
                    "",
                )
        for connection_id, (observed, reason) in desired.broken.items():
            await self._stop_client(connection_id, "its secrets cannot be read")
            if observed.status != Status.ERROR or observed.error_message != reason:
                self._submit(connection_id, observed.site_id, Event.ERROR, reason, Status.ERROR, reason)

    def _submit(
        self, connection_id: int, site_id: int, event: str, message: str, status: str, error: str
    ) -> None:
        self._writer.submit(
            ConnectionEvent(
                connection_id=connection_id,
                site_id=site_id,
                at=self._clock(),
                event_type=event,
                message=message,
                status=status,
                connection_errors=0 if status == Status.DISABLED else None,
                error_message=error,
            )
        )

    def _start_client(self, config: ConnectionConfig) -> None:
        client = ClientTask(
            config,
            writer=self._writer,
            clock=self._clock,
            qos=self._qos,
            heartbeat_timeout=self._heartbeat_timeout,
            max_payload_bytes=self._max_payload_bytes,
            rng=self._rng,
        )
        task = asyncio.create_task(client.run(), name=f"mqtt-{config.site_code}")
        task.add_done_callback(lambda done, cid=config.connection_id: self._client_ended(cid, done))
        self._clients[config.connection_id] = (client, task)

    def _client_ended(self, connection_id: int, task: asyncio.Task[None]) -> None:
        entry = self._clients.get(connection_id)
        if entry is None or entry[1] is not task:
            return
        del self._clients[connection_id]
        if task.cancelled():
            return
        client = entry[0]
        if client.credentials_refused:
            self._refused[connection_id] = client.config
        elif task.exception() is not None:
            # A bug, not a network problem: make it visible on the connection, and retry.
            reason = f"client crashed: {task.exception()!r}"[:500]
            logger.error("%s: %s; restarting at the next reconcile", client.config.site_code, reason)
            self._submit(connection_id, client.config.site_id, Event.ERROR, reason, Status.ERROR, reason)

    async def _stop_client(self, connection_id: int, reason: str) -> None:
        entry = self._clients.pop(connection_id, None)
        if entry is None:
            return
        client, task = entry
        client.stop_reason = reason
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=3)

    async def _stop_all(self) -> None:
        tasks = [task for _client, task in self._clients.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=3)
        self._clients.clear()
