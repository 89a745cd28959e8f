"""Rate limiting against the fake Discord, with the memory store and with a real Redis."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable

import httpx2
import pytest

from asgi_interactions.rest import (
    ForbiddenError,
    InvalidRequestLimitError,
    MemoryRateLimiter,
    RateLimitedError,
    RestClient,
    ServerError,
)
from asgi_interactions.rest.ratelimit import RateLimiter
from asgi_interactions.rest.ratelimit.memory import MemoryStore
from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter
from tests.fakes.discord_rest import FakeDiscord, serve_fake_discord
from tests.fakes.redis_server import RedisServer

LimiterFactory = Callable[..., RateLimiter]
_ids = itertools.count(10_000)


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> LimiterFactory:
    """Builds the limiter under test: in memory, or in a fresh redis-server."""
    if request.param == "memory":
        return MemoryRateLimiter
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    return lambda **kw: RedisRateLimiter(server.url, prefix=prefix, **kw)


def client(fake: FakeDiscord, limiter: RateLimiter | None = None, **kw: object) -> RestClient:
    kw.setdefault("retry_backoff", 0.01)
    return RestClient("tok", base_url=fake.base_url, rate_limiter=limiter, **kw)  # type: ignore[arg-type]


def assert_no_rate_limited(fake: FakeDiscord) -> None:
    scopes = [(r.route, r.scope) for r in fake.requests if r.status == 429]
    assert scopes == [], scopes


def assert_settled(limiter: RateLimiter) -> None:
    """Nothing queued or sleeping, and (memory) every permit given out has come back."""
    assert limiter._queues == {}
    assert limiter._sleepers == {}
    if isinstance(limiter.store, MemoryStore):
        for key, b in limiter.store._buckets.items():
            assert b.sent == b.answered, key


async def test_burst_over_many_buckets_has_no_429(make_limiter: LimiterFactory) -> None:
    limits = {"messages.create": (3, 0.3), "messages.read": (2, 0.2)}
    async with serve_fake_discord(
        limits=limits, global_limit=(25, 0.5), latency=(0.002, 0.02), seed=3
    ) as fake:
        limiter = make_limiter(global_limit=25, global_window=0.5)
        async with client(fake, limiter) as rest:
            created = await asyncio.wait_for(
                asyncio.gather(
                    *(rest.create_message(ch, f"{ch}-{i}") for ch in range(1, 13) for i in range(6))
                ),
                30,
            )
            # GET message and GET messages share one bucket hash in the fake
            m = created[0]
            await asyncio.wait_for(
                asyncio.gather(
                    *(rest.get_message(1, m["id"]) for _ in range(6)),
                    *(
                        rest.request("GET", "/channels/{channel_id}/messages", channel_id=1)
                        for _ in range(6)
                    ),
                ),
                30,
            )
        assert_settled(limiter)
        await limiter.aclose()
    assert len(created) == 72
    assert_no_rate_limited(fake)
    assert all(r.status < 300 for r in fake.requests)


async def test_first_request_on_unknown_bucket_does_not_burst() -> None:
    async with serve_fake_discord(limits={"messages.create": (2, 0.3)}) as fake:  # noqa: SIM117 - asserts run between the two exits
        async with client(fake) as rest:
            await asyncio.wait_for(
                asyncio.gather(*(rest.create_message(7, str(i)) for i in range(10))), 20
            )
    assert_no_rate_limited(fake)
    assert fake.count(200) == 10


async def test_unrelated_buckets_never_wait_on_each_other() -> None:
    async with serve_fake_discord(limits={"messages.create": (1, 30.0)}) as fake:  # noqa: SIM117 - asserts run between the two exits
        async with client(fake) as rest:
            await rest.create_message(1, "fills channel 1 for 30 s")
            stuck = asyncio.create_task(rest.create_message(1, "waits"))
            others = [asyncio.create_task(rest.create_message(ch, "x")) for ch in range(2, 12)]
            done, _pending = await asyncio.wait(others, timeout=10)
            assert set(others) == done and not stuck.done()
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            assert_settled(rest.rate_limiter)
    assert_no_rate_limited(fake)


async def test_wait_beyond_max_rate_limit_raises_at_once() -> None:
    async with serve_fake_discord(limits={"messages.create": (1, 30.0)}) as fake:  # noqa: SIM117 - asserts run between the two exits
        async with client(fake, max_rate_limit=1.0) as rest:
            await rest.create_message(1, "a")
            with pytest.raises(RateLimitedError) as info:
                await asyncio.wait_for(rest.create_message(1, "b"), 5)
            assert info.value.retry_after is not None and info.value.retry_after > 1.0
    assert len(fake.requests) == 1


async def test_global_limit_is_enforced_before_sending(make_limiter: LimiterFactory) -> None:
    async with serve_fake_discord(global_limit=(10, 0.4), latency=(0.0, 0.01), seed=1) as fake:
        limiter = make_limiter(global_limit=10, global_window=0.4)
        async with client(fake, limiter) as rest:
            await asyncio.wait_for(asyncio.gather(*(rest.get_channel(c) for c in range(40))), 30)
        await limiter.aclose()
    assert_no_rate_limited(fake)
    assert fake.count(200) == 40


async def test_interaction_routes_are_exempt_from_the_global_limit() -> None:
    async with serve_fake_discord(global_limit=(2, 30.0)) as fake:
        limiter = MemoryRateLimiter(global_limit=2, global_window=30.0)
        async with client(fake, limiter) as rest:
            await rest.get_channel(1)
            await rest.get_channel(2)  # the global window is now full for 30 s
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        rest.create_followup(1000, f"token-{i}", {"content": "hi"})
                        for i in range(20)
                    )
                ),
                10,
            )
    assert_no_rate_limited(fake)


async def test_requests_in_a_bucket_are_served_in_order(make_limiter: LimiterFactory) -> None:
    async with serve_fake_discord(limits={"messages.create": (1, 0.03)}) as fake:
        # the 4th request gets a route-scope 429 (no headers): its retry keeps its place
        fake.inject_429(scope="user", retry_after=0.05, path="/channels/3/", skip=3)
        limiter = make_limiter()
        async with client(fake, limiter) as rest:
            tasks = [asyncio.create_task(rest.create_message(3, str(i))) for i in range(12)]
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await limiter.aclose()
    sent = [r.json["content"] for r in fake.requests]
    ok = [r.json["content"] for r in fake.requests if r.status == 200]
    assert ok == [str(i) for i in range(12)]
    assert sent[:5] == ["0", "1", "2", "3", "3"]
    assert fake.count(429, "user") == 1


async def test_429_retries_are_bounded() -> None:
    async with serve_fake_discord() as fake, client(fake, max_retries=3) as rest:
        # a busy resource (shared scope) is Discord's doing: retried 10 times, not 3
        fake.inject_429(scope="shared", retry_after=0.01, times=20)
        with pytest.raises(RateLimitedError) as info:
            await asyncio.wait_for(rest.create_message(1, "x"), 10)
        assert info.value.scope == "shared"
        assert len(fake.requests) == 11
        fake.injections.clear()
        fake.inject_429(scope="user", retry_after=0.01, times=10)
        with pytest.raises(RateLimitedError) as info:
            await asyncio.wait_for(rest.create_message(2, "x"), 5)
        assert info.value.scope == "user"
        assert len(fake.requests) == 15
        assert fake.count(200) == 0


async def test_429_longer_than_max_rate_limit_raises_at_once() -> None:
    async with serve_fake_discord() as fake, client(fake, max_rate_limit=5.0) as rest:
        fake.inject_429(scope="user", retry_after=50.0)
        with pytest.raises(RateLimitedError) as info:
            await asyncio.wait_for(rest.create_message(2, "x"), 5)
    assert info.value.retry_after == 50.0
    assert len(fake.requests) == 1


async def test_global_429_holds_every_request_then_retries() -> None:
    async with serve_fake_discord() as fake:
        async with client(fake) as rest:
            fake.inject_429(scope="global", retry_after=0.3, path="/channels/1")
            first = asyncio.create_task(rest.get_channel(1))
            await asyncio.sleep(0.1)
            await rest.get_channel(2)
            await first
        r429 = next(r for r in fake.requests if r.status == 429)
        r2 = next(r for r in fake.requests if r.route_path == "/channels/2")
        assert r2.time >= r429.time + 0.25
        assert [r.status for r in fake.requests if r.route_path == "/channels/1"] == [429, 200]


async def test_non_json_429_is_raised_at_once() -> None:
    async with serve_fake_discord() as fake, client(fake) as rest:
        fake.inject(429, text="<html>You are being blocked</html>", times=5)
        with pytest.raises(RateLimitedError, match="edge"):
            await rest.get_channel(1)
    assert len(fake.requests) == 1


async def test_server_errors_are_retried_only_when_safe() -> None:
    async with serve_fake_discord() as fake, client(fake, max_retries=3) as rest:
        fake.inject(503, times=2, method="POST")
        await rest.create_message(1, "edge errors prove it was not processed")
        assert [r.status for r in fake.requests] == [503, 503, 200]
        fake.inject(500, times=1, method="POST")
        with pytest.raises(ServerError) as info:
            await rest.create_message(1, "a 500 may have been processed")
        assert info.value.status == 500
        assert len(fake.requests) == 4
        fake.inject(500, times=2, method="GET")
        await rest.get_channel(1)
        assert [r.status for r in fake.requests[4:]] == [500, 500, 200]


async def test_read_timeout_never_resends_a_post() -> None:
    async with serve_fake_discord(latency=0.4) as fake:  # noqa: SIM117 - asserts run between the two exits
        async with client(fake, max_retries=2, timeout=0.1) as rest:
            with pytest.raises(httpx2.ReadTimeout):
                await rest.create_message(1, "x")
            await asyncio.sleep(0.4)
            assert len(fake.requests) == 1
            with pytest.raises(httpx2.ReadTimeout):
                await rest.get_channel(1)
            await asyncio.sleep(0.4)
            assert len(fake.requests) == 4  # a GET is retried


async def test_connection_errors_are_retried_with_backoff() -> None:
    rest = RestClient(
        "tok", base_url="http://127.0.0.1:9/api/v10", max_retries=2, retry_backoff=0.01
    )
    async with rest:
        with pytest.raises(httpx2.ConnectError):
            await asyncio.wait_for(rest.create_message(1, "x"), 10)
        assert_settled(rest.rate_limiter)


async def test_invalid_request_guard(make_limiter: LimiterFactory) -> None:
    async with serve_fake_discord() as fake:
        limiter = make_limiter(invalid_limit=5)
        async with client(fake, limiter) as rest:
            fake.inject_429(scope="shared", retry_after=0.0, times=3)
            await rest.get_channel(9)  # shared-scope 429s do not count
            fake.inject(403, body={"code": 50013, "message": "Missing Permissions"}, times=50)
            for _ in range(5):
                with pytest.raises(ForbiddenError):
                    await rest.get_channel(1)
            sent = len(fake.requests)
            with pytest.raises(InvalidRequestLimitError, match="401/403/429"):
                await rest.get_channel(1)
            assert len(fake.requests) == sent
        await limiter.aclose()


async def test_requests_in_flight_are_bounded() -> None:
    async with serve_fake_discord(latency=0.03) as fake, client(fake, max_in_flight=4) as rest:
        await asyncio.gather(
            *(rest.create_followup(1000, f"t{i}", {"content": "x"}) for i in range(30))
        )
    assert fake.max_in_flight == 4


async def test_idle_buckets_are_forgotten() -> None:
    limits = {"channels.get": (5, 0.05)}
    async with serve_fake_discord(limits=limits, global_limit=None) as fake:
        limiter = MemoryRateLimiter(idle_ttl=0.05, global_limit=10_000)
        async with client(fake, limiter) as rest:
            for chunk in range(3):
                await asyncio.gather(*(rest.get_channel(chunk * 100 + c) for c in range(100)))
                await asyncio.sleep(0.15)
            await rest.get_channel(0)
            assert isinstance(limiter.store, MemoryStore)
            assert len(limiter.store) <= 2


async def test_redis_keys_expire(redis_server: RedisServer) -> None:
    from redis import asyncio as aioredis

    async with serve_fake_discord() as fake:
        limiter = RedisRateLimiter(redis_server.url, prefix="exp:")
        async with client(fake, limiter) as rest:
            await asyncio.gather(*(rest.get_channel(c) for c in range(20)))
        await limiter.aclose()
    r = aioredis.Redis.from_url(redis_server.url)
    keys = await r.keys("exp:*")
    assert len(keys) >= 20
    for k in keys:
        assert await r.pttl(k) > 0, k
    await r.aclose()


async def test_first_requests_of_routes_on_one_channel_follow_each_other_closely() -> None:
    """Unknown routes on one channel probe one at a time; each answer wakes the next at once
    (not after a poll), and nothing is refused."""
    async with serve_fake_discord(latency=0.01) as fake:  # noqa: SIM117 - asserts run between the two exits
        async with client(fake) as rest:
            m = await rest.create_message(4, "x")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.wait_for(
                asyncio.gather(
                    rest.get_message(4, m["id"]),
                    rest.edit_message(4, m["id"], content="y"),
                    rest.add_reaction(4, m["id"], "👍"),
                    rest.get_channel(4),
                ),
                10,
            )
            assert loop.time() - t0 < 0.5
            assert_settled(rest.rate_limiter)
    assert_no_rate_limited(fake)


async def test_global_window_keeps_slots_for_a_long_chain() -> None:
    """A bucket that allows one request per 0.1 s with 7 queued (a 0.7 s chain) shares a tight
    global window with a burst of 30 reads: the reads must not fill the window and hold up each
    step of the chain for a whole window (~0.5 s each); nothing is refused."""
    limits = {"reactions": (1, 0.1)}
    async with serve_fake_discord(
        limits=limits, global_limit=(10, 0.5), latency=(0.002, 0.004)
    ) as fake:
        limiter = MemoryRateLimiter(global_limit=10, global_window=0.5)
        async with client(fake, limiter) as rest:
            m = await rest.create_message(7, "x")
            await rest.add_reaction(7, m["id"], "a")  # learn the reaction bucket
            await asyncio.sleep(0.5)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            done: list[float] = []

            async def react(i: int) -> None:
                await rest.add_reaction(7, m["id"], f"e{i}")
                done.append(loop.time() - t0)

            reads = [rest.get_channel(100 + c) for c in range(30)]
            await asyncio.wait_for(asyncio.gather(*(react(i) for i in range(8)), *reads), 20)
            assert_settled(limiter)
    assert_no_rate_limited(fake)
    # the chain alone needs 0.7 s (+ latency); first come, first served takes over 1.5 s
    assert max(done) < 1.1, done


async def test_a_retried_probe_goes_before_a_known_buckets_backlog() -> None:
    """An unknown bucket's first request (the first of three edits) fails at the edge while a
    known bucket (the reads) has a backlog of six global windows: the retry takes one of the
    next global slots, not one after the whole backlog (its answer is what tells how long the
    edits' chain is)."""
    limits = {"messages.read": (50, 1.0)}
    async with serve_fake_discord(
        limits=limits, global_limit=(5, 0.5), latency=(0.002, 0.004)
    ) as fake:
        limiter = MemoryRateLimiter(global_limit=5, global_window=0.5)
        async with client(fake, limiter) as rest:
            m = await rest.create_message(7, "x")
            await rest.get_message(7, m["id"])  # the read bucket is known, the edit's is not
            await asyncio.sleep(0.6)  # the global window is empty
            fake.inject(502, text="<html>502 Bad Gateway</html>", method="PATCH")
            calls = [rest.edit_message(7, m["id"], content=f"7-e{i}") for i in range(3)]
            calls += [rest.get_message(7, m["id"]) for _ in range(30)]
            await asyncio.wait_for(asyncio.gather(*calls), 30)
            assert_settled(limiter)
    assert_no_rate_limited(fake)
    edits = [r for r in fake.requests if r.method == "PATCH"]
    assert [r.status for r in edits] == [502, 200, 200, 200]
    overtaking = [
        r for r in fake.requests if r.method == "GET" and edits[0].time < r.time < edits[1].time
    ]
    assert len(overtaking) <= 5, len(overtaking)  # at most one global window's worth
