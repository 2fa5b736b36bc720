"""The single-process channel layer: channels' in-memory layer with its expiry sweep throttled."""

from __future__ import annotations

import asyncio

import pytest

from apps.mqtt.realtime.layers import InProcessChannelLayer


@pytest.mark.asyncio
async def test_messages_and_groups_work_as_in_channels_in_memory_layer() -> None:
    layer = InProcessChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("site", channel)
    await layer.group_send("site", {"type": "x.y", "text": "{}"})
    assert await asyncio.wait_for(layer.receive(channel), 1) == {"type": "x.y", "text": "{}"}


@pytest.mark.asyncio
async def test_expired_messages_are_dropped_at_the_next_sweep_not_at_every_receive() -> None:
    layer = InProcessChannelLayer(expiry=0.05)
    layer.CLEAN_INTERVAL = 0.3
    layer._clean_expired()  # the first sweep runs at once; the next is due 0.3 s later
    await layer.send("stale", {"type": "old"})
    await asyncio.sleep(0.1)  # expired now
    layer._clean_expired()
    assert "stale" in layer.channels  # within the interval: not swept yet
    await asyncio.sleep(0.3)
    layer._clean_expired()
    assert "stale" not in layer.channels
