"""The continuity-of-service views in headless Chromium against the real server (issue 12): the site
page's availability bars carry the API's figures for state rows seeded at known times (must-hold 5),
a CSV report downloads from the app (must-hold 4's browser part), an alert is acknowledged from the
alerts page, and axe-core finds nothing serious on the new views. Screenshots at desktop and phone
sizes go to var/screenshots/ for a person to look at.

The server is test_app_browser's (uvicorn on the test database); the seeded connection is disabled
so its worker writes nothing that would move the figures while the page and the API are compared.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.alerts.models import Alert
from apps.mqtt.models import ConnectionLog, MqttConnection, SensorDevice, SensorStatusChange
from apps.mqtt.tests.test_app_browser import (
    GUARD_MS,
    PASSWORD,
    SCREENSHOTS,
    _accessibility_problems,
    _orm_beside_playwright,  # noqa: F401  (autouse: the ORM beside Playwright's event loop)
    _serve,
    _watch,
    browser,  # noqa: F401  (the fixture)
)
from apps.sites.models import Customer, MaintenanceWindow, Site

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BARS = {"Connection": "connection_uptime", "Heartbeat": "heartbeat_uptime", "Sensors": "sensors_uptime"}


def _seed(site: Site) -> MqttConnection:
    """Whole hours before the current one, so no figure moves while the test runs: the connection
    down 2 h 30 min, ACC01 offline 1 h 45 min, ACC02 always online, ACC03 stale 3 h; a maintenance
    window of an hour."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    connection = MqttConnection.objects.create(
        site=site, broker_host="127.0.0.1", broker_port=1, enabled=False
    )
    events = [("connected", 30), ("disconnected", 10), ("connected", 7.5)]
    for event, hours in events:
        ConnectionLog.objects.create(
            mqtt_connection=connection, event_type=event, timestamp=hour - dt.timedelta(hours=hours)
        )
    changes: dict[str, list[tuple[str, float]]] = {
        "ACC01": [("online", 30), ("offline", 6), ("online", 4.25)],
        "ACC02": [("online", 30)],
        "ACC03": [("online", 30), ("stale", 5), ("online", 2)],
    }
    for name, steps in changes.items():
        sensor = SensorDevice.objects.create(site=site, device_name=name)
        for status, hours in steps:
            SensorStatusChange.objects.create(
                sensor_device=sensor,
                new_status=status,
                reason="test",
                timestamp=hour - dt.timedelta(hours=hours),
            )
    MaintenanceWindow.objects.create(
        site=site,
        starts_at=hour - dt.timedelta(hours=14),
        ends_at=hour - dt.timedelta(hours=13),
        reason="Bearing check",
    )
    return connection


def _bars(page: Any, group: str) -> list[tuple[str, str]]:
    """(start, data-uptime) of each segment of one bar."""
    bar = page.get_by_role("group", name=f"{group}: availability per period (arrow keys move)")
    return [
        (seg.get_attribute("data-start"), seg.get_attribute("data-uptime"))
        for seg in bar.locator(".avail-seg").all()
    ]


def _same(shown: list[tuple[str, str]], api: list[tuple[str, str]]) -> bool:
    """The same figures at the same hours; the first bucket starts where each request's window did."""
    return [value for _, value in shown] == [value for _, value in api] and shown[1:] == api[1:]


def _uptime(value: float | None) -> str:
    # The page writes the API's number as JavaScript prints it: 50.0 → "50", none → "".
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else str(value)


def _shots(page: Any, name: str) -> None:
    """Desktop and phone, light; desktop dark (the app follows the system's scheme)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot, size, scheme in (
        ("desktop", DESKTOP, "light"),
        ("phone", PHONE, "light"),
        ("dark", DESKTOP, "dark"),
    ):
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size(size)
        page.wait_for_timeout(200)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{shot}.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(DESKTOP)


def _sign_in(page: Any, base: str, user: User, then: str) -> None:
    page.goto(f"{base}{then}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{then}")


def test_the_site_page_shows_the_apis_availability_and_downloads_its_csv(
    browser,  # noqa: F811
    make_site,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    acme = Customer.objects.create(name="Acme Structures")
    member = User.objects.create_user("acme-engineer", password=PASSWORD)
    acme.members.add(member)
    site = make_site(name="Viaduct East", customer=acme)
    _seed(site)

    with _serve(tmp_path / "uvicorn.log", reconcile_every=60) as base:
        page = browser.new_page(viewport=DESKTOP, accept_downloads=True)
        problems = _watch(page)
        _sign_in(page, base, member, f"/sites/{site.pk}/availability/")
        expect(page.get_by_role("heading", name="Site availability (hourly)")).to_be_visible(timeout=GUARD_MS)
        expect(
            page.get_by_role("group", name="ACC03: availability per period (arrow keys move)")
        ).to_be_visible(timeout=GUARD_MS)

        api = page.request.get(f"{base}/api/sites/{site.pk}/availability/").json()
        for label, field in BARS.items():
            assert _same(_bars(page, label), [(b["start"], _uptime(b[field])) for b in api["buckets"]]), label
        sensors = page.request.get(f"{base}/api/sites/{site.pk}/sensors/availability/").json()["results"]
        assert [s["device_name"] for s in sensors] == ["ACC01", "ACC02", "ACC03"]
        for sensor in sensors:
            expected = [(b["start"], _uptime(b["uptime_percentage"])) for b in sensor["buckets"]]
            assert _same(_bars(page, sensor["device_name"]), expected), sensor["device_name"]
        # The seeded times themselves: the connection's bucket 8 h before this hour was down half of it,
        # ACC01 down 45 min of its bucket 5 h before; the figures as text too.
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        at = {start: value for start, value in _bars(page, "Connection")}
        assert at[(hour - dt.timedelta(hours=8)).isoformat().replace("+00:00", "Z")] == "50"
        assert at[(hour - dt.timedelta(hours=9)).isoformat().replace("+00:00", "Z")] == "0"
        acc01 = dict(_bars(page, "ACC01"))
        assert acc01[(hour - dt.timedelta(hours=5)).isoformat().replace("+00:00", "Z")] == "25"
        connection_text = f"{api['connection']['uptime_percentage']:.2f}".rstrip("0").rstrip(".") + " %"
        expect(page.locator(".avail-row", has_text="Connection").get_by_text(connection_text)).to_be_visible()

        # A segment's figure on hover, as a person reads it.
        segment = page.get_by_role("group", name="Connection: availability per period (arrow keys move)")
        segment.locator(".avail-seg[data-uptime='50']").hover()
        expect(page.locator(".avail-tip")).to_contain_text("50 % up")

        assert _accessibility_problems(page) == [], "availability view"
        _shots(page, "availability-busy")

        # The site's uptime report downloads from its button: a header and a row per bucket.
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Site uptime").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".csv")
        rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
        assert rows[0][:3] == ["site_id", "site_code", "site_name"]
        assert len(rows) - 1 == len(api["buckets"])
        assert {row[1] for row in rows[1:]} == {site.code}

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Sensor uptime").click()
        rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text())))
        assert "device_name" in rows[0]
        assert len(rows) - 1 == 3 * len(api["buckets"])

        page.get_by_role("link", name="Maintenance").click()
        expect(page.get_by_role("list", name="Past windows")).to_contain_text(
            "Bearing check", timeout=GUARD_MS
        )
        assert _accessibility_problems(page) == [], "maintenance view"
        _shots(page, "maintenance-customer")
        assert problems == [], problems


def test_staff_acknowledge_an_alert_from_the_alerts_page(
    browser,  # noqa: F811
    make_site,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    operator = User.objects.create_user("night-shift", password=PASSWORD, is_staff=True)
    site = make_site(name="Harbour crane")
    quiet = make_site(name="Dam spillway")
    _seed(quiet)
    now = timezone.now()
    names = [f"ACC{i:02d}" for i in range(1, 101)]
    Alert.objects.create(
        site=site,
        kind="heartbeat_missing",
        severity="critical",
        title="Harbour crane went silent",
        message="No heartbeat for 90 s; 100 sensors unheard.",
        affected_sensors=names,
        opened_at=now - dt.timedelta(minutes=12),
    )
    Alert.objects.create(
        site=site,
        kind="sensor_offline",
        severity="warning",
        state="resolved",
        title="ACC07 offline",
        opened_at=now - dt.timedelta(hours=3),
        resolved_at=now - dt.timedelta(hours=2),
        in_maintenance=True,
    )

    with _serve(tmp_path / "uvicorn.log", reconcile_every=60) as base:
        page = browser.new_page(viewport=DESKTOP)
        problems = _watch(page)  # accepts the confirmation
        _sign_in(page, base, operator, "/alerts/")
        silent = page.get_by_role("listitem", name="Harbour crane went silent")
        expect(silent.get_by_text("ACC01, ACC02 and 98 more")).to_be_visible(timeout=GUARD_MS)
        assert _accessibility_problems(page) == [], "alerts page"
        _shots(page, "alerts-busy")

        silent.get_by_role("button", name="Acknowledge Harbour crane went silent").click()
        expect(silent.get_by_text("acknowledged by night-shift")).to_be_visible(timeout=GUARD_MS)
        assert Alert.objects.get(title="Harbour crane went silent").state == "acknowledged"

        page.get_by_role("button", name="Open", exact=True).click()
        expect(page.get_by_role("heading", name="No alerts")).to_be_visible(timeout=GUARD_MS)
        _shots(page, "alerts-empty")

        page.goto(f"{base}/sites/{quiet.pk}/maintenance/")
        form = page.get_by_role("form", name="Plan a maintenance window")
        expect(form).to_be_visible(timeout=GUARD_MS)
        assert _accessibility_problems(page) == [], "maintenance view (staff)"
        # The API's refusal shows beside its field; then a valid window is listed, then deleted.
        tomorrow = (dt.datetime.now() + dt.timedelta(days=1)).replace(hour=10, minute=0)
        form.get_by_label("Starts").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
        form.get_by_label("Ends").fill((tomorrow - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        form.get_by_label("Reason").fill("Cable replacement")
        form.get_by_role("button", name="Add window").click()
        expect(form.get_by_label("Ends")).to_have_attribute("aria-invalid", "true", timeout=GUARD_MS)
        expect(form.get_by_text("The window must end after it starts.")).to_be_visible()
        assert [p for p in problems if p.startswith("400 ")] == [
            f"400 {base}/api/sites/{quiet.pk}/maintenance/"
        ]
        problems.clear()
        form.get_by_label("Ends").fill((tomorrow + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        form.get_by_role("button", name="Add window").click()
        upcoming = page.get_by_role("list", name="Upcoming windows")
        expect(upcoming).to_contain_text("Cable replacement", timeout=GUARD_MS)
        expect(upcoming).to_contain_text("planned by night-shift")
        _shots(page, "maintenance-staff")
        upcoming.get_by_role("button", name=re.compile("^Delete the window")).click()  # confirmed by _watch
        expect(upcoming).to_have_count(0, timeout=GUARD_MS)
        assert not MaintenanceWindow.objects.filter(reason="Cable replacement").exists()
        page.goto(f"{base}/sites/{quiet.pk}/alerts/")
        expect(page.get_by_role("heading", name="No alerts")).to_be_visible(timeout=GUARD_MS)
        page.goto(f"{base}/sites/{site.pk}/availability/?window=7d")
        expect(page.get_by_role("heading", name="Site availability (daily)")).to_be_visible(timeout=GUARD_MS)
        _shots(page, "availability-empty")
        assert problems == [], problems
