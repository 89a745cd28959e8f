"""Cancellation at every await point never leaves a bucket stuck nor costs others their place."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid

import pytest

from asgi_interactions.rest import MemoryRateLimiter, RestClient
from asgi_interactions.rest.ratelimit import RateLimiter
from asgi_interactions.rest.ratelimit.memory import MemoryStore
from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter
from tests.fakes.discord_rest import FakeDiscord, serve_fake_discord
from tests.fakes.redis_server import RedisServer

channels = itertools.count(1)


def settled(limiter: RateLimiter) -> None:
    assert limiter._queues == {}
    assert limiter._sleepers == {}
    if isinstance(limiter.store, MemoryStore):
        assert all(b.sent == b.answered for b in limiter.store._buckets.values())
        assert limiter.store._unnamed == {}
        for g in limiter.store._globals.values():
            assert not g.pending


async def run_trio(
    rest: RestClient, fake: FakeDiscord, victim: int, steps: int, delay: float
) -> None:
    """A, B, C queue on one fresh bucket; one of them is cancelled after ``steps`` loop turns
    (or ``delay`` seconds); the other two must complete, in order, and the bucket keep working."""
    ch = next(channels)
    names = ["a", "b", "c"]
    tasks = [asyncio.create_task(rest.create_message(ch, n)) for n in names]
    for _ in range(steps):
        await asyncio.sleep(0)
    if delay:
        await asyncio.sleep(delay)
    tasks[victim].cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    survivors = [n for i, n in enumerate(names) if i != victim]
    for i, r in enumerate(results):
        if i != victim:
            assert isinstance(r, dict), r
    order = [
        r.json["content"]
        for r in fake.requests
        if r.route_path == f"/channels/{ch}/messages" and r.status == 200
    ]
    assert [n for n in order if n in survivors] == survivors
    # the bucket still serves a newcomer
    await asyncio.wait_for(rest.create_message(ch, "after"), 10)


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_cancel_at_every_point(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "memory":
        limiter: RateLimiter = MemoryRateLimiter()
        turns = range(0, 36, 2)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        limiter = RedisRateLimiter(
            server.url, prefix=f"c{uuid.uuid4().hex[:6]}:", poll_interval=0.01
        )
        turns = range(0, 36, 5)
    limits = {"messages.create": (1, 0.02)}
    async with serve_fake_discord(limits=limits, latency=0.006) as fake:  # noqa: SIM117 - asserts run between the two exits
        async with RestClient("tok", base_url=fake.base_url, rate_limiter=limiter) as rest:
            for steps in turns:
                for victim in range(3):
                    await run_trio(rest, fake, victim, steps, 0.0)
            for delay in (0.001, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03):
                for victim in range(3):
                    await run_trio(rest, fake, victim, 0, delay)
            await asyncio.sleep(0.05)
            settled(limiter)
    assert fake.count(429) == 0


async def test_wait_for_timeouts_while_queued_and_in_flight() -> None:
    limits = {"messages.create": (1, 0.05)}
    async with serve_fake_discord(limits=limits, latency=0.02) as fake:  # noqa: SIM117 - asserts run between the two exits
        async with RestClient("tok", base_url=fake.base_url) as rest:
            for timeout in (0.0, 0.001, 0.005, 0.015, 0.03, 0.06, 0.09):
                ch = next(channels)
                keep = asyncio.create_task(rest.create_message(ch, "first"))
                for _ in range(3):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(rest.create_message(ch, "late"), timeout)
                last = asyncio.create_task(rest.create_message(ch, "last"))
                await asyncio.wait_for(asyncio.gather(keep, last), 10)
            settled(rest.rate_limiter)
    assert fake.count(429) == 0


async def test_cancelled_retry_and_global_waiters_free_their_slots() -> None:
    async with serve_fake_discord(global_limit=(3, 0.3)) as fake:
        limiter = MemoryRateLimiter(global_limit=3, global_window=0.3)
        async with RestClient("tok", base_url=fake.base_url, rate_limiter=limiter) as rest:
            tasks = [asyncio.create_task(rest.get_channel(c)) for c in range(12)]
            await asyncio.sleep(0.05)
            for t in tasks[3::2]:
                t.cancel()
            fake.inject_429(scope="user", retry_after=0.05, path="/channels/20")
            retry = asyncio.create_task(rest.get_channel(20))
            await asyncio.sleep(0.02)
            retry.cancel()
            await asyncio.gather(*tasks, retry, return_exceptions=True)
            await asyncio.wait_for(asyncio.gather(*(rest.get_channel(c) for c in range(9))), 10)
            settled(limiter)
    assert fake.count(429, "global") == 0
