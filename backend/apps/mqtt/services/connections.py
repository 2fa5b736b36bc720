"""Set-up writes on connections (admin, seed data); operators' actions are in control.py."""

from __future__ import annotations

from apps.mqtt.models import DEFAULT_TOPICS, MqttConnection, MqttTopic


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
