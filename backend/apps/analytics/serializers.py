"""The analytics API's query parameters (validated: a bad value is a 400 naming the parameter) and
its response shapes (for the OpenAPI schema and the rendering of the selectors' dicts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from apps.analytics.selectors import Window, resolve_window

WINDOWS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}
MAX_WINDOW = dt.timedelta(days=400)
MAX_BUCKETS = 1000
_ISO = "ISO 8601, e.g. 2025-01-31T12:00:00Z ('+' URL-encoded as %2B); without a zone it is UTC."


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601; naive means UTC; a time that cannot be expressed in UTC is refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=dt.UTC, **kwargs)

    def to_internal_value(self, value: Any) -> dt.datetime:
        result = super().to_internal_value(value)
        try:
            return result.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            self.fail("invalid", format=_ISO)
            raise  # unreachable: fail() raises


class WindowParams(serializers.Serializer):
    window = serializers.ChoiceField(
        choices=list(WINDOWS), required=False, help_text="The last 24 h (default), 7 days or 30 days."
    )
    start = UtcDateTimeField(required=False, help_text=f"Custom window start, instead of 'window'. {_ISO}")
    end = UtcDateTimeField(required=False, help_text=f"Custom window end (default now). {_ISO}")
    bucket = serializers.ChoiceField(
        choices=["hour", "day"],
        required=False,
        help_text="Bucket size, aligned to UTC hours or days (default: hour up to 48 h, else day); "
        f"at most {MAX_BUCKETS} buckets. A window starting before the hourly roll-ups are kept "
        "(ANALYTICS_HOURLY_RETENTION_DAYS) is widened to whole UTC days, by day.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        now = self.context.get("now") or timezone.now()
        if "window" in attrs and ("start" in attrs or "end" in attrs):
            raise serializers.ValidationError({"window": "Give either 'window' or 'start'/'end', not both."})
        if "end" in attrs and "start" not in attrs:
            raise serializers.ValidationError({"start": "'start' is required with 'end'."})
        end = attrs.get("end", now)
        start = attrs.get("start") or end - WINDOWS[attrs.get("window", "24h")]
        if end <= start:
            raise serializers.ValidationError({"end": "'end' must be later than 'start'."})
        if end - start > MAX_WINDOW:
            raise serializers.ValidationError({"start": f"A window is at most {MAX_WINDOW.days} days long."})
        bucket = attrs.get("bucket") or ("hour" if end - start <= dt.timedelta(hours=48) else "day")
        if len(Window(start=start, end=end, bucket=bucket, now=now).edges()) - 1 > MAX_BUCKETS:
            raise serializers.ValidationError(
                {"bucket": f"At most {MAX_BUCKETS} buckets: choose 'day' or a shorter window."}
            )
        return {"window": resolve_window(start=start, end=end, bucket=bucket, now=now)}


class SensorAvailabilityParams(WindowParams):
    ordering = serializers.ChoiceField(
        choices=["name", "uptime"],
        required=False,
        help_text="By device name (default) or lowest uptime first.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**super().validate(attrs), "ordering": attrs.get("ordering", "name")}


class DowntimeParams(WindowParams):
    kind = serializers.ChoiceField(choices=["connection", "heartbeat", "sensor"], required=False)
    sensor = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Only this sensor's periods."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**super().validate(attrs), "kind": attrs.get("kind"), "sensor": attrs.get("sensor")}


# ---------------------------------------------------------------- responses


class FigureSerializer(serializers.Serializer):
    uptime_percentage = serializers.FloatField(
        allow_null=True, help_text="100 x up / (up + down), 2 decimals; null when nothing was monitored."
    )
    up_seconds = serializers.IntegerField()
    down_seconds = serializers.IntegerField()
    excluded_seconds = serializers.IntegerField(
        help_text="Not in the denominator: unknown (before the first state row, or after now), "
        "disabled by an operator, maintenance. up + down + excluded = the window."
    )
    maintenance_seconds = serializers.IntegerField(help_text="The part of excluded_seconds in maintenance.")


class SensorsFigureSerializer(serializers.Serializer):
    uptime_percentage = serializers.FloatField(allow_null=True, help_text="Mean over the site's sensors.")
    count = serializers.IntegerField()


class CompletenessSerializer(serializers.Serializer):
    expected = serializers.IntegerField(
        help_text="Monitored heartbeat time (maintenance and disabled time left out) / the interval."
    )
    received = serializers.IntegerField(help_text="Heartbeats received, counted per UTC hour.")
    percentage = serializers.FloatField(allow_null=True, help_text="received / expected, at most 100.")


class AvailabilityBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    connection_uptime = serializers.FloatField(allow_null=True)
    heartbeat_uptime = serializers.FloatField(allow_null=True)
    sensors_uptime = serializers.FloatField(allow_null=True)
    maintenance_seconds = serializers.IntegerField()
    expected_heartbeats = serializers.IntegerField()
    received_heartbeats = serializers.IntegerField()


class AvailabilitySerializer(serializers.Serializer):
    site = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    bucket = serializers.CharField()
    resolution = serializers.ChoiceField(
        choices=["hour", "day"],
        help_text="hour: the figures are exact for the window asked. day: the window starts before the "
        "hourly roll-ups are kept (ANALYTICS_HOURLY_RETENTION_DAYS), so it was widened to whole UTC "
        "days (start, end and buckets say which) and read from daily roll-ups: exact to the day.",
    )
    connection = FigureSerializer()
    heartbeat = FigureSerializer()
    sensors = SensorsFigureSerializer()
    completeness = CompletenessSerializer()
    buckets = AvailabilityBucketSerializer(many=True)


class SensorBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    uptime_percentage = serializers.FloatField(allow_null=True)


class SensorAvailabilitySerializer(serializers.Serializer):
    sensor = serializers.IntegerField()
    device_name = serializers.CharField()
    uptime_percentage = serializers.FloatField(allow_null=True)
    down_seconds = serializers.IntegerField()
    buckets = SensorBucketSerializer(many=True)


class DowntimeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    sensor = serializers.IntegerField(allow_null=True)
    device_name = serializers.CharField(allow_null=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True, help_text="Null while the period goes on.")
    duration_seconds = serializers.IntegerField()
    reason = serializers.CharField()
    in_maintenance = serializers.BooleanField()


def _site_ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        help_text="A site's id; repeat for several; omitted: every site you may see.",
    )


class ReportParams(WindowParams):
    site = _site_ids()
    level = serializers.ChoiceField(
        choices=["site", "sensor"], required=False, help_text="uptime.csv: per site (default) or per sensor."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**super().validate(attrs), "site": attrs.get("site", []), "level": attrs.get("level", "site")}


class SitesParams(serializers.Serializer):
    site = _site_ids()
