"""Rejected messages, item issues and new sensors refused at a site's cap → one tally per (site,
topic, reason) per flush, upserted into ``RejectedMessage`` with a count and the last sample; each
also counted in the metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection as db

from apps.mqtt import metrics
from apps.mqtt.ingest.devices import Refused
from apps.mqtt.ingest.items import HeartbeatItem, RejectedItem, SysInfoItem
from apps.mqtt.ingest.sql import datetime_adapter
from apps.mqtt.parser import ItemIssue

_SAMPLE_CHARS = 500
# The reason of a reading whose new device name its site had no room for (MQTT_MAX_SENSORS_PER_SITE);
# the parser's own too_many_sensors is the per-message limit.
SITE_SENSOR_CAP = "site_sensor_cap"


@dataclass(slots=True)
class RejectionTally:
    count: int
    detail: str
    sample: str
    first: dt.datetime
    last: dt.datetime


def collect_rejections(
    rejected: list[RejectedItem],
    heartbeats: list[HeartbeatItem],
    sys_infos: list[SysInfoItem],
    refused: dict[tuple[int, str], Refused] | None = None,
    cap: int = 0,
) -> dict[tuple[int, str, str], RejectionTally]:
    tallies: dict[tuple[int, str, str], RejectionTally] = {}

    def count(
        site_id: int, topic: str, reason: str, detail: str, sample: str, at: dt.datetime, n: int = 1
    ) -> None:
        key = (site_id, topic[:255], reason)
        tally = tallies.get(key)
        if tally is None:
            tallies[key] = RejectionTally(n, detail, sample, at, at)
        else:
            tally.count += n
            tally.detail, tally.sample, tally.last = detail, sample, at

    for item in rejected:
        reason = str(item.rejection.reason)
        metrics.MESSAGES_REJECTED.labels(reason).inc()
        count(
            item.site_id,
            item.topic,
            reason,
            item.rejection.detail,
            item.rejection.sample[:_SAMPLE_CHARS],
            item.received_at,
        )
    parsed: list[tuple[int, str, dt.datetime, tuple[ItemIssue, ...]]] = [
        (h.site_id, h.topic, h.received_at, h.heartbeat.issues) for h in heartbeats
    ] + [(s.site_id, s.topic, s.received_at, s.info.issues) for s in sys_infos]
    for site_id, topic, at, issues in parsed:
        for issue in issues:
            reason = str(issue.reason)
            metrics.ITEMS_REJECTED.labels(reason).inc()
            where = " ".join(part for part in (issue.device_name, issue.field) if part)
            count(site_id, topic, reason, f"{where}: {issue.detail}" if where else issue.detail, "", at)
    for (site_id, topic), refusal in (refused or {}).items():
        metrics.ITEMS_REJECTED.labels(SITE_SENSOR_CAP).inc(refusal.readings)
        detail = (
            f"{refusal.sample}: the site has its {cap} sensors (MQTT_MAX_SENSORS_PER_SITE);"
            " readings of new device names are not stored"
        )
        count(site_id, topic, SITE_SENSOR_CAP, detail, "", refusal.at, refusal.readings)
    return tallies


def write_rejections(tallies: dict[tuple[int, str, str], RejectionTally]) -> None:
    adapt = datetime_adapter()
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO mqtt_rejectedmessage (site_id, topic, reason, count, last_detail, last_sample,"
            " first_seen_at, last_seen_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (site_id, topic, reason) DO UPDATE SET"
            " count = mqtt_rejectedmessage.count + excluded.count, last_detail = excluded.last_detail,"
            " last_sample = CASE WHEN excluded.last_sample = '' THEN mqtt_rejectedmessage.last_sample"
            " ELSE excluded.last_sample END, last_seen_at = excluded.last_seen_at",
            [
                (site_id, topic, reason, t.count, t.detail, t.sample, adapt(t.first), adapt(t.last))
                for (site_id, topic, reason), t in tallies.items()
            ],
        )
