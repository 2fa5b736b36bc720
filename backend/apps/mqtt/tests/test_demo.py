"""`manage.py demo` (what `make demo` runs): the faults it injects by default, and end to end:
embedded broker, simulator, web server and the worker in its lifespan; live sensors appear, every
fault shows, and Ctrl-C stops it all cleanly."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.cookiejar
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from apps.mqtt.management.commands import demo
from apps.mqtt.management.commands.demo import DEMO_FAULTS, DemoFault, demo_sites
from apps.mqtt.simulator.faults import NO_FAULTS, Faults
from apps.mqtt.simulator.payloads import SiteSimulator
from apps.mqtt.tests.conftest import BACKEND, free_port


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


# -- the faults, without running anything ---------------------------------------------------------


@pytest.fixture
def captured_run(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Runs the command up to the point where it would start the broker, simulator and server, and
    captures the sites and faults it would run."""
    settings.DEBUG = True
    settings.MQTT_WORKER_IN_WEB = True
    captured: dict[str, Any] = {}

    async def run(
        self: demo.Command, options: dict[str, Any], sites: list[SiteSimulator], faults: list[DemoFault]
    ) -> None:
        captured.update(sites=sites, faults=faults)

    monkeypatch.setattr(demo.Command, "_run", run)
    return captured


def test_demo_applies_faults_to_a_few_sites_by_default(captured_run: dict[str, Any]) -> None:
    call_command("demo", stdout=io.StringIO())

    sites: list[SiteSimulator] = captured_run["sites"]
    faults = {site.site_code: site.faults for site in sites if site.faults != NO_FAULTS}
    assert len(sites) == 20
    assert faults == {
        "DEMO003": Faults(stale_sensors=2, vanish_after=30),
        "DEMO005": Faults(vanishing_sensors=3, vanish_after=30),
        "DEMO007": Faults(dark_every=300, dark_for=75, dark_offset=15, vanish_after=30),
        "DEMO009": Faults(malformed=0.03, vanish_after=30),
        "DEMO011": Faults(malformed=0.03, vanish_after=30),
    }
    assert [fault.code for fault in captured_run["faults"]] == list(faults)


def test_no_faults_option_runs_every_site_clean(captured_run: dict[str, Any]) -> None:
    call_command("demo", no_faults=True, stdout=io.StringIO())

    assert len(captured_run["sites"]) == 20
    assert all(site.faults == NO_FAULTS for site in captured_run["sites"])
    assert captured_run["faults"] == []


def test_a_small_demo_keeps_the_faults_of_its_sites_within_its_sensors(captured_run: dict[str, Any]) -> None:
    call_command("demo", sites=5, sensors=1, interval=2, stdout=io.StringIO())

    assert [(fault.code, fault.faults) for fault in captured_run["faults"]] == [
        ("DEMO003", Faults(stale_sensors=1, vanish_after=12)),
        ("DEMO005", Faults(vanishing_sensors=1, vanish_after=12)),
    ]


def test_the_default_demo_shows_each_fault_within_two_minutes() -> None:
    """The worker's timeout is 30 s: stale after 30 s of a frozen ts, offline after 3 heartbeats
    without the sensor, heartbeat missing after 30 s of silence. Malformed messages are random, so
    this pins that the default demo's seeded streams give one early."""
    sites, faults = demo_sites(20, sensors=100, interval=5.0)
    by_code = {site.site_code: site for site in sites}
    start = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    ticks = [start + dt.timedelta(seconds=5 * i) for i in range(24)]  # the first 2 minutes
    assert {fault.code for fault in faults} == {fault.code for fault in DEMO_FAULTS}

    stale = by_code["DEMO003"]
    frozen = [stale.heartbeat_document(t)["sensors_last_data"][:2] for t in ticks]
    assert [entry["device_name"] for entry in frozen[0]] == stale.stale_device_names
    assert all(entries == frozen[0] for entries in frozen)  # the same ts for 2 minutes: stale after 30 s

    vanishing = by_code["DEMO005"]
    listed = [vanishing.heartbeat_document(t, drop=False)["sensors_last_data"] for t in ticks]
    names = [{entry["device_name"] for entry in heartbeat} for heartbeat in listed]
    gone = set(vanishing.vanishing_device_names)
    assert len(gone) == 3
    first_without = next(i for i, heartbeat in enumerate(names) if not gone & heartbeat)
    assert all(gone <= heartbeat for heartbeat in names[:first_without])
    assert first_without >= 1  # listed first, so the worker creates them
    assert first_without + 3 < len(ticks)  # offline (3 heartbeats without) within 2 minutes

    dark = by_code["DEMO007"]
    dark_ticks = [i for i, t in enumerate(ticks) if dark.is_dark(t)]
    assert dark_ticks[0] * 5 <= 20  # dark within ~20 s of the start...
    assert len(dark_ticks) * 5 > 30 + 5  # ...for longer than the heartbeat timeout...
    assert dark_ticks[0] * 5 + 30 + 5 < 120  # ...so the heartbeat shows missing within 2 minutes

    malformed = [
        site.heartbeat(t).malformed for site in (by_code["DEMO009"], by_code["DEMO011"]) for t in ticks
    ]
    assert any(malformed)
    assert all(site.heartbeat(ticks[0]).malformed is None for site in sites if site.faults == NO_FAULTS)


# -- end to end ----------------------------------------------------------------------------------------


def _demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}},
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        **extra,
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BACKEND, env=env, check=True)
    return env


def _tail(process: subprocess.Popen[bytes]) -> str:
    """The end of a process's output, for a failure message."""
    assert process.stdout is not None
    return process.stdout.read().decode()[-3000:]


def _start_demo(env: dict[str, str], port: int, *arguments: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "demo",
            "--sensors",
            "5",
            "--interval",
            "1",
            "--port",
            str(port),
            *arguments,
        ],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_demo_serves_live_sensors_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = _demo_env(tmp_path)
    port = free_port()
    started = time.monotonic()
    demo = _start_demo(env, port, "--sites", "3")
    try:
        online = 0.0
        while online < 15:
            assert demo.poll() is None, _tail(demo)
            assert time.monotonic() - started < 60, "no live sensors (hang guard)"
            time.sleep(0.25)
            try:
                metrics = _get(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                continue  # not listening yet
            match = re.search(r'^sensors_by_status\{status="online"\} (\S+)$', metrics, re.M)
            online = float(match.group(1)) if match else 0.0
        print(f"\ndemo: 15 live sensors {time.monotonic() - started:.1f} s after start (target: 15 s)")
        assert '"alive": true' in _get(f"http://127.0.0.1:{port}/healthz")
        _the_printed_customer_login_opens_the_app(f"http://127.0.0.1:{port}")
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=15)
    finally:
        if demo.poll() is None:
            demo.kill()
    text = output.decode()
    assert demo.returncode == 0, text[-3000:]
    banner = text[text.index("Demo running:") :].splitlines()
    # The app first, then the logins, the other pages and the faults injected.
    assert banner[0] == f"Demo running: http://127.0.0.1:{port}/"
    assert banner[1].startswith("  staff login:    admin / demo-admin   (every site; operations at http")
    assert banner[2] == "  customer login: customer / demo-customer   (its own sites only)"
    assert text.count("demo-customer") == 1  # the logins are printed once
    assert banner[3].split() == [
        "admin:",
        f"http://127.0.0.1:{port}/admin/",
        "API",
        "docs:",
        f"http://127.0.0.1:{port}/api/docs/",
        "metrics:",
        f"http://127.0.0.1:{port}/metrics",
    ]
    assert "  faults on DEMO003 (stale sensors); --no-faults for a clean run" in banner
    assert "Demo stopped." in text


def _fault_states(database: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """State → {site code: how many sensors (or connections, or rejection tallies) are in it}."""
    queries = {
        "stale": "SELECT s.code, count(*) FROM mqtt_sensordevice d JOIN sites_site s ON s.id = d.site_id "
        "WHERE d.status = 'stale' GROUP BY 1",
        "offline": "SELECT s.code, count(*) FROM mqtt_sensordevice d JOIN sites_site s ON s.id = d.site_id "
        "WHERE d.status = 'offline' GROUP BY 1",
        "missing": "SELECT s.code, count(*) FROM mqtt_mqttconnection c JOIN sites_site s ON s.id = c.site_id "
        "WHERE c.heartbeat_state = 'missing' GROUP BY 1",
        "rejected": "SELECT s.code, count(*) FROM mqtt_rejectedmessage r "
        "JOIN sites_site s ON s.id = r.site_id GROUP BY 1",
    }
    return {state: dict(database.execute(query).fetchall()) for state, query in queries.items()}


def test_demo_shows_every_fault_state(tmp_path: Path) -> None:
    """An 11-site demo with a 3 s heartbeat timeout (instead of 30 s), so that it takes ~20 s: stale
    and offline sensors, a missing heartbeat and rejected messages, each on its own site."""
    env = _demo_env(tmp_path, MQTT_HEARTBEAT_TIMEOUT="3")
    demo = _start_demo(env, free_port(), "--sites", "11")
    started = time.monotonic()

    def shown(states: dict[str, dict[str, int]]) -> bool:
        return bool(states) and (
            states["stale"] == {"DEMO003": 2}
            and states["offline"].get("DEMO005") == 3  # its 3 vanishing sensors, not the 2 others
            and "DEMO007" in states["missing"]  # dark from 15 s in
            and "DEMO009" in states["rejected"]  # its seeded stream: an empty payload 15 s in
        )

    states: dict[str, dict[str, int]] = {}
    try:
        with sqlite3.connect(f"file:{tmp_path / 'demo.sqlite3'}?mode=ro", uri=True, timeout=5) as database:
            while not shown(states):
                assert demo.poll() is None, _tail(demo)
                assert time.monotonic() - started < 60, f"not every fault shown: {states}"
                time.sleep(0.5)
                with contextlib.suppress(sqlite3.OperationalError):  # locked: read again next time
                    states = _fault_states(database)
        print(f"\ndemo: every fault shown {time.monotonic() - started:.1f} s after start")
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=15)
    assert demo.returncode == 0, output.decode()[-3000:]
    # Only the sites given malformed messages send any.
    assert set(states["rejected"]) <= {"DEMO009", "DEMO011"}


def _the_printed_customer_login_opens_the_app(base: str) -> None:
    """The demo's customer signs in on the sign-in page and gets the app (and its own sites)."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(f"{base}/", timeout=10)
    assert page.url == f"{base}/login/?next=/"
    csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = urllib.parse.urlencode(
        {"username": "customer", "password": "demo-customer", "next": "/", "csrfmiddlewaretoken": csrf}
    ).encode()
    request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"})
    app = browser.open(request, timeout=10)
    assert app.url == f"{base}/"
    assert '<div id="root">' in app.read().decode()
    sites = orjson.loads(browser.open(f"{base}/api/sites/", timeout=10).read())
    assert sites["count"] == 3
