"""Must-hold 5: the dashboard shows live changes in headless Chromium without a reload.

The real app is served by uvicorn in a subprocess against the test database, in single-process mode
(the MQTT worker in the server's event loop, the in-memory channel layer), connected to the machine's
Mosquitto. A staff user logs in through the admin form, opens /dashboard/ and, without any
navigation: sees the connection connected, stops it (the row turns disabled), starts it again, sees a
heartbeat published to the broker arrive, and sees a change made while its socket was away once the
socket has reconnected by itself.

The server runs with DEBUG=1 for one reason: the test settings keep DEBUG off, so WhiteNoise would
serve static files only from a collected STATIC_ROOT; with DEBUG it serves them from the apps (and
cookies are not marked Secure, which plain http://127.0.0.1 needs).

Times (click → state shown) are printed, never asserted; the expectations' timeouts only guard
against a hang.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from django.contrib.auth.models import User
from django.db import connections as db_connections
from django.utils import timezone

from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.services.connections import ensure_default_topics
from apps.mqtt.tests.conftest import free_port, require
from apps.mqtt.tests.test_run_mqtt import BACKEND, _database_url
from apps.sites.models import Site

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = BACKEND.parent / "var" / "screenshots" / "dashboard.png"
GUARD_MS = 10_000  # hang guard of every expectation


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes for an async
    # context; the test's own set-up and checks are plain synchronous code. (The server does not get
    # this variable: see _serve.)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@contextmanager
def _serve(log_file: Path) -> Iterator[str]:
    """uvicorn with the real ASGI app on a free port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": _database_url(),
        "MQTT_WORKER_IN_WEB": "1",
        # Only the nudge (in-process here) can make a stop show within the expectations' guard.
        "MQTT_RECONCILE_INTERVAL": "60",
        "DEBUG": "1",
    }
    for name in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"]
    base = f"http://127.0.0.1:{port}"
    with log_file.open("wb") as sink:
        server = subprocess.Popen(command, cwd=BACKEND, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start:\n" + log_file.read_text()[-3000:]) from None
                time.sleep(0.1)
        yield base
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


def _publish(conn: MqttConnection, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    client.connect(conn.broker_host, conn.broker_port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def _heartbeat(devices: list[str]) -> bytes:
    ts = timezone.now().replace(microsecond=0).isoformat()
    return orjson.dumps(
        {
            "sensors_last_data": [
                {"device_name": name, "ts": ts, "last_acc00": 0.01, "last_acc01": -0.02, "last_acc02": 0.98}
                for name in devices
            ]
        }
    )


def test_the_dashboard_shows_live_changes_without_a_reload(
    make_connection, make_site, site_code, system_broker, tmp_path: Path
) -> None:
    require(Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM} (make system-deps)")
    from playwright.sync_api import expect, sync_playwright

    operator = User.objects.create_user("night-shift", password="a-long-test-password", is_staff=True)
    operator.is_superuser = True
    operator.save()
    conn = make_connection(
        site=make_site(code=site_code, name=f"Viaduct {site_code}"),
        broker_host=system_broker[0],
        broker_port=system_broker[1],
        retry_delay=1,
    )
    ensure_default_topics(connection=conn)
    # A second, stopped connection, so the table and totals are not trivially one row.
    other = make_connection(site=make_site(name="Harbour crane"), broker_port=1, enabled=False)
    MqttConnection.objects.filter(pk=other.pk).update(status="disabled")

    server_log = tmp_path / "uvicorn.log"
    try:
        with _serve(server_log) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                _drive(browser, base, operator, conn, expect, make_connection, make_site)
            finally:
                browser.close()
                # The ORM calls made inside Playwright's sync context got a database connection of
                # their own; close it, or it outlives the test and blocks dropping the test database.
                db_connections.close_all()
    except BaseException:
        print("---- uvicorn log (tail)\n" + server_log.read_text()[-4000:])
        raise

    events = list(ConnectionLog.objects.filter(mqtt_connection=conn).values_list("event_type", "actor"))
    assert ("stopped", operator.pk) in events
    assert ("started", operator.pk) in events


def _drive(
    browser, base: str, operator: User, conn: MqttConnection, expect, make_connection, make_site
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico")  # the admin has none
            else None
        ),
    )

    # Logging in through the admin form: /dashboard/ sends an anonymous visitor there and back.
    page.goto(f"{base}/dashboard/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", operator.username)
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=GUARD_MS)

    # From here on, the page must never load again.
    navigations: list[str] = []
    page.on(
        "framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None
    )
    page.evaluate("window.__marker = 'set before the changes'")

    row = page.locator(f'tr[data-site-id="{conn.site_id}"]')
    status = row.locator('[data-field="status"]')
    expect(status).to_have_text("Connected", timeout=GUARD_MS)
    expect(page.locator('[data-total="active"]')).to_have_text("1")
    expect(page.locator('[data-total="connections"]').first).to_have_text("2")
    expect(row.locator('[data-field="heartbeat-age"]')).to_have_text("never")
    expect(page.locator("#worker")).to_contain_text("Worker alive", timeout=GUARD_MS)

    # Stop: the observed state arrives over the socket.
    clicked = time.monotonic()
    row.locator('button[data-action="stop"]').click()
    expect(status).to_have_text("Disabled", timeout=GUARD_MS)
    stop_shown = time.monotonic() - clicked
    expect(row.locator('[data-field="enabled"]')).to_have_text("No")
    expect(row.locator('button[data-action="start"]')).to_be_enabled()
    expect(page.locator('[data-total="active"]')).to_have_text("0")
    log = page.locator("#log-rows")
    expect(log.locator("tr", has_text="Stopped by operator").first).to_contain_text(operator.username)
    expect(log.locator("tr", has_text="Disabled").first).to_be_visible(timeout=GUARD_MS)

    # Start again.
    clicked = time.monotonic()
    row.locator('button[data-action="start"]').click()
    expect(status).to_have_text("Connected", timeout=GUARD_MS)
    start_shown = time.monotonic() - clicked

    # A heartbeat published to the broker: the row's heartbeat, its sensors and the totals follow.
    published = time.monotonic()
    _publish(
        conn, f"{conn.site.code}/datalogger_o/heartbeat", _heartbeat(["MNA00001", "MNA00002", "MNA00003"])
    )
    expect(row.locator('[data-field="heartbeat-age"]')).to_have_text(
        re.compile(r"^(just now|\d+ s ago)$"), timeout=GUARD_MS
    )
    heartbeat_shown = time.monotonic() - published
    expect(row.locator('[data-field="heartbeat-state"]')).to_have_text("OK", timeout=GUARD_MS)
    expect(row.locator('[data-field="sensors-online"]')).to_have_text("3", timeout=GUARD_MS)
    expect(page.locator('[data-total="online_sensors"]')).to_have_text("3")
    expect(page.locator('[data-total="sensors"]').first).to_have_text("3")

    # The socket drops: the page says so, reconnects by itself and re-reads what it missed meanwhile
    # (a rename broadcasts nothing: only the re-read can show it).
    page.evaluate("window.opsDashboard.socket.close()")
    expect(page.locator("#live")).to_have_attribute("data-state", "reconnecting", timeout=GUARD_MS)
    Site.objects.filter(pk=conn.site_id).update(name="Viaduct (renamed)")
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=GUARD_MS)
    expect(row.locator('[data-field="site-name"]')).to_have_text("Viaduct (renamed)", timeout=GUARD_MS)

    # A connection added meanwhile (the admin, another operator) appears on the next re-read, as a
    # row built from the page's row template, with its pending stop and its actions.
    added = make_connection(site=make_site(name="Quarry", code=f"Q{conn.site.code}"), enabled=False)
    page.evaluate("window.opsDashboard.refresh()")
    new_row = page.locator(f'tr[data-site-id="{added.site_id}"]')
    expect(new_row.locator('[data-field="site-name"]')).to_have_text("Quarry", timeout=GUARD_MS)
    expect(new_row.locator('[data-field="pending"]')).to_have_text("stopping…")
    expect(new_row.locator('button[data-action="start"]')).to_be_enabled()
    expect(new_row.locator("form.action-form").first).to_have_attribute(
        "action", f"/dashboard/connections/{added.pk}/start/"
    )
    expect(page.locator('[data-total="connections"]').first).to_have_text("3")

    # Let the ages tick once, then record what an operator sees (and, to look at, the narrow and
    # dark variants).
    _wait_for_tick(page, row)
    page.mouse.move(0, 0)  # no hover highlight on the last clicked row
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(SCREENSHOT.with_name("dashboard-dark.png")), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 414, "height": 900})
    page.screenshot(path=str(SCREENSHOT.with_name("dashboard-narrow.png")), full_page=True)

    assert page.evaluate("window.__marker") == "set before the changes"
    assert navigations == [], navigations
    assert problems == [], problems
    print(
        f"\nbrowser: stop → 'Disabled' shown {stop_shown:.3f} s after the click, start → 'Connected' "
        f"{start_shown:.3f} s, heartbeat → row {heartbeat_shown:.3f} s after publishing (target 2 s)"
        f"\nscreenshot: {SCREENSHOT}"
    )


def _wait_for_tick(page, row) -> None:
    age = row.locator('[data-field="heartbeat-age"]')
    first = age.text_content()
    deadline = time.monotonic() + 5
    while age.text_content() == first and time.monotonic() < deadline:
        page.wait_for_timeout(200)
