"""A simulated datalogger site's payloads: a time in, bytes out, no I/O and no Django.

Every heartbeat variant the worker's parser accepts can be produced here (``formats``), as can both
``sys_info`` shapes and a mix of malformed payloads (``malformed``), so the worker's tests build their
inputs with the same code the simulator publishes.

Cost matters: the simulator plays 100+ sites of 100 sensors every 5 s, and load tests far more. So
the per-site static parts (names, topics, keys, inclinometer offsets) are built once, and the noise
comes from shared pools (``noise``).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import random
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import orjson

from apps.mqtt.simulator.faults import NO_FAULTS, Faults
from apps.mqtt.simulator.formats import (
    LISTED_FORMATS,
    READING_KEYS,
    UNITS,
    format_ts,
    format_ts_naive,
    heartbeat_topic,
    resolve_heartbeat_format,
    resolve_sys_info_format,
    sys_info_topic,
)
from apps.mqtt.simulator.malformed import (
    MALFORMED_KINDS,
    MALFORMED_WEIGHTS,
    SYS_INFO_MALFORMED_KINDS,
    break_heartbeat,
    break_sys_info,
    generic_malformed,
)
from apps.mqtt.simulator.noise import POOL_SIZE, generate_device_names, noise_pools, take

FIRMWARE_VERSIONS: Final = ("3.2.1", "3.2.0", "3.1.4", "2.9.7")
GIB: Final = 1024**3
_N = TypeVar("_N", int, float)


@dataclass(frozen=True, slots=True)
class Message:
    """One payload to publish; ``malformed`` names the injected fault, None for a good message."""

    topic: str
    payload: bytes
    malformed: str | None = None


class SiteSimulator:
    """The datalogger of one site: its sensors, its drifting inclinometers and its system state.

    Stateful (inclinometer drift, uptime, frozen stale sensors, its own random stream) but pure: the
    caller passes the time, so tests control it and the output is deterministic for a seed.
    """

    def __init__(
        self,
        site_code: str,
        *,
        index: int = 0,
        sensors: int = 10,
        heartbeat_format: str = "seed",
        sys_info_format: str = "flat",
        interval: float = 5.0,
        seed: int = 0,
        extras_every: int = 5,
        faults: Faults = NO_FAULTS,
    ) -> None:
        if not site_code:
            raise ValueError("site_code must not be empty")
        if interval <= 0:
            raise ValueError("interval must be positive")
        if extras_every < 0:
            raise ValueError("extras_every must be 0 (no magnetometer/gyroscope) or positive")
        if faults.stale_sensors > sensors:
            raise ValueError(f"stale_sensors ({faults.stale_sensors}) exceeds the sensor count ({sensors})")
        if faults.stale_sensors + faults.vanishing_sensors > sensors:
            # Stale sensors are the first ones and vanishing the last: they must not overlap.
            raise ValueError(
                f"stale_sensors ({faults.stale_sensors}) and vanishing_sensors ({faults.vanishing_sensors}) "
                f"together exceed the sensor count ({sensors})"
            )
        self.site_code = site_code
        self.index = index
        self.heartbeat_format = resolve_heartbeat_format(heartbeat_format, index)
        self.sys_info_format = resolve_sys_info_format(sys_info_format, index)
        self.interval = interval
        self.faults = faults
        self.heartbeat_topic = heartbeat_topic(site_code)
        self.sys_info_topic = sys_info_topic(site_code)
        self.device_names = generate_device_names(site_code, sensors, seed=seed)
        # Sensor i carries a magnetometer and a gyroscope when i % extras_every == 0, so the first
        # sensor always does and a one-sensor test sees the optional fields.
        self.extras_indices: tuple[int, ...] = tuple(range(0, sensors, extras_every)) if extras_every else ()
        self.stale_indices: tuple[int, ...] = tuple(range(faults.stale_sensors))
        # The sensors still listed once the vanishing ones are gone.
        self._kept_after_vanishing = sensors - faults.vanishing_sensors

        self._rng = random.Random(f"site:{seed}:{site_code}")
        self._pools = noise_pools(seed)
        rng = self._rng
        # Each inclinometer's mounting offset; a site-wide drift (thermal tilt of the structure) moves
        # them together, which is realistic and costs one addition per value.
        # Kept in integer units of 1e-4 degrees: an int sum divided once gives the exact 4-decimal
        # value, five times cheaper than round() on a float sum (the hot loop of a big heartbeat).
        self._incli_base_x = [rng.randint(-15_000, 15_000) for _ in range(sensors)]
        self._incli_base_y = [rng.randint(-15_000, 15_000) for _ in range(sensors)]
        self._drift_x = 0.0
        self._drift_y = 0.0
        self._frozen: dict[int, dict[str, Any]] = {}
        interval_value: float = int(interval) if float(interval).is_integer() else interval
        self._interval_value = interval_value

        # The datalogger's own system: fixed per site, deterministic for the seed.
        self._hostname = f"dl-{site_code.lower()}"
        self._firmware = rng.choice(FIRMWARE_VERSIONS)
        self._ip_address = f"10.0.{index // 250}.{index % 250 + 1}"
        self._uptime_at_start = rng.randint(3_600, 40 * 86_400)
        # The time of the site's first message, when it "booted": uptime, vanishing sensors and dark
        # periods count from it.
        self._started: dt.datetime | None = None
        self._mem_total = rng.choice((512 * 1024**2, GIB, 2 * GIB))
        self._disk_total = rng.choice((15_931_539_456, 31_989_104_640))
        self._disk_free_share = rng.uniform(0.3, 0.7)
        self._temperature = rng.uniform(38.0, 48.0)

    @property
    def stale_device_names(self) -> list[str]:
        return [self.device_names[i] for i in self.stale_indices]

    @property
    def extras_device_names(self) -> list[str]:
        return [self.device_names[i] for i in self.extras_indices]

    @property
    def vanishing_device_names(self) -> list[str]:
        return self.device_names[self._kept_after_vanishing :]

    def elapsed(self, now: dt.datetime) -> float:
        """Seconds since the site's first message; the first call (of any method given a time)
        starts the site's clock."""
        if self._started is None:
            self._started = now
        return (now - self._started).total_seconds()

    def is_dark(self, now: dt.datetime) -> bool:
        """Whether the site is in a dark period at ``now``: its publisher then sends nothing."""
        return self.faults.is_dark(self.elapsed(now))

    # -- heartbeats -------------------------------------------------------------------------------

    def heartbeat(self, now: dt.datetime) -> Message:
        """The next heartbeat at ``now``, with this site's faults applied."""
        rng = self._rng
        if self.faults.malformed and rng.random() < self.faults.malformed:
            kind = rng.choices(MALFORMED_KINDS, weights=tuple(MALFORMED_WEIGHTS.values()))[0]
            return Message(self.heartbeat_topic, self.malformed_heartbeat(kind, now), malformed=kind)
        return Message(self.heartbeat_topic, orjson.dumps(self.heartbeat_document(now)))

    def heartbeat_document(self, now: dt.datetime, *, drop: bool = True) -> dict[str, Any]:
        """The heartbeat as a JSON-ready object; sensors are dropped at random (``drop_sensors``)
        unless ``drop`` is False, and vanished sensors are gone either way. Stale sensors' entries
        are shared between calls: copy before mutating."""
        fmt = self.heartbeat_format
        ts = format_ts_naive(now) if fmt == "unprefixed" else format_ts(now)
        names = self.device_names
        entries = self._entries(ts)
        faults = self.faults
        if faults.vanishing_sensors and self.elapsed(now) >= faults.vanish_after:
            kept = self._kept_after_vanishing
            names, entries = names[:kept], entries[:kept]
        if drop and faults.drop_sensors:
            keep = [self._rng.random() >= faults.drop_sensors for _ in names]
            names = list(itertools.compress(names, keep))
            entries = list(itertools.compress(entries, keep))
        if fmt == "legacy":
            return dict(zip(names, entries, strict=True))
        if fmt == "keyed":
            sensors: list[dict[str, Any]] | dict[str, dict[str, Any]] = dict(zip(names, entries, strict=True))
        else:
            sensors = entries
        return {"sensors_last_data": sensors, "message_interval_seconds": self._interval_value}

    def _entries(self, ts: str) -> list[dict[str, Any]]:
        fmt = self.heartbeat_format
        pools = self._pools
        rng = self._rng
        count = len(self.device_names)
        self._drift_x = self._drift_x * 0.995 + rng.gauss(0.0, 0.0008)
        self._drift_y = self._drift_y * 0.995 + rng.gauss(0.0, 0.0008)

        def sample(pool: list[_N], n: int = count) -> list[_N]:
            return take(pool, rng.randrange(POOL_SIZE), n)

        acc_x, acc_y, acc_z = sample(pools.acc_xy), sample(pools.acc_xy), sample(pools.acc_z)
        drift_x, drift_y = round(self._drift_x * 10_000), round(self._drift_y * 10_000)
        incli_x = [
            (base + drift_x + noise) / 10_000
            for base, noise in zip(self._incli_base_x, sample(pools.incli), strict=True)
        ]
        incli_y = [
            (base + drift_y + noise) / 10_000
            for base, noise in zip(self._incli_base_y, sample(pools.incli), strict=True)
        ]
        columns: list[list[Any]] = [acc_x, acc_y, acc_z, incli_x, incli_y]
        n_extras = len(self.extras_indices)
        extras: list[list[Any]] = [
            sample(pools.mag_x, n_extras),
            sample(pools.mag_y, n_extras),
            sample(pools.mag_z, n_extras),
            sample(pools.gyro, n_extras),
            sample(pools.gyro, n_extras),
            sample(pools.gyro, n_extras),
        ]
        if fmt == "unit-value":
            columns = [
                [{"unit": unit, "value": v} for v in column]
                for unit, column in zip(UNITS[:5], columns, strict=True)
            ]
            extras = [
                [{"unit": unit, "value": v} for v in column]
                for unit, column in zip(UNITS[5:], extras, strict=True)
            ]

        keys = READING_KEYS[fmt]
        k0, k1, k2, k3, k4 = keys[:5]
        # Dict displays with the keys bound to locals are the cheapest way to build the rows.
        if fmt in LISTED_FORMATS:
            entries = [
                {"device_name": name, "ts": ts, k0: a, k1: b, k2: c, k3: d, k4: e}
                for name, a, b, c, d, e in zip(self.device_names, *columns, strict=True)
            ]
        else:
            entries = [
                {"ts": ts, k0: a, k1: b, k2: c, k3: d, k4: e} for a, b, c, d, e in zip(*columns, strict=True)
            ]
        k5, k6, k7, k8, k9, k10 = keys[5:]
        mag_x, mag_y, mag_z, gyro_x, gyro_y, gyro_z = extras
        for p, i in enumerate(self.extras_indices):
            # Plain item assignments: dict.update(zip(...)) costs ten times more per sensor.
            entry = entries[i]
            entry[k5], entry[k6], entry[k7] = mag_x[p], mag_y[p], mag_z[p]
            entry[k8], entry[k9], entry[k10] = gyro_x[p], gyro_y[p], gyro_z[p]
        for i in self.stale_indices:
            # A stale sensor is still listed, but repeats its first reading: its ts never advances.
            entries[i] = self._frozen.setdefault(i, entries[i])
        return entries

    def malformed_heartbeat(self, kind: str, now: dt.datetime) -> bytes:
        """A heartbeat broken in the way ``kind`` names (one of ``MALFORMED_KINDS``)."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"unknown malformed kind {kind!r}; use one of {', '.join(MALFORMED_KINDS)}")
        generic = generic_malformed(kind)
        if generic is not None:
            return generic
        if not self.device_names:
            # Nothing to break field by field without a sensor: send plain garbage instead.
            return b'{"sensors_last_data": [{"device_name": '
        # Deep copy: stale sensors' entries are shared with later heartbeats.
        document = copy.deepcopy(self.heartbeat_document(now, drop=False))
        return break_heartbeat(document, self.heartbeat_format, kind)

    # -- sys_info ---------------------------------------------------------------------------------

    def sys_info(self, now: dt.datetime) -> Message:
        """The next sys_info at ``now``, with this site's malformed share applied."""
        rng = self._rng
        if self.faults.malformed and rng.random() < self.faults.malformed:
            weights = tuple(MALFORMED_WEIGHTS[kind] for kind in SYS_INFO_MALFORMED_KINDS)
            kind = rng.choices(SYS_INFO_MALFORMED_KINDS, weights=weights)[0]
            return Message(self.sys_info_topic, self.malformed_sys_info(kind, now), malformed=kind)
        return Message(self.sys_info_topic, orjson.dumps(self.sys_info_document(now)))

    def sys_info_document(self, now: dt.datetime) -> dict[str, Any]:
        rng = self._rng
        uptime = self._uptime_at_start + int(self.elapsed(now))
        self._temperature = min(75.0, max(20.0, self._temperature + rng.gauss(0.0, 0.3)))
        cpu_load = round(rng.uniform(0.05, 0.9), 2)
        mem_free = int(self._mem_total * rng.uniform(0.05, 0.4))
        disk_free = int(self._disk_total * self._disk_free_share)
        temperature = round(self._temperature, 1)
        ts = format_ts(now)
        if self.sys_info_format == "flat":
            return {
                "hostname": self._hostname,
                "firmware_version": self._firmware,
                "ip_address": self._ip_address,
                "uptime": uptime,
                "cpu_load": cpu_load,
                "temperature": temperature,
                "mem_total": self._mem_total,
                "mem_free": mem_free,
                "disk_total": self._disk_total,
                "disk_free": disk_free,
                "ts": ts,
            }
        return {
            "system": {
                "hostname": self._hostname,
                "firmware_version": self._firmware,
                "ip_address": self._ip_address,
                # str(timedelta) is exactly the firmware's "10 days, 3:46:14".
                "uptime": str(dt.timedelta(seconds=uptime)),
                "cpu_load": cpu_load,
                "temperature": temperature,
                "memory": {"total_gb": round(self._mem_total / GIB, 2), "free_gb": round(mem_free / GIB, 2)},
                "disk": {"total_gb": round(self._disk_total / GIB, 2), "free_gb": round(disk_free / GIB, 2)},
            },
            "ts": ts,
        }

    def malformed_sys_info(self, kind: str, now: dt.datetime) -> bytes:
        """A sys_info broken in the way ``kind`` names (one of ``SYS_INFO_MALFORMED_KINDS``)."""
        if kind not in SYS_INFO_MALFORMED_KINDS:
            raise ValueError(
                f"unknown malformed kind {kind!r}; use one of {', '.join(SYS_INFO_MALFORMED_KINDS)}"
            )
        generic = generic_malformed(kind)
        if generic is not None:
            return generic
        return break_sys_info(self.sys_info_document(now), kind)


# -- one-shot helpers for tests ---------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_heartbeat(
    site_code: str = "SITE001",
    *,
    sensors: int = 3,
    fmt: str = "seed",
    now: dt.datetime | None = None,
    seed: int = 0,
    interval: float = 5.0,
    extras_every: int = 5,
) -> bytes:
    """One good heartbeat in ``fmt``; the same bytes for the same arguments."""
    simulator = SiteSimulator(
        site_code,
        sensors=sensors,
        heartbeat_format=fmt,
        interval=interval,
        seed=seed,
        extras_every=extras_every,
    )
    return orjson.dumps(simulator.heartbeat_document(now or _now()))


def build_sys_info(
    site_code: str = "SITE001", *, fmt: str = "flat", now: dt.datetime | None = None, seed: int = 0
) -> bytes:
    """One good sys_info in ``fmt`` (``flat`` or ``nested``)."""
    simulator = SiteSimulator(site_code, sensors=0, sys_info_format=fmt, seed=seed)
    return orjson.dumps(simulator.sys_info_document(now or _now()))


def build_malformed(
    kind: str,
    site_code: str = "SITE001",
    *,
    sensors: int = 3,
    fmt: str = "seed",
    now: dt.datetime | None = None,
    seed: int = 0,
    sys_info: bool = False,
) -> bytes:
    """One malformed heartbeat (or sys_info) of ``kind``, one of ``MALFORMED_KINDS``."""
    kinds = SYS_INFO_MALFORMED_KINDS if sys_info else MALFORMED_KINDS
    if kind not in kinds:
        raise ValueError(f"unknown malformed kind {kind!r}; use one of {', '.join(kinds)}")
    simulator = SiteSimulator(site_code, sensors=sensors, heartbeat_format=fmt, seed=seed)
    if sys_info:
        return simulator.malformed_sys_info(kind, now or _now())
    return simulator.malformed_heartbeat(kind, now or _now())
