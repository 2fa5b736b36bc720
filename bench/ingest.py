"""Ingest benchmark (no network), run as a child process against one database: pre-generated seed-format
heartbeats of 100 sensors through ``parse_message`` + ``write_batch``, at several heartbeats per flush,
and the seed's own per-sensor ORM loop (bench/naive.py) on the same models and data as the baseline.

Each case gets its own sites. Their first round of heartbeats registers the sensors untimed; then the
timed rounds run until the case's heartbeat count or its time cap, whichever comes first."""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import SENSORS_PER_SITE, child_main, distribution, setup_django, write_json

INTERVAL = 5.0  # seconds between a site's heartbeats, as at the seed's load


@dataclass(frozen=True)
class Fixture:
    site_ids: list[int]
    connection_ids: list[int]
    topics: list[str]
    payloads: list[bytes]  # round after round, each round one heartbeat per site in site order
    received: list[dt.datetime]  # when each heartbeat "arrived"


class StatementCounter:
    """A Django execute wrapper counting statement calls (an executemany counts once)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counting_statements() -> Iterator[StatementCounter]:
    from django.db import connection

    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        yield counter


def make_fixture(tag: str, sites: int, rounds: int) -> Fixture:
    """``sites`` new sites with their connections, and ``rounds`` heartbeats of each, ending now."""
    from apps.mqtt.models import MqttConnection
    from apps.mqtt.simulator.formats import heartbeat_topic
    from apps.mqtt.simulator.payloads import SiteSimulator
    from apps.sites.models import Site

    codes = [f"{tag}{number:03d}" for number in range(1, sites + 1)]
    site_rows = Site.objects.bulk_create([Site(name=code, code=code) for code in codes])
    connections = MqttConnection.objects.bulk_create(
        [MqttConnection(site=site, broker_host="127.0.0.1", enabled=False) for site in site_rows]
    )
    simulators = [
        SiteSimulator(code, index=i, sensors=SENSORS_PER_SITE, heartbeat_format="seed", interval=INTERVAL)
        for i, code in enumerate(codes)
    ]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=INTERVAL * (rounds + 1))
    payloads: list[bytes] = []
    received: list[dt.datetime] = []
    for r in range(rounds):
        for i, simulator in enumerate(simulators):
            at = start + dt.timedelta(seconds=INTERVAL * (r + i / sites))
            payloads.append(simulator.heartbeat(at).payload)
            received.append(at + dt.timedelta(milliseconds=20))
    return Fixture(
        site_ids=[site.pk for site in site_rows],
        connection_ids=[connection.pk for connection in connections],
        topics=[heartbeat_topic(code) for code in codes],
        payloads=payloads,
        received=received,
    )


def readings_stored() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("ingest_readings_stored_total") or 0.0


def batched_case(
    tag: str, *, sites: int, per_flush: int, heartbeats: int, max_seconds: float
) -> dict[str, Any]:
    """parse_message + write_batch, ``per_flush`` heartbeats per flush (one transaction each)."""
    from django.conf import settings

    from apps.mqtt.ingest.batch import write_batch
    from apps.mqtt.ingest.items import HeartbeatItem
    from apps.mqtt.ingest.policy import IngestPolicy
    from apps.mqtt.parser import Heartbeat, MessageKind, parse_message

    rounds = 1 + -(-heartbeats // sites)
    fixture = make_fixture(tag, sites, rounds)
    policy = IngestPolicy.from_settings()
    max_bytes = settings.MQTT_SETTINGS["MAX_PAYLOAD_BYTES"]
    n = len(fixture.payloads)

    def flush(start: int, stop: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        items = []
        for k in range(start, stop):
            site = k % sites
            received = fixture.received[k]
            parsed = parse_message(
                fixture.topics[site],
                fixture.payloads[k],
                kind=MessageKind.HEARTBEAT,
                received_at=received,
                max_bytes=max_bytes,
            )
            assert isinstance(parsed, Heartbeat), parsed
            assert not parsed.issues, parsed.issues
            items.append(
                HeartbeatItem(
                    fixture.connection_ids[site],
                    fixture.site_ids[site],
                    received,
                    parsed,
                    fixture.topics[site],
                )
            )
        t1 = time.perf_counter()
        write_batch(items, now=fixture.received[stop - 1], policy=policy)
        return t1 - t0, time.perf_counter() - t1

    for start in range(0, sites, per_flush):  # the first round registers the sensors: not timed
        flush(start, min(start + per_flush, sites))

    parse_times: list[float] = []
    write_times: list[float] = []
    statements: list[int] = []
    stored_before = readings_stored()
    position = sites
    began = time.perf_counter()
    with counting_statements() as counter:
        while position < n and time.perf_counter() - began < max_seconds:
            stop = min(position + per_flush, n)
            before = counter.count
            parse_s, write_s = flush(position, stop)
            statements.append(counter.count - before)
            parse_times.append(parse_s)
            write_times.append(write_s)
            position = stop
    elapsed = time.perf_counter() - began
    done = position - sites
    readings = done * SENSORS_PER_SITE
    return {
        "sites": sites,
        "heartbeats_per_flush": per_flush,
        "heartbeats": done,
        "flushes": len(write_times),
        "seconds": elapsed,
        "heartbeats_per_s": done / elapsed,
        "readings_per_s": readings / elapsed,
        "readings_stored": readings_stored() - stored_before,
        "statements_per_flush": {"min": min(statements), "max": max(statements)},
        "flush_ms": distribution(write_times, scale=1000),
        "parse_ms_per_heartbeat": sum(parse_times) / done * 1000,
        "capped_by_time": position < n,
    }


def naive_case(tag: str, *, sites: int, heartbeats: int, max_seconds: float) -> dict[str, Any]:
    """The seed's loop, one heartbeat at a time in autocommit. Its first rounds register the sensors
    and fill their 3 readings (not timed), so every timed heartbeat also deletes the oldest reading,
    as the seed's loop does for ever after."""
    from bench.naive import RING, parse_heartbeat

    warmup = RING * sites
    fixture = make_fixture(tag, sites, RING + -(-heartbeats // sites))
    for k in range(warmup):
        parse_heartbeat(fixture.payloads[k], fixture.site_ids[k % sites])
    times: list[float] = []
    position = warmup
    began = time.perf_counter()
    with counting_statements() as counter:
        while position < len(fixture.payloads) and time.perf_counter() - began < max_seconds:
            t0 = time.perf_counter()
            parse_heartbeat(fixture.payloads[position], fixture.site_ids[position % sites])
            times.append(time.perf_counter() - t0)
            position += 1
    elapsed = time.perf_counter() - began
    done = position - warmup
    return {
        "sites": sites,
        "heartbeats": done,
        "seconds": elapsed,
        "heartbeats_per_s": done / elapsed,
        "readings_per_s": done * SENSORS_PER_SITE / elapsed,
        "statements_per_heartbeat": counter.count / done,
        "heartbeat_ms": distribution(times, scale=1000),
        "capped_by_time": position < len(fixture.payloads),
    }


def profile_case(path: Path, *, heartbeats: int, max_seconds: float) -> None:
    """cProfile of a 100-site, 10-heartbeats-per-flush case (after the timed ones: it slows them)."""
    profiler = cProfile.Profile()
    profiler.enable()
    batched_case("IPS", sites=100, per_flush=10, heartbeats=heartbeats, max_seconds=max_seconds)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
    path.write_text(text.getvalue())
    print(f"  profile: {path}", flush=True)


def main() -> None:
    config, out = child_main(sys.argv)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    vendor = connection.vendor
    print(f"ingest on {vendor}: migrated", flush=True)
    cases = []
    for number, (sites, per_flush) in enumerate(config["cases"], start=1):
        result = batched_case(
            f"IB{number}S",
            sites=sites,
            per_flush=per_flush,
            heartbeats=config["heartbeats"],
            max_seconds=config["max_seconds"],
        )
        print(
            f"  {vendor} {per_flush:>3} hb/flush x {sites} sites: {result['heartbeats_per_s']:8.1f} hb/s"
            f" {result['readings_per_s']:10.0f} readings/s, flush p50 {result['flush_ms']['p50']:.1f} ms"
            f" p99 {result['flush_ms']['p99']:.1f} ms",
            flush=True,
        )
        cases.append(result)
    naive = naive_case(
        "INS",
        sites=config["naive_sites"],
        heartbeats=config["naive_heartbeats"],
        max_seconds=config["naive_seconds"],
    )
    print(
        f"  {vendor} seed loop: {naive['heartbeats_per_s']:.2f} hb/s,"
        f" {naive['readings_per_s']:.0f} readings/s",
        flush=True,
    )
    for case in cases:
        case["ratio_to_seed_loop"] = case["readings_per_s"] / naive["readings_per_s"]
    if config.get("profile_path"):
        profile_case(
            Path(config["profile_path"]), heartbeats=config["heartbeats"], max_seconds=config["max_seconds"]
        )
    write_json(out, {"vendor": vendor, "cases": cases, "seed_loop": naive})


if __name__ == "__main__":
    main()
