"""Who may see which site. Every page, API call and socket asks here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import QuerySet

from apps.sites.models import MaintenanceWindow, Site


def sites_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    if not isinstance(user, User) or not user.is_active:  # anonymous (or not a User): nothing
        return Site.objects.none()
    if user.is_staff:
        return Site.objects.all()
    return Site.objects.filter(customer__members=user, customer__is_active=True).distinct()


def can_view_site(user: AbstractBaseUser | AnonymousUser, site_id: int) -> bool:
    return sites_visible_to(user).filter(pk=site_id).exists()


def maintenance_windows_overlapping(
    *, site_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> QuerySet[MaintenanceWindow]:
    """The windows of these sites that overlap [start, end), oldest first."""
    return MaintenanceWindow.objects.filter(
        site_id__in=list(site_ids), starts_at__lt=end, ends_at__gt=start
    ).order_by("site_id", "starts_at", "id")


def maintenance_window_active(*, site_id: int, at: dt.datetime) -> MaintenanceWindow | None:
    return (
        MaintenanceWindow.objects.filter(site_id=site_id, starts_at__lte=at, ends_at__gt=at)
        .order_by("-ends_at")
        .first()
    )
