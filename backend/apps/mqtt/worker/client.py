"""One connection's MQTT client (aiomqtt on paho): connect, subscribe, read, reconnect with
backoff. Each message is parsed and enqueued for the writer; status changes travel as
ConnectionEvents through the same queue, so they are written in order with the data. The event loop
never touches the database."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import ssl
import time
from collections.abc import Callable
from typing import Final
from zoneinfo import ZoneInfo

import aiomqtt

from apps.mqtt import metrics
from apps.mqtt.ingest.events import fenced
from apps.mqtt.ingest.items import ConnectionEvent, HeartbeatItem, RejectedItem, SysInfoItem, proves_alive
from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.parser import Heartbeat, MessageKind, SysInfo, foreign_topic, parse_message
from apps.mqtt.worker.backoff import (
    back_off,
    backoff_delay,
    certificate_rejected,
    describe,
    port_answers,
    refused_credentials,
)
from apps.mqtt.worker.config import ConnectionConfig, build_tls_context, client_queue_messages
from apps.mqtt.worker.writer import IngestSink, SheddingSink

logger = logging.getLogger(__name__)

Status = MqttConnection.Status
Event = ConnectionLog.EventType
LOG_EVERY: Final = 10.0


class NewestMessages(asyncio.Queue[aiomqtt.Message]):
    """A client's received messages waiting for its task, bounded (``MQTT_CLIENT_QUEUE_MESSAGES``):
    when full, the oldest goes, since a newer heartbeat supersedes it (aiomqtt itself would drop the
    newest). Unbounded, a worker over its capacity holds every message its event loop cannot parse
    yet (80 MB a minute into 1,000 connections of 100 sensors at 5 s, and growing). Drops are counted in
    ``ingest_dropped_total{reason="client_backlog"}`` and logged at most once per ``LOG_EVERY`` s."""

    dropped = 0  # since the last log line, over all clients (one event loop)
    _logged_at = -LOG_EVERY

    def put_nowait(self, item: aiomqtt.Message) -> None:
        if self.full():
            self.get_nowait()
            metrics.DROPPED.labels("client_backlog").inc()
            self._log_drop()
        super().put_nowait(item)

    @classmethod
    def _log_drop(cls) -> None:
        cls.dropped += 1
        now = time.monotonic()
        if now - cls._logged_at >= LOG_EVERY:
            logger.warning(
                "MQTT clients over their queue bound (MQTT_CLIENT_QUEUE_MESSAGES): dropped the %d oldest"
                " received messages the worker could not handle yet",
                cls.dropped,
            )
            cls._logged_at, cls.dropped = now, 0


class ClientTask:
    """One connection's life: connect, subscribe, read, reconnect with backoff (cut short when the
    broker's port answers again after an outage)."""

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
        lease: tuple[str, int] = ("", 0),
        queue_messages: int | None = None,
    ) -> None:
        self.config = config
        self._queue_messages = client_queue_messages() if queue_messages is None else queue_messages
        self.lease = lease  # the lease (key, fencing token) its events are written under
        self._writer = writer
        self._sheds = writer.sheds if isinstance(writer, SheddingSink) else None
        self._clock = clock
        self._qos = qos
        self._heartbeat_timeout = dt.timedelta(seconds=heartbeat_timeout)
        self._max_payload_bytes = max_payload_bytes
        self._rng = rng
        self._tz = ZoneInfo(config.site_time_zone)
        self.status: str | None = None
        self.failures = 0
        self.credentials_refused = False
        # When the next connection attempt is due (event-loop time) while backing off, else None.
        self.retry_at: float | None = None
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
        event = ConnectionEvent(
            connection_id=self.config.connection_id,
            site_id=self.config.site_id,
            at=self._clock(),
            event_type=event_type,
            message=message,
            status=status,
            connection_errors=self.failures,
            error_message=error,
        )
        self._writer.submit(fenced(event, *self.lease))

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
                await self._wait_to_retry()
        except asyncio.CancelledError:
            if self.status == Status.CONNECTED:
                self._event(
                    Event.DISCONNECTED, f"Disconnected: {self.stop_reason}", status=Status.DISCONNECTED
                )
            raise
        finally:
            if self.status is not None:
                metrics.CONNECTIONS.labels(self.status).dec()

    async def _wait_to_retry(self) -> None:
        """The backoff delay, cut short when the broker's port answers again after an outage (a
        probe is no attempt: no status change, no log row)."""
        config = self.config
        delay = backoff_delay(
            self.failures,
            base=config.retry_delay,
            maximum=config.max_retry_delay,
            attempts=config.retry_attempts,
            rng=self._rng,
        )
        logger.info("%s: retrying in %.1f s", config.site_code, delay)
        self.retry_at = asyncio.get_running_loop().time() + delay
        try:
            if await back_off(delay, probe=self._probe, rng=self._rng):
                logger.info("%s: %s answers again; connecting now", config.site_code, config.broker)
        finally:
            self.retry_at = None

    async def _probe(self) -> bool:
        return await port_answers(self.config.host, self.config.port)

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
            queue_type=NewestMessages,
            max_queued_incoming_messages=self._queue_messages,
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
        reason = describe(exc)
        logger.warning("%s: %s (failure %d in a row)", config.site_code, reason, self.failures)
        if self.status == Status.CONNECTED:
            self._event(
                Event.DISCONNECTED, f"Connection lost: {reason}", status=Status.DISCONNECTED, error=reason
            )
        if isinstance(exc, aiomqtt.MqttError) and refused_credentials(exc):
            self.credentials_refused = True
            self._event(
                Event.ERROR,
                f"The broker refused the credentials ({reason}); not retrying until the connection's "
                "configuration changes",
                status=Status.ERROR,
                error=reason,
            )
        elif self.status != Status.ERROR and (
            certificate_rejected(exc) or self.failures >= config.retry_attempts
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
        rejection = foreign_topic(topic, self.config.site_code)
        if rejection is not None:
            metrics.MESSAGES_RECEIVED.labels("rejected").inc()
            self._writer.submit(RejectedItem(self.config.site_id, topic, received_at, rejection))
            return
        kind = MessageKind.AUTO
        for topic_filter, message_kind in self.config.topics:
            if message.topic.matches(topic_filter):
                kind = MessageKind(message_kind)
                break
        if kind != MessageKind.SYS_INFO and self._sheds is not None and self._sheds(self.config.site_id):
            # The site floods the queue: drop its payload before the parse, which would cost the
            # event loop (every site's messages) 0.04-0.1 s for 5,000 sensors. Counted by the writer.
            metrics.MESSAGES_RECEIVED.labels("shed").inc()
            return
        # Total: a bug inside it comes back as an internal_error rejection, never as an exception.
        result = parse_message(
            topic,
            payload,
            kind=kind,
            received_at=received_at,
            site_tz=self._tz,
            max_bytes=self._max_payload_bytes,
        )
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
                    size=len(payload),
                    proves_alive=proves_alive(
                        result,
                        retained=message.retain,
                        received_at=received_at,
                        timeout=self._heartbeat_timeout,
                    ),
                )
            )
        elif isinstance(result, SysInfo):
            metrics.MESSAGES_RECEIVED.labels("sys_info").inc()
            self._writer.submit(SysInfoItem(config.connection_id, config.site_id, received_at, result, topic))
        else:
            metrics.MESSAGES_RECEIVED.labels("rejected").inc()
            self._writer.submit(RejectedItem(config.site_id, topic, received_at, result))
