"""The web app's time per frame, measured in Chromium (``python bench/run.py frontend``, make
bench-frontend): the React app built in frontend/dist, served by the real system, under live load.

Run as a child process of bench/run.py with the Django environment of the single-process stack
(uvicorn with the MQTT worker in its loop, in-memory channel layer, SQLite in the run's temporary
folder, DEBUG=1 as the browser tests: WhiteNoise serves the app's files and the session cookie works
over plain http). Each scenario gets new sites, a fresh server, and a fresh browser:

``site``      one site of 100 sensors, a 100-sensor heartbeat every second; the browser shows
              ``/sites/<id>/`` (100 sensor cards).
``overview``  1,000 sites (1,000 MQTT connections to the machine's Mosquitto), 200 small heartbeats
              (3 sensors) per second spread round-robin over them; the browser shows ``/``.

A scenario: the sites' sensors are registered first (one heartbeat each, not measured), the page is
opened signed in, then an *idle* window (no traffic: the page's own baseline), then the publisher
starts (its own process, paced on a monotonic clock), and after a warm-up the *load* window is
measured. In the page (an init script, before the app's own code; the app is not changed): a
requestAnimationFrame loop records every frame, PerformanceObservers record long animation frames
(Chromium's LoAF API) and long tasks, and a listener added to every WebSocket the page opens notes
when each message arrives (the text is kept and read after the window, so the listener costs almost
nothing). Chromium's own counters (CDP ``Performance.getMetrics``: main-thread task, script, layout
and style time) give the busy time per frame. Playwright counts the WebSocket frames too.

Also a publisher: ``python -m bench.frontend publish CONFIG.json OUT.json``.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import LOOPBACK, PYTHON, REPO, child_main, percentile, setup_django, write_json

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
VIEWPORT = {"width": 1440, "height": 900}
PASSWORD = "bench-frontend-password-0"
START_TIMEOUT = 240.0  # seconds for the server to come up and the MQTT connections to connect
CONNECTED_SHARE = 0.95  # "most" connections connected before anything is measured
PAGE_TIMEOUT_MS = 90_000
# A 60 Hz display: a frame every 16.67 ms. Headless Chromium paces requestAnimationFrame at 60 Hz,
# so no interval can be shorter; a frame "on time" is within a 1 ms tolerance of it.
VSYNC_MS = 1000 / 60
ON_TIME_MS = VSYNC_MS + 1.0
TARGET_P99_MS = 50.0
LONG_FRAME_MS = 50.0
# Long enough that no site turns late or missing in the quiet window before the load (late after 1.5
# intervals): the load is the heartbeats, not liveness transitions.
EXPECTED_INTERVAL_S = 60
# The site page's view to measure ("cards", the app's default, or "table"): the app remembers it in
# localStorage, set before the app's code runs. BENCH_SITE_VIEW=table bench/run.py frontend.
SITE_VIEW = os.environ.get("BENCH_SITE_VIEW", "cards")

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# The page's instrumentation, run before the app's own script in every document.
INIT_SCRIPT = r"""
(() => {
  const B = { frames: [], runs: [], loaf: [], longtasks: [], msgs: [], t0: performance.now(),
              loafSupported: false, longtaskSupported: false, recording: true };
  window.__bench = B;
  const loop = (ts) => {
    if (B.recording) { B.frames.push(ts); B.runs.push(performance.now()); }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  const keepLoaf = (list) => {
    for (const e of list.getEntries()) {
      const scripts = e.scripts || [];
      B.loaf.push({
        start: e.startTime, duration: e.duration, blocking: e.blockingDuration || 0,
        renderStart: e.renderStart, styleAndLayoutStart: e.styleAndLayoutStart,
        script: scripts.reduce((sum, s) => sum + s.duration, 0),
        forcedStyleAndLayout: scripts.reduce((sum, s) => sum + (s.forcedStyleAndLayoutDuration || 0), 0),
        top: scripts.slice().sort((a, b) => b.duration - a.duration).slice(0, 3).map((s) => ({
          duration: s.duration, invoker: s.invoker, invokerType: s.invokerType,
          fn: s.sourceFunctionName, char: s.sourceCharPosition,
        })),
      });
    }
  };
  try {
    B.loafObserver = new PerformanceObserver(keepLoaf);
    B.loafObserver.observe({ type: "long-animation-frame", buffered: true });
    B.loafSupported = true;
  } catch (e) { B.loafError = String(e); }
  try {
    B.longtaskObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.longtasks.push({ start: e.startTime, duration: e.duration });
    });
    B.longtaskObserver.observe({ type: "longtask", buffered: true });
    B.longtaskSupported = true;
  } catch (e) { B.longtaskError = String(e); }
  const Native = window.WebSocket;
  class TimedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (B.recording) B.msgs.push([performance.now(), event.data]);
      });
    }
  }
  window.WebSocket = TimedWebSocket;
  B.reset = () => {
    B.frames = []; B.runs = []; B.loaf = []; B.longtasks = []; B.msgs = [];
    B.t0 = performance.now(); B.recording = true;
    return B.t0;
  };
  B.collect = () => {
    const t1 = performance.now();
    B.recording = false;
    if (B.loafObserver) keepLoaf({ getEntries: () => B.loafObserver.takeRecords() });
    if (B.longtaskObserver) {
      for (const e of B.longtaskObserver.takeRecords()) {
        B.longtasks.push({ start: e.startTime, duration: e.duration });
      }
    }
    const msgs = B.msgs.map(([at, data]) => {
      let type = "?", key = null;
      try {
        const m = JSON.parse(data);
        type = m.type || "?";
        if (type === "sensors_update" && m.sensors && m.sensors.length) {
          const s = m.sensors[0];
          const r = (s.readings && s.readings[0]) || null;
          const stamp = (r && r.timestamp) || s.timestamp || null;
          key = stamp ? Date.parse(stamp) : null;
        } else if (type === "status_update" && m.data) {
          key = m.data.site_id;
        }
      } catch (e) { type = "unparsed"; }
      return [at, type, key, typeof data === "string" ? data.length : 0];
    });
    const inWindow = (e) => e.start >= B.t0;
    return {
      t0: B.t0, t1, timeOrigin: performance.timeOrigin,
      frames: B.frames, runs: B.runs, msgs,
      loaf: B.loaf.filter(inWindow), longtasks: B.longtasks.filter(inWindow),
      loafSupported: B.loafSupported, longtaskSupported: B.longtaskSupported,
      loafError: B.loafError || null, longtaskError: B.longtaskError || null,
      nodes: document.getElementsByTagName("*").length,
      heapUsed: (performance.memory && performance.memory.usedJSHeapSize) || null,
    };
  };
})();
"""


def app_build() -> dict[str, Any]:
    """Which build of the web app is measured: the bundles frontend/dist/index.html names, and when it
    was built (the sources may have moved on since: the commit alone does not say)."""
    index = REPO / "frontend" / "dist" / "index.html"
    built = dt.datetime.fromtimestamp(index.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
    return {
        "bundles": sorted(set(re.findall(r"assets/([\w.-]+\.(?:js|css))", index.read_text()))),
        "built_at": built,
    }


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- the publisher (its own process)


def heartbeat_payload(sensors: int, now: dt.datetime, phase: float) -> tuple[bytes, int]:
    """A heartbeat of ``sensors`` sensors with values that change every time, and its ts key (ms)."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # ts carries milliseconds
    stamp = now.isoformat(timespec="milliseconds")
    t = now.timestamp()
    rows = []
    for n in range(sensors):
        wave = math.sin(t * 0.7 + n + phase)
        rows.append(
            {
                "device_name": f"MNA{n + 1:05d}",
                "ts": stamp,
                "last_acc00": round(0.01 * wave, 5),
                "last_acc01": round(-0.02 * wave + 0.001 * n, 5),
                "last_acc02": round(0.98 + 0.01 * wave, 5),
                "last_incli_x": round(0.5 * wave, 4),
                "last_incli_y": round(-0.3 * wave + 0.01 * (n % 7), 4),
            }
        )
    key = (now - EPOCH) // dt.timedelta(milliseconds=1)
    return json.dumps({"sensors_last_data": rows}, separators=(",", ":")).encode(), key


def publisher(config: dict[str, Any]) -> dict[str, Any]:
    """Publish heartbeats round-robin over the sites at ``rate`` per second for ``duration`` seconds
    (or ``count`` heartbeats), paced on the monotonic clock; note when each went to the client."""
    import paho.mqtt.client as mqtt

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())
    connected = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config["client_id"])
    client.on_connect = lambda *_args: connected.set()
    client.max_queued_messages_set(0)
    client.connect(LOOPBACK, config["broker_port"], keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(15):
            raise RuntimeError("the publisher could not connect to the broker")
        codes: list[str] = config["codes"]
        rate, sensors = float(config["rate"]), int(config["sensors"])
        duration, count = config.get("duration"), config.get("count")
        sent: list[tuple[int, int, float]] = []  # (site index, ts key in ms, wall time handed over)
        lags: list[float] = []
        failures = 0
        started = time.monotonic()
        cpu = time.process_time()
        i = 0
        while not stop.is_set():
            target = started + i / rate
            if (duration is not None and target - started >= duration) or (count is not None and i >= count):
                break
            delay = target - time.monotonic()
            if delay > 0:
                stop.wait(delay)
                if stop.is_set():
                    break
            lags.append(time.monotonic() - target)
            index = i % len(codes)
            now = dt.datetime.now(dt.UTC)
            payload, key = heartbeat_payload(sensors, now, phase=i * 0.01)
            handed = time.time()
            info = client.publish(f"{codes[index]}/datalogger_o/heartbeat", payload, qos=0)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                failures += 1
            else:
                sent.append((index, key, handed))
            i += 1
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu
        # The rate achieved: between the first and the last heartbeat handed over.
        span = sent[-1][2] - sent[0][2] if len(sent) > 1 else 0.0
        time.sleep(0.5)  # let the network thread hand the last ones to the broker
    finally:
        client.disconnect()
        client.loop_stop()
    ordered = sorted(lags)
    return {
        "sent": sent,
        "published": len(sent),
        "failures": failures,
        "seconds": seconds,
        "rate_achieved": (len(sent) - 1) / span if span > 0 else None,
        "lag_ms": {
            "p50": 1000 * (percentile(ordered, 50) or 0),
            "p99": 1000 * (percentile(ordered, 99) or 0),
            "max": 1000 * (ordered[-1] if ordered else 0),
        },
        "late_over_50ms": sum(1 for lag in lags if lag > 0.05),
        "cpu_percent": 100 * cpu / seconds if seconds > 0 else None,
        "interrupted": stop.is_set(),
    }


class Publisher:
    """The publisher process, started in the background."""

    def __init__(self, work: Path, stem: str, config: dict[str, Any]) -> None:
        self.config_path, self.out = work / f"{stem}-config.json", work / f"{stem}-out.json"
        self.config_path.write_text(json.dumps(config))
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.frontend", "publish", str(self.config_path), str(self.out)], cwd=REPO
        )

    def wait(self, timeout: float) -> dict[str, Any]:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
        if self.process.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"the publisher ended with {self.process.returncode} and no result")
        return dict(json.loads(self.out.read_text()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------- the database (before the browser)


def create_sites(tag: str, count: int, *, prefix: str, broker_port: int) -> list[tuple[int, str]]:
    from django.db import transaction

    from apps.mqtt.models import MqttConnection
    from apps.mqtt.services.connections import set_topics
    from apps.sites.models import Site

    sites: list[tuple[int, str]] = []
    with transaction.atomic():
        for number in range(count):
            code = f"{tag}N{number + 1:04d}"
            site = Site.objects.create(name=f"Bench {code}", code=code)
            connection = MqttConnection.objects.create(
                site=site,
                broker_host=LOOPBACK,
                broker_port=broker_port,
                client_id_prefix=prefix,
                expected_heartbeat_interval=EXPECTED_INTERVAL_S,
                enabled=True,
            )
            set_topics(connection=connection)
            sites.append((site.pk, code))
    return sites


def delete_sites(site_ids: list[int]) -> None:
    from apps.sites.models import Site

    Site.objects.filter(pk__in=site_ids).delete()


def connected_count(site_ids: list[int]) -> int:
    from apps.mqtt.models import MqttConnection

    return MqttConnection.objects.filter(site_id__in=site_ids, status=MqttConnection.Status.CONNECTED).count()


def sensor_count(site_ids: list[int]) -> int:
    from apps.mqtt.models import SensorDevice

    return SensorDevice.objects.filter(site_id__in=site_ids).count()


def staff_user(username: str) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)


# ---------------------------------------------------------------- figures


def interval_figures(frames: list[float]) -> dict[str, Any]:
    """The intervals between consecutive animation frames (ms) and what they say about dropped frames:
    an interval of k vsync periods means k - 1 frames were not produced."""
    intervals = sorted(b - a for a, b in itertools.pairwise(frames))
    missed = sum(max(0, round(value / VSYNC_MS) - 1) for value in intervals)
    return {
        "frames": len(frames),
        "intervals": len(intervals),
        "p50_ms": percentile(intervals, 50),
        "p95_ms": percentile(intervals, 95),
        "p99_ms": percentile(intervals, 99),
        "max_ms": intervals[-1] if intervals else None,
        "mean_ms": sum(intervals) / len(intervals) if intervals else None,
        "over_on_time": sum(1 for value in intervals if value > ON_TIME_MS),
        "over_50ms": sum(1 for value in intervals if value > LONG_FRAME_MS),
        "missed_frames": missed,
        "missed_share": missed / (len(intervals) + missed) if intervals else None,
    }


def loaf_figures(entries: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    long_ones = [entry for entry in entries if entry["duration"] > LONG_FRAME_MS]
    durations = sorted(entry["duration"] for entry in long_ones)
    blocking = sum(entry["blocking"] for entry in long_ones)
    scripts = sum(entry["script"] for entry in long_ones)
    # From the start of the rendering phase (rAF callbacks, then style and layout, then paint) and
    # from the start of style and layout, to the frame's end.
    render = sum(e["start"] + e["duration"] - e["renderStart"] for e in long_ones if e["renderStart"])
    layout = sum(
        e["start"] + e["duration"] - e["styleAndLayoutStart"] for e in long_ones if e["styleAndLayoutStart"]
    )
    top: dict[str, float] = {}
    for entry in long_ones:
        for script in entry.get("top", []):
            name = f"{script.get('invokerType')}: {script.get('invoker')}"
            top[name] = top.get(name, 0.0) + script["duration"]
    return {
        "count": len(long_ones),
        "per_minute": 60 * len(long_ones) / seconds if seconds > 0 else None,
        "total_ms": sum(durations),
        "blocking_total_ms": blocking,
        "script_total_ms": scripts,
        "rendering_phase_total_ms": render,
        "style_layout_paint_total_ms": layout,
        "p50_ms": percentile(durations, 50),
        "max_ms": durations[-1] if durations else None,
        "top_invokers_ms": dict(sorted(top.items(), key=lambda kv: -kv[1])[:5]),
    }


def cdp_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    names = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskOtherDuration")
    counts = ("LayoutCount", "RecalcStyleCount")
    delta = {name: 1000 * (after.get(name, 0.0) - before.get(name, 0.0)) for name in names}
    delta.update({name: after.get(name, 0.0) - before.get(name, 0.0) for name in counts})
    delta["JSHeapUsedSizeMB"] = after.get("JSHeapUsedSize", 0.0) / 2**20
    delta["Nodes"] = after.get("Nodes", 0.0)
    return delta


def busy_figures(cdp: dict[str, float], frames: int, seconds: float) -> dict[str, Any]:
    """Main-thread time (Chromium's own task accounting) per frame and as a share of the window."""
    per = (lambda value: value / frames) if frames else (lambda _value: None)
    return {
        "main_thread_ms_per_frame": per(cdp["TaskDuration"]),
        "script_ms_per_frame": per(cdp["ScriptDuration"]),
        "layout_ms_per_frame": per(cdp["LayoutDuration"]),
        "style_ms_per_frame": per(cdp["RecalcStyleDuration"]),
        "main_thread_busy_percent": 100 * cdp["TaskDuration"] / (1000 * seconds) if seconds > 0 else None,
        "layouts_per_s": cdp["LayoutCount"] / seconds if seconds > 0 else None,
        "style_recalcs_per_s": cdp["RecalcStyleCount"] / seconds if seconds > 0 else None,
    }


def latency_figures(
    data: dict[str, Any], sent: list[list[Any]], site_ids: list[int], kind: str
) -> dict[str, Any]:
    """Publish (handed to the MQTT client) → the message in the page, and → the first animation frame
    after it (the frame whose batch applies it; its paint follows). Same wall clock: the publisher's
    time.time() and the page's timeOrigin + performance.now()."""
    origin, runs = data["timeOrigin"], data["runs"]
    wall_t0, wall_t1 = origin + data["t0"], origin + data["t1"]
    to_socket: list[float] = []
    to_frame: list[float] = []
    expected = 0
    if kind == "site":
        published = {key: handed * 1000 for _index, key, handed in sent}
        window = {key for key, at in published.items() if wall_t0 <= at <= wall_t1 - 2000}
        expected = len(window)
        seen: set[int] = set()
        for at, type_, key, _size in data["msgs"]:
            if type_ != "sensors_update" or key not in published or key in seen:
                continue
            seen.add(key)
            if key not in window:
                continue
            to_socket.append(origin + at - published[key])
            frame = bisect.bisect_left(runs, at)
            if frame < len(runs):
                to_frame.append(origin + runs[frame] - published[key])
        undelivered = len(window - seen)
    else:
        by_site: dict[int, list[float]] = {}
        for index, _key, handed in sent:
            by_site.setdefault(site_ids[index], []).append(handed * 1000)
        matched: set[tuple[int, int]] = set()
        for at, type_, site_id, _size in data["msgs"]:
            times = by_site.get(site_id) if type_ == "status_update" else None
            if not times:
                continue
            arrival = origin + at
            position = bisect.bisect_right(times, arrival) - 1
            if position < 0 or (site_id, position) in matched:
                continue
            matched.add((site_id, position))
            if times[position] < wall_t0:
                continue
            to_socket.append(arrival - times[position])
            frame = bisect.bisect_left(runs, at)
            if frame < len(runs):
                to_frame.append(origin + runs[frame] - times[position])
        in_window = {
            (site, n)
            for site, times in by_site.items()
            for n, t in enumerate(times)
            if wall_t0 <= t <= wall_t1 - 2000
        }
        expected = len(in_window)
        undelivered = len(in_window - matched)
    return {
        "published_in_window": expected,
        "not_seen": undelivered,  # published in the window (but its last 2 s) and never seen by the page
        "to_socket_ms": _dist(to_socket),
        "to_next_frame_ms": _dist(to_frame),
    }


def _dist(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else None,
    }


# ---------------------------------------------------------------- the browser


class Processes:
    """CPU time of the web server, the browser's processes, and the machine, between two marks."""

    def __init__(self, web_pid: int) -> None:
        self.web = psutil.Process(web_pid)
        self.mark: dict[str, Any] = {}

    def _browser(self) -> list[psutil.Process]:
        found = []
        for process in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "chrom" in process.name().lower():
                    found.append(process)
        return found

    def _cpu(self) -> dict[str, Any]:
        def cpu(process: psutil.Process) -> float:
            try:
                times = process.cpu_times()
                return times.user + times.system
            except psutil.Error:
                return 0.0

        renderer = 0.0
        browser = {}
        for process in self._browser():
            with contextlib.suppress(psutil.Error):
                browser[process.pid] = cpu(process)
                if "--type=renderer" in " ".join(process.cmdline()):
                    renderer += browser[process.pid]
        return {"t": time.monotonic(), "web": cpu(self.web), "browser": browser, "renderer": renderer}

    def start(self) -> None:
        psutil.cpu_percent()
        self.mark = self._cpu()

    def stop(self) -> dict[str, Any]:
        machine = psutil.cpu_percent()
        end = self._cpu()
        seconds = end["t"] - self.mark["t"]
        shared = set(end["browser"]) & set(self.mark["browser"])
        browser = sum(end["browser"][pid] - self.mark["browser"][pid] for pid in shared)
        return {
            "web_cpu_percent": 100 * (end["web"] - self.mark["web"]) / seconds,
            "browser_cpu_percent": 100 * browser / seconds,
            "renderer_cpu_percent": 100 * (end["renderer"] - self.mark["renderer"]) / seconds,
            "machine_cpu_percent": machine,
        }


class Browser:
    """Chromium through Playwright, one page signed in as the bench's staff user."""

    def __init__(self, base: str, username: str) -> None:
        from playwright.sync_api import sync_playwright

        self.base = base
        self.manager = sync_playwright()
        self.playwright = self.manager.start()
        self.browser = None
        try:
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            self.version = self.browser.version
            self.context = self.browser.new_context(viewport=VIEWPORT)
            self.context.add_init_script(INIT_SCRIPT)
            self.page = self.context.new_page()
            self.problems: list[str] = []
            self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
            self.frames: dict[str, dict[str, int]] = {}
            self.phase = "setup"
            self.page.on("websocket", self._socket)
            self.cdp = self.context.new_cdp_session(self.page)
            self.cdp.send("Performance.enable")
            self.username = username
        except BaseException:
            self.close()
            raise

    def _socket(self, socket: Any) -> None:
        def received(payload: str | bytes) -> None:
            text = payload if isinstance(payload, str) else payload.decode(errors="replace")
            match = re.search(r'"type"\s*:\s*"(\w+)"', text[:80])
            counts = self.frames.setdefault(self.phase, {})
            kind = match.group(1) if match else "?"
            counts[kind] = counts.get(kind, 0) + 1

        socket.on("framereceived", received)

    def open(self, path: str, ready: str) -> None:
        page = self.page
        page.goto(f"{self.base}{path}")
        if "/login/" in page.url:
            page.fill("#id_username", self.username)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{self.base}{path}", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_function(ready, timeout=PAGE_TIMEOUT_MS)

    def metrics(self) -> dict[str, float]:
        return {row["name"]: row["value"] for row in self.cdp.send("Performance.getMetrics")["metrics"]}

    def measure(self, seconds: float, processes: Processes) -> dict[str, Any]:
        """Record ``seconds`` of frames, long frames and messages; return the raw data and counters."""
        before = self.metrics()
        self.page.evaluate("window.__bench.reset()")
        processes.start()
        self.page.wait_for_timeout(seconds * 1000)  # Playwright's loop keeps dispatching meanwhile
        data = self.page.evaluate("window.__bench.collect()")
        cpu = processes.stop()
        data["cdp"] = cdp_delta(before, self.metrics())
        data["cpu"] = cpu
        return dict(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.browser is not None:
                self.browser.close()
        with contextlib.suppress(Exception):
            self.manager.__exit__(None, None, None)


# ---------------------------------------------------------------- scenarios


def window_figures(
    data: dict[str, Any], kind: str, sent: list[list[Any]] | None, site_ids: list[int]
) -> dict[str, Any]:
    seconds = (data["t1"] - data["t0"]) / 1000
    frames = interval_figures(data["frames"])
    kinds: dict[str, int] = {}
    for _at, type_, _key, _size in data["msgs"]:
        kinds[type_] = kinds.get(type_, 0) + 1
    result: dict[str, Any] = {
        "seconds": seconds,
        "frame_interval": frames,
        "long_animation_frames": loaf_figures(data["loaf"], seconds),
        "long_tasks": {
            "count": len(data["longtasks"]),
            "total_ms": sum(task["duration"] for task in data["longtasks"]),
        },
        "busy": busy_figures(data["cdp"], frames["intervals"], seconds),
        "chromium_metrics": data["cdp"],
        "cpu": data["cpu"],
        "messages": {
            "count": len(data["msgs"]),
            "per_s": len(data["msgs"]) / seconds if seconds > 0 else None,
            "bytes": sum(size for *_rest, size in data["msgs"]),
            "by_type": kinds,
        },
        "dom_nodes": data["nodes"],
        "api_support": {"long_animation_frame": data["loafSupported"], "longtask": data["longtaskSupported"]},
    }
    if sent is not None:
        origin = data["timeOrigin"]
        handed = [row[2] * 1000 for row in sent]
        in_window = sum(1 for t in handed if origin + data["t0"] <= t <= origin + data["t1"])
        result["heartbeats_published_in_window"] = in_window
        result["heartbeats_per_s_in_window"] = in_window / seconds if seconds > 0 else None
        result["latency"] = latency_figures(data, sent, site_ids, kind)
    return result


def update_cost(scenario: dict[str, Any]) -> dict[str, Any] | None:
    """The main-thread time one update costs: the load window's Chromium task time beyond the idle
    page's (the same page's rate without traffic), over the data messages that reached the page
    (``sensors_update`` on the site page, ``status_update`` on the overview)."""
    idle, load = scenario.get("idle"), scenario.get("load")
    if not idle or not load or idle["seconds"] <= 0:
        return None
    kind = "sensors_update" if scenario["kind"] == "site" else "status_update"
    updates = load["messages"]["by_type"].get(kind, 0)
    if not updates:
        return None
    extra = {}
    for name in ("TaskDuration", "ScriptDuration", "LayoutDuration"):
        rate = idle["chromium_metrics"][name] / idle["seconds"]
        extra[name] = (load["chromium_metrics"][name] - rate * load["seconds"]) / updates
    return {
        "updates": updates,
        "main_thread_ms": extra["TaskDuration"],
        "script_ms": extra["ScriptDuration"],
        "layout_ms": extra["LayoutDuration"],
    }


def summarise(name: str, window: str, figures: dict[str, Any]) -> str:
    f, loaf, busy = figures["frame_interval"], figures["long_animation_frames"], figures["busy"]
    text = (
        f"{name} {window}: {f['frames']} frames, interval p50 {f['p50_ms'] or 0:.1f}"
        f" p95 {f['p95_ms'] or 0:.1f}"
        f" p99 {f['p99_ms'] or 0:.1f} max {f['max_ms'] or 0:.1f} ms, missed {f['missed_frames']};"
        f" LoAF>50ms {loaf['count']} ({loaf['total_ms']:.0f} ms); main thread"
        f" {busy['main_thread_ms_per_frame'] or 0:.2f} ms/frame"
        f" ({busy['main_thread_busy_percent'] or 0:.0f} %);"
        f" {figures['messages']['count']} messages"
    )
    if "latency" in figures:
        lat = figures["latency"]["to_next_frame_ms"]
        text += (
            f", {figures['heartbeats_per_s_in_window']:.1f} hb/s published;"
            f" publish→frame p50 {lat['p50'] or 0:.0f} p99 {lat['p99'] or 0:.0f} ms"
        )
    return text


def run_scenario(config: dict[str, Any], spec: dict[str, Any], number: int) -> dict[str, Any]:
    from django.db import connection

    from bench.e2e import http_get, scrape_metrics, start_servers, wait_until

    name, kind = spec["name"], spec["kind"]
    work = Path(config["work_dir"])
    tag = f"FB{config['run_id']}S{number}"
    prefix = f"fb{config['run_id']}"
    log(f"{name}: creating {spec['sites']} sites")
    sites = create_sites(tag, spec["sites"], prefix=prefix, broker_port=config["broker_port"])
    site_ids = [site_id for site_id, _code in sites]
    codes = [code for _site_id, code in sites]
    servers = publisher_process = browser = None
    result: dict[str, Any] = {"name": name, "kind": kind, **spec}
    try:
        began = time.monotonic()  # the connections' time counts from the server's start
        servers = start_servers(work, name, separate_worker=False)
        wait_until("the web server", lambda: http_get(servers.port, "/healthz") is not None, servers)
        wanted = math.ceil(CONNECTED_SHARE * len(site_ids))
        wait_until(
            f"{wanted} of {len(site_ids)} MQTT connections",
            lambda: connected_count(site_ids) >= wanted,
            servers,
            timeout=START_TIMEOUT,
        )
        result["connected"] = {"count": connected_count(site_ids), "seconds": time.monotonic() - began}
        log(f"{name}: {result['connected']['count']} connections in {result['connected']['seconds']:.1f} s")

        # The sensors' first heartbeat registers them: not measured.
        base_config = {
            "codes": codes,
            "broker_port": config["broker_port"],
            "sensors": spec["sensors"],
            "rate": max(spec["rate"], 50.0),
        }
        register = Publisher(
            work,
            f"{name}-register",
            {**base_config, "count": len(codes), "client_id": f"{prefix}-reg{number}"},
        )
        register.wait(120)
        expected_sensors = result["connected"]["count"] * spec["sensors"]
        wait_until(
            "the sensors to be registered",
            lambda: sensor_count(site_ids) >= expected_sensors,
            servers,
            timeout=120,
        )
        connection.close()  # no ORM from here: Playwright's sync API runs a loop in this thread

        browser = Browser(f"http://{LOOPBACK}:{servers.port}", config["username"])
        if kind == "site":
            path = f"/sites/{site_ids[0]}/"
            result["view"] = SITE_VIEW
            browser.context.add_init_script(f"localStorage.setItem('site-view', {json.dumps(SITE_VIEW)});")
            rows = "table.sensor-table tbody tr" if SITE_VIEW == "table" else "article.sensor"
            ready = f"document.querySelectorAll('{rows}').length >= {spec['sensors']}"
        else:
            path = "/"
            ready = "document.querySelectorAll('li.tile:not(.tile--skeleton)').length > 0"
        browser.open(path, ready)
        browser.page.wait_for_timeout(2000)
        processes = Processes(servers.web.pid)
        log(f"{name}: page {path} open; idle window {spec['idle']:g} s")

        browser.phase = "idle"
        idle = browser.measure(spec["idle"], processes)
        result["idle"] = window_figures(idle, kind, None, site_ids)
        log(summarise(name, "idle", result["idle"]))

        browser.phase = "warmup"
        metrics_before = scrape_metrics(servers.port)
        publisher_process = Publisher(
            work,
            f"{name}-load",
            {
                **base_config,
                "rate": spec["rate"],
                "duration": spec["warmup"] + spec["duration"] + 3,
                "client_id": f"{prefix}-pub{number}",
            },
        )
        browser.page.wait_for_timeout(spec["warmup"] * 1000)
        browser.phase = "load"
        load = browser.measure(spec["duration"], processes)
        browser.phase = "after"
        published = publisher_process.wait(spec["duration"] + 60)
        publisher_process = None
        metrics_after = scrape_metrics(servers.port)
        result["load"] = window_figures(load, kind, published["sent"], site_ids)
        published.pop("sent")
        result["publisher"] = published
        result["websocket_frames_by_phase"] = browser.frames  # Playwright's count
        result["page_problems"] = browser.problems[:20]
        result["browser_version"] = browser.version
        if metrics_before and metrics_after:
            result["worker_dropped"] = metrics_after["dropped"] - metrics_before["dropped"]
        result["load"]["busy"]["per_update_beyond_idle"] = update_cost(result)
        servers.check_alive()
        log(summarise(name, "load", result["load"]))
    finally:
        if publisher_process is not None:
            publisher_process.stop()
        if browser is not None:
            browser.close()
        if servers is not None:
            servers.stop()
        connection.close()
        delete_sites(site_ids)
    return result


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "publish":
        config = json.loads(Path(sys.argv[2]).read_text())
        Path(sys.argv[3]).write_text(json.dumps(publisher(config)))
        return
    config, out = child_main(sys.argv)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    config["username"] = f"bench-frontend-{config['run_id']}"
    staff_user(config["username"])
    connection.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # never handed to the server
    results = [run_scenario(config, spec, number) for number, spec in enumerate(config["scenarios"], start=1)]
    write_json(out, {"scenarios": results})


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------- the summary


def _ms(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def targets(scenarios: list[dict[str, Any]]) -> list[list[str]]:
    from bench.report import _status

    rows = []
    for scenario in scenarios:
        frames = scenario.get("load", {}).get("frame_interval")
        if not frames:
            continue
        label = _label(scenario)
        rows.append(
            [
                f"{label}: frame interval median ≤ 16 ms"
                f" (60 Hz cap: ≤ {ON_TIME_MS:.1f} ms, no dropped frame)",
                f"{_ms(frames['p50_ms'])} ms",
                _status(frames["p50_ms"], ON_TIME_MS, at_most=True),
            ]
        )
        rows.append(
            [
                f"{label}: frame interval p99 ≤ {TARGET_P99_MS:g} ms",
                f"{_ms(frames['p99_ms'])} ms",
                _status(frames["p99_ms"], TARGET_P99_MS, at_most=True),
            ]
        )
    return rows


LABELS = {"site": "site page (100 sensors @ 1 s)", "overview": "overview (1,000 sites, 200 hb/s)"}


def _label(scenario: dict[str, Any]) -> str:
    label = LABELS.get(scenario["name"], scenario["name"])
    return f"{label}, {scenario['view']} view" if scenario.get("view") else label


def window_row(scenario: dict[str, Any], window: str) -> list[str]:
    figures = scenario[window]
    f, loaf, busy = figures["frame_interval"], figures["long_animation_frames"], figures["busy"]
    load = "none"
    if "heartbeats_per_s_in_window" in figures:
        load = f"{figures['heartbeats_per_s_in_window']:.1f} hb/s"
    latency = "-"
    if "latency" in figures:
        sock, frame = figures["latency"]["to_socket_ms"], figures["latency"]["to_next_frame_ms"]
        latency = (
            f"{_ms(sock['p50'], 0)} / {_ms(sock['p99'], 0)}; {_ms(frame['p50'], 0)} / {_ms(frame['p99'], 0)}"
        )
    return [
        f"{scenario['name']}{' (' + scenario['view'] + ')' if scenario.get('view') else ''}: {window}",
        load,
        f"{figures['messages']['per_s']:.1f}",
        str(f["frames"]),
        f"{_ms(f['p50_ms'])} / {_ms(f['p95_ms'])} / {_ms(f['p99_ms'])} / {_ms(f['max_ms'])}",
        f"{f['missed_frames']} ({100 * (f['missed_share'] or 0):.1f} %)",
        f"{loaf['count']}, {_ms(loaf['total_ms'], 0)} ms (blocking {_ms(loaf['blocking_total_ms'], 0)})",
        f"{_ms(busy['main_thread_ms_per_frame'], 2)} ({_ms(busy['script_ms_per_frame'], 2)} /"
        f" {_ms(busy['layout_ms_per_frame'], 2)} / {_ms(busy['style_ms_per_frame'], 2)})",
        f"{_ms(busy['main_thread_busy_percent'], 0)} %",
        f"{_ms(figures['cpu']['renderer_cpu_percent'], 0)} % / {_ms(figures['cpu']['web_cpu_percent'], 0)} %",
        latency,
    ]


def summary(results: dict[str, Any], *, command: str) -> str:
    from bench.report import _table, machine_section

    frontend = results["frontend"]
    scenarios = frontend["scenarios"]
    lines = [f"# Benchmark run {results['stamp']}", ""]
    if results["quick"]:
        lines += ["**SMOKE RUN (`--quick`): short durations, not figures to quote.**", ""]
    lines += [f"Command: `{command}`", ""]
    machine = [
        line for line in machine_section(results["machine"], results["busy"]) if "| None |" not in line
    ]
    versions = sorted({s.get("browser_version") for s in scenarios if s.get("browser_version")})
    machine.insert(-1, f"| Chromium | {', '.join(versions) or '-'} (headless, Playwright) |")
    build = frontend.get("app_build")
    if build:
        machine.insert(-1, f"| Web app build | {', '.join(build['bundles'])} (built {build['built_at']}) |")
    lines += machine
    rows = targets(scenarios)
    if rows:
        lines += [
            "## Targets (web app, time per frame)",
            "",
            *_table(["target", "measured", "status"], rows),
            "",
        ]
    header = [
        "window",
        "published",
        "messages to the page /s",
        "frames",
        "frame interval p50 / p95 / p99 / max (ms)",
        "missed frames",
        "long animation frames > 50 ms",
        "main thread ms per frame (script / layout / style)",
        "main thread busy",
        "CPU: renderer / server",
        "publish → page socket p50 / p99; → next frame p50 / p99 (ms)",
    ]
    table = [window_row(s, window) for s in scenarios for window in ("idle", "load") if window in s]
    lines += [
        "## Web app: time per frame",
        "",
        "Chromium (headless, 60 Hz) showing the built app, signed in as staff, served by uvicorn with"
        " the MQTT worker in its loop (in-memory channel layer, SQLite), fed through Mosquitto by a"
        " publisher process. *idle*: the page with no traffic; *load*: after a warm-up under the"
        " scenario's load. Frame interval: between consecutive requestAnimationFrame callbacks (60 Hz"
        f" cap: never below {VSYNC_MS:.1f} ms); missed frames: vsync periods without a frame. Long"
        " animation frames: Chromium's LoAF entries. Main thread: Chromium's own task time (CDP"
        " Performance metrics) divided by the frames. CPU in % of one core.",
        "",
        *_table(header, table),
        "",
    ]
    for scenario in scenarios:
        load = scenario.get("load")
        if not load:
            continue
        publisher = scenario["publisher"]
        lat = load["latency"]
        loaf = load["long_animation_frames"]
        cost = update_cost(scenario)
        lines += [
            f"### {_label(scenario)}",
            "",
            f"- connections connected before measuring: {scenario['connected']['count']}"
            f" of {scenario['sites']}"
            f" ({scenario['connected']['seconds']:.1f} s after the server was started)",
            f"- publisher: {publisher['published']} heartbeats in {publisher['seconds']:.1f} s"
            f" ({publisher['rate_achieved']:.1f}/s for {scenario['rate']:g} offered), lag behind schedule p99"
            f" {publisher['lag_ms']['p99']:.1f} ms, {publisher['failures']} failures",
            f"- in the window: {load['heartbeats_published_in_window']} heartbeats published,"
            f" {load['messages']['count']} WebSocket messages reached the page"
            f" ({', '.join(f'{k} {v}' for k, v in sorted(load['messages']['by_type'].items()))};"
            f" {load['messages']['bytes'] / 2**20:.1f} MiB), not seen by the page: {lat['not_seen']}"
            f" of {lat['published_in_window']}; worker drops {scenario.get('worker_dropped', '-')}",
            "- Playwright's count of WebSocket frames received, per phase:"
            f" {scenario['websocket_frames_by_phase']}",
            f"- long animation frames: {loaf['count']} ({_ms(loaf['per_minute'], 1)}/min),"
            f" p50 {_ms(loaf['p50_ms'], 0)}"
            f" max {_ms(loaf['max_ms'], 0)} ms, script {_ms(loaf['script_total_ms'], 0)} ms of"
            f" {_ms(loaf['total_ms'], 0)} ms, style + layout + paint"
            f" {_ms(loaf['style_layout_paint_total_ms'], 0)} ms; biggest scripts:"
            f" {loaf['top_invokers_ms'] or '-'}",
            f"- main-thread time per update (the load window's beyond the idle page's rate, over the"
            f" {cost['updates'] if cost else '-'} data messages):"
            f" {_ms(cost and cost['main_thread_ms'], 2)} ms"
            f" (script {_ms(cost and cost['script_ms'], 2)}, layout {_ms(cost and cost['layout_ms'], 2)})",
            f"- long tasks: {load['long_tasks']['count']} ({_ms(load['long_tasks']['total_ms'], 0)} ms);"
            f" DOM nodes {load['dom_nodes']}; JS heap {load['chromium_metrics']['JSHeapUsedSizeMB']:.0f} MB;"
            f" layouts {_ms(load['busy']['layouts_per_s'], 1)}/s, style recalcs"
            f" {_ms(load['busy']['style_recalcs_per_s'], 1)}/s;"
            f" machine CPU {load['cpu']['machine_cpu_percent']:.0f} %",
            f"- page errors: {scenario['page_problems'] or 'none'}",
            "",
        ]
    return "\n".join(lines)
