"""The web app in headless Chromium against the real server and a real broker, without a reload:
a customer signs in at the sign-in page, sees only their sites and opens one; a published heartbeat
updates a sensor card; a sensor left out of 3 heartbeats turns offline; a stopped connection shows
down; a device named like an HTML tag is shown as text and runs nothing. Staff stop and start a
connection from the operations view (the former dashboard's test).

The real app is served by uvicorn in a subprocess against the test database, in single-process mode
(the MQTT worker in the server's event loop, the in-memory channel layer), connected to the
machine's Mosquitto. DEBUG=1 for one reason: the test settings keep DEBUG off, so WhiteNoise would
serve static files only from a collected STATIC_ROOT; with DEBUG it serves the build where it is
(and cookies are not marked Secure, which plain http://127.0.0.1 needs).

Times (publish → shown) are printed and the 2 s target is asserted with a margin only where the
issue asks for it; the other expectations' timeouts only guard against a hang.
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
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections as db_connections
from django.utils import timezone

from apps.mqtt.models import ConnectionLog, MqttConnection
from apps.mqtt.services.connections import set_topics
from apps.mqtt.tests.conftest import BACKEND, database_url, free_port, require
from apps.sites.models import Customer

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
SCREENSHOTS = BACKEND.parent / "var" / "screenshots"
GUARD_MS = 10_000  # hang guard of every expectation
PASSWORD = "a-long-test-password"
XSS_NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes for an async
    # context; the test's own set-up and checks are plain synchronous code. (The server does not get
    # this variable: see _serve.)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser() -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM} (make system-deps)")
    require(
        (settings.FRONTEND_DIST / "index.html").is_file(),
        f"the web app is not built at {settings.FRONTEND_DIST} (make frontend)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # The ORM calls made inside Playwright's sync context got a database connection of their
            # own; close it, or it outlives the test and blocks dropping the test database.
            db_connections.close_all()


@contextmanager
def _serve(log_file: Path, *, reconcile_every: int) -> Iterator[str]:
    """uvicorn with the real ASGI app on a free port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url(),
        "MQTT_WORKER_IN_WEB": "1",
        "MQTT_RECONCILE_INTERVAL": str(reconcile_every),
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
    except BaseException:
        print("---- uvicorn log (tail)\n" + log_file.read_text()[-4000:])
        raise
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


def _publish(conn: MqttConnection, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    client.connect(conn.broker_host, conn.broker_port)
    client.loop_start()
    try:
        topic = f"{conn.site.code}/datalogger_o/heartbeat"
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def _heartbeat(devices: list[str], *, acc_z: float = 0.98) -> bytes:
    ts = timezone.now().isoformat()  # microseconds: each heartbeat a new reading, never a repeat
    return orjson.dumps(
        {
            "sensors_last_data": [
                {"device_name": name, "ts": ts, "last_acc00": 0.01, "last_acc01": -0.02, "last_acc02": acc_z}
                for name in devices
            ]
        }
    )


def _watch(page: Any) -> list[str]:
    """Script errors, failed requests and alerts (an injected script would open one). The app's own
    confirmations (Stop, Restart) are accepted."""
    problems: list[str] = []

    def on_dialog(dialog: Any) -> None:
        if dialog.type == "confirm":
            dialog.accept()
        else:
            problems.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("dialog", on_dialog)
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    return problems


AXE = BACKEND.parent / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def _accessibility_problems(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is (WCAG 2.1 A and AA rules)."""
    require(AXE.is_file(), f"axe-core is not installed at {AXE} (make frontend)")
    page.add_script_tag(path=str(AXE))
    rules = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']"
    result = page.evaluate(f"() => axe.run(document, {{runOnly: {{type: 'tag', values: {rules}}}}})")
    assert result["passes"], "axe ran no rule"
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in result["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def _mark_the_page(page: Any) -> None:
    """A value that survives in-app navigation (history API) but not a reload."""
    page.evaluate("window.__marker = 'set before the changes'")


def _was_not_reloaded(page: Any) -> bool:
    return page.evaluate("window.__marker") == "set before the changes"


def _sign_in(page: Any, base: str, user: User, then: str) -> None:
    page.goto(f"{base}{then}")
    assert "/login/" in page.url  # an anonymous visitor is sent to sign in, and back afterwards
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{then}")


def _monitored_site(
    make_connection, make_site, system_broker, *, code: str, name: str, customer: Customer | None
):
    conn = make_connection(
        site=make_site(code=code, name=name, customer=customer),
        broker_host=system_broker[0],
        broker_port=system_broker[1],
        retry_delay=1,
    )
    set_topics(connection=conn)
    return conn


def test_a_customer_follows_their_site_live(
    browser, make_connection, make_site, site_code, system_broker, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    acme = Customer.objects.create(name="Acme Structures")
    member = User.objects.create_user("acme-engineer", password=PASSWORD)
    acme.members.add(member)
    conn = _monitored_site(
        make_connection, make_site, system_broker, code=site_code, name=f"Viaduct {site_code}", customer=acme
    )
    other = make_site(name="Someone else's dam", customer=Customer.objects.create(name="Other Co"))

    with _serve(tmp_path / "uvicorn.log", reconcile_every=1) as base:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        problems = _watch(page)

        # Signs in at the sign-in page (a customer is not staff) and sees only their own sites.
        _sign_in(page, base, member, "/")
        overview = page.get_by_role("main")
        expect(overview.get_by_role("link", name=conn.site.name)).to_be_visible(timeout=GUARD_MS)
        expect(overview.get_by_text(other.name)).to_have_count(0)
        expect(overview.get_by_text("Connected").first).to_be_visible(timeout=GUARD_MS)
        assert _accessibility_problems(page) == [], "overview"

        # Opens the site; from here on, the page never loads again.
        overview.get_by_role("link", name=conn.site.name).click()
        page.wait_for_url(f"{base}/sites/{conn.site_id}/")
        expect(page.get_by_role("heading", name=conn.site.name)).to_be_visible(timeout=GUARD_MS)
        _mark_the_page(page)

        # A published heartbeat reaches the cards without a reload, within 2 s.
        published = time.monotonic()
        _publish(conn, _heartbeat(["MNA00001", "MNA00002", XSS_NAME], acc_z=0.987))
        first = page.get_by_role("article", name="MNA00001")
        expect(first.get_by_text("0.987")).to_be_visible(timeout=GUARD_MS)
        first_shown = time.monotonic() - published
        expect(first.get_by_text("Online", exact=True)).to_be_visible()

        published = time.monotonic()
        _publish(conn, _heartbeat(["MNA00001", "MNA00002", XSS_NAME], acc_z=0.912))
        expect(first.get_by_text("0.912")).to_be_visible(timeout=GUARD_MS)
        update_shown = time.monotonic() - published

        # A device named like markup is text: shown as typed, no image element, no alert.
        expect(page.get_by_role("heading", name=XSS_NAME, exact=True)).to_be_visible()
        assert page.locator("img[src=x]").count() == 0

        # MNA00002 left out of 3 heartbeats in a row turns offline.
        for acc_z in (0.921, 0.922, 0.923):
            _publish(conn, _heartbeat(["MNA00001", XSS_NAME], acc_z=acc_z))
            expect(first.get_by_text(f"{acc_z:.3f}")).to_be_visible(timeout=GUARD_MS)
        second = page.get_by_role("article", name="MNA00002")
        expect(second.get_by_text("Offline", exact=True)).to_be_visible(timeout=GUARD_MS)

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "site.png"), full_page=True)
        assert _accessibility_problems(page) == [], "site page"

        # Monitoring stopped (by an operator elsewhere): the page shows the connection down.
        MqttConnection.objects.filter(pk=conn.pk).update(enabled=False)
        header = page.get_by_role("region", name=conn.site.name)
        expect(header.get_by_text("Disabled", exact=True)).to_be_visible(timeout=GUARD_MS)

        assert _was_not_reloaded(page)
        assert problems == [], problems
    print(
        f"\nbrowser: heartbeat → card {first_shown:.3f} s (new sensors) and {update_shown:.3f} s (an update) "
        "after publishing (target 2 s)"
    )
    # The figure, with room for this shared machine: the expectation above guards a hang only.
    assert update_shown < 2.0, f"a heartbeat took {update_shown:.2f} s to reach its card"


def test_staff_stop_and_start_a_connection_from_the_operations_view(
    browser, make_connection, make_site, site_code, system_broker, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    operator = User.objects.create_user("night-shift", password=PASSWORD, is_staff=True, is_superuser=True)
    conn = _monitored_site(
        make_connection, make_site, system_broker, code=site_code, name=f"Bridge {site_code}", customer=None
    )
    # A second, stopped connection, so the table and totals are not trivially one row.
    other = make_connection(site=make_site(name="Harbour crane"), broker_port=1, enabled=False)
    MqttConnection.objects.filter(pk=other.pk).update(status="disabled")

    # Only the nudge (in-process here) can make a stop show within the expectations' guard.
    with _serve(tmp_path / "uvicorn.log", reconcile_every=60) as base:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        problems = _watch(page)
        page.goto(f"{base}/dashboard/")  # the old address leads to the operations view
        assert "/login/" in page.url
        page.get_by_label("Username").fill(operator.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/ops/")
        _mark_the_page(page)

        connections = page.get_by_role("region", name="Connections")
        row = connections.get_by_role("row", name=conn.site.name)
        expect(row.get_by_text("Connected", exact=True)).to_be_visible(timeout=GUARD_MS)
        expect(page.get_by_text("Worker alive").first).to_be_visible(timeout=GUARD_MS)

        clicked = time.monotonic()
        row.get_by_role("button", name=f"Stop {conn.site.name}", exact=True).click()  # confirmed by _watch
        expect(row.get_by_text("Disabled", exact=True)).to_be_visible(timeout=GUARD_MS)
        stop_shown = time.monotonic() - clicked
        events = page.get_by_role("region", name=re.compile("Recent events"))
        expect(events.get_by_text("Stopped by operator").first).to_be_visible(timeout=GUARD_MS)

        clicked = time.monotonic()
        row.get_by_role("button", name=f"Start {conn.site.name}", exact=True).click()
        expect(row.get_by_text("Connected", exact=True)).to_be_visible(timeout=GUARD_MS)
        start_shown = time.monotonic() - clicked

        published = time.monotonic()
        _publish(conn, _heartbeat(["MNA00001", "MNA00002", "MNA00003"]))
        expect(row.get_by_text("OK", exact=True)).to_be_visible(timeout=GUARD_MS)
        heartbeat_shown = time.monotonic() - published

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "ops.png"), full_page=True)
        assert _accessibility_problems(page) == [], "operations view"
        assert _was_not_reloaded(page)
        assert problems == [], problems

    logged = list(ConnectionLog.objects.filter(mqtt_connection=conn).values_list("event_type", "actor"))
    assert ("stopped", operator.pk) in logged
    assert ("started", operator.pk) in logged
    print(
        f"\nbrowser: stop → 'Disabled' {stop_shown:.3f} s after the click, start → 'Connected' "
        f"{start_shown:.3f} s, heartbeat → row {heartbeat_shown:.3f} s after publishing"
    )
