import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.sites.models import MaintenanceWindow
from apps.sites.selectors import maintenance_window_active, maintenance_windows_overlapping

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_a_window_ending_before_it_starts_is_refused_with_a_clear_message(make_site) -> None:
    window = MaintenanceWindow(site=make_site(), starts_at=T0, ends_at=T0)
    with pytest.raises(ValidationError, match="must end after it starts"):
        window.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        window.save()


def test_a_window_covers_its_start_but_not_its_end(make_site) -> None:
    window = MaintenanceWindow(site=make_site(), starts_at=T0, ends_at=T0 + dt.timedelta(hours=2))
    assert window.covers(T0)
    assert window.covers(T0 + dt.timedelta(minutes=119))
    assert not window.covers(T0 + dt.timedelta(hours=2))
    assert window.duration == dt.timedelta(hours=2)


def test_overlapping_windows_are_those_that_share_any_time_with_the_range(make_site) -> None:
    site, other = make_site(), make_site()
    hour = dt.timedelta(hours=1)
    before = MaintenanceWindow.objects.create(site=site, starts_at=T0 - 3 * hour, ends_at=T0 - hour)
    crossing = MaintenanceWindow.objects.create(site=site, starts_at=T0 - hour, ends_at=T0 + hour)
    inside = MaintenanceWindow.objects.create(site=site, starts_at=T0 + 2 * hour, ends_at=T0 + 3 * hour)
    MaintenanceWindow.objects.create(site=other, starts_at=T0, ends_at=T0 + hour)

    found = maintenance_windows_overlapping(site_ids=[site.pk], start=T0, end=T0 + 4 * hour)

    assert list(found) == [crossing, inside]
    assert before not in found
    assert maintenance_window_active(site_id=site.pk, at=T0) == crossing
    assert maintenance_window_active(site_id=site.pk, at=T0 + 90 * dt.timedelta(minutes=1)) is None
