"""The alerts API over HTTP: who sees which alert, acknowledging, notifications for staff, and the
maintenance windows of a site (customers read, staff write)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from apps.alerts.models import Alert, Notification, NotificationChannel
from apps.sites.models import Customer, MaintenanceWindow, Site

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def api_as(user: User) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.cookies["csrftoken"] = "c" * 32  # as a page of the app would have set it
    return client


def post(client: APIClient, url: str, data: object = None) -> Any:
    return client.post(url, data, format="json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)


@pytest.fixture
def world(make_site: Callable[..., Site]) -> dict[str, object]:
    mine, theirs = Customer.objects.create(name="Mine"), Customer.objects.create(name="Theirs")
    member = User.objects.create_user("member", password="x")
    mine.members.add(member)
    staff = User.objects.create_user("olga", password="x", is_staff=True)
    site, foreign = make_site(customer=mine), make_site(customer=theirs)
    alert = Alert.objects.create(
        site=site,
        kind="heartbeat_missing",
        severity="critical",
        title=f"{site.name}: heartbeat missing",
        affected_sensors=["S01", "S02"],
        opened_at=NOW,
    )
    other = Alert.objects.create(
        site=foreign, kind="connection_down", severity="critical", title="x", opened_at=NOW
    )
    return {
        "member": member,
        "staff": staff,
        "site": site,
        "foreign": foreign,
        "alert": alert,
        "other": other,
    }


def test_a_customer_lists_only_the_alerts_of_their_sites_in_the_contract_shape(world) -> None:
    response = api_as(world["member"]).get("/api/alerts/")
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == world["alert"].pk
    assert row["site_code"] == world["site"].code
    assert row["affected_sensors"] == ["S01", "S02"]
    assert row["state"] == "open"
    assert row["acknowledged_by"] is None
    assert row["in_maintenance"] is False


def test_another_customers_alert_is_a_404(world) -> None:
    client = api_as(world["member"])
    assert client.get(f"/api/alerts/{world['other'].pk}/").status_code == 404
    assert post(client, f"/api/alerts/{world['other'].pk}/acknowledge/").status_code == 404


def test_filters_by_state_kind_and_site_and_refuses_unknown_values(world) -> None:
    client = api_as(world["staff"])
    assert client.get("/api/alerts/?kind=connection_down").json()["count"] == 1
    assert client.get(f"/api/alerts/?site={world['site'].pk}").json()["count"] == 1
    assert client.get("/api/alerts/?state=resolved").json()["count"] == 0
    bad = client.get("/api/alerts/?state=closed")
    assert bad.status_code == 400
    assert "state" in bad.json()


def test_a_customer_acknowledges_and_sees_operator_when_staff_acknowledged(world) -> None:
    alert = world["alert"]
    staff = api_as(world["staff"])
    response = post(staff, f"/api/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["acknowledged_by"] == "olga"
    seen_by_customer = api_as(world["member"]).get(f"/api/alerts/{alert.pk}/").json()
    assert seen_by_customer["acknowledged_by"] == "operator"
    assert seen_by_customer["acknowledged_at"] is not None


def test_acknowledging_needs_the_csrf_token_with_a_session(world) -> None:
    client = api_as(world["member"])
    assert client.post(f"/api/alerts/{world['alert'].pk}/acknowledge/").status_code == 403


def test_acknowledging_a_resolved_alert_is_a_400_with_a_message(world) -> None:
    alert = world["alert"]
    alert.resolve(at=NOW)
    alert.save()
    response = post(api_as(world["member"]), f"/api/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 400
    assert "resolved" in str(response.json())


def test_notifications_are_for_staff_only(world) -> None:
    channel = NotificationChannel.objects.create(name="ops mail", kind="email", email_addresses="a@b.c")
    Notification.objects.create(
        alert=world["alert"], channel=channel, event="opened", status="failed", attempts=3,
        last_error="refused", created_at=NOW,
    )  # fmt: skip
    url = f"/api/alerts/{world['alert'].pk}/notifications/"
    assert api_as(world["member"]).get(url).status_code == 403
    rows = api_as(world["staff"]).get(url).json()
    assert rows == [
        {"channel": "ops mail", "event": "opened", "status": "failed", "attempts": 3,
         "last_error": "refused", "sent_at": None}
    ]  # fmt: skip


# ---------------------------------------------------------------- maintenance windows


def test_staff_plans_a_window_and_the_customer_reads_it_with_operator_as_author(world) -> None:
    url = f"/api/sites/{world['site'].pk}/maintenance/"
    start = timezone.now() + dt.timedelta(hours=1)
    response = post(
        api_as(world["staff"]),
        url,
        {"starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(hours=2)).isoformat(),
         "reason": "firmware"},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "upcoming"
    assert response.json()["created_by"] == "olga"
    listed = api_as(world["member"]).get(url).json()["results"]
    assert [(row["reason"], row["created_by"]) for row in listed] == [("firmware", "operator")]


def test_a_window_must_end_after_it_starts_and_last_at_most_31_days(world) -> None:
    url = f"/api/sites/{world['site'].pk}/maintenance/"
    client = api_as(world["staff"])
    backwards = post(client, url, {"starts_at": NOW.isoformat(), "ends_at": NOW.isoformat()})
    assert backwards.status_code == 400
    assert "end after it starts" in backwards.json()["ends_at"][0]
    too_long = post(
        client, url, {"starts_at": NOW.isoformat(), "ends_at": (NOW + dt.timedelta(days=32)).isoformat()}
    )
    assert too_long.status_code == 400
    assert "31 days" in too_long.json()["ends_at"][0]
    missing = post(client, url, {"ends_at": NOW.isoformat()})
    assert missing.status_code == 400
    assert "starts_at" in missing.json()
    assert not MaintenanceWindow.objects.exists()


def test_customers_cannot_plan_or_delete_windows_and_foreign_sites_are_404(world) -> None:
    window = MaintenanceWindow.objects.create(
        site=world["site"], starts_at=NOW, ends_at=NOW + dt.timedelta(hours=1)
    )
    member = api_as(world["member"])
    url = f"/api/sites/{world['site'].pk}/maintenance/"
    assert post(member, url, {"starts_at": NOW.isoformat(), "ends_at": NOW.isoformat()}).status_code == 403
    assert (
        member.delete(f"{url}{window.pk}/", HTTP_X_CSRFTOKEN=member.cookies["csrftoken"].value).status_code
        == 403
    )
    assert member.get(f"/api/sites/{world['foreign'].pk}/maintenance/").status_code == 404
    staff = api_as(world["staff"])
    deleted = staff.delete(f"{url}{window.pk}/", HTTP_X_CSRFTOKEN=staff.cookies["csrftoken"].value)
    assert deleted.status_code == 204
    assert not MaintenanceWindow.objects.exists()


def test_windows_are_listed_by_state(world) -> None:
    now = timezone.now()
    hour = dt.timedelta(hours=1)
    site = world["site"]
    MaintenanceWindow.objects.create(
        site=site, starts_at=now - 3 * hour, ends_at=now - 2 * hour, reason="past"
    )
    MaintenanceWindow.objects.create(site=site, starts_at=now - hour, ends_at=now + hour, reason="active")
    MaintenanceWindow.objects.create(site=site, starts_at=now + hour, ends_at=now + 2 * hour, reason="next")
    client = api_as(world["member"])
    url = f"/api/sites/{site.pk}/maintenance/"
    assert [row["reason"] for row in client.get(url).json()["results"]] == ["next", "active", "past"]
    for state, reason in (("upcoming", "next"), ("active", "active"), ("past", "past")):
        rows = client.get(f"{url}?state={state}").json()["results"]
        assert [(row["reason"], row["state"]) for row in rows] == [(reason, state)]
    assert client.get(f"{url}?state=soon").status_code == 400


# ---------------------------------------------------------------- isolation, every route


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/api/alerts/{alert}/"),
        ("post", "/api/alerts/{alert}/acknowledge/"),
        ("get", "/api/alerts/{alert}/notifications/"),
        ("get", "/api/sites/{site}/maintenance/"),
        ("post", "/api/sites/{site}/maintenance/"),
        ("get", "/api/sites/{site}/maintenance/{window}/"),
        ("delete", "/api/sites/{site}/maintenance/{window}/"),
    ],
)
def test_another_customers_alerts_and_windows_are_not_found_on_every_route(
    world, method: str, template: str
) -> None:
    foreign = world["foreign"]
    window = MaintenanceWindow.objects.create(
        site=foreign, starts_at=NOW, ends_at=NOW + dt.timedelta(hours=1)
    )
    url = template.format(alert=world["other"].pk, site=foreign.pk, window=window.pk)
    client = api_as(world["member"])
    body = {"starts_at": NOW.isoformat(), "ends_at": (NOW + dt.timedelta(hours=1)).isoformat()}
    response = getattr(client, method)(
        url, body if method == "post" else None, format="json", HTTP_X_CSRFTOKEN="c" * 32
    )
    assert response.status_code == 404
    assert MaintenanceWindow.objects.filter(pk=window.pk).exists()
    assert MaintenanceWindow.objects.count() == 1


def test_the_alert_list_never_shows_another_customers_alerts_whatever_the_filter(world) -> None:
    client = api_as(world["member"])
    for url in (
        "/api/alerts/",
        f"/api/alerts/?site={world['foreign'].pk}",
        "/api/alerts/?kind=connection_down",
    ):
        assert world["foreign"].code not in client.get(url).content.decode()


def test_a_window_of_another_site_is_not_found_under_ones_own_site(world) -> None:
    window = MaintenanceWindow.objects.create(
        site=world["foreign"], starts_at=NOW, ends_at=NOW + dt.timedelta(hours=1)
    )
    staff = api_as(world["staff"])
    assert staff.get(f"/api/sites/{world['site'].pk}/maintenance/{window.pk}/").status_code == 404
