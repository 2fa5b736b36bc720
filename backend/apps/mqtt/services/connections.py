"""Writes on connections made by operators (admin, seed data); the worker has its own writers."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.mqtt.models import DEFAULT_TOPICS, ConnectionLog, MqttConnection, MqttTopic


def ensure_default_topics(*, connection: MqttConnection) -> None:
    """Give a connection without subscriptions the seed's heartbeat and sys_info topics."""
    if connection.topics.exists():
        return
    MqttTopic.objects.bulk_create(
        [
            MqttTopic(connection=connection, pattern=pattern, message_type=message_type)
            for pattern, message_type in DEFAULT_TOPICS
        ]
    )


@transaction.atomic
def set_connections_enabled(
    *, connections: Iterable[MqttConnection], enabled: bool, actor: AbstractBaseUser | None
) -> int:
    """Set the desired state and log who did it; returns how many connections changed."""
    changed = [connection for connection in connections if connection.enabled != enabled]
    if not changed:
        return 0
    MqttConnection.objects.filter(pk__in=[c.pk for c in changed]).update(enabled=enabled)
    event = ConnectionLog.EventType.STARTED if enabled else ConnectionLog.EventType.STOPPED
    who = actor.get_username() if actor is not None else "system"
    ConnectionLog.objects.bulk_create(
        [
            ConnectionLog(
                mqtt_connection=connection,
                event_type=event,
                actor=actor,
                message=f"{'Enabled' if enabled else 'Disabled'} by {who}",
            )
            for connection in changed
        ]
    )
    return len(changed)
