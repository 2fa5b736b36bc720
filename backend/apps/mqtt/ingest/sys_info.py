"""sys_info → one upsert per flush into ``SystemInfo``, one row per site: a value absent from a
payload never overwrites a stored one."""

from __future__ import annotations

from typing import Any

import orjson
from django.db import connection as db

from apps.mqtt.ingest.changes import ChangeSet
from apps.mqtt.ingest.items import SysInfoItem
from apps.mqtt.ingest.sql import datetime_adapter
from apps.mqtt.models import SystemInfo

_SYSINFO_TEXT = SystemInfo.TEXT_FIELDS
_SYSINFO_NUMBERS = SystemInfo.NUMBER_FIELDS


def write_sys_infos(items: list[SysInfoItem], changes: ChangeSet) -> None:
    adapt = datetime_adapter()
    merged: dict[int, dict[str, Any]] = {}
    for item in items:
        # Several in one batch: later values win, but an absent value never erases an earlier one.
        state = merged.setdefault(item.site_id, {})
        for name in (*_SYSINFO_TEXT, *_SYSINFO_NUMBERS, "reported_at"):
            value = getattr(item.info, name)
            if value is not None and value != "":
                state[name] = value
        state["raw_data"] = item.info.raw
        state["received_at"] = item.received_at
        changes.site(item.site_id).system_info = True
    rows = [
        (
            site_id,
            *(state.get(name, "") for name in _SYSINFO_TEXT),
            *(state.get(name) for name in _SYSINFO_NUMBERS),
            orjson.dumps(state["raw_data"]).decode(),
            adapt(state.get("reported_at")),
            adapt(state["received_at"]),
        )
        for site_id, state in merged.items()
    ]
    with db.cursor() as cursor:
        cursor.executemany(_UPSERT_SYSINFO_SQL[db.vendor], rows)


def _upsert_sysinfo_sql(json_placeholder: str) -> str:
    columns = ("site_id", *_SYSINFO_TEXT, *_SYSINFO_NUMBERS, "raw_data", "reported_at", "received_at")
    values = ["%s"] * len(columns)
    values[columns.index("raw_data")] = json_placeholder
    updates = [f"{c} = COALESCE(NULLIF(excluded.{c}, ''), mqtt_systeminfo.{c})" for c in _SYSINFO_TEXT]
    updates += [
        f"{c} = COALESCE(excluded.{c}, mqtt_systeminfo.{c})" for c in (*_SYSINFO_NUMBERS, "reported_at")
    ]
    updates += ["raw_data = excluded.raw_data", "received_at = excluded.received_at"]
    return (
        f"INSERT INTO mqtt_systeminfo ({', '.join(columns)}) VALUES ({', '.join(values)})"
        f" ON CONFLICT (site_id) DO UPDATE SET {', '.join(updates)}"
    )


_UPSERT_SYSINFO_SQL = {"sqlite": _upsert_sysinfo_sql("%s"), "postgresql": _upsert_sysinfo_sql("%s::jsonb")}
