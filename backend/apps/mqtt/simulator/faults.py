"""The faults a simulated site can inject: dropped, stale and vanishing sensors, malformed
payloads and dark periods."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final


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
