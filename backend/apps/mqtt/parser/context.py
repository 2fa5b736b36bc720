"""Per-message state shared by the heartbeat and sys_info parsers: the receive time, the site's
zone, the ts cache, whether raw objects need cleaning, and the bounded list of issues."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any, Final

import orjson

from apps.mqtt.parser.raw import clean_json, embedded
from apps.mqtt.parser.types import MAX_ISSUES_PER_MESSAGE, ItemIssue, RejectReason
from apps.mqtt.parser.values import Invalid

_MAX_FUTURE: Final = timedelta(days=1)


class Context:
    """Per-message state: the receive time, the site's zone, and a ts cache (sensors of one
    heartbeat usually share a handful of ts strings)."""

    __slots__ = ("clean", "latest", "latest_epoch", "nul", "received_at", "site_tz", "ts_cache")

    def __init__(self, received_at: datetime, site_tz: tzinfo, *, clean: bool, nul: bool) -> None:
        self.received_at = received_at
        self.latest = received_at + _MAX_FUTURE
        self.latest_epoch = self.latest.timestamp()
        self.site_tz = site_tz
        # Raw objects need cleaning: the stdlib parsed NaN/Infinity/surrogates, NUL escapes are
        # present, or nesting is deeper than orjson can write.
        self.clean = clean
        self.nul = nul  # the payload has NUL escapes
        self.ts_cache: dict[Any, datetime | Invalid | None] = {}

    def raw(self, value: dict[str, Any]) -> dict[str, Any]:
        """``value`` made storable, when this message needs it."""
        if not self.nul:
            try:  # at C speed: orjson writes NaN/Infinity as null
                cleaned: dict[str, Any] = orjson.loads(orjson.dumps(embedded(value)))[0][0]
                return cleaned
            except orjson.JSONEncodeError:  # lone surrogates or deep nesting: the slow way
                pass
        result: dict[str, Any] = clean_json(value)
        return result


class IssueList(list[ItemIssue]):
    """The first MAX_ISSUES_PER_MESSAGE issues; the rest are only counted (and never formatted)."""

    __slots__ = ("dropped",)

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def report(
        self,
        reason: RejectReason,
        device_name: str | None,
        field: str | None,
        detail: str | Invalid,
        where: str = "",
        index: int | None = None,
    ) -> None:
        if len(self) >= MAX_ISSUES_PER_MESSAGE:
            self.dropped += 1
            return
        text = detail if isinstance(detail, str) else detail.detail
        if index is not None:
            where = f"{where}[{index}]"
        self.append(ItemIssue(reason, device_name, field, f"{where}: {text}" if where else text))

    def freeze(self) -> tuple[ItemIssue, ...]:
        if not self.dropped:
            return tuple(self)
        detail = f"{self.dropped} more issues not listed"
        return (*self, ItemIssue(RejectReason.TOO_MANY_ISSUES, None, None, detail))
