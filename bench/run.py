"""Benchmarks of the datalogger monitor: ``make bench`` runs ``python bench/run.py`` (ingest + end to end);
the soak runs on demand (``make bench-soak``). Every run writes ``<stamp>-<scenario>.json``, a
``<stamp>-summary.md`` and, with a ramp, ``<stamp>-ramp.png`` to bench/results/ (or ``--out``).

Everything talks to this machine only: PostgreSQL, Redis and Mosquitto on 127.0.0.1. Each run uses its
own databases (dropped afterwards), site codes, MQTT client ids and site ids, so it can share those
services with tests running at the same time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet

from bench import machine, report, workers
from bench.common import LOOPBACK, REPO, RESULTS, django_env, run_child, write_json
from bench.databases import DEFAULT_POSTGRES_URL, check_local, postgres_database, postgres_version, sqlite_url

STACKS = ("memory-sqlite", "redis-postgres")
BACKENDS = ("sqlite", "postgres")
FIXED = {  # name: (sites, heartbeat interval in s, all sites on the same tick)
    "seed": (20, 5.0, False),
    "seed-same-tick": (20, 5.0, True),
    "x100": (100, 5.0, False),
    "x100-same-tick": (100, 5.0, True),
}
DEFAULT_SCENARIOS = ("seed", "seed-same-tick", "x100", "ramp")
DEFAULT_RATES = (10.0, 20.0, 50.0, 75.0, 100.0, 125.0, 150.0, 175.0, 200.0, 250.0, 300.0, 400.0)
QUICK_RATES = (10.0, 20.0)
INGEST_CASES = ((20, 1), (100, 10), (100, 50))  # (sites, heartbeats per flush)
FRONTEND_SCENARIOS = ("site", "overview")


def _csv(choices: tuple[str, ...]) -> Any:
    def parse(value: str) -> list[str]:
        items = [item.strip() for item in value.split(",") if item.strip()]
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (comma-separated)")
        return items

    return parse


def _rates(value: str) -> list[float]:
    try:
        rates = [float(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated heartbeats per second, e.g. 20,50,100") from None
    if not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return sorted(rates)


def _counts(value: str) -> list[int]:
    try:
        counts = sorted({int(item) for item in value.split(",") if item.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated worker counts, e.g. 1,2") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("worker counts must be at least 1")
    return counts


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quick", action="store_true", help="smoke run: a few seconds per scenario")
    common.add_argument("--out", type=Path, default=RESULTS, help=f"where results go (default {RESULTS})")
    common.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a PostgreSQL server on this machine; bench databases are created and dropped there",
    )
    common.add_argument("--redis-url", default=f"redis://{LOOPBACK}:6379/0", help="Redis on this machine")
    common.add_argument(
        "--broker-port", type=int, default=1883, help=f"Mosquitto on {LOOPBACK} (default 1883)"
    )
    common.add_argument(
        "--keep-work", action="store_true", help="keep the temporary folder (logs, raw records)"
    )

    ingest = argparse.ArgumentParser(add_help=False)
    group = ingest.add_argument_group("ingest")
    group.add_argument(
        "--backends", type=_csv(BACKENDS), default=list(BACKENDS), help="sqlite,postgres (default both)"
    )
    group.add_argument("--ingest-heartbeats", type=int, help="heartbeats per case (default 3000; quick 300)")
    group.add_argument("--ingest-seconds", type=float, help="time cap per case (default 10; quick 3)")
    group.add_argument(
        "--seed-loop-seconds", type=float, help="time cap of the seed loop (default 10; quick 3)"
    )
    group.add_argument("--profile", action="store_true", help="also write a cProfile of one case per backend")

    e2e = argparse.ArgumentParser(add_help=False)
    group = e2e.add_argument_group("end to end")
    group.add_argument("--stacks", type=_csv(STACKS), default=list(STACKS), help="default: both")
    group.add_argument(
        "--scenarios",
        type=_csv((*FIXED, "ramp")),
        default=list(DEFAULT_SCENARIOS),
        help=f"of {', '.join((*FIXED, 'ramp'))} (default {','.join(DEFAULT_SCENARIOS)})",
    )
    group.add_argument("--duration", type=float, help="seconds of each fixed scenario (default 30; quick 8)")
    group.add_argument("--step-seconds", type=float, help="seconds of each ramp step (default 12; quick 5)")
    group.add_argument("--rates", type=_rates, help="ramp steps in heartbeats/s (default 10,20,50,...,400)")
    group.add_argument("--ramp-sites", type=int, default=100, help="sites of the ramp (default 100)")
    group.add_argument(
        "--past-failure",
        type=int,
        default=1,
        help="ramp steps run after the first unsustainable one (default 1)",
    )
    group.add_argument(
        "--workers",
        type=_counts,
        default=[1, 2],
        help="run_mqtt workers of the redis-postgres ramp, one ramp per count (default 1,2)",
    )

    top = argparse.ArgumentParser(
        prog="python bench/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "all", parents=[common, ingest, e2e], help="ingest + end to end (the default; make bench)"
    )
    commands.add_parser(
        "ingest", parents=[common, ingest], help="parse + batch write vs the seed's loop, no network"
    )
    commands.add_parser("e2e", parents=[common, e2e], help="simulator → broker → worker → WebSocket clients")
    alerts = commands.add_parser(
        "alerts", parents=[common], help="alert evaluation's CPU vs the worker's at 100 sites x 100 sensors"
    )
    alerts.add_argument(
        "--backends", type=_csv(BACKENDS), default=list(BACKENDS), help="sqlite,postgres (default both)"
    )
    soak = commands.add_parser(
        "soak", parents=[common], help="a long steady load: RSS, database size, latency drift"
    )
    soak.add_argument("--minutes", type=float, default=30.0, help="length of the soak (default 30)")
    soak.add_argument("--sites", type=int, default=100, help="sites at 100 sensors @ 5 s (default 100)")
    soak.add_argument("--stack", choices=STACKS, default="redis-postgres", help="default redis-postgres")
    soak.add_argument(
        "--sample-every", type=float, help="seconds between database samples (default 60; quick 5)"
    )
    scale = commands.add_parser(
        "scale", parents=[common], help="1,000 connections x 100 sensors @ 5 s on one broker, one worker"
    )
    scale.add_argument("--sites", type=int, default=1000, help="connections, one per site (default 1000)")
    scale.add_argument("--interval", type=float, default=5.0, help="heartbeat interval in s (default 5)")
    scale.add_argument("--steady-seconds", type=float, help="measured window (default 60; quick 10)")
    scale.add_argument("--warmup-seconds", type=float, help="after all connected (default 30; quick 10)")
    scale.add_argument("--publishers", type=int, default=2, help="publisher processes (default 2)")
    scale.add_argument("--connect-timeout", type=float, default=300.0, help="s for all to connect (300)")
    flood = commands.add_parser(
        "flood", parents=[common], help="one site floods 300 x 5,000-sensor heartbeats: other sites' latency"
    )
    flood.add_argument("--quiet-sites", type=int, default=20, help="sites at 100 sensors @ 1 s (default 20)")
    flood.add_argument("--flood-heartbeats", type=int, help="flooding heartbeats (default 300; quick 30)")
    flood.add_argument("--flood-seconds", type=float, help="measured window with the flood (default 40)")
    flood.add_argument(
        "--baseline-seconds", type=float, help="window without the flood (default 20; quick 8)"
    )
    frontend = commands.add_parser(
        "frontend", parents=[common], help="the web app's time per frame in Chromium under live load"
    )
    frontend.add_argument(
        "--scenarios",
        type=_csv(FRONTEND_SCENARIOS),
        default=list(FRONTEND_SCENARIOS),
        help="site (1 x 100 sensors @ 1 s), overview (1,000 sites, 200 hb/s); default both",
    )
    frontend.add_argument("--duration", type=float, help="seconds measured under load (default 30; quick 5)")
    frontend.add_argument(
        "--warmup", type=float, help="seconds of load before measuring (default 5; quick 2)"
    )
    frontend.add_argument("--idle", type=float, help="seconds measured without load (default 5; quick 2)")
    frontend.add_argument("--overview-sites", type=int, default=1000, help="sites of the overview (1000)")
    frontend.add_argument("--overview-rate", type=float, default=200.0, help="overview heartbeats/s (200)")
    commands.add_parser(
        "analytics", parents=[common], help="30-day uptime of 10,000 sensors, an hour's roll-up (PostgreSQL)"
    )
    return top


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = secrets.token_hex(3)
        self.stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M%S")
        self.work = Path(tempfile.mkdtemp(prefix=f"bench-{self.run_id}-"))
        self.secret = secrets.token_urlsafe(40)
        self.fernet = Fernet.generate_key().decode()
        check_local(args.postgres_url)
        check_local(args.redis_url)

    def env(self, database_url: str, *, redis_url: str = "", worker_in_web: bool = True) -> dict[str, str]:
        return django_env(
            database_url=database_url,
            secret_key=self.secret,
            fernet_key=self.fernet,
            redis_url=redis_url,
            worker_in_web=worker_in_web,
        )

    def pick(self, value: Any, full: Any, quick: Any) -> Any:
        if value is not None:
            return value
        return quick if self.args.quick else full

    # ---------------------------------------------------------------- ingest

    def ingest(self) -> dict[str, Any]:
        args = self.args
        config: dict[str, Any] = {
            "work_dir": str(self.work),
            "cases": INGEST_CASES,
            "heartbeats": self.pick(args.ingest_heartbeats, 3000, 300),
            "max_seconds": self.pick(args.ingest_seconds, 10.0, 3.0),
            "naive_sites": 2,  # the seed loop costs the same per heartbeat whatever the site count
            "naive_heartbeats": 2000,
            "naive_seconds": self.pick(args.seed_loop_seconds, 10.0, 3.0),
        }
        backends = []
        for backend in args.backends:
            print(f"== ingest: {backend}", flush=True)
            if args.profile:
                config["profile_path"] = str(args.out / f"{self.stamp}-ingest-profile-{backend}.txt")
            if backend == "sqlite":
                url = sqlite_url(self.work, "ingest")
                backends.append(run_child("bench.ingest", config, env=self.env(url), timeout=3600))
            else:
                with postgres_database(args.postgres_url, f"bench_ingest_{self.run_id}") as url:
                    backends.append(run_child("bench.ingest", config, env=self.env(url), timeout=3600))
            if args.profile:
                backends[-1]["profile"] = Path(config["profile_path"]).name
        return {"parameters": config, "backends": backends}

    # ---------------------------------------------------------------- end to end and soak

    def stack(self, name: str, sessions: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
        if name == "redis-postgres":  # the ramp once per worker count: "ramp", "ramp-2-workers", ...
            sessions = [
                {**session, "workers": count, "name": "ramp" if count == 1 else f"ramp-{count}-workers"}
                if session["kind"] == "ramp"
                else session
                for session in sessions
                for count in (getattr(self.args, "workers", [1]) if session["kind"] == "ramp" else [1])
            ]
            timeout += 600 * (len(getattr(self.args, "workers", [1])) - 1)
        print(f"== {name}: {', '.join(session['name'] for session in sessions)}", flush=True)
        config: dict[str, Any] = {
            "work_dir": str(self.work / name),
            "stack": name,
            "run_id": self.run_id,
            "site_id_base": 1_000_000 + secrets.randbelow(900) * 10_000,
            "broker_port": self.args.broker_port,
            "separate_worker": name == "redis-postgres",
            "drain_seconds": 10.0,  # after publishing, how long an update may still arrive
            "p99_limit_ms": report.RAMP_P99_MS,
            "sessions": sessions,
        }
        if name == "memory-sqlite":
            env = self.env(sqlite_url(self.work, f"e2e-{name}"))
            return dict(run_child("bench.e2e", config, env=env, timeout=timeout))
        with postgres_database(self.args.postgres_url, f"bench_e2e_{self.run_id}") as url:
            env = self.env(url, redis_url=self.args.redis_url, worker_in_web=False)
            return dict(run_child("bench.e2e", config, env=env, timeout=timeout))

    def e2e(self) -> dict[str, Any]:
        args = self.args
        duration = self.pick(args.duration, 30.0, 8.0)
        step = self.pick(args.step_seconds, 12.0, 5.0)
        rates = list(self.pick(args.rates, DEFAULT_RATES, QUICK_RATES))
        sessions: list[dict[str, Any]] = []
        for scenario in args.scenarios:
            if scenario == "ramp":
                sessions.append(
                    {
                        "name": "ramp",
                        "kind": "ramp",
                        "sites": args.ramp_sites,
                        "rates": rates,
                        "step_seconds": step,
                        "past_failure": args.past_failure,
                    }
                )
            else:
                sites, interval, same_tick = FIXED[scenario]
                sessions.append(
                    {
                        "name": scenario,
                        "kind": "fixed",
                        "sites": sites,
                        "interval": interval,
                        "same_tick": same_tick,
                        "duration": duration,
                    }
                )
        timeout = 600 + len(sessions) * 180 + duration * len(sessions) + step * len(rates)
        stacks = [self.stack(name, sessions, timeout) for name in args.stacks]
        e2e = {"parameters": {"sessions": sessions, "workers": args.workers}, "stacks": stacks}
        e2e["workers_ratio"] = workers.ratio(e2e)
        return e2e

    def soak(self) -> dict[str, Any]:
        args = self.args
        seconds = args.minutes * 60
        session = {
            "name": "soak",
            "kind": "soak",
            "sites": args.sites,
            "interval": 5.0,
            "duration": seconds,
            "sample_every": self.pick(args.sample_every, 60.0, 5.0),
            "window_seconds": max(10.0, seconds / 10) if args.quick else 60.0,
        }
        stack = self.stack(args.stack, [session], timeout=seconds + 900)
        return {"parameters": {"sessions": [session]}, "stacks": [stack]}

    # ---------------------------------------------------------------- 1,000 connections (scale)

    def scale(self) -> Path:
        """bench/scale.py in a child process on a throw-away PostgreSQL database."""
        args = self.args
        config = {
            "work_dir": str(self.work / "scale"),
            "tag": f"SC{self.run_id}".upper(),
            "site_id_base": 2_000_000 + secrets.randbelow(900) * 10_000,
            "sites": args.sites,
            "interval": args.interval,
            "publishers": args.publishers,
            "connect_timeout": args.connect_timeout,
            "warmup_seconds": self.pick(args.warmup_seconds, 30.0, 10.0),
            "steady_seconds": self.pick(args.steady_seconds, 60.0, 10.0),
            "drain_seconds": 5.0,
        }
        args.out.mkdir(parents=True, exist_ok=True)
        results: dict[str, Any] = {
            "stamp": self.stamp,
            "machine": machine.describe(
                postgres=postgres_version(args.postgres_url), redis_url=args.redis_url
            ),
            "busy": {"start": machine.busy()},
            "quick": args.quick,
        }
        print(f"== scale: {args.sites} connections", flush=True)
        timeout = args.connect_timeout + config["warmup_seconds"] + config["steady_seconds"] + 600
        with postgres_database(args.postgres_url, f"bench_scale_{self.run_id}") as url:
            env = self.env(url, redis_url=args.redis_url, worker_in_web=False)
            results["scale"] = {
                "parameters": config,
                **run_child("bench.scale", config, env=env, timeout=timeout),
            }
        results["busy"]["end"] = machine.busy()
        write_json(args.out / f"{self.stamp}-scale.json", results)
        text = report.summary(
            results,
            command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
            quick=args.quick,
            plot=None,
        )
        summary = args.out / f"{self.stamp}-summary.md"
        summary.write_text(text + "\n")
        return summary

    # ---------------------------------------------------------------- one site flooding (flood)

    def flood(self) -> Path:
        """bench/flood.py in a child process on the redis-postgres stack: its own results and summary."""
        from bench import flood

        args = self.args
        require_port(args.broker_port, "Mosquitto")
        args.out.mkdir(parents=True, exist_ok=True)
        config = {
            "work_dir": str(self.work / "flood"),
            "run_id": self.run_id,
            "site_id_base": 3_000_000 + secrets.randbelow(900) * 10_000,
            "broker_port": args.broker_port,
            "separate_worker": True,
            "drain_seconds": 15.0,
            "quiet_sites": args.quiet_sites,
            "flood_heartbeats": self.pick(args.flood_heartbeats, flood.FLOOD_HEARTBEATS, 30),
            "flood_sensors": flood.FLOOD_SENSORS,
            "flood_seconds": self.pick(args.flood_seconds, 40.0, 15.0),
            "baseline_seconds": self.pick(args.baseline_seconds, 20.0, 8.0),
        }
        results: dict[str, Any] = {
            "stamp": self.stamp,
            "machine": machine.describe(
                postgres=postgres_version(args.postgres_url), redis_url=args.redis_url
            ),
            "busy": {"start": machine.busy()},
            "quick": args.quick,
        }
        print(f"== flood: {config['quiet_sites']} quiet sites, one flooding", flush=True)
        with postgres_database(args.postgres_url, f"bench_flood_{self.run_id}") as url:
            env = self.env(url, redis_url=args.redis_url, worker_in_web=False)
            results["flood"] = {
                "parameters": config,
                **run_child("bench.flood", config, env=env, timeout=1200),
            }
        results["busy"]["end"] = machine.busy()
        write_json(args.out / f"{self.stamp}-flood.json", results)
        text = flood.summary(results, command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]))
        summary = args.out / f"{self.stamp}-summary.md"
        summary.write_text(text + "\n")
        return summary

    # ---------------------------------------------------------------- the web app (frontend)

    def frontend(self) -> Path:
        """The web app's time per frame (bench/frontend.py): its own results and summary."""
        from bench import frontend

        args = self.args
        require_port(args.broker_port, "Mosquitto")
        if not (REPO / "frontend" / "dist" / "index.html").exists():
            raise SystemExit("the web app is not built: run `make frontend` first")
        if not Path(frontend.CHROMIUM).exists():
            raise SystemExit(f"Chromium is not installed at {frontend.CHROMIUM} (make system-deps)")
        args.out.mkdir(parents=True, exist_ok=True)
        timing = {
            "duration": self.pick(args.duration, 30.0, 5.0),
            "warmup": self.pick(args.warmup, 5.0, 2.0),
            "idle": self.pick(args.idle, 5.0, 2.0),
        }
        shapes = {  # name: (sites, sensors per heartbeat, heartbeats per second)
            "site": (1, 100, 1.0),
            "overview": (args.overview_sites, 3, args.overview_rate),
        }
        scenarios = [
            {"name": name, "kind": name, "sites": sites, "sensors": sensors, "rate": rate, **timing}
            for name in args.scenarios
            for sites, sensors, rate in [shapes[name]]
        ]
        config = {
            "work_dir": str(self.work / "frontend"),
            "run_id": self.run_id,
            "broker_port": args.broker_port,
            "scenarios": scenarios,
        }
        env = self.env(sqlite_url(self.work, "frontend"))
        env["DEBUG"] = "1"  # as the browser tests: WhiteNoise serves the app, cookies work over http
        results: dict[str, Any] = {
            "stamp": self.stamp,
            "machine": machine.describe(postgres=None, redis_url=None),
            "busy": {"start": machine.busy()},
            "quick": args.quick,
        }
        print(f"== frontend: {', '.join(args.scenarios)}", flush=True)
        timeout = 900 + len(scenarios) * (timing["duration"] + timing["warmup"] + timing["idle"] + 300)
        results["frontend"] = {
            "parameters": config,
            "app_build": frontend.app_build(),
            **run_child("bench.frontend", config, env=env, timeout=timeout),
        }
        results["busy"]["end"] = machine.busy()
        write_json(args.out / f"{self.stamp}-frontend.json", results)
        text = frontend.summary(results, command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]))
        summary = args.out / f"{self.stamp}-summary.md"
        summary.write_text(text + "\n")
        return summary

    # ---------------------------------------------------------------- the run

    def needs_postgres(self) -> bool:
        args = self.args
        if args.command in ("all", "ingest") and "postgres" in args.backends:
            return True
        if args.command in ("all", "e2e") and "redis-postgres" in args.stacks:
            return True
        return args.command == "soak" and args.stack == "redis-postgres"

    def execute(self) -> Path:
        args = self.args
        # Commands with results and a summary of their own.
        separate: dict[str, Callable[[], Path]] = {
            "frontend": self.frontend,
            "scale": self.scale,
            "flood": self.flood,
            "analytics": lambda: importlib.import_module("bench.analytics").bench(self),
            "alerts": lambda: importlib.import_module("bench.alerts").bench(self),
        }
        if args.command in separate:
            return separate[args.command]()
        args.out.mkdir(parents=True, exist_ok=True)
        command = args.command
        if command != "ingest":
            require_port(args.broker_port, "Mosquitto")
        results: dict[str, Any] = {
            "stamp": self.stamp,
            "machine": machine.describe(
                postgres=postgres_version(args.postgres_url) if self.needs_postgres() else None,
                redis_url=args.redis_url if command != "ingest" else None,
            ),
            "busy": {"start": machine.busy()},
            "quick": args.quick,
        }
        if command in ("all", "ingest"):
            results["ingest"] = self.ingest()
        if command in ("all", "e2e"):
            results["e2e"] = self.e2e()
        if command == "soak":
            results["soak"] = self.soak()
        results["busy"]["end"] = machine.busy()

        shared = {key: results[key] for key in ("stamp", "machine", "busy", "quick")}
        for scenario in ("ingest", "e2e", "soak"):
            if scenario in results:
                write_json(
                    args.out / f"{self.stamp}-{scenario}.json", {**shared, scenario: results[scenario]}
                )
        plot = None
        if "e2e" in results and report.plot_ramp(results["e2e"], args.out / f"{self.stamp}-ramp.png"):
            plot = f"{self.stamp}-ramp.png"
        text = report.summary(
            results,
            command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
            quick=args.quick,
            plot=plot,
        )
        summary = args.out / f"{self.stamp}-summary.md"
        summary.write_text(text + "\n")
        return summary


def require_port(port: int, what: str) -> None:
    try:
        socket.create_connection((LOOPBACK, port), timeout=3).close()
    except OSError as exc:
        raise SystemExit(f"{what} is not reachable on {LOOPBACK}:{port} ({exc})") from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["all", *argv]  # `python bench/run.py [--quick]` runs the default set
    args = parser().parse_args(argv)
    run = Run(args)
    try:
        summary = run.execute()
    except BaseException:
        print(f"the run failed; logs and raw records are in {run.work}", file=sys.stderr)
        raise
    if args.keep_work:
        print(f"work folder kept: {run.work}")
    else:
        shutil.rmtree(run.work, ignore_errors=True)
    print(f"summary: {summary}")


if __name__ == "__main__":
    main()
