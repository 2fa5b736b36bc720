"""Operators' start / stop / restart of a connection: the desired state goes to the database (so it
survives any restart), one log row records who did it (in its actor, never in its message: customers
read the messages, and must not learn staff names), and the worker is nudged over the channel layer
after the commit so it acts at once instead of at its next reconcile."""

from __future__ import annotations

import re
from enum import StrEnum

from asgiref.sync import async_to_sync
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.realtime.broadcast import nudge_worker

Actor = AbstractBaseUser | AnonymousUser | None


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"


_EVENTS = {
    Action.START: ConnectionLog.EventType.STARTED,
    Action.STOP: ConnectionLog.EventType.STOPPED,
    Action.RESTART: ConnectionLog.EventType.RESTARTED,
}


# Rows written before the name left the message read "Start requested by alice".
_NAMED_REQUEST = re.compile(r"^(Start|Stop|Restart) requested by (?!the system$).*$", re.S)


def message_without_names(message: str) -> str:
    """A log message as anyone may read it: an operator action's message without the user's name."""
    return _NAMED_REQUEST.sub(r"\1 requested by an operator", message)


def _nudge() -> None:
    async_to_sync(nudge_worker)()


def nudge_worker_after_commit() -> None:
    """Tell the MQTT worker to re-read the connections once the current transaction commits.
    Robust: with the channel layer away the change still stands (the worker reconciles from the
    database within MQTT_RECONCILE_INTERVAL); the failure is logged, not raised after the commit."""
    transaction.on_commit(_nudge, robust=True)


def control_connection(*, connection: MqttConnection, action: Action, actor: Actor) -> None:
    """Apply an operator's action. Restart also enables a stopped connection."""
    now = timezone.now()
    fields: dict[str, object] = {"enabled": action != Action.STOP}
    if action == Action.RESTART:
        fields["restart_requested_at"] = now
    user = actor if isinstance(actor, User) and actor.is_authenticated else None
    who = "an operator" if user is not None else "the system"
    with transaction.atomic():
        MqttConnection.objects.filter(pk=connection.pk).update(**fields)
        for name, value in fields.items():
            setattr(connection, name, value)
        ConnectionLog.objects.create(
            mqtt_connection=connection,
            event_type=_EVENTS[action],
            actor=user,
            message=f"{action.capitalize()} requested by {who}",
            timestamp=now,
        )
        nudge_worker_after_commit()
