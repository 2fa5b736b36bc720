"""A client's queue of received messages (worker/client.py ``NewestMessages``): bounded, it keeps
the newest messages and counts the oldest it drops."""

from __future__ import annotations

import asyncio

import aiomqtt
from prometheus_client import REGISTRY

from apps.mqtt.worker.client import NewestMessages


def _dropped() -> float:
    return REGISTRY.get_sample_value("ingest_dropped_total", {"reason": "client_backlog"}) or 0.0


def _message(number: int) -> aiomqtt.Message:
    return aiomqtt.Message("S1/datalogger_o/heartbeat", str(number).encode(), 0, False, number, None)


def _payloads(queue: NewestMessages) -> list[bytes]:
    payloads = []
    while not queue.empty():
        payload = queue.get_nowait().payload
        assert isinstance(payload, bytes)
        payloads.append(payload)
    return payloads


def test_a_full_client_queue_keeps_the_newest_messages_and_counts_the_oldest_it_drops() -> None:
    async def scenario() -> list[bytes]:
        queue = NewestMessages(maxsize=3)
        for number in range(1, 6):
            queue.put_nowait(_message(number))
        return _payloads(queue)

    before = _dropped()
    assert asyncio.run(scenario()) == [b"3", b"4", b"5"]
    assert _dropped() - before == 2


def test_a_client_queue_under_its_bound_drops_nothing() -> None:
    async def scenario() -> list[bytes]:
        queue = NewestMessages(maxsize=3)
        for number in range(1, 4):
            queue.put_nowait(_message(number))
        return _payloads(queue)

    before = _dropped()
    assert asyncio.run(scenario()) == [b"1", b"2", b"3"]
    assert _dropped() == before


def test_a_waiting_client_task_gets_the_message_put_while_it_waits() -> None:
    async def scenario() -> bytes:
        queue = NewestMessages(maxsize=1)
        waiter = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)  # the task now waits on the empty queue
        queue.put_nowait(_message(7))
        message = await asyncio.wait_for(waiter, 1)
        assert isinstance(message.payload, bytes)
        return message.payload

    assert asyncio.run(scenario()) == b"7"
