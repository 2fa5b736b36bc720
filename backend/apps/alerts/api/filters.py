"""Query-string filters of the alerts list and the maintenance windows; a bad value is a 400 naming
the parameter."""

from __future__ import annotations

from django_filters import rest_framework as filters

from apps.alerts.models import Alert, Kind
from apps.mqtt.api.filters import IntegerFilter


class AlertFilter(filters.FilterSet):
    site = IntegerFilter(field_name="site", help_text="Only this site's alerts (site id).")
    state = filters.ChoiceFilter(choices=Alert.State.choices, help_text="open, acknowledged or resolved.")
    kind = filters.ChoiceFilter(choices=Kind.choices, help_text="Only alerts of this kind.")

    class Meta:
        model = Alert
        fields = ["site", "state", "kind"]
