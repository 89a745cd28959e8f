"""The fleet's IDENTIFY queue against a real redis-server (the fleet tests use it across
processes; this checks, in one process, what the key's next time is counted from)."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio

from asgi_interactions.gateway.identify_queue import FleetIdentifyQueue
from asgi_interactions.gateway.ratelimit import SEND_MARGIN
from tests.fakes.redis_server import RedisServer, redis_server  # noqa: F401 - fixture

INTERVAL = 0.5


async def redis_ms(client: redis.asyncio.Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_the_next_identify_counts_from_the_send_not_from_a_late_release(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """A release whose Redis write runs late (a busy loop) must not push the key's next
    IDENTIFY later: the wait is measured from the send, when the write runs."""
    queue = FleetIdentifyQueue(redis_server.url, "test:identify", "member-a", 1, INTERVAL)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        await asyncio.wait_for(queue.acquire(0), 10)
        before_send = await redis_ms(client)
        queue.sent(0)
        queue.release(0, sent=True)  # the write to Redis is a task: it runs after this block
        time.sleep(1.0)  # the loop is busy for a second  # noqa: ASYNC251
        await asyncio.wait_for(asyncio.gather(*queue._background), 10)
        next_ms = int(await client.get("test:identify:0:next"))
        window_ms = (INTERVAL + SEND_MARGIN) * 1000
        assert window_ms - 2 <= next_ms - before_send < window_ms + 500, next_ms - before_send
        other = FleetIdentifyQueue(redis_server.url, "test:identify", "member-b", 1, INTERVAL)
        try:  # another process's shard of the same key waits until then, and no longer
            await asyncio.wait_for(other.acquire(1), 10)
            assert await redis_ms(client) >= next_ms
            other.release(1, sent=False)
        finally:
            await other.aclose()
    finally:
        await queue.aclose()
        await client.aclose()
