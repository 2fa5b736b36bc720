"""Maintenance windows added, moved or deleted after their hours were rolled up must not leave the
roll-ups stale: each change records the time it touched (``MaintenanceChange``), which the roll-up
job rolls up again. Through the model's signals, so the admin, the API and the shell are all covered
(a queryset ``update()`` or bulk delete is not: those bypass signals)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import receiver

from apps.analytics.models import MaintenanceChange
from apps.sites.models import MaintenanceWindow


@receiver(post_init, sender=MaintenanceWindow)
def _remember_span(sender: type[MaintenanceWindow], instance: MaintenanceWindow, **kwargs: Any) -> None:
    instance._analytics_span = (instance.site_id, instance.starts_at, instance.ends_at)  # type: ignore[attr-defined]


@receiver(post_save, sender=MaintenanceWindow)
def _saved(
    sender: type[MaintenanceWindow], instance: MaintenanceWindow, created: bool, **kwargs: Any
) -> None:
    before = getattr(instance, "_analytics_span", None)
    after = (instance.site_id, instance.starts_at, instance.ends_at)
    if before == after and not created:
        return
    changes = [after]
    if not created and before is not None and before[1] is not None and before[2] is not None:
        changes.append(before)
    MaintenanceChange.objects.bulk_create(
        MaintenanceChange(site_id=site_id, starts_at=start, ends_at=end) for site_id, start, end in changes
    )
    instance._analytics_span = after  # type: ignore[attr-defined]


@receiver(post_delete, sender=MaintenanceWindow)
def _deleted(sender: type[MaintenanceWindow], instance: MaintenanceWindow, **kwargs: Any) -> None:
    MaintenanceChange.objects.create(
        site_id=instance.site_id, starts_at=instance.starts_at, ends_at=instance.ends_at
    )
