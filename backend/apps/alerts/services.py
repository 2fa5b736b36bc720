"""Writes of people on alerts and maintenance windows (the evaluator's writes are in evaluator.py)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.alerts.models import Alert
from apps.sites.models import MaintenanceWindow, Site

MAX_MAINTENANCE = dt.timedelta(days=31)


def acknowledge_alert(*, alert: Alert, user: AbstractBaseUser | AnonymousUser, at: dt.datetime) -> Alert:
    with transaction.atomic():
        locked = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("site", "acknowledged_by")
            .get(pk=alert.pk)
        )
        locked.acknowledge(by=user, at=at)  # type: ignore[arg-type]  # an authenticated user
        locked.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
    return locked


def create_maintenance_window(
    *,
    site: Site,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    user: AbstractBaseUser | AnonymousUser,
) -> MaintenanceWindow:
    errors: dict[str, str] = {}
    if ends_at <= starts_at:
        errors["ends_at"] = "The window must end after it starts."
    elif ends_at - starts_at > MAX_MAINTENANCE:
        errors["ends_at"] = "A maintenance window lasts at most 31 days."
    if errors:
        raise ValidationError(errors)
    return MaintenanceWindow.objects.create(
        site=site,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=user if isinstance(user, User) else None,
    )


def delete_maintenance_window(*, window: MaintenanceWindow) -> None:
    window.delete()
