"""One evaluator per install: the worker that holds the evaluator's row (a lease renewed every tick)
evaluates and sends; the others wait for it to expire. One conditional UPDATE, atomic on PostgreSQL
and SQLite alike."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max, Q

from apps.alerts.models import EvaluatorState
from apps.mqtt.models import ConnectionLog, SensorStatusChange


def claim_evaluator(*, worker_id: str, now: dt.datetime, seconds: float) -> bool:
    """True when this worker holds the evaluator's lease until ``now + seconds``."""
    _ensure_state()
    claimed = (
        EvaluatorState.objects.filter(pk=EvaluatorState.SINGLETON)
        .filter(Q(holder=worker_id) | Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now))
        .update(holder=worker_id, expires_at=now + dt.timedelta(seconds=seconds))
    )
    return claimed == 1


def release_evaluator(*, worker_id: str) -> None:
    EvaluatorState.objects.filter(pk=EvaluatorState.SINGLETON, holder=worker_id).update(
        holder="", expires_at=None
    )


def _ensure_state() -> None:
    """A fresh install starts reading at the newest rows: years of history are not news."""
    if EvaluatorState.objects.filter(pk=EvaluatorState.SINGLETON).exists():
        return
    EvaluatorState.objects.get_or_create(
        pk=EvaluatorState.SINGLETON,
        defaults={
            "log_cursor": ConnectionLog.objects.aggregate(top=Max("id"))["top"] or 0,
            "change_cursor": SensorStatusChange.objects.aggregate(top=Max("id"))["top"] or 0,
        },
    )
