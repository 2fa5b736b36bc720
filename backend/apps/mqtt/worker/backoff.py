"""How a client fails and waits: exponential backoff with jitter, and what a failure means (refused
credentials stop retrying; a rejected server certificate is an error at once)."""

from __future__ import annotations

import random

import aiomqtt

# CONNACK codes that mean "these credentials will not work": MQTT 3.1.1 (4, 5) and 5.0
# (0x86 bad user name or password, 0x87 not authorised, 0x8C bad authentication method).
_AUTH_REFUSED = {4, 5, 134, 135, 140}


def backoff_delay(failures: int, *, base: float, maximum: float, attempts: int, rng: random.Random) -> float:
    """Exponential backoff from ``base`` doubling towards ``maximum``, and the maximum itself once
    ``attempts`` failures in a row have turned the connection to error. Jitter (±20 %, never above
    the maximum) keeps many sites cut off together from reconnecting in lock step."""
    delay = maximum if failures >= attempts else min(maximum, base * 2 ** max(0, failures - 1))
    return min(maximum, max(base, delay * rng.uniform(0.8, 1.2)))


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:500]


def refused_credentials(exc: aiomqtt.MqttError) -> bool:
    if not isinstance(exc, aiomqtt.MqttCodeError):
        return False
    code = getattr(exc.rc, "value", exc.rc)
    return isinstance(code, int) and code in _AUTH_REFUSED


def certificate_rejected(exc: BaseException) -> bool:
    text = describe(exc)
    return (
        "CERTIFICATE_VERIFY_FAILED" in text
        or "certificate verify failed" in text
        or "hostname mismatch" in text
    )
