"""The evaluator's writes that skip Django's per-row machinery, each one statement (or one per batch).
The board's conditions at the end of a tick: new and cleared ones by plain multi-row statements
(Django's bulk_create prepares every value of every row through its field, much of a busy tick's
CPU, and the new rows' ids are not needed: the next tick loads the conditions again). Alerts
resolved by one UPDATE ... RETURNING (PostgreSQL; SQLite from 3.35) instead of a read and a write."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection

from apps.alerts.board import Board
from apps.alerts.models import Alert, Condition


@dataclass(frozen=True, slots=True)
class Resolved:
    id: int
    site_id: int
    kind: str
    in_maintenance: bool


_FIELDS = ("site", "sensor", "kind", "since", "last_change_at", "reason", "alert")


def save_board(board: Board) -> None:
    touched = [
        board.conditions[key]
        for key in board.touched
        if key in board.conditions and board.conditions[key].pk is not None  # saved before this tick
    ]
    if board.cleared:
        _delete([condition.pk for condition in board.cleared])
    if board.added:
        _insert(list(board.added.values()))
    if touched:
        Condition.objects.bulk_update(touched, ["since", "last_change_at", "reason", "alert"])


def _delete(ids: list[int]) -> None:
    table = connection.ops.quote_name(Condition._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)


def _insert(conditions: list[Condition]) -> None:
    ops = connection.ops
    by_name = {field.name: field for field in Condition._meta.concrete_fields}
    fields = [by_name[name] for name in _FIELDS]
    table = ops.quote_name(Condition._meta.db_table)
    columns = ", ".join(ops.quote_name(cast(str, field.column)) for field in fields)
    row = f"({', '.join(['%s'] * len(fields))})"
    size = ops.bulk_batch_size(fields, conditions)  # the batches bulk_create would make (SQLite's limit)
    with connection.cursor() as cursor:
        for start in range(0, len(conditions), size):
            batch = conditions[start : start + size]
            params: list[Any] = []
            for condition in batch:
                params += [
                    condition.site_id,
                    condition.sensor_id,
                    str(condition.kind),
                    ops.adapt_datetimefield_value(condition.since),
                    ops.adapt_datetimefield_value(condition.last_change_at),
                    condition.reason,
                    condition.alert_id,
                ]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(batch))}", params)


def resolve_alerts(ids: list[int], *, at: dt.datetime) -> list[Resolved]:
    """Resolve these alerts (those not resolved already) at ``at``."""
    ops = connection.ops
    table = ops.quote_name(Alert._meta.db_table)
    resolved = Alert.State.RESOLVED.value
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, resolved_at = %s WHERE id IN ({', '.join(['%s'] * len(ids))})"
            " AND state <> %s RETURNING id, site_id, kind, in_maintenance",
            [resolved, ops.adapt_datetimefield_value(at), *ids, resolved],
        )
        return [Resolved(id_, site, kind, bool(flag)) for id_, site, kind, flag in cursor.fetchall()]
