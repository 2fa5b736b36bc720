"""Reads of alerts and maintenance windows, always from the sites the user may see."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from apps.alerts.models import Alert, Notification
from apps.sites.models import MaintenanceWindow, Site
from apps.sites.selectors import sites_visible_to


def alerts_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Alert]:
    return Alert.objects.filter(site__in=sites_visible_to(user)).select_related("site", "acknowledged_by")


def notifications_of(alert: Alert) -> QuerySet[Notification]:
    return alert.notifications.select_related("channel").order_by("created_at", "id")


def maintenance_windows_of(
    site: Site, *, state: str | None = None, now: dt.datetime
) -> QuerySet[MaintenanceWindow]:
    """Newest first; ``state`` upcoming / active / past relative to ``now``."""
    windows = site.maintenance_windows.select_related("created_by").order_by("-starts_at", "-id")
    if state == "upcoming":
        return windows.filter(starts_at__gt=now)
    if state == "active":
        return windows.filter(starts_at__lte=now, ends_at__gt=now)
    if state == "past":
        return windows.filter(ends_at__lte=now)
    return windows


def window_state(window: MaintenanceWindow, *, now: dt.datetime) -> str:
    if window.starts_at > now:
        return "upcoming"
    return "active" if window.ends_at > now else "past"
