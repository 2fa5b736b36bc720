"""The datalogger simulator: pure payload generation, the publishing loop against the real Mosquitto
(and a private one that the test kills and restarts), and the command's argument checks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import itertools
import json
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt
import orjson
import pytest
from django.core.management import CommandError, call_command

from apps.mqtt.simulator.faults import Faults
from apps.mqtt.simulator.formats import HEARTBEAT_FORMATS, READING_KEYS, format_ts, resolve_heartbeat_format
from apps.mqtt.simulator.malformed import HUGE_PAYLOAD_BYTES, MALFORMED_KINDS, SYS_INFO_MALFORMED_KINDS
from apps.mqtt.simulator.noise import generate_device_names
from apps.mqtt.simulator.payloads import SiteSimulator, build_heartbeat, build_malformed, build_sys_info
from apps.mqtt.simulator.runner import BrokerConfig, SimulatorRunner, parse_broker_url, tick_offsets
from apps.mqtt.tests.conftest import Mosquitto

NOW = dt.datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=dt.UTC)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NAIVE_SPACE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
DEVICE_NAME = re.compile(r"^MN[A-D]\d{5}$")
BASE_FIELDS = {"acc_x", "acc_y", "acc_z", "incli_x", "incli_y"}
EXTRA_FIELDS = {"mag_x", "mag_y", "mag_z", "gyro_x", "gyro_y", "gyro_z"}


def _sensors(document: Any, fmt: str) -> dict[str, dict[str, Any]]:
    """Device name → entry (device_name removed), whatever the format."""
    if fmt == "legacy":
        return document
    sensors = document["sensors_last_data"]
    if isinstance(sensors, dict):
        return sensors
    return {entry["device_name"]: {k: v for k, v in entry.items() if k != "device_name"} for entry in sensors}


def _plain(entry: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The entry's readings under plain names (acc_x...), unwrapping {unit, value}."""
    names = dict(zip(READING_KEYS[fmt], READING_KEYS["legacy"], strict=True))
    return {
        names[key]: value["value"] if isinstance(value, dict) else value
        for key, value in entry.items()
        if key in names
    }


# -- payloads: formats --------------------------------------------------------------------------------


def test_seed_format_is_the_seeds_list_with_the_interval_on_top() -> None:
    document = orjson.loads(build_heartbeat("DEMO001", sensors=6, fmt="seed", now=NOW, interval=5))

    assert document["message_interval_seconds"] == 5
    entries = document["sensors_last_data"]
    assert isinstance(entries, list)
    assert len(entries) == 6
    base = {"device_name", "ts", "last_acc00", "last_acc01", "last_acc02", "last_incli_x", "last_incli_y"}
    extras = {"last_mag_x", "last_mag_y", "last_mag_z", "last_gyro_x", "last_gyro_y", "last_gyro_z"}
    # Every 5th sensor, starting with the first, also has a magnetometer and a gyroscope.
    assert [set(entry) for entry in entries] == [base | extras, base, base, base, base, base | extras]
    assert all(entry["ts"] == "2026-11-28T10:00:00.123Z" for entry in entries)
    assert all(DEVICE_NAME.match(entry["device_name"]) for entry in entries)


def test_keyed_format_is_an_object_keyed_by_device_name() -> None:
    document = orjson.loads(build_heartbeat("DEMO001", sensors=4, fmt="keyed", now=NOW))

    sensors = document["sensors_last_data"]
    assert isinstance(sensors, dict)
    assert list(sensors) == generate_device_names("DEMO001", 4)
    assert all("device_name" not in entry and "last_acc00" in entry for entry in sensors.values())
    assert document["message_interval_seconds"] == 5


def test_unprefixed_format_uses_plain_names_and_a_naive_space_separated_utc_ts() -> None:
    document = orjson.loads(build_heartbeat("DEMO001", sensors=2, fmt="unprefixed", now=NOW))

    first = document["sensors_last_data"][0]
    assert set(first) == {"device_name", "ts"} | BASE_FIELDS | EXTRA_FIELDS
    assert first["ts"] == "2026-11-28 10:00:00"
    assert NAIVE_SPACE.match(first["ts"])


def test_unit_value_format_wraps_each_reading_with_its_unit() -> None:
    document = orjson.loads(build_heartbeat("DEMO001", sensors=1, fmt="unit-value", now=NOW))

    entry = document["sensors_last_data"][0]
    units = {key: value["unit"] for key, value in entry.items() if isinstance(value, dict)}
    assert units == {
        "last_acc00": "g",
        "last_acc01": "g",
        "last_acc02": "g",
        "last_incli_x": "deg",
        "last_incli_y": "deg",
        "last_mag_x": "uT",
        "last_mag_y": "uT",
        "last_mag_z": "uT",
        "last_gyro_x": "dps",
        "last_gyro_y": "dps",
        "last_gyro_z": "dps",
    }
    assert all(isinstance(entry[key]["value"], float) for key in units)


def test_legacy_format_has_the_device_names_as_top_level_keys() -> None:
    document = orjson.loads(build_heartbeat("DEMO001", sensors=3, fmt="legacy", now=NOW))

    assert list(document) == generate_device_names("DEMO001", 3)
    first = next(iter(document.values()))
    assert set(first) == {"ts"} | BASE_FIELDS | EXTRA_FIELDS
    assert ISO_Z.match(first["ts"])


@pytest.mark.parametrize("fmt", HEARTBEAT_FORMATS)
def test_every_format_lists_every_sensor_with_realistic_values(fmt: str) -> None:
    simulator = SiteSimulator("DEMO002", sensors=100, heartbeat_format=fmt)

    sensors = _sensors(orjson.loads(simulator.heartbeat(NOW).payload), fmt)

    assert list(sensors) == simulator.device_names
    readings = [_plain(entry, fmt) for entry in sensors.values()]
    assert sum(set(r) >= EXTRA_FIELDS for r in readings) == 20  # every 5th of 100
    for r in readings:
        assert abs(r["acc_x"]) < 0.05
        assert abs(r["acc_y"]) < 0.05
        assert 0.95 < r["acc_z"] < 1.05  # gravity, in g
        assert abs(r["incli_x"]) < 2
        assert abs(r["incli_y"]) < 2
        assert all(isinstance(value, float) and math.isfinite(value) for value in r.values())


def test_inclinometers_drift_slowly_between_heartbeats() -> None:
    simulator = SiteSimulator("DEMO003", sensors=10, heartbeat_format="legacy")

    first = simulator.heartbeat_document(NOW)
    second = simulator.heartbeat_document(NOW + dt.timedelta(seconds=5))

    for name in simulator.device_names:
        assert abs(first[name]["incli_x"] - second[name]["incli_x"]) < 0.05
    assert [e["incli_x"] for e in first.values()] != [e["incli_x"] for e in second.values()]


def test_mixed_format_gives_consecutive_sites_every_format() -> None:
    assert [resolve_heartbeat_format("mixed", i) for i in range(5)] == list(HEARTBEAT_FORMATS)
    assert resolve_heartbeat_format("mixed", 5) == "seed"
    with pytest.raises(ValueError, match="unknown heartbeat format"):
        resolve_heartbeat_format("xml")


@pytest.mark.parametrize(("every", "expected"), [(0, 0), (1, 12), (5, 3), (100, 1)])
def test_share_of_sensors_with_magnetometer_and_gyroscope_is_configurable(every: int, expected: int) -> None:
    document = orjson.loads(build_heartbeat(sensors=12, fmt="seed", now=NOW, extras_every=every))

    assert sum("last_gyro_z" in entry for entry in document["sensors_last_data"]) == expected


# -- payloads: determinism, names, timestamps --------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_other_bytes() -> None:
    assert build_heartbeat("DEMO001", sensors=20, now=NOW, seed=7) == build_heartbeat(
        "DEMO001", sensors=20, now=NOW, seed=7
    )
    assert build_heartbeat("DEMO001", sensors=20, now=NOW, seed=7) != build_heartbeat(
        "DEMO001", sensors=20, now=NOW, seed=8
    )
    assert build_sys_info("DEMO001", now=NOW, seed=7) == build_sys_info("DEMO001", now=NOW, seed=7)


def test_device_names_are_unique_sorted_and_deterministic_per_site() -> None:
    names = generate_device_names("DEMO001", 500, seed=1)

    assert len(set(names)) == 500
    assert names == sorted(names)
    assert all(DEVICE_NAME.match(name) for name in names)
    assert generate_device_names("DEMO001", 500, seed=1) == names
    assert generate_device_names("DEMO002", 500, seed=1) != names
    with pytest.raises(ValueError, match="sensor count"):
        generate_device_names("DEMO001", 100_000)


def test_ts_is_the_publish_time_in_utc_and_a_naive_time_is_refused() -> None:
    rome = dt.timezone(dt.timedelta(hours=1))
    assert format_ts(dt.datetime(2026, 11, 28, 11, 0, 0, 5000, tzinfo=rome)) == "2026-11-28T10:00:00.005Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_ts(dt.datetime(2026, 11, 28, 10, 0, 0))


# -- payloads: sys_info ----------------------------------------------------------------------------------


def test_flat_sys_info_has_sizes_in_bytes_and_uptime_in_seconds() -> None:
    simulator = SiteSimulator("DEMO001", index=4, sensors=0, sys_info_format="flat")

    first = orjson.loads(simulator.sys_info(NOW).payload)
    later = orjson.loads(simulator.sys_info(NOW + dt.timedelta(seconds=60)).payload)

    assert set(first) == {
        "hostname",
        "firmware_version",
        "ip_address",
        "uptime",
        "cpu_load",
        "temperature",
        "mem_total",
        "mem_free",
        "disk_total",
        "disk_free",
        "ts",
    }
    assert first["hostname"] == "dl-demo001"
    assert first["ip_address"] == "10.0.0.5"
    assert re.match(r"^\d+\.\d+\.\d+$", first["firmware_version"])
    assert isinstance(first["uptime"], int)
    assert later["uptime"] == first["uptime"] + 60
    assert 0 < first["mem_free"] < first["mem_total"]
    assert 0 < first["disk_free"] < first["disk_total"]
    assert first["ts"] == "2026-11-28T10:00:00.123Z"


def test_nested_sys_info_has_sizes_in_gb_and_a_days_uptime_under_system() -> None:
    document = orjson.loads(build_sys_info("DEMO001", fmt="nested", now=NOW))

    assert set(document) == {"system", "ts"}
    system = document["system"]
    assert re.match(r"^(\d+ days?, )?\d{1,2}:\d\d:\d\d$", system["uptime"])
    assert set(system["memory"]) == {"total_gb", "free_gb"}
    assert set(system["disk"]) == {"total_gb", "free_gb"}
    assert 0 < system["memory"]["free_gb"] < system["memory"]["total_gb"] <= 2
    assert system["hostname"] == "dl-demo001"


# -- payloads: faults --------------------------------------------------------------------------------------


def test_drop_sensors_leaves_sensors_out_at_the_given_rate() -> None:
    def listed(probability: float) -> list[int]:
        simulator = SiteSimulator("DEMO001", sensors=100, faults=Faults(drop_sensors=probability))
        return [len(simulator.heartbeat_document(NOW)["sensors_last_data"]) for _ in range(20)]

    assert listed(0.0) == [100] * 20
    assert listed(1.0) == [0] * 20
    half = listed(0.5)
    assert 35 < sum(half) / len(half) < 65
    assert half == listed(0.5)  # deterministic for the seed


def test_stale_sensors_repeat_their_first_reading_while_the_others_advance() -> None:
    simulator = SiteSimulator("DEMO001", sensors=5, heartbeat_format="keyed", faults=Faults(stale_sensors=2))

    first = simulator.heartbeat_document(NOW)["sensors_last_data"]
    later = orjson.loads(simulator.heartbeat(NOW + dt.timedelta(seconds=10)).payload)["sensors_last_data"]

    stale = simulator.stale_device_names
    assert stale == simulator.device_names[:2]
    for name in simulator.device_names:
        if name in stale:
            assert later[name] == first[name]  # same ts, same values
        else:
            assert later[name]["ts"] == "2026-11-28T10:00:10.123Z"


@pytest.mark.parametrize("fmt", HEARTBEAT_FORMATS)
def test_a_vanishing_sensor_is_listed_first_then_never_again(fmt: str) -> None:
    simulator = SiteSimulator(
        "DEMO005",
        sensors=6,
        heartbeat_format=fmt,
        faults=Faults(stale_sensors=1, vanishing_sensors=2, vanish_after=30),
    )

    def listed(after: float) -> list[str]:
        moment = NOW + dt.timedelta(seconds=after)
        return list(_sensors(orjson.loads(simulator.heartbeat(moment).payload), fmt))

    everyone = simulator.device_names
    assert simulator.vanishing_device_names == everyone[4:]  # the last ones, never the stale first
    # Listed from the site's first message until vanish_after, so the worker creates them...
    assert [listed(t) for t in (0, 5, 29.9)] == [everyone] * 3
    # ...then never again, while the others go on.
    assert [listed(t) for t in (30, 35, 3600)] == [everyone[:4]] * 3


def test_dark_periods_start_after_the_offset_and_repeat() -> None:
    faults = Faults(dark_every=300, dark_for=75, dark_offset=15)
    simulator = SiteSimulator("DEMO007", sensors=1, faults=faults)

    dark = [t for t in range(0, 700, 5) if simulator.is_dark(NOW + dt.timedelta(seconds=t))]

    assert dark == [*range(15, 90, 5), *range(315, 390, 5), *range(615, 690, 5)]
    assert not SiteSimulator("DEMO001", sensors=1).is_dark(NOW)  # no dark period by default


def _is_strict_json(payload: bytes) -> bool:
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return True


@pytest.mark.parametrize("fmt", HEARTBEAT_FORMATS)
@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_heartbeat_is_broken_as_its_kind_says(kind: str, fmt: str) -> None:
    payload = build_malformed(kind, "DEMO001", sensors=3, fmt=fmt, now=NOW)

    if kind in {"invalid_json", "truncated", "empty", "not_utf8"}:
        assert not _is_strict_json(payload)
    elif kind == "json_list":
        assert isinstance(orjson.loads(payload), list)
    elif kind == "nan_values":
        assert not _is_strict_json(payload)  # NaN/Infinity are not JSON...
        readings = _plain(next(iter(_sensors(json.loads(payload), fmt).values())), fmt)
        assert math.isnan(readings["acc_x"])  # ...but are what the lenient stdlib reads
        assert math.isinf(readings["incli_x"])
    elif kind == "wrong_types":
        entry = next(iter(_sensors(orjson.loads(payload), fmt).values()))
        readings = _plain(entry, fmt)
        assert readings["acc_x"] == "n/a"
        assert readings["incli_x"] == [1, 2]
        assert isinstance(entry["ts"], int)
    elif kind == "missing_device_name":
        document = orjson.loads(payload)
        if fmt in {"seed", "unprefixed", "unit-value"}:
            assert "device_name" not in document["sensors_last_data"][0]
        else:
            assert "" in (document if fmt == "legacy" else document["sensors_last_data"])
    else:
        assert kind == "huge"
        assert len(payload) > 1024 * 1024
        assert len(payload) == HUGE_PAYLOAD_BYTES
        assert _is_strict_json(payload)  # only a size cap rejects it


@pytest.mark.parametrize("fmt", ["flat", "nested"])
@pytest.mark.parametrize("kind", SYS_INFO_MALFORMED_KINDS)
def test_each_malformed_sys_info_is_broken_as_its_kind_says(kind: str, fmt: str) -> None:
    simulator = SiteSimulator("DEMO001", sensors=0, sys_info_format=fmt)

    payload = simulator.malformed_sys_info(kind, NOW)

    if kind in {"invalid_json", "truncated", "empty", "not_utf8"}:
        assert not _is_strict_json(payload)
    elif kind == "json_list":
        assert isinstance(orjson.loads(payload), list)
    elif kind == "nan_values":
        assert not _is_strict_json(payload)
        document = json.loads(payload)
        assert math.isnan(document.get("system", document)["temperature"])
    elif kind == "wrong_types":
        document = orjson.loads(payload)
        system = document.get("system", document)
        assert isinstance(system["uptime"], list)
        assert isinstance(system["hostname"], int)
    else:
        assert kind == "huge"
        assert len(payload) == HUGE_PAYLOAD_BYTES


def test_unknown_malformed_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown malformed kind"):
        build_malformed("missing_device_name", sys_info=True)  # a sys_info has no device names
    with pytest.raises(ValueError, match="unknown malformed kind"):
        build_malformed("gibberish")


def test_malformed_share_replaces_messages_at_the_given_rate() -> None:
    always = SiteSimulator("DEMO001", sensors=3, faults=Faults(malformed=1.0))
    never = SiteSimulator("DEMO001", sensors=3, faults=Faults(malformed=0.0))
    some = SiteSimulator("DEMO001", sensors=3, faults=Faults(malformed=0.3))

    assert all(always.heartbeat(NOW).malformed in MALFORMED_KINDS for _ in range(50))
    assert all(always.sys_info(NOW).malformed in SYS_INFO_MALFORMED_KINDS for _ in range(20))
    assert all(never.heartbeat(NOW).malformed is None for _ in range(50))
    kinds = [some.heartbeat(NOW).malformed for _ in range(1000)]
    assert 200 < sum(kind is not None for kind in kinds) < 400
    assert {kind for kind in kinds if kind} - {"huge"} == set(MALFORMED_KINDS) - {"huge"}


def test_fault_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="probability"):
        Faults(drop_sensors=1.5)
    with pytest.raises(ValueError, match="probability"):
        Faults(malformed=-0.1)
    with pytest.raises(ValueError, match="exceeds the sensor count"):
        SiteSimulator("DEMO001", sensors=2, faults=Faults(stale_sensors=3))
    with pytest.raises(ValueError, match="together exceed the sensor count"):
        SiteSimulator("DEMO001", sensors=4, faults=Faults(stale_sensors=2, vanishing_sensors=3))
    with pytest.raises(ValueError, match="vanishing_sensors must not be negative"):
        Faults(vanishing_sensors=-1)
    with pytest.raises(ValueError, match="vanish_after must be a positive"):
        Faults(vanishing_sensors=1, vanish_after=0)
    for every, length in ((60, 60), (0, 10), (60, 0), (60, -5), (math.nan, 10), (math.inf, 10)):
        with pytest.raises(ValueError, match="shorter than dark_every"):
            Faults(dark_every=every, dark_for=length)
    with pytest.raises(ValueError, match="dark_offset must be 0 or a positive"):
        Faults(dark_every=60, dark_for=10, dark_offset=-1)
    with pytest.raises(ValueError, match="dark_offset needs dark_every and dark_for"):
        Faults(dark_offset=10)


# -- runner: against the real Mosquitto --------------------------------------------------------------


@contextlib.asynccontextmanager
async def _subscriber(host: str, port: int, *filters: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(host, port, identifier=f"test-sub-{uuid.uuid4().hex[:8]}") as client:
        for topic_filter in filters:
            await client.subscribe(topic_filter)
        yield client


async def _collect(client: aiomqtt.Client, count: int, within: float) -> list[aiomqtt.Message]:
    received: list[aiomqtt.Message] = []

    async def read() -> None:
        async for message in client.messages:
            received.append(message)
            if len(received) >= count:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), within)
    return received


@pytest.mark.asyncio
async def test_runner_publishes_heartbeats_and_sys_info_of_each_site_to_mosquitto(
    system_broker: tuple[str, int],
) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    codes = [f"SIM{tag}A", f"SIM{tag}B", f"SIM{tag}Q"]
    sites = [
        SiteSimulator(code, index=i, sensors=4, heartbeat_format=fmt, interval=0.2)
        for i, (code, fmt) in enumerate(zip(codes, ("seed", "keyed", "seed"), strict=True))
    ]
    runner = SimulatorRunner(
        sites,
        BrokerConfig(*system_broker),
        interval=0.2,
        count=2,
        silenced=frozenset({codes[2]}),
        echo=lambda line: None,
    )

    async with _subscriber(*system_broker, *(f"{code}/#" for code in codes)) as subscriber:
        stats = await runner.run()
        # 2 sites x (2 heartbeats + 1 sys_info at start); the silenced site sends nothing.
        received = await _collect(subscriber, 6, within=2.0)
        received += await _collect(subscriber, 1, within=0.2)  # nothing more comes

    assert (stats.heartbeats, stats.sys_infos, stats.failures) == (4, 2, 0)
    assert len(received) == 6
    by_topic: dict[str, list[Any]] = {}
    for message in received:
        by_topic.setdefault(message.topic.value, []).append(orjson.loads(message.payload))
    assert set(by_topic) == {
        f"{codes[0]}/datalogger_o/heartbeat",
        f"{codes[0]}/sys_info",
        f"{codes[1]}/datalogger_o/heartbeat",
        f"{codes[1]}/sys_info",
    }
    assert len(by_topic[f"{codes[0]}/datalogger_o/heartbeat"]) == 2
    seed_heartbeat = by_topic[f"{codes[0]}/datalogger_o/heartbeat"][0]
    assert [e["device_name"] for e in seed_heartbeat["sensors_last_data"]] == sites[0].device_names
    keyed_heartbeat = by_topic[f"{codes[1]}/datalogger_o/heartbeat"][1]
    assert list(keyed_heartbeat["sensors_last_data"]) == sites[1].device_names
    assert by_topic[f"{codes[1]}/sys_info"][0]["hostname"] == f"dl-{codes[1].lower()}"
    # ts is the publish time.
    ts = dt.datetime.fromisoformat(seed_heartbeat["sensors_last_data"][0]["ts"])
    assert abs((dt.datetime.now(dt.UTC) - ts).total_seconds()) < 5


@pytest.mark.asyncio
async def test_a_dark_site_publishes_nothing_during_its_dark_period_and_resumes_after(
    system_broker: tuple[str, int],
) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    dark = SiteSimulator(
        f"DARK{tag}", sensors=1, faults=Faults(dark_every=100, dark_for=0.6, dark_offset=0.3)
    )
    runner = SimulatorRunner(
        [dark], BrokerConfig(*system_broker), interval=0.1, duration=1.5, echo=lambda line: None
    )

    async with _subscriber(*system_broker, f"DARK{tag}/#") as subscriber:
        stats = await runner.run()
        received = await _collect(subscriber, 100, within=0.5)

    heartbeats = [
        dt.datetime.fromisoformat(orjson.loads(m.payload)["sensors_last_data"][0]["ts"])
        for m in received
        if m.topic.value.endswith("/heartbeat")
    ]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(heartbeats)]
    # Heartbeats every 0.1 s, then nothing at all for the dark 0.6 s, then heartbeats again.
    assert stats.dark_ticks >= 4
    assert max(gaps) >= 0.55
    longest = gaps.index(max(gaps))
    assert longest >= 2  # heartbeats before the dark period...
    assert len(gaps) - longest >= 3  # ...and after it
    assert sorted(gaps)[-2] < 0.3  # one dark period, the rest on schedule
    # The sys_info went out at the first tick only: its next is not due within 1.5 s.
    assert [m.topic.value for m in received].count(f"DARK{tag}/sys_info") == 1


def test_sites_first_ticks_spread_evenly_over_the_interval_unless_same_tick() -> None:
    assert tick_offsets(4, 2.0, same_tick=False) == [0.0, 0.5, 1.0, 1.5]
    assert tick_offsets(4, 2.0, same_tick=True) == [0.0] * 4
    assert tick_offsets(1, 5.0, same_tick=False) == [0.0]
    sites = [SiteSimulator(f"SPREAD{i}", index=i, sensors=1) for i in range(10)]
    runner = SimulatorRunner(sites, BrokerConfig(), interval=5.0, echo=lambda line: None)

    assert runner.first_tick_offsets() == [i * 0.5 for i in range(10)]


@pytest.mark.asyncio
async def test_same_tick_sites_publish_together(system_broker: tuple[str, int]) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    sites = [SiteSimulator(f"SAME{tag}{i}", index=i, sensors=1) for i in range(10)]
    runner = SimulatorRunner(
        sites, BrokerConfig(*system_broker), interval=5.0, count=1, same_tick=True, echo=lambda line: None
    )

    # With the default spread, the 10th site would tick 4.5 s after the first.
    assert runner.first_tick_offsets() == [0.0] * 10

    stats = await runner.run()

    assert (stats.heartbeats, stats.sys_infos, stats.failures) == (10, 10, 0)


@pytest.mark.asyncio
async def test_runner_reconnects_by_itself_when_the_broker_comes_back(
    mosquitto: Callable[..., Mosquitto],
) -> None:
    broker = mosquitto()
    port = broker.port
    lines: list[str] = []
    runner = SimulatorRunner(
        [SiteSimulator("RECO1", sensors=2, interval=0.05)],
        BrokerConfig("127.0.0.1", port, timeout=2.0),
        interval=0.05,
        duration=20,
        echo=lines.append,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    task = asyncio.create_task(runner.run())

    async def until(condition: Any, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while not condition():
            assert time.monotonic() < deadline, lines
            await asyncio.sleep(0.02)

    try:
        await until(lambda: runner.stats.heartbeats >= 2)
        broker.stop()
        await until(lambda: not runner.connected)
        await until(lambda: runner.stats.failures >= 2)  # the schedule goes on while disconnected
        broker.start()
        async with _subscriber("127.0.0.1", port, "RECO1/#") as subscriber:
            received = await _collect(subscriber, 2, within=3.0)
    finally:
        runner.stop()
        stats = await asyncio.wait_for(task, 5)

    assert [m.topic.value for m in received] == ["RECO1/datalogger_o/heartbeat"] * 2
    assert stats.connects == 2
    assert any(line.startswith("connection lost") for line in lines)
    assert any(line.startswith("reconnected") for line in lines)
    assert lines[-1].startswith("stopped")


# -- the command ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"broker": "http://127.0.0.1:1883"}, "bad broker URL"),
        ({"broker": "mqtt://127.0.0.1:99999"}, "bad broker URL"),
        ({"broker": "mqtt://:1883"}, "no host"),
        ({"broker": "mqtt://user:secret@host:1883"}, "--username/--password"),
        ({"sites": 0}, "--sites must be between 1"),
        ({"sensors": 0}, "--sensors must be between 1"),
        ({"interval": 0}, "--interval must be a positive"),
        ({"drop_sensors": 1.5}, "--drop-sensors is a probability"),
        ({"malformed": -0.1}, "--malformed is a probability"),
        ({"heartbeat_format": "xml"}, "Unknown --format 'xml'"),
        ({"sysinfo_format": "deep"}, "Unknown --sysinfo-format"),
        ({"sensors": 3, "stale_sensors": 4}, "--stale-sensors must be between 0 and --sensors"),
        ({"sites": 2, "silent_sites": 3}, "--silent-sites must be between 0"),
        ({"sites": 2, "silence": "DEMO009"}, "--silence: DEMO009 not among"),
        ({"site_codes": "A,B/C"}, "--site-codes: 'B/C'"),
        ({"site_codes": "A,A"}, "listed twice"),
        ({"count": 0}, "--count must be at least 1"),
        ({"password": "x"}, "--password needs --username"),
        ({"sensors": 5, "vanishing_sensors": 6}, "--vanishing-sensors must be between 0 and --sensors"),
        (
            {"sensors": 5, "stale_sensors": 3, "vanishing_sensors": 3},
            "--vanishing-sensors must be between 0 and --sensors minus --stale-sensors (2)",
        ),
        ({"vanishing_sensors": 1, "vanish_after": 0}, "--vanish-after must be a positive"),
        ({"dark_every": 60}, "--dark-every and --dark-for go together"),
        ({"dark_for": 10}, "--dark-every and --dark-for go together"),
        ({"dark_every": 60, "dark_for": 60}, "--dark-for (60) must be a positive number of seconds less"),
        ({"dark_every": math.inf, "dark_for": 60}, "--dark-for (60) must be a positive"),
        ({"dark_offset": 5}, "--dark-offset needs --dark-every and --dark-for"),
        ({"dark_every": 60, "dark_for": 10, "dark_offset": -1}, "--dark-offset must be 0 or a positive"),
    ],
)
def test_command_rejects_bad_arguments_with_a_clear_message(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate_sites", stdout=io.StringIO(), **arguments)


def test_help_documents_every_fault_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        call_command("simulate_sites", "--help")

    text = " ".join(capsys.readouterr().out.split())
    for option in (
        "--drop-sensors",
        "--silent-sites",
        "--silence",
        "--malformed",
        "--stale-sensors",
        "--vanishing-sensors",
        "--vanish-after",
        "--dark-every",
        "--dark-for",
        "--dark-offset",
    ):
        assert option in text
    assert "the worker turns them offline" in text
    assert "publishes nothing at all" in text


def test_broker_url_parsing() -> None:
    assert parse_broker_url("mqtt://broker.example:1884") == ("broker.example", 1884)
    assert parse_broker_url("mqtt://127.0.0.1") == ("127.0.0.1", 1883)
    with pytest.raises(ValueError, match="TLS is not simulated"):
        parse_broker_url("mqtts://broker.example:8883")


@pytest.mark.usefixtures("system_broker")
def test_command_publishes_until_its_count_then_exits() -> None:
    tag = uuid.uuid4().hex[:8].upper()
    out = io.StringIO()

    call_command(
        "simulate_sites",
        site_codes=f"CMD{tag}A,CMD{tag}B",
        sensors=5,
        interval=0.05,
        count=2,
        heartbeat_format="mixed",
        sysinfo_format="nested",
        stdout=out,
    )

    assert "connected to 127.0.0.1:1883" in out.getvalue()
    assert "published 6 (4 heartbeats, 2 sys_info, 0 malformed), failures 0" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.usefixtures("system_broker")
def test_command_from_db_simulates_the_enabled_connections_sites(
    make_site: Any, make_connection: Any
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    make_connection(site=make_site(code=f"DB{tag}ON"), enabled=True)
    make_connection(site=make_site(code=f"DB{tag}OFF"), enabled=False)
    out = io.StringIO()

    call_command("simulate_sites", from_db=True, sensors=1, interval=0.05, count=1, stdout=out)

    assert f"Simulating 1 sites (DB{tag}ON) x 1 sensors" in out.getvalue()
    assert "published 2 (1 heartbeats, 1 sys_info" in out.getvalue()


@pytest.mark.django_db
def test_command_from_db_without_enabled_connections_says_so() -> None:
    with pytest.raises(CommandError, match="no enabled connections"):
        call_command("simulate_sites", from_db=True, stdout=io.StringIO())
