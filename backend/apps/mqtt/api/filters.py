"""Query-string filters of the list endpoints (django-filter). Invalid values are a 400 naming the
parameter, never an empty list that looks like "nothing happened"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from django_filters.widgets import BooleanWidget

from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice

_ISO_HELP = (
    "Enter an ISO 8601 date/time, e.g. 2025-01-31T12:00:00Z or 2025-01-31T14:00:00+02:00 with the "
    "'+' URL-encoded (a bare '+' in a query string reads as a space). Without a zone it is read in "
    "the server's zone."
)


class _StorableIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date/time that can also be expressed in UTC (the database's zone), so that
    e.g. year 9999 at -05:00 is a 400 and not an overflow in the database adapter."""

    def to_python(self, value: object) -> dt.datetime | None:
        result = super().to_python(value)
        if result is not None:
            try:
                result.astimezone(dt.UTC)
            except (OverflowError, ValueError):
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return result


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = _StorableIsoDateTimeField


class _IdField(forms.IntegerField):
    """A database id: a whole number within the range of a 64-bit key (a larger number would
    overflow the database driver, which is an error, not an empty result)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


class IntegerFilter(filters.NumberFilter):
    """An id filter (django-filter's NumberFilter would accept decimals and any size)."""

    field_class = _IdField


class _StrictBooleanWidget(BooleanWidget):
    """django-filter's widget reads an unknown value as "no filter" (``?enabled=garbage`` listed
    everything); this one hands it to the field as text, to be refused."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> object:
        value = super().value_from_datadict(data, files, name)
        raw = data.get(name)
        return raw if value is None and raw not in (None, "") else value


class _StrictBooleanField(forms.NullBooleanField):
    def to_python(self, value: object) -> bool | None:  # type: ignore[override]  # as NullBooleanField
        if isinstance(value, str) and value:  # what the widget did not recognise
            raise ValidationError("Enter true or false (or 1 or 0).", code="invalid")
        return super().to_python(value)


class BooleanFilter(filters.BooleanFilter):
    """true / false / 1 / 0 (any case); anything else is a 400, an absent or empty value no filter."""

    field_class = _StrictBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _StrictBooleanWidget)
        super().__init__(*args, **kwargs)


class SensorFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=SensorDevice.Status.choices,
        help_text="Only sensors in these states (repeat the parameter for several).",
    )
    is_active = BooleanFilter(help_text="Only active (true) or inactive (false) sensors.")

    class Meta:
        model = SensorDevice
        fields = ["status", "is_active"]


class ConnectionFilter(filters.FilterSet):
    # An id filter, not a choice of sites: an unknown id and another customer's site both give an
    # empty list, so the filter cannot tell whether a site exists.
    site = IntegerFilter(field_name="site", help_text="Only this site's connection (site id).")
    enabled = BooleanFilter(help_text="Only enabled (true) or disabled (false) connections.")
    status = filters.MultipleChoiceFilter(
        choices=MqttConnection.Status.choices,
        help_text="Only connections in these observed states (repeat the parameter for several).",
    )

    class Meta:
        model = MqttConnection
        fields = ["site", "enabled", "status"]


class ConnectionLogFilter(filters.FilterSet):
    site = IntegerFilter(field_name="mqtt_connection__site", help_text="Only this site's events (site id).")
    connection = IntegerFilter(field_name="mqtt_connection", help_text="Only this connection's events.")
    event_type = filters.MultipleChoiceFilter(
        choices=ConnectionLog.EventType.choices,
        help_text="Only these kinds of event (repeat the parameter for several).",
    )
    since = IsoDateTimeFilter(
        field_name="timestamp",
        lookup_expr="gte",
        help_text="Events at or after this time (ISO 8601).",
        error_messages={"invalid": _ISO_HELP},
    )
    until = IsoDateTimeFilter(
        field_name="timestamp",
        lookup_expr="lt",
        help_text="Events before this time (ISO 8601; the bound itself is excluded).",
        error_messages={"invalid": _ISO_HELP},
    )

    class Meta:
        model = ConnectionLog
        fields = ["site", "connection", "event_type", "since", "until"]

    def is_valid(self) -> bool:
        valid = super().is_valid()
        since = self.form.cleaned_data.get("since") if valid else None
        until = self.form.cleaned_data.get("until") if valid else None
        if since and until and since >= until:
            self.form.add_error("until", "'until' must be later than 'since'.")
            return False
        return valid
