"""The alert evaluator: each tick reads the state change rows written since its cursor (connection
logs and sensor status changes, by id), updates the conditions it is timing, opens the alerts whose
delay has passed and is not suppressed by a broader one, and resolves the alerts whose condition
cleared; notifications are rows, sent by dispatch.py. A fixed number of queries per tick, whatever
the number of sites and sensors.

Suppression: while a site's connection is down its heartbeat and sensors raise nothing; while its
heartbeat is missing its sensors raise nothing: the site's one alert names them. An alert opened
during a maintenance window is recorded (``in_maintenance``) and not notified."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch

from apps.alerts import messages
from apps.alerts.board import SITE_FLAP_EVENTS, SITE_REASONS, Board, ChangeRow, LogRow
from apps.alerts.flapping import detect_flapping, settle_flapping
from apps.alerts.models import (
    SENSOR_KINDS,
    SITE_KINDS,
    Alert,
    AlertRule,
    Condition,
    EvaluatorState,
    Kind,
    Notification,
    NotificationChannel,
    Severity,
)
from apps.alerts.reads import read_tick
from apps.alerts.store import resolve_alerts, save_board
from apps.mqtt.models import SensorDevice
from apps.sites.models import MaintenanceWindow, Site

BATCH = 20_000  # rows of each kind read per tick at most; the rest waits for the next tick


@dataclass(slots=True)
class TickResult:
    rows: int = 0
    opened: list[Alert] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)  # the alerts' ids


# Rules changed by writes that send no signal (a QuerySet.update, raw SQL) are seen after this long.
RULES_MAX_AGE = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class _LoadedRules:
    version: str
    loaded_at: float  # time.monotonic()
    rules: list[AlertRule]


_loaded: _LoadedRules | None = None  # kept between ticks: the evaluator's own thread replaces it


def _enabled_rules(version: str) -> list[AlertRule]:
    """The enabled rules with their enabled channels: two queries when the rules' version changed
    (or they are older than RULES_MAX_AGE), none otherwise."""
    global _loaded
    loaded = _loaded
    if loaded is None or loaded.version != version or time.monotonic() - loaded.loaded_at > RULES_MAX_AGE:
        channels = Prefetch("channels", queryset=NotificationChannel.objects.filter(enabled=True))
        rules = list(AlertRule.objects.filter(enabled=True).prefetch_related(channels))
        loaded = _loaded = _LoadedRules(version, time.monotonic(), rules)
    return loaded.rules


class Rules:
    """The enabled rules with their enabled channels, and which apply to which site."""

    def __init__(self, rules: list[AlertRule], site_ids: set[int]) -> None:
        self.rules = rules
        # Site → its customer, for the rules' scopes (only when a rule is scoped to a customer).
        scoped = any(rule.customer_id for rule in self.rules)
        rows = (
            Site.objects.filter(pk__in=site_ids).values_list("id", "customer_id")
            if scoped and site_ids
            else []
        )
        self.customers: dict[int, int | None] = dict(rows)

    def for_site(self, kind: str, site_id: int) -> list[AlertRule]:
        customer_id = self.customers.get(site_id)
        return [
            rule
            for rule in self.rules
            if rule.kind == kind and rule.applies_to(site_id=site_id, customer_id=customer_id)
        ]

    def fewest_flap_changes(self) -> int:
        return min((rule.flap_changes for rule in self.rules if rule.kind == Kind.FLAPPING), default=0)

    def flap_window(self) -> int:
        return max((rule.flap_minutes for rule in self.rules if rule.kind == Kind.FLAPPING), default=0)


def evaluate(*, now: dt.datetime, heartbeat_grace: dt.timedelta = dt.timedelta(seconds=30)) -> TickResult:
    result = TickResult()
    with transaction.atomic():
        state, _ = EvaluatorState.objects.select_for_update().get_or_create(pk=EvaluatorState.SINGLETON)
        enabled = _enabled_rules(state.rules_version)
        window = max((rule.flap_minutes for rule in enabled if rule.kind == Kind.FLAPPING), default=0)
        read = read_tick(
            log_cursor=state.log_cursor,
            change_cursor=state.change_cursor,
            limit=BATCH,
            recent_since=now - dt.timedelta(minutes=window),
        )
        logs, changes = read.logs, read.changes
        result.rows = len(logs) + len(changes)
        board = Board.of(read.conditions, heartbeat_grace=heartbeat_grace)
        if not result.rows and not board.conditions:
            return result  # nothing new and nothing down: the usual tick, three statements
        rows: list[LogRow | ChangeRow] = [*logs, *changes]
        rows.sort(key=lambda row: (row.timestamp, isinstance(row, ChangeRow)))  # a site's log first
        for row in rows:
            board.apply_log(row) if isinstance(row, LogRow) else board.apply_change(row)
        rules = Rules(
            enabled,
            {key[0] for key in board.conditions} | {row.site_id for row in rows},
        )
        due = _due(board, rules, now=now)  # the site alerts due now: flapping does not change them
        opening_sites = {condition.site_id for condition, _ in due if condition.kind in SITE_KINDS}
        down = _down_sensors(board, set(board.recovered) | opening_sites)
        if board.recovered:
            _still_down_after_recovery(board, down)
        if rules.flap_window():
            _detect_flapping(board, rules, logs=logs, changes=changes, now=now)
        settle_flapping(board, now=now, window_minutes=rules.flap_window())
        result.opened, opening = _open_due(board, rules, down, now=now)
        result.resolved, recovering = _resolve_cleared(board, rules, now=now)
        if opening or recovering:
            Notification.objects.bulk_create([*opening, *recovering])  # one INSERT for both
        save_board(board)
        if logs or changes:
            EvaluatorState.objects.filter(pk=state.pk).update(
                log_cursor=logs[-1].id if logs else state.log_cursor,
                change_cursor=changes[-1].id if changes else state.change_cursor,
            )
    return result


def _detect_flapping(
    board: Board, rules: Rules, *, logs: list[LogRow], changes: list[ChangeRow], now: dt.datetime
) -> None:
    sites: dict[int, tuple[dt.datetime | None, int]] = {}
    for log in logs:
        latest, recent = sites.get(log.site_id, (None, 0))
        if log.event_type in SITE_FLAP_EVENTS and (latest is None or log.timestamp > latest):
            latest = log.timestamp
        sites[log.site_id] = (latest, max(recent, log.recent))
    detect_flapping(
        board,
        now=now,
        rules_for=rules.for_site,
        window_minutes=rules.flap_window(),
        min_changes=rules.fewest_flap_changes(),
        sensors={
            row.sensor_id: (row.site_id, row.timestamp, row.recent)
            for row in changes  # in id order: the latest change of each sensor wins
            if row.reason not in SITE_REASONS and row.site_id not in sites
        },
        sites=sites,
    )


def _suppressed(board: Board, condition: Condition) -> bool:
    site = condition.site_id
    if condition.kind == Kind.HEARTBEAT_MISSING:
        return board.get(site, Kind.CONNECTION_DOWN) is not None
    if condition.kind in SENSOR_KINDS:
        return board.site_is_down(site)
    if condition.kind == Kind.FLAPPING and condition.sensor_id is not None:
        return board.site_is_down(site) or board.get(site, Kind.FLAPPING) is not None
    return False


def _due(board: Board, rules: Rules, *, now: dt.datetime) -> list[tuple[Condition, list[AlertRule]]]:
    due = []
    for condition in board.conditions.values():
        if condition.alert_id is not None or _suppressed(board, condition):
            continue
        matching = sorted(
            rules.for_site(condition.kind, condition.site_id), key=lambda rule: rule.for_seconds
        )
        if matching and (now - condition.since).total_seconds() >= matching[0].for_seconds:
            due.append((condition, matching))
    return due


def _open_due(
    board: Board, rules: Rules, down: Down, *, now: dt.datetime
) -> tuple[list[Alert], list[Notification]]:
    """The alerts opened, and their notices."""
    due = _due(board, rules, now=now)
    if not due:
        return [], []
    site_ids = {condition.site_id for condition, _ in due}
    # The sites and whether a maintenance window holds ``now``, in one query.
    in_window = MaintenanceWindow.objects.filter(site_id=OuterRef("pk"), starts_at__lte=now, ends_at__gt=now)
    sites = Site.objects.annotate(in_maintenance=Exists(in_window)).in_bulk(site_ids)
    _name_single_sensors(board, due)
    opened: list[tuple[Alert, list[AlertRule]]] = []
    for condition, matching in due:
        site = sites[condition.site_id]
        affected = (
            sorted(name for name, _ in down.get(condition.site_id, {}).values())
            if condition.kind in SITE_KINDS
            else [board.names.get(condition.sensor_id, "") if condition.sensor_id else ""]
        )
        title, message = messages.describe(condition, site=site, affected=[name for name in affected if name])
        alert = Alert(
            site=site,
            sensor_id=condition.sensor_id,
            rule=matching[0],
            kind=condition.kind,
            severity=Severity.CRITICAL
            if any(rule.severity == Severity.CRITICAL for rule in matching)
            else Severity.WARNING,
            title=title,
            message=message,
            affected_sensors=[name for name in affected if name],
            opened_at=now,
            in_maintenance=site.in_maintenance,  # annotated
        )
        opened.append((alert, matching))
    Alert.objects.bulk_create([alert for alert, _ in opened])
    for (condition, _), (alert, _) in zip(due, opened, strict=True):
        condition.alert = alert
        board.mark(condition)
    notices = _notices(
        [(alert.pk, matching) for alert, matching in opened if not alert.in_maintenance],
        event=Notification.Event.OPENED,
        now=now,
    )
    return [alert for alert, _ in opened], notices


Down = dict[int, dict[int, tuple[str, str]]]  # site → its active sensors not online → (name, status)


def _down_sensors(board: Board, site_ids: set[int]) -> Down:
    """The down sensors of the sites that recovered in this tick and of those whose connection or
    heartbeat alert opens, in one query (none when there are none); their names go into
    ``board.names``."""
    down: Down = {}
    if not site_ids:
        return down
    for sensor_id, site_id, name, status in (
        SensorDevice.objects.filter(site_id__in=site_ids, is_active=True)
        .exclude(status=SensorDevice.Status.ONLINE)
        .values_list("id", "site_id", "device_name", "status")
    ):
        board.names[sensor_id] = name
        down.setdefault(site_id, {})[sensor_id] = (name, status)
    return down


def _name_single_sensors(board: Board, due: list[tuple[Condition, list[AlertRule]]]) -> None:
    """The names of the sensors whose own alert opens, when no row of this tick named them."""
    single = {condition.sensor_id for condition, _ in due if condition.sensor_id} - board.names.keys()
    if single:
        board.names.update(SensorDevice.objects.filter(pk__in=single).values_list("id", "device_name"))


def _still_down_after_recovery(board: Board, down: Down) -> None:
    """Sensors of a recovered site that stayed offline or stale: each a condition of its own, timed
    from the recovery (no row says they stayed down: the down sensors' query tells)."""
    for site_id, at in board.recovered.items():
        for sensor_id, (_, status) in down.get(site_id, {}).items():
            if status in (SensorDevice.Status.OFFLINE, SensorDevice.Status.STALE):
                kind = Kind.SENSOR_OFFLINE if status == SensorDevice.Status.OFFLINE else Kind.SENSOR_STALE
                board.start(
                    site_id, kind, at, sensor_id=sensor_id, reason="still down after the site recovered"
                )


def _resolve_cleared(board: Board, rules: Rules, *, now: dt.datetime) -> tuple[list[int], list[Notification]]:
    """The ids of the alerts resolved, and their recovery notices."""
    alert_ids = [condition.alert_id for condition in board.cleared if condition.alert_id is not None]
    if not alert_ids:
        return [], []
    resolved = resolve_alerts(alert_ids, at=now)
    recovering = [
        (alert.id, [rule for rule in rules.for_site(alert.kind, alert.site_id) if rule.notify_recovery])
        for alert in resolved
        if not alert.in_maintenance
    ]
    return [alert.id for alert in resolved], _notices(recovering, event=Notification.Event.RESOLVED, now=now)


def _notices(
    alerts: list[tuple[int, list[AlertRule]]], *, event: str, now: dt.datetime
) -> list[Notification]:
    """One notification per alert and channel of its matching rules; written with the tick's others."""
    rows = []
    for alert_id, matching in alerts:
        channels = {channel.pk: channel for rule in matching for channel in rule.channels.all()}
        rows += [
            Notification(alert_id=alert_id, channel=channel, event=event, next_attempt_at=now, created_at=now)
            for channel in channels.values()
        ]
    return rows
