"""How a client fails and waits: exponential backoff with jitter, cut short when the broker's port
answers again after it did not (so a long outage does not leave a site blind for the whole delay),
and what a failure means (refused credentials stop retrying; a rejected server certificate is an
error at once)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import aiomqtt

# CONNACK codes that mean "these credentials will not work": MQTT 3.1.1 (4, 5) and 5.0
# (0x86 bad user name or password, 0x87 not authorised, 0x8C bad authentication method).
_AUTH_REFUSED = {4, 5, 134, 135, 140}

# While backing off longer than this, the broker's port is probed (a plain TCP connect, nothing
# sent) about this often, with jitter, so a site is back within seconds of its broker's return.
PROBE_INTERVAL = 5.0
PROBE_TIMEOUT = 2.0


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


async def port_answers(host: str, port: int) -> bool:
    """Whether ``host:port`` accepts a TCP connection within PROBE_TIMEOUT (closed at once, nothing
    sent)."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(PROBE_TIMEOUT):
            await writer.wait_closed()
    return True


async def back_off(delay: float, *, probe: Callable[[], Awaitable[bool]], rng: random.Random) -> bool:
    """Wait ``delay`` seconds before the next attempt, or less: when the delay is longer than
    PROBE_INTERVAL and the port did not answer right after the failure (the broker was down or
    unreachable), probe it every PROBE_INTERVAL (jittered, 50-100 %) and return True as soon as it
    answers. A port that answers right after the failure (credentials, TLS, a broker not ready) says
    nothing new, so the whole delay is waited and the broker is not tried more often than the
    backoff says. Returns False when the delay ran out."""
    loop = asyncio.get_running_loop()
    interval = PROBE_INTERVAL
    deadline = loop.time() + delay
    if delay <= interval or await probe():
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        return False
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(remaining, interval * rng.uniform(0.5, 1.0)))
        if loop.time() >= deadline:
            return False
        if await probe():
            return True
