"""Device names and reading noise, cheap enough for thousands of sites: the noise comes from
shared pools of pre-rounded values sliced at a random offset per heartbeat, instead of drawing and
rounding a Gaussian per field per sensor."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeVar

DEVICE_PREFIXES: Final = ("MNA", "MNB", "MNC", "MND")
MAX_SENSORS_PER_SITE: Final = 99_999  # five-digit device numbers, unique per site

# A prime, so consecutive heartbeats' slices do not line up with common sensor counts.
POOL_SIZE: Final = 4099
_N = TypeVar("_N", int, float)


def generate_device_names(site_code: str, count: int, *, seed: int = 0) -> list[str]:
    """``count`` distinct names like ``MNA00542``, sorted, the same for the same site and seed."""
    if not 0 <= count <= MAX_SENSORS_PER_SITE:
        raise ValueError(f"sensor count must be between 0 and {MAX_SENSORS_PER_SITE}")
    # A string seed is hashed with SHA-512 by random.Random, so it does not depend on PYTHONHASHSEED.
    rng = random.Random(f"devices:{seed}:{site_code}")
    prefix = rng.choice(DEVICE_PREFIXES)
    return [f"{prefix}{number:05d}" for number in sorted(rng.sample(range(1, 100_000), count))]


@dataclass(frozen=True, slots=True)
class NoisePools:
    """Pre-rounded readings, each list stored twice over so that a slice never wraps."""

    acc_xy: list[float]
    acc_z: list[float]
    incli: list[int]  # in 1e-4 degrees: see SiteSimulator._entries (payloads.py)
    mag_x: list[float]
    mag_y: list[float]
    mag_z: list[float]
    gyro: list[float]


@lru_cache(maxsize=8)
def noise_pools(seed: int) -> NoisePools:
    # Shared by all sites of one seed: ~1 MB once, instead of per site (a load test plays thousands).
    rng = random.Random(f"noise:{seed}")

    def pool(mean: float, sigma: float, digits: int) -> list[float]:
        values = [round(rng.gauss(mean, sigma), digits) for _ in range(POOL_SIZE)]
        return values + values

    return NoisePools(
        acc_xy=pool(0.0, 0.004, 5),
        acc_z=pool(1.0, 0.004, 5),
        incli=[int(v * 10_000) for v in pool(0.0, 0.002, 4)],
        # Roughly the Earth's field at mid latitudes, in microtesla.
        mag_x=pool(22.0, 0.3, 2),
        mag_y=pool(-3.0, 0.3, 2),
        mag_z=pool(-42.0, 0.3, 2),
        gyro=pool(0.0, 0.05, 3),
    )


def take(pool: list[_N], start: int, count: int) -> list[_N]:
    """``count`` values of ``pool`` from ``start`` (repeating the pool when it is too short)."""
    if count <= POOL_SIZE:
        return pool[start : start + count]
    repeats = count // POOL_SIZE + 2
    return (pool[:POOL_SIZE] * repeats)[start : start + count]
