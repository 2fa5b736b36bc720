"""The channel layers: the single-process one (no ``REDIS_URL``: channels' in-memory layer, without a
cost that grows with the number of open sockets) and the Redis pub/sub one (``REDIS_URL``:
channels_redis' layer, which survives a Redis blip)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)


class InProcessChannelLayer(InMemoryChannelLayer):
    """channels' ``InMemoryChannelLayer`` walks every channel and every group membership on each
    ``receive``, so each event costs time in proportion to the sockets open (3.5 % of the process at
    100 sockets and 100 heartbeats/s, profiled). Expired messages and memberships are dropped at most
    once a second instead: they live up to a second past their expiry, which no caller can tell."""

    CLEAN_INTERVAL = 1.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._next_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_clean:
            return
        self._next_clean = now + self.CLEAN_INTERVAL
        super()._clean_expired()


async def _once_more(operation: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run ``operation``; on a connection error run it once more. The failed attempt dropped the
    stale connection, so the second one opens a fresh one (and redis-py's pub/sub re-subscribes it
    to every channel it knew). Redis really away fails the second attempt too, as before."""
    try:
        return await operation(*args)
    except (RedisConnectionError, RedisTimeoutError, ConnectionError) as exc:
        logger.warning("Redis connection lost (%s); retrying once on a new connection", exc)
        return await operation(*args)


class _RetryingShard(RedisSingleShardConnection):
    async def publish(self, channel: str, message: bytes) -> None:
        await _once_more(super().publish, channel, message)

    async def subscribe(self, channel: str) -> None:
        await _once_more(super().subscribe, channel)

    async def unsubscribe(self, channel: str) -> None:
        await _once_more(super().unsubscribe, channel)


class _RetryingLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hosts = [shard.host for shard in getattr(self, "_shards")]  # noqa: B009 (untyped library)
        self._shards = [_RetryingShard(host, self) for host in hosts]


class RedisChannelLayer(RedisPubSubChannelLayer):
    """channels_redis' pub/sub layer (4.3.0), where each shard holds one pub/sub connection for the
    process's lifetime. After a Redis blip (a restart, a failover, a dropped TCP connection) with no
    group subscribed, nothing reads that connection, so nothing notices it is dead: the next
    ``SUBSCRIBE`` (a socket's ``group_add``) fails with "Connection lost", and the first WebSocket
    after the blip answered 500. Here every publish / subscribe / unsubscribe is tried once more on
    a connection error (the first attempt has dropped the stale connection)."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        # channels_redis' own, with the retrying loop layer.
        loop = asyncio.get_running_loop()
        try:
            layer = self._layers[loop]
        except KeyError:
            layer = _RetryingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer
