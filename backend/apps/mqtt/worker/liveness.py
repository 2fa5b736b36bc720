"""The liveness sweep: site heartbeats against their interval and timeout, and what follows from a
missing heartbeat (a log row, the site's sensors offline). Runs in the writer thread every few
seconds with the time passed in, so tests control the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db import connection as db
from django.db import transaction
from django.db.models.functions import Mod

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.policy import OFFLINE
from apps.mqtt.ingest.sql import INSERT_LOG_SQL, INSERT_STATUS_CHANGES, write_rows
from apps.mqtt.models import ConnectionLog, HeartbeatState, MqttConnection, SensorDevice
from apps.mqtt.selectors import sensor_counts_of_sites

_CONNECTION_COLUMNS = (
    "id",
    "site_id",
    "enabled",
    "status",
    "last_heartbeat_at",
    "last_connected_at",
    "heartbeat_state",
    "expected_heartbeat_interval",
    "reported_heartbeat_interval",
)


@dataclass(frozen=True, slots=True)
class LivenessPolicy:
    heartbeat_timeout: float = 30.0

    @classmethod
    def from_settings(cls) -> LivenessPolicy:
        from django.conf import settings

        return cls(heartbeat_timeout=float(settings.MQTT_SETTINGS["HEARTBEAT_TIMEOUT"]))


@dataclass(slots=True)
class _Verdicts:
    """What the sweep found: heartbeat states to store, log rows, and the sites whose sensors go
    offline with the reason."""

    state_rows: list[tuple[str, int]] = field(default_factory=list)
    logs: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    sites_going_dark: dict[int, str] = field(default_factory=dict)


def sweep(
    *,
    now: dt.datetime,
    policy: LivenessPolicy,
    shard: tuple[int, int] = (0, 1),
    exclude_site_ids: Collection[int] = frozenset(),
) -> ChangeSet:
    """Compare every connection's heartbeat with the clock and write the state changes; with a
    ``shard`` (index, count), only for the sites whose id modulo count is index (the writer that
    owns their heartbeats). ``exclude_site_ids`` get no verdict: their heartbeat is in the writer's
    queue, received but not yet written (a worker over capacity must not call them missing, whose
    sensors' offline-and-back rows would add to its load)."""
    changes = ChangeSet()
    with transaction.atomic():
        verdicts = _judge(now=now, policy=policy, shard=shard, exclude=exclude_site_ids, changes=changes)
        if not verdicts.state_rows:
            return changes
        transitions = _sensors_going_dark(verdicts.sites_going_dark, now=now, changes=changes)
        _write(verdicts, transitions, now=now)
        if verdicts.sites_going_dark:
            # The pages show counts: send them for the sites whose sensors just went offline.
            for site_id, counts in sensor_counts_of_sites(verdicts.sites_going_dark).items():
                changes.site(site_id).sensor_counts = counts
    return changes


def _judge(
    *,
    now: dt.datetime,
    policy: LivenessPolicy,
    shard: tuple[int, int],
    exclude: Collection[int],
    changes: ChangeSet,
) -> _Verdicts:
    """Each of the shard's connections whose heartbeat state changed: the new state, a log row when
    it went missing, its site's sensors to take offline (missing, or monitoring disabled)."""
    index, count = shard
    adapt = db.ops.adapt_datetimefield_value
    verdicts = _Verdicts()
    connections = (
        MqttConnection.objects.only(*_CONNECTION_COLUMNS)
        .annotate(shard=Mod("site_id", count))
        .filter(shard=index)
        # Several workers sweep on PostgreSQL: a row another sweep is judging is skipped, so a
        # heartbeat goes missing once, not once per worker (a no-op on SQLite: one worker).
        .select_for_update(skip_locked=True, no_key=True)
    )
    for connection in connections:
        connection_id, site_id, enabled = connection.pk, connection.site_id, connection.enabled
        if site_id in exclude:
            continue  # its heartbeat waits in the writer's queue: judged once written
        stored, last_heartbeat_at = connection.heartbeat_state, connection.last_heartbeat_at
        if (
            enabled
            and connection.status != MqttConnection.Status.CONNECTED
            and stored == HeartbeatState.UNKNOWN
        ):
            continue  # (re)starting: no verdict before the connection is up
        timeout = policy.heartbeat_timeout
        state = connection.heartbeat_state_at(now, timeout=timeout) if enabled else HeartbeatState.UNKNOWN
        if state == stored or (enabled and _stays_missing(stored, state)):
            continue
        verdicts.state_rows.append((state.value, connection_id))
        changes.site(site_id).connection["heartbeat_state"] = state.value
        if state == HeartbeatState.MISSING:
            heard = last_heartbeat_at.isoformat() if last_heartbeat_at else "never"
            verdicts.logs.append(
                (
                    connection_id,
                    ConnectionLog.EventType.HEARTBEAT_MISSED.value,
                    f"No heartbeat for over {connection.heartbeat_missing_after(timeout):.0f} s"
                    f" (last: {heard})",
                    adapt(now),
                )
            )
            verdicts.sites_going_dark[site_id] = "site heartbeat missing"
        elif not enabled:
            verdicts.sites_going_dark[site_id] = "monitoring disabled"
    return verdicts


def _stays_missing(stored: str, state: HeartbeatState) -> bool:
    """A missing heartbeat stays missing until a heartbeat arrives (the writer then logs
    ``heartbeat_resumed``): a reconnection alone restarts the clock (``unknown``), but must not
    erase the missing state, or the log would read "missed, missed" with no "resumed" between."""
    return stored == HeartbeatState.MISSING and state == HeartbeatState.UNKNOWN


def _sensors_going_dark(
    sites: dict[int, str], *, now: dt.datetime, changes: ChangeSet
) -> list[tuple[int, str, str, str, str | None]]:
    """The status-change rows of these sites' sensors not yet offline (each with its site's reason),
    announced in ``changes``."""
    if not sites:
        return []
    adapt = db.ops.adapt_datetimefield_value
    transitions = []
    at = now.isoformat()
    sensors = SensorDevice.objects.filter(site_id__in=list(sites)).exclude(status=OFFLINE)
    for sensor_id, site_id, name, old in sensors.values_list("id", "site_id", "device_name", "status"):
        reason = sites[site_id]
        transitions.append((sensor_id, old, OFFLINE, reason, adapt(now)))
        changes.site(site_id).sensor_status.append(
            {"device_name": name, "old": old, "new": OFFLINE, "reason": reason, "at": at}
        )
    return transitions


def _write(
    verdicts: _Verdicts, transitions: list[tuple[int, str, str, str, str | None]], *, now: dt.datetime
) -> None:
    adapt = db.ops.adapt_datetimefield_value
    with db.cursor() as cursor:
        cursor.executemany(
            "UPDATE mqtt_mqttconnection SET heartbeat_state = %s WHERE id = %s", verdicts.state_rows
        )
        if verdicts.logs:
            cursor.executemany(INSERT_LOG_SQL, verdicts.logs)
        if transitions:
            cursor.executemany(
                "UPDATE mqtt_sensordevice SET status = %s, status_changed_at = %s, updated_at = %s"
                " WHERE id = %s",
                [(OFFLINE, adapt(now), adapt(now), row[0]) for row in transitions],
            )
            write_rows(cursor, INSERT_STATUS_CHANGES, transitions)
