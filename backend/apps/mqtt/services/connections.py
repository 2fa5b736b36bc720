"""Writes of a connection's configuration. The admin, the API and the demo's seed data all save
through here, so a change of ``enabled`` is always an operator's start or stop (a log row naming
who, ``control.py``), and the worker always hears of a change at once (a nudge after the commit)
instead of at its next reconcile."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from apps.mqtt.models import DEFAULT_TOPICS, MqttConnection, MqttTopic
from apps.mqtt.services.control import Action, Actor, control_connection, nudge_worker_after_commit

# What an operator configures: everything but the desired state (a start or stop of its own), the
# worker's observations and the bookkeeping.
_NOT_CONFIGURATION = {"id", "enabled", "restart_requested_at", "created_at", *MqttConnection.OBSERVED_FIELDS}


def _configuration_fields() -> list[str]:
    return [
        field.name for field in MqttConnection._meta.concrete_fields if field.name not in _NOT_CONFIGURATION
    ]


def save_connection(
    *,
    connection: MqttConnection,
    enabled: bool | None = None,
    fields: Iterable[str] | None = None,
    actor: Actor = None,
) -> MqttConnection:
    """Save a new connection whole, or an existing one's configuration: ``fields`` only when given
    (so an operator's concurrent start, stop or restart is not overwritten), else all of it.
    ``enabled`` different from the stored value is a start or a stop by ``actor``."""
    with transaction.atomic():
        if connection._state.adding:
            if enabled is not None:
                connection.enabled = enabled
            connection.save()
        else:
            stored = MqttConnection.objects.filter(pk=connection.pk).values_list("enabled", flat=True).get()
            connection.enabled = stored  # the start or stop below changes it, logged
            names = _configuration_fields() if fields is None else [*fields]
            if names:
                connection.save(update_fields=[*names, "updated_at"])
            if enabled is not None and enabled != stored:
                action = Action.START if enabled else Action.STOP
                control_connection(connection=connection, action=action, actor=actor)
        nudge_worker_after_commit()
    return connection


def set_topics(*, connection: MqttConnection, topics: list[dict[str, str]] | None = None) -> None:
    """A given list replaces the subscriptions; a connection left without any gets the seed's
    heartbeat and sys_info topics. (Called beside ``save_connection``, whose nudge covers it.)"""
    with transaction.atomic():
        if topics is not None:
            MqttTopic.objects.filter(connection=connection).delete()
            MqttTopic.objects.bulk_create([MqttTopic(connection=connection, **topic) for topic in topics])
            # Topics prefetched with the connection are stale now (DRF's own idiom to drop them).
            connection._prefetched_objects_cache = {}  # type: ignore[attr-defined]
        if not connection.topics.exists():
            MqttTopic.objects.bulk_create(
                [
                    MqttTopic(connection=connection, pattern=pattern, message_type=message_type)
                    for pattern, message_type in DEFAULT_TOPICS
                ]
            )


def delete_connection(*, connection: MqttConnection) -> None:
    with transaction.atomic():
        connection.delete()
        nudge_worker_after_commit()
