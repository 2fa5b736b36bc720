"""The Markdown summary of a run, the issue's targets checked against its figures, and the plot of
latency against rate for the ramp."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import scale, workers
from bench.machine import steal_percent

# The targets of the performance issue (on this 2-core machine class).
SQLITE_READINGS_PER_S = 40_000
SEED_LOOP_RATIO = 100
POSTGRES_READINGS_PER_S = 20_000
E2E_READINGS_PER_S = 20_000
RAMP_P99_MS = 250.0
SEED_P99_MS = 25.0
SEED_SAME_TICK_P99_MS = 100.0
X100_CPU_PERCENT = 15.0
WORKER_RSS_MB = 150.0


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def worker_process(stack: str, processes: dict[str, Any]) -> dict[str, Any]:
    """The process that runs the MQTT worker: the web server itself in the single-process stack."""
    return processes.get("worker") or processes.get("web") or {}


def _status(measured: float | None, target: float, *, at_most: bool) -> str:
    if measured is None:
        return "not measured"
    met = measured <= target if at_most else measured >= target
    if met:
        return "met"
    return f"**not met** ({measured / target:.2f}x the target)"


# ---------------------------------------------------------------- targets


def targets(results: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    ingest = {run["vendor"]: run for run in results.get("ingest", {}).get("backends", [])}
    if "sqlite" in ingest:
        best = max(ingest["sqlite"]["cases"], key=lambda case: case["readings_per_s"])
        label = f"best case: {best['heartbeats_per_flush']} hb/flush"
        rows.append(
            [
                f"Ingest, SQLite: ≥ {SQLITE_READINGS_PER_S:,} readings/s",
                f"{_num(best['readings_per_s'])} readings/s ({label})",
                _status(best["readings_per_s"], SQLITE_READINGS_PER_S, at_most=False),
            ]
        )
        rows.append(
            [
                f"Ingest, SQLite: ≥ {SEED_LOOP_RATIO}x the seed's loop (same run)",
                f"{best['ratio_to_seed_loop']:.1f}x (seed loop"
                f" {_num(ingest['sqlite']['seed_loop']['readings_per_s'])} readings/s)",
                _status(best["ratio_to_seed_loop"], SEED_LOOP_RATIO, at_most=False),
            ]
        )
    if "postgresql" in ingest:
        best = max(ingest["postgresql"]["cases"], key=lambda case: case["readings_per_s"])
        rows.append(
            [
                f"Ingest, PostgreSQL: ≥ {POSTGRES_READINGS_PER_S:,} readings/s",
                f"{_num(best['readings_per_s'])} readings/s"
                f" (best case: {best['heartbeats_per_flush']} hb/flush)",
                _status(best["readings_per_s"], POSTGRES_READINGS_PER_S, at_most=False),
            ]
        )
    for stack in results.get("e2e", {}).get("stacks", []):
        sessions = {session["name"]: session for session in stack["sessions"]}
        name = stack["stack"]
        ramp = sessions.get("ramp")
        if ramp is not None:
            top = ramp["highest_sustainable"]
            rows.append(
                [
                    f"{name}: sustains ≥ {E2E_READINGS_PER_S:,} readings/s,"
                    f" p99 ≤ {RAMP_P99_MS:g} ms, no drops",
                    "no step was sustainable"
                    if top is None
                    else f"{_num(top['readings_per_s'])} readings/s"
                    f" (p99 {_num(top['latency_ms']['p99'], 1)} ms)",
                    _status(top["readings_per_s"] if top else 0.0, E2E_READINGS_PER_S, at_most=False),
                ]
            )
        for scenario, limit in (("seed", SEED_P99_MS), ("seed-same-tick", SEED_SAME_TICK_P99_MS)):
            if scenario in sessions:
                p99 = sessions[scenario]["latency_ms"]["p99"]
                rows.append(
                    [
                        f"{name}: {scenario} (20 x 100 @ 5 s) p99 ≤ {limit:g} ms",
                        f"{_num(p99, 1)} ms",
                        _status(p99, limit, at_most=True),
                    ]
                )
        if "x100" in sessions:
            worker = worker_process(name, sessions["x100"]["processes"])
            rows.append(
                [
                    f"{name}: 100 x 100 @ 5 s costs ≤ {X100_CPU_PERCENT:g} % of one core (worker)",
                    f"{_num(worker.get('cpu_percent'), 1)} %",
                    _status(worker.get("cpu_percent"), X100_CPU_PERCENT, at_most=True),
                ]
            )
            rows.append(
                [
                    f"{name}: worker RSS ≤ {WORKER_RSS_MB:g} MB (100 x 100 @ 5 s)",
                    f"{_num(worker.get('rss_mb_max'))} MB",
                    _status(worker.get("rss_mb_max"), WORKER_RSS_MB, at_most=True),
                ]
            )
    for soak in results.get("soak", {}).get("stacks", []):
        session = soak["sessions"][0]
        last = session["database"][-1]["rows"]
        constant = last["readings"] == 3 * last["sensors"]
        rows.append(
            [
                f"{soak['stack']}: readings table = 3 x sensors over the soak",
                f"{last['readings']:,} rows for {last['sensors']:,} sensors",
                "met" if constant else "**not met**",
            ]
        )
    return rows


# ---------------------------------------------------------------- sections


def _steal(busy: dict[str, Any]) -> str:
    share = steal_percent(busy["start"], busy["end"])
    return "not recorded" if share is None else f"{share} %"


def machine_section(machine: dict[str, Any], busy: dict[str, Any]) -> list[str]:
    rows = [
        ["CPU", f"{machine['cpu_model']} ({machine['logical_cores']} logical cores)"],
        ["RAM", f"{machine['ram_gib']} GiB"],
        ["OS", machine["os"]],
        ["Python", machine["python"]],
        ["SQLite", machine["sqlite"]],
        ["PostgreSQL", str(machine["postgresql"])],
        ["Redis", str(machine["redis"])],
        ["Mosquitto", machine["mosquitto"]],
        ["Commit", machine["commit"]],
        [
            "Busy (start → end)",
            f"load average {busy['start']['load_average']} → {busy['end']['load_average']}; calibration loop "
            f"{busy['start']['calibration_ms']} → {busy['end']['calibration_ms']} ms;"
            f" CPU steal during the run {_steal(busy)}",
        ],
    ]
    return ["## Machine", "", *_table(["", ""], rows), ""]


def ingest_section(ingest: dict[str, Any]) -> list[str]:
    lines = [
        "## Ingest (no network)",
        "",
        "Pre-generated seed-format heartbeats of 100 sensors → `parse_message` → `write_batch`, one"
        " transaction per flush. Statements: calls through Django's execute wrapper per flush (an"
        " `executemany` counts once). The seed loop is the development plan's §2.2 algorithm"
        " (bench/naive.py), one heartbeat at a time in autocommit.",
        "",
    ]
    for run in ingest["backends"]:
        rows = [
            [
                f"{case['heartbeats_per_flush']} hb/flush, {case['sites']} sites",
                _num(case["heartbeats_per_s"], 1),
                _num(case["readings_per_s"]),
                f"{case['statements_per_flush']['min']}-{case['statements_per_flush']['max']}",
                f"{_num(case['flush_ms']['p50'], 1)} / {_num(case['flush_ms']['p99'], 1)}",
                _num(case["parse_ms_per_heartbeat"], 2),
                f"{case['ratio_to_seed_loop']:.1f}x",
            ]
            for case in run["cases"]
        ]
        seed = run["seed_loop"]
        rows.append(
            [
                "seed loop (baseline)",
                _num(seed["heartbeats_per_s"], 2),
                _num(seed["readings_per_s"]),
                f"{seed['statements_per_heartbeat']:.0f} per heartbeat",
                f"{_num(seed['heartbeat_ms']['p50'], 1)} / {_num(seed['heartbeat_ms']['p99'], 1)}"
                " per heartbeat",
                "(json.loads)",
                "1x",
            ]
        )
        header = ["case", "heartbeats/s", "readings/s", "statements/flush", "flush p50 / p99 ms"]
        header += ["parse ms/heartbeat", "x seed loop"]
        lines += [f"### {run['vendor']}", "", *_table(header, rows), ""]
        if run.get("profile"):
            lines += [f"cProfile of one case: `{run['profile']}`", ""]
    return lines


def _scenario_row(stack: str, session: dict[str, Any], label: str) -> list[str]:
    lat = session["latency_ms"]
    processes = session["processes"]
    worker = worker_process(stack, processes)
    web = processes.get("web", {}) if "worker" in processes else {}
    metrics = session["worker_metrics"] or {}
    drops = metrics.get("dropped")
    return [
        label,
        f"{_num(session['heartbeats_per_s'], 1)} ({_num(session['readings_per_s'])})",
        f"{_num(lat['p50'], 1)} / {_num(lat['p99'], 1)} / {_num(lat['max'], 1)}",
        str(lat["count"]),
        f"{session['undelivered']} / {'-' if drops is None else _num(drops)}",
        f"{_num(worker.get('cpu_percent'), 1)} % / {_num(worker.get('rss_mb_max'))} MB",
        f"{_num(web.get('cpu_percent'), 1)} % / {_num(web.get('rss_mb_max'))} MB"
        if web
        else "(same process)",
        _num(metrics.get("flush_ms_mean"), 1),
        f"{_num(processes.get('machine_cpu_percent'))} %",
        str(session["publisher_late_ticks"]),
    ]


E2E_HEADER = [
    "scenario",
    "heartbeats/s (readings/s)",
    "latency p50 / p99 / max ms",
    "samples",
    "undelivered / dropped",
    "worker CPU / RSS",
    "web CPU / RSS",
    "flush mean ms",
    "machine CPU",
    "late ticks",
]


def e2e_section(e2e: dict[str, Any], plot: str | None) -> list[str]:
    lines = [
        "## End to end",
        "",
        "Simulator → Mosquitto → worker → database → channel layer → one WebSocket client per site."
        " Latency: from the simulator handing a heartbeat to its MQTT client to the `sensors_update`"
        " with that heartbeat's `ts` arriving at the site's socket. CPU is % of one core over the"
        " measured window; RSS the maximum sampled; flush: the worker's mean `write_batch` time (its"
        " `ingest_flush_seconds`). *Undelivered*: published heartbeats whose update"
        " never reached the socket; *dropped*: the worker's `ingest_dropped_total` (from the web"
        " server's `/metrics`, or `run_mqtt --metrics-port`). *Late ticks*: the simulator fell a whole"
        " interval behind.",
        "",
    ]
    for stack in e2e["stacks"]:
        name = stack["stack"]
        rows = []
        for session in stack["sessions"]:
            if session["kind"] == "fixed":
                tick = ", same tick" if session["same_tick"] else ""
                label = f"{session['name']}: {session['sites']} x 100 @ {session['interval_s']:g} s{tick}"
                rows.append(_scenario_row(name, session, label))
            elif session["kind"] == "ramp":
                for step in session["steps"]:
                    mark = "" if step["sustainable"] else " ✗"
                    label = f"{session['name']}: {step['offered_heartbeats_per_s']:g} hb/s offered{mark}"
                    rows.append(_scenario_row(name, step, label))
        lines += [f"### {name} ({stack['vendor']})", "", *_table(E2E_HEADER, rows), ""]
        for session in stack["sessions"]:
            errors = session.get("clients", {}).get("errors")
            if errors:
                lines += [
                    f"WebSocket client errors in {session['name']}: {len(errors)}, e.g. `{errors[0]}`",
                    "",
                ]
    if plot:
        lines += [f"![latency against rate]({plot})", ""]
    return lines


def soak_section(soak: dict[str, Any]) -> list[str]:
    lines = ["## Soak", ""]
    for stack in soak["stacks"]:
        session = stack["sessions"][0]
        first, last = session["database"][0], session["database"][-1]
        windows = session["latency_windows"]
        rss = session["rss_mb"]
        rows = [
            [
                "load",
                f"{session['sites']} x 100 @ {session['interval_s']:g} s"
                f" for {session['seconds'] / 60:.1f} min",
            ],
            ["database size", f"{first['bytes'] / 2**20:.1f} → {last['bytes'] / 2**20:.1f} MiB"],
            [
                "readings table",
                f"{first['rows']['readings']:,} → {last['rows']['readings']:,} rows "
                f"({_num((first['readings_table_bytes'] or 0) / 2**20, 1)} → "
                f"{_num((last['readings_table_bytes'] or 0) / 2**20, 1)} MiB)"
                f" for {last['rows']['sensors']:,} sensors",
            ],
            [
                "log tables",
                f"status changes {first['rows']['sensor_status_changes']:,}"
                f" → {last['rows']['sensor_status_changes']:,}, connection logs"
                f" {first['rows']['connection_logs']:,} → {last['rows']['connection_logs']:,}",
            ],
        ]
        for name, series in rss.items():
            if series:
                rows.append(
                    [
                        f"{name} RSS",
                        f"{series[0][1]:.0f} → {series[-1][1]:.0f} MB (max {max(v for _, v in series):.0f})",
                    ]
                )
        if windows:
            rows.append(
                [
                    "latency p99, first → last window",
                    f"{_num(windows[0]['p99'], 1)} → {_num(windows[-1]['p99'], 1)} ms"
                    f" ({len(windows)} windows)",
                ]
            )
        growth = session["growth"]
        database = growth["database_after_ring_full"]
        rows.append(
            [
                "growth once every ring was full",
                "the rings never filled"
                if database is None
                else f"database {database['bytes'] / 2**20:+.1f} MiB, readings table"
                f" {database['readings_table_bytes'] / 2**20:+.1f} MiB ({database['readings_rows']:+,} rows),"
                f" log rows {database['log_rows']:+,} over {database['over_seconds'] / 60:.1f} min",
            ]
        )
        rows.append(["undelivered", str(session["undelivered"])])
        lines += [f"### {stack['stack']} ({stack['vendor']})", "", *_table(["", ""], rows), ""]
    return lines


def summary(results: dict[str, Any], *, command: str, quick: bool, plot: str | None) -> str:
    lines = [f"# Benchmark run {results['stamp']}", ""]
    if quick:
        lines += ["**SMOKE RUN (`--quick`): short durations, not figures to quote.**", ""]
    lines += [f"Command: `{command}`", ""]
    lines += machine_section(results["machine"], results["busy"])
    rows = targets(results)
    if rows:
        lines += ["## Targets (issue 5)", "", *_table(["target", "measured", "status"], rows), ""]
    sections: dict[str, Callable[[dict[str, Any]], list[str]]] = {
        "ingest": ingest_section,
        "e2e": lambda e2e: e2e_section(e2e, plot) + workers.section(e2e),
        "scale": scale.summary_section,
        "soak": soak_section,
    }
    for key, section in sections.items():
        if key in results:
            lines += section(results[key])
    return "\n".join(lines)


def plot_ramp(e2e: dict[str, Any], path: Path) -> bool:
    """Latency percentiles against the achieved rate, one colour per stack; False without a ramp."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ramps = [
        (
            stack["stack"] + (f" x{session['workers']} workers" if session.get("workers", 1) > 1 else ""),
            session,
        )
        for stack in e2e["stacks"]
        for session in stack["sessions"]
        if session["kind"] == "ramp" and session["steps"]
    ]
    if not ramps:
        return False
    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    for (name, ramp), colour in zip(ramps, ("tab:blue", "tab:orange", "tab:green"), strict=False):
        rate = [step["readings_per_s"] for step in ramp["steps"]]
        for key, style in (("p50", ":"), ("p99", "-"), ("max", "--")):
            values = [step["latency_ms"][key] for step in ramp["steps"]]
            axes.plot(rate, values, style, marker="o", color=colour, label=f"{name} {key}")
    axes.axhline(RAMP_P99_MS, color="red", linewidth=0.8, label=f"p99 target {RAMP_P99_MS:g} ms")
    axes.axvline(
        E2E_READINGS_PER_S, color="grey", linewidth=0.8, label=f"{E2E_READINGS_PER_S:,} readings/s target"
    )
    axes.set_yscale("log")
    axes.set_xlabel("sensor readings/s delivered (100 sensors per heartbeat)")
    axes.set_ylabel("publish-to-socket latency (ms)")
    axes.set_title("End-to-end latency against rate")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True
