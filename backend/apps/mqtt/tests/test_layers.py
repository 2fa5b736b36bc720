"""The single-process channel layer: channels' in-memory layer with its expiry sweep throttled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from apps.mqtt.realtime.layers import InProcessChannelLayer


@pytest.mark.asyncio
async def test_messages_and_groups_work_as_in_channels_in_memory_layer() -> None:
    layer = InProcessChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("site", channel)
    await layer.group_send("site", {"type": "x.y", "text": "{}"})
    assert await asyncio.wait_for(layer.receive(channel), 1) == {"type": "x.y", "text": "{}"}


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``condition`` in the event loop; ``within`` only guards against a hang."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met (hang guard)"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_expired_messages_are_dropped_at_the_next_sweep_not_at_every_receive() -> None:
    layer = InProcessChannelLayer(expiry=0.05)
    layer.CLEAN_INTERVAL = 0.3
    first_sweep = time.monotonic()
    layer._clean_expired()  # the first sweep runs at once; the next is due 0.3 s later
    await layer.send("stale", {"type": "old"})
    expired_after = time.time() + layer.expiry  # the message's expiry is no later than this
    await _until(lambda: time.time() > expired_after)
    layer._clean_expired()
    assert "stale" in layer.channels  # expired, but within the interval: not swept yet

    def swept() -> bool:
        layer._clean_expired()
        return "stale" not in layer.channels

    await _until(swept)
    assert time.monotonic() - first_sweep >= layer.CLEAN_INTERVAL
