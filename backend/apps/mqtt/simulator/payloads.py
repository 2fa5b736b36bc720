"""Pure payload generation for simulated dataloggers: a time in, bytes out, no I/O and no Django.

Every heartbeat variant the worker's parser accepts can be produced here (``HEARTBEAT_FORMATS``), as
can both ``sys_info`` shapes and a mix of malformed payloads, so the worker's tests build their inputs
with the same code the simulator publishes.

Cost matters: the simulator plays 100+ sites of 100 sensors every 5 s, and load tests far more. So
the per-site static parts (names, topics, keys, inclinometer offsets) are built once, and the noise
comes from shared pools of pre-rounded values sliced at a random offset per heartbeat, instead of
drawing and rounding a Gaussian per field per sensor.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeVar

import orjson

HEARTBEAT_FORMATS: Final[tuple[str, ...]] = ("seed", "keyed", "unprefixed", "unit-value", "legacy")
SYS_INFO_FORMATS: Final[tuple[str, ...]] = ("flat", "nested")
# Not a format of its own: each site gets one of the real formats, chosen by its index.
MIXED: Final = "mixed"

# Relative weights: the huge payload is rare because it costs 1 MiB on the wire each time.
MALFORMED_WEIGHTS: Final[dict[str, int]] = {
    "invalid_json": 3,
    "truncated": 3,
    "json_list": 2,
    "nan_values": 3,
    "wrong_types": 3,
    "missing_device_name": 3,
    "empty": 1,
    "not_utf8": 1,
    "huge": 1,
}
MALFORMED_KINDS: Final[tuple[str, ...]] = tuple(MALFORMED_WEIGHTS)
# A sys_info has no device names to leave out.
SYS_INFO_MALFORMED_KINDS: Final[tuple[str, ...]] = tuple(
    kind for kind in MALFORMED_KINDS if kind != "missing_device_name"
)
# Just over the worker's default 1 MiB cap, so the cap (not JSON parsing) is what rejects it.
HUGE_PAYLOAD_BYTES: Final = 1024 * 1024 + 4096

DEVICE_PREFIXES: Final = ("MNA", "MNB", "MNC", "MND")
FIRMWARE_VERSIONS: Final = ("3.2.1", "3.2.0", "3.1.4", "2.9.7")
MAX_SENSORS_PER_SITE: Final = 99_999  # five-digit device numbers, unique per site
GIB: Final = 1024**3

# (acc x, acc y, acc z, incli x, incli y, mag x, mag y, mag z, gyro x, gyro y, gyro z) per format.
_SEED_KEYS: Final = (
    "last_acc00",
    "last_acc01",
    "last_acc02",
    "last_incli_x",
    "last_incli_y",
    "last_mag_x",
    "last_mag_y",
    "last_mag_z",
    "last_gyro_x",
    "last_gyro_y",
    "last_gyro_z",
)
_PLAIN_KEYS: Final = (
    "acc_x",
    "acc_y",
    "acc_z",
    "incli_x",
    "incli_y",
    "mag_x",
    "mag_y",
    "mag_z",
    "gyro_x",
    "gyro_y",
    "gyro_z",
)
READING_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "seed": _SEED_KEYS,
    "keyed": _SEED_KEYS,
    "unprefixed": _PLAIN_KEYS,
    "unit-value": _SEED_KEYS,
    "legacy": _PLAIN_KEYS,
}
_UNITS: Final = ("g", "g", "g", "deg", "deg", "uT", "uT", "uT", "dps", "dps", "dps")
# Formats whose sensors are a list of objects carrying their own device_name.
_LISTED_FORMATS: Final = frozenset({"seed", "unprefixed", "unit-value"})

# A prime, so consecutive heartbeats' slices do not line up with common sensor counts.
_POOL_SIZE: Final = 4099
_N = TypeVar("_N", int, float)


def heartbeat_topic(site_code: str) -> str:
    return f"{site_code}/datalogger_o/heartbeat"


def sys_info_topic(site_code: str) -> str:
    return f"{site_code}/sys_info"


def resolve_heartbeat_format(fmt: str, index: int = 0) -> str:
    """The format of the site at ``index``: ``mixed`` cycles through all formats so that any 5
    consecutive sites cover every variant."""
    if fmt == MIXED:
        return HEARTBEAT_FORMATS[index % len(HEARTBEAT_FORMATS)]
    if fmt not in HEARTBEAT_FORMATS:
        raise ValueError(f"unknown heartbeat format {fmt!r}; use one of {', '.join(HEARTBEAT_FORMATS)}")
    return fmt


def resolve_sys_info_format(fmt: str, index: int = 0) -> str:
    if fmt == MIXED:
        return SYS_INFO_FORMATS[index % len(SYS_INFO_FORMATS)]
    if fmt not in SYS_INFO_FORMATS:
        raise ValueError(f"unknown sys_info format {fmt!r}; use one of {', '.join(SYS_INFO_FORMATS)}")
    return fmt


def _as_utc(now: dt.datetime) -> dt.datetime:
    # A naive time would be ambiguous (the worker reads naive stamps in the site's zone).
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.UTC)


def format_ts(now: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2026-11-28T10:00:00.123Z``."""
    now = _as_utc(now)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def format_ts_naive(now: dt.datetime) -> str:
    """The older firmware's stamp: UTC, a space separator, no zone: ``2026-11-28 10:00:00``."""
    return f"{_as_utc(now):%Y-%m-%d %H:%M:%S}"


def generate_device_names(site_code: str, count: int, *, seed: int = 0) -> list[str]:
    """``count`` distinct names like ``MNA00542``, sorted, the same for the same site and seed."""
    if not 0 <= count <= MAX_SENSORS_PER_SITE:
        raise ValueError(f"sensor count must be between 0 and {MAX_SENSORS_PER_SITE}")
    # A string seed is hashed with SHA-512 by random.Random, so it does not depend on PYTHONHASHSEED.
    rng = random.Random(f"devices:{seed}:{site_code}")
    prefix = rng.choice(DEVICE_PREFIXES)
    return [f"{prefix}{number:05d}" for number in sorted(rng.sample(range(1, 100_000), count))]


@dataclass(frozen=True, slots=True)
class _NoisePools:
    """Pre-rounded readings, each list stored twice over so that a slice never wraps."""

    acc_xy: list[float]
    acc_z: list[float]
    incli: list[int]  # in 1e-4 degrees: see SiteSimulator._entries
    mag_x: list[float]
    mag_y: list[float]
    mag_z: list[float]
    gyro: list[float]


@lru_cache(maxsize=8)
def _noise_pools(seed: int) -> _NoisePools:
    # Shared by all sites of one seed: ~1 MB once, instead of per site (a load test plays thousands).
    rng = random.Random(f"noise:{seed}")

    def pool(mean: float, sigma: float, digits: int) -> list[float]:
        values = [round(rng.gauss(mean, sigma), digits) for _ in range(_POOL_SIZE)]
        return values + values

    return _NoisePools(
        acc_xy=pool(0.0, 0.004, 5),
        acc_z=pool(1.0, 0.004, 5),
        incli=[int(v * 10_000) for v in pool(0.0, 0.002, 4)],
        # Roughly the Earth's field at mid latitudes, in microtesla.
        mag_x=pool(22.0, 0.3, 2),
        mag_y=pool(-3.0, 0.3, 2),
        mag_z=pool(-42.0, 0.3, 2),
        gyro=pool(0.0, 0.05, 3),
    )


def _take(pool: list[_N], start: int, count: int) -> list[_N]:
    if count <= _POOL_SIZE:
        return pool[start : start + count]
    repeats = count // _POOL_SIZE + 2
    return (pool[:_POOL_SIZE] * repeats)[start : start + count]


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults injected into one site's messages. Times are seconds after the site's first message.

    ``drop_sensors``: probability that each sensor is left out of a heartbeat.
    ``malformed``: probability that a message is replaced by a malformed payload.
    ``stale_sensors``: the first K sensors repeat their first reading (same ``ts``) for ever.
    ``vanishing_sensors``: the last K sensors are listed during the first ``vanish_after`` seconds,
    so the worker knows them, then never again (the worker turns them offline).
    ``dark_every`` / ``dark_for`` / ``dark_offset``: the site publishes nothing at all for
    ``dark_for`` seconds every ``dark_every`` seconds, the first time ``dark_offset`` seconds in.
    """

    drop_sensors: float = 0.0
    malformed: float = 0.0
    stale_sensors: int = 0
    vanishing_sensors: int = 0
    vanish_after: float = 30.0
    dark_every: float = 0.0
    dark_for: float = 0.0
    dark_offset: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop_sensors", "malformed"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1, not {value}")
        if self.stale_sensors < 0:
            raise ValueError("stale_sensors must not be negative")
        if self.vanishing_sensors < 0:
            raise ValueError("vanishing_sensors must not be negative")
        # Comparisons written so that NaN fails them too.
        if not 0.0 < self.vanish_after < math.inf:
            raise ValueError(f"vanish_after must be a positive number of seconds, not {self.vanish_after}")
        if self.dark_every or self.dark_for:
            if not 0.0 < self.dark_for < self.dark_every < math.inf:
                raise ValueError(
                    f"dark_for ({self.dark_for}) must be positive and shorter than dark_every "
                    f"({self.dark_every}), or both 0 for a site that never goes dark"
                )
            if not 0.0 <= self.dark_offset < math.inf:
                raise ValueError(
                    f"dark_offset must be 0 or a positive number of seconds, not {self.dark_offset}"
                )
        elif self.dark_offset:
            raise ValueError("dark_offset needs dark_every and dark_for")

    @property
    def goes_dark(self) -> bool:
        return self.dark_for > 0.0

    def is_dark(self, elapsed: float) -> bool:
        """Whether the site is dark ``elapsed`` seconds after its first message."""
        if not self.goes_dark or elapsed < self.dark_offset:
            return False
        return (elapsed - self.dark_offset) % self.dark_every < self.dark_for


NO_FAULTS: Final = Faults()


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
        self._pools = _noise_pools(seed)
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

        def take(pool: list[_N], n: int = count) -> list[_N]:
            return _take(pool, rng.randrange(_POOL_SIZE), n)

        acc_x, acc_y, acc_z = take(pools.acc_xy), take(pools.acc_xy), take(pools.acc_z)
        drift_x, drift_y = round(self._drift_x * 10_000), round(self._drift_y * 10_000)
        incli_x = [
            (base + drift_x + noise) / 10_000
            for base, noise in zip(self._incli_base_x, take(pools.incli), strict=True)
        ]
        incli_y = [
            (base + drift_y + noise) / 10_000
            for base, noise in zip(self._incli_base_y, take(pools.incli), strict=True)
        ]
        columns: list[list[Any]] = [acc_x, acc_y, acc_z, incli_x, incli_y]
        n_extras = len(self.extras_indices)
        extras: list[list[Any]] = [
            take(pools.mag_x, n_extras),
            take(pools.mag_y, n_extras),
            take(pools.mag_z, n_extras),
            take(pools.gyro, n_extras),
            take(pools.gyro, n_extras),
            take(pools.gyro, n_extras),
        ]
        if fmt == "unit-value":
            columns = [
                [{"unit": unit, "value": v} for v in column]
                for unit, column in zip(_UNITS[:5], columns, strict=True)
            ]
            extras = [
                [{"unit": unit, "value": v} for v in column]
                for unit, column in zip(_UNITS[5:], extras, strict=True)
            ]

        keys = READING_KEYS[fmt]
        k0, k1, k2, k3, k4 = keys[:5]
        # Dict displays with the keys bound to locals are the cheapest way to build the rows.
        if fmt in _LISTED_FORMATS:
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
        generic = _generic_malformed(kind)
        if generic is not None:
            return generic
        if not self.device_names:
            # Nothing to break field by field without a sensor: send plain garbage instead.
            return b'{"sensors_last_data": [{"device_name": '
        # Deep copy: stale sensors' entries are shared with later heartbeats.
        document = copy.deepcopy(self.heartbeat_document(now, drop=False))
        if kind == "truncated":
            good = orjson.dumps(document)
            return good[: len(good) // 2]
        if kind == "json_list":
            return orjson.dumps(_sensor_entries(document, self.heartbeat_format))
        first = _sensor_entries(document, self.heartbeat_format)[0]
        keys = READING_KEYS[self.heartbeat_format]
        if kind == "nan_values":
            _set_reading(first, keys[0], float("nan"))
            _set_reading(first, keys[3], float("inf"))
            # orjson writes NaN as null; the stdlib writes the (invalid JSON) NaN/Infinity tokens
            # that some firmware really sends.
            return json.dumps(document, allow_nan=True).encode()
        if kind == "wrong_types":
            _set_reading(first, keys[0], "n/a")
            _set_reading(first, keys[3], [1, 2])
            first["ts"] = 1_764_324_000
            return orjson.dumps(document)
        # missing_device_name
        if self.heartbeat_format in _LISTED_FORMATS:
            del first["device_name"]
        else:
            container = document if self.heartbeat_format == "legacy" else document["sensors_last_data"]
            name = next(iter(container))
            container[""] = container.pop(name)
        return orjson.dumps(document)

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
        generic = _generic_malformed(kind)
        if generic is not None:
            return generic
        document = self.sys_info_document(now)
        if kind == "truncated":
            good = orjson.dumps(document)
            return good[: len(good) // 2]
        if kind == "json_list":
            return orjson.dumps(list(document.items()))
        system = document.get("system", document)
        if kind == "nan_values":
            system["temperature"] = float("nan")
            system["cpu_load"] = float("inf")
            return json.dumps(document, allow_nan=True).encode()
        if kind == "wrong_types":
            system["uptime"] = [1, 2]
            system["hostname"] = 42
            return orjson.dumps(document)
        raise AssertionError(f"unhandled malformed kind {kind!r}")  # every kind is handled above


def _generic_malformed(kind: str) -> bytes | None:
    """The payloads that do not depend on the message: None for the kinds that do."""
    if kind == "invalid_json":
        return b'{"sensors_last_data": [{"device_name": "MNA00001", "ts": }]'
    if kind == "empty":
        return b""
    if kind == "not_utf8":
        return b"\xff\xfe\x00\x80 not text \xc3\x28"
    if kind == "huge":
        return _huge_payload()
    return None


@lru_cache(maxsize=1)
def _huge_payload() -> bytes:
    # Valid JSON, so only a size cap can reject it; built once and reused.
    head = b'{"sensors_last_data": [], "padding": "'
    tail = b'"}'
    return head + b"x" * (HUGE_PAYLOAD_BYTES - len(head) - len(tail)) + tail


def _sensor_entries(document: dict[str, Any], fmt: str) -> list[dict[str, Any]]:
    if fmt == "legacy":
        return list(document.values())
    sensors = document["sensors_last_data"]
    return list(sensors.values()) if isinstance(sensors, dict) else sensors


def _set_reading(entry: dict[str, Any], key: str, value: object) -> None:
    current = entry.get(key)
    if isinstance(current, dict):
        current["value"] = value
    else:
        entry[key] = value


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
