"""Who may see which site. Every page, API call and socket asks here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import QuerySet

from apps.sites.models import Site


def sites_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    if not isinstance(user, User) or not user.is_active:  # anonymous (or not a User): nothing
        return Site.objects.none()
    if user.is_staff:
        return Site.objects.all()
    return Site.objects.filter(customer__members=user, customer__is_active=True).distinct()


def can_view_site(user: AbstractBaseUser | AnonymousUser, site_id: int) -> bool:
    return sites_visible_to(user).filter(pk=site_id).exists()
