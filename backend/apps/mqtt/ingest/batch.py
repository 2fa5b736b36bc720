"""The flush: a batch of items written in one transaction, each kind by its module, with a bounded
number of statements per kind of item present → what changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.events import write_connection_events
from apps.mqtt.ingest.heartbeats import write_heartbeats
from apps.mqtt.ingest.items import ConnectionEvent, HeartbeatItem, IngestItem, RejectedItem, SysInfoItem
from apps.mqtt.ingest.policy import IngestPolicy
from apps.mqtt.ingest.rejections import collect_rejections, write_rejections
from apps.mqtt.ingest.sys_info import write_sys_infos


def write_batch(items: Sequence[IngestItem], *, now: dt.datetime, policy: IngestPolicy) -> ChangeSet:
    """Write a batch in one transaction and return what changed. Statements: a bounded number per
    kind of item present, independent of how many heartbeats, sensors or events the batch holds."""
    heartbeats: list[HeartbeatItem] = []
    sys_infos: list[SysInfoItem] = []
    rejected: list[RejectedItem] = []
    events: list[ConnectionEvent] = []
    for item in items:
        if isinstance(item, HeartbeatItem):
            heartbeats.append(item)
        elif isinstance(item, SysInfoItem):
            sys_infos.append(item)
        elif isinstance(item, RejectedItem):
            rejected.append(item)
        else:
            events.append(item)

    changes = ChangeSet()
    with transaction.atomic():
        if events:
            write_connection_events(events, changes)
        refused = write_heartbeats(heartbeats, now=now, policy=policy, changes=changes) if heartbeats else {}
        if sys_infos:
            write_sys_infos(sys_infos, changes)
        issues = collect_rejections(rejected, heartbeats, sys_infos, refused, policy.max_sensors_per_site)
        if issues:
            write_rejections(issues)
    return changes
