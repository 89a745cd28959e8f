"""A shared-scope 429 closes its bucket for ``retry_after``, not for a window: later requests
of the bucket that already hold its permits while they wait for a global slot give them back
to the retry, which goes first, as soon as the block ends and a global slot frees."""

from __future__ import annotations

import asyncio
import time

import pytest

from asgi_interactions.rest import MemoryRateLimiter, RestClient
from asgi_interactions.rest.ratelimit.base import BucketInfo
from asgi_interactions.rest.ratelimit.limiter import RateLimiter
from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter
from asgi_interactions.rest.routes import Route
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer
from tests.rest.test_cancellation import settled

WINDOW = 5.0  # the bucket: 5 creates per WINDOW seconds
RETRY_AFTER = 0.3  # the shared 429's
GLOBAL = (2, 0.5)  # the client's global pool: small, so later requests queue for it


def _limiter(store: str, request: pytest.FixtureRequest) -> RateLimiter:
    if store == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return RedisRateLimiter(
            server.url,
            prefix="shared429:",
            poll_interval=0.01,
            global_limit=GLOBAL[0],
            global_window=GLOBAL[1],
        )
    return MemoryRateLimiter(global_limit=GLOBAL[0], global_window=GLOBAL[1])


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_a_shared_429_holds_its_bucket_for_retry_after_not_a_window(
    store: str, request: pytest.FixtureRequest
) -> None:
    """The mixed benchmark's slow runs, made deterministic: c0 alone (the bucket is learned),
    then c1..c4 at once. c1 takes the pool's last global slot; c2..c4 take the bucket's other
    permits and queue for the global pool; c1 gets a shared 429 (its slot counted: 3 left,
    all held by c2..c4). c1's retry must go once its 0.3 s have passed and a global slot frees
    (~0.5 s), ahead of c2 and c3, with c4 left for c0's slot; not when c0's slot frees
    (``WINDOW`` later), which is what happened when c2..c4 kept the permits."""
    calls = 0

    def second_create(method: str, path: str) -> bool:
        nonlocal calls
        if method != "POST" or not path.endswith("/messages"):
            return False
        calls += 1
        return calls == 2  # c1's first attempt

    limits = {"messages.create": (5, WINDOW)}
    async with serve_fake_discord(limits=limits, latency=(0.005, 0.015)) as fake:
        fake.faults(shared=1.0, shared_retry_after=RETRY_AFTER, match=second_create)
        limiter = _limiter(store, request)
        async with RestClient("tok", base_url=fake.base_url, rate_limiter=limiter) as rest:
            await asyncio.wait_for(rest.create_message(1, "1-0"), 30)
            await asyncio.wait_for(
                asyncio.gather(*(rest.create_message(1, f"1-{i}") for i in range(1, 5))),
                WINDOW * 6,
            )
    records = [r for r in fake.requests if r.route_path == "/channels/1/messages"]
    seen = [(r.json["content"], r.status, r.scope) for r in records]
    assert [r.json["content"] for r in records if r.status == 200] == [
        f"1-{i}" for i in range(5)
    ], seen
    limited = [r for r in records if r.status == 429]
    assert [(r.json["content"], r.scope) for r in limited] == [("1-1", "shared")], seen
    retry = next(r for r in records if r.json["content"] == "1-1" and r.status == 200)
    assert retry.time >= limited[0].answered + RETRY_AFTER - 0.005  # retry_after waited
    # not held until c0's slot frees: a generous half window for a ~0.5 s wait
    assert retry.time - limited[0].answered < WINDOW / 2, seen
    first = {r.json["content"]: r.time for r in reversed(records)}
    assert first["1-2"] > retry.time and first["1-3"] > retry.time, seen  # FIFO: c1 first


async def test_requests_held_behind_a_retry_get_their_global_rank_back() -> None:
    """A request put last in the global queue while an earlier request of its bucket waited to
    be retried gets its rank back once that retry has its slot, even if others pushed it out
    of the queue's re-ranked front (its first 32) meanwhile: a later request of its bucket must
    not take a global slot before it (one mixed benchmark run had such a FIFO break)."""
    limiter = MemoryRateLimiter(global_limit=3, global_window=0.3)
    g = "g"
    bucket = Route("POST", "/channels/{channel_id}/messages", channel_id=1)
    p0 = await limiter.acquire(bucket, g, max_wait=60)
    await p0.complete(BucketInfo(5, 4, 5.0, "h", reset=time.time() + 5.0))
    other = await limiter.acquire(Route("GET", "/users/@me"), g, max_wait=60)
    p1 = await limiter.acquire(bucket, g, max_wait=60)  # the pool is full now
    # p1 gets a shared 429: its bucket is closed 0.05 s, and it is retried
    await p1.complete(BucketInfo(5, 3, 4.9, "h", reset=time.time() + 4.9, block=0.05))
    limiter.note_retry(p1)
    retry = asyncio.ensure_future(limiter.acquire(bucket, g, order=p1.order, max_wait=60))
    await asyncio.sleep(0.01)
    f1 = asyncio.ensure_future(limiter.acquire(bucket, g, max_wait=60))
    queued = 0
    for _ in range(100):  # the retry, then f1, queue for the pool
        await asyncio.sleep(0.005)
        gq = limiter._queues.get("\x01global:g")
        queued = len(gq.waiters) if gq is not None else 0
        if queued == 2:
            break
    assert queued == 2
    await other.complete(None)  # an answer: the queue is re-ranked, f1 put behind the retry
    await asyncio.sleep(0.01)
    reads = [
        asyncio.ensure_future(
            limiter.acquire(
                Route("GET", "/channels/{channel_id}", channel_id=100 + i), g, max_wait=60
            )
        )
        for i in range(40)  # new buckets' probes: they queue ahead of f1, out of the front
    ]
    await asyncio.wait_for(retry, 10)
    f2 = asyncio.ensure_future(limiter.acquire(bucket, g, max_wait=60))
    try:
        done, _ = await asyncio.wait((f1, f2), timeout=30, return_when=asyncio.FIRST_COMPLETED)
        assert f1 in done, "f2, issued after f1 in the same bucket, took a global slot first"
    finally:
        for t in (f1, f2, *reads):
            t.cancel()
        await asyncio.gather(f1, f2, *reads, return_exceptions=True)


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 5, 20])
async def test_a_recalled_request_cancelled_meanwhile_loses_no_permit(steps: int) -> None:
    """Three requests hold the bucket's permits and queue for the pool when the request
    before them gets a shared 429; its retry recalls their permits. One of them is cancelled
    ``steps`` loop turns later (before, during or after giving its permit back): the retry
    and the two others are granted in issue order and nothing stays counted."""
    limiter = MemoryRateLimiter(global_limit=2, global_window=0.2)
    g = "g"
    bucket = Route("POST", "/channels/{channel_id}/messages", channel_id=1)

    def info(remaining: int, block: float = 0.0) -> BucketInfo:
        return BucketInfo(5, remaining, 4.5, "h", reset=time.time() + 4.5, block=block)

    p0 = await limiter.acquire(bucket, g, max_wait=60)
    await p0.complete(info(4))
    p1 = await limiter.acquire(bucket, g, max_wait=60)  # the pool is full now
    granted: list[str] = []
    followers = []
    for name in ("f0", "f1", "f2"):
        task = asyncio.ensure_future(limiter.acquire(bucket, g, max_wait=60))
        task.add_done_callback(lambda t, n=name: granted.append(n) if not t.cancelled() else None)
        followers.append(task)
    await asyncio.sleep(0.01)
    await p1.complete(info(3, block=0.05))  # p1's shared 429: 3 left, all held by f0..f2
    limiter.note_retry(p1)
    retry = asyncio.ensure_future(limiter.acquire(bucket, g, order=p1.order, max_wait=60))
    retry.add_done_callback(lambda t: granted.append("retry"))
    for _ in range(steps):
        await asyncio.sleep(0)
    followers[1].cancel()
    for task in (retry, followers[0], followers[2]):  # each answered once sent (the pool is 2)
        permit = await asyncio.wait_for(task, 10)
        await permit.complete(info(0))
    assert granted == ["retry", "f0", "f2"]
    await asyncio.gather(followers[1], return_exceptions=True)
    for _ in range(5):
        await asyncio.sleep(0)  # refunds spawned on cancellation
    settled(limiter)
