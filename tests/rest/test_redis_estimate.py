"""The Redis store under the sliding-window simulation, and decision parity with the memory store.

The simulation is synchronous; a real redis-server answers each store call (run to completion on
a private event loop), on the simulation's virtual clock instead of Redis's ``TIME``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import pytest

from asgi_interactions.rest.ratelimit.base import BucketInfo
from asgi_interactions.rest.ratelimit.memory import MemoryStore, _Bucket
from asgi_interactions.rest.ratelimit.redis import RedisStore
from tests.fakes.redis_server import RedisServer
from tests.rest.sim import EPOCH, SimRoute, simulate
from tests.rest.test_estimate import SCENARIOS, scenario

Decision = tuple[Any, ...]
_FIELD_INDEX = {f.name: i for i, f in enumerate(fields(_Bucket))}


class Driven:
    """A store's bucket operations called synchronously, every call and its result logged."""

    def __init__(self, store: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.store = store
        self.loop = loop
        self.log: list[Decision] = []

    def _run(self, name: str, *args: Any) -> Any:
        if self.loop is None:
            return getattr(self.store, f"{name}_sync")(*args)
        return self.loop.run_until_complete(getattr(self.store, f"bucket_{name}")(*args))

    def acquire_sync(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        r: tuple[str, int | None, float] = self._run("acquire", route_key, major)
        self.log.append(("acquire", route_key, major, r))
        return r

    def update_sync(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        self._run("update", key, route_key, major, ticket, info)
        self.log.append(("update", key, route_key, major, ticket, info))

    def refund_sync(self, key: str) -> None:
        self._run("refund", key)
        self.log.append(("refund", key))

    def block_sync(self, key: str, seconds: float) -> None:
        self._run("block", key, seconds)
        self.log.append(("block", key, seconds))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    try:
        yield lp
    finally:
        lp.close()


def redis_store(
    server: RedisServer, loop: asyncio.AbstractEventLoop, clock: list[float], prefix: str
) -> tuple[RedisStore, Driven]:
    store = RedisStore(server.url, prefix=prefix, clock=lambda: clock[0])
    return store, Driven(store, loop)


def leftovers(store: RedisStore, loop: asyncio.AbstractEventLoop) -> list[bytes]:
    """Stored channel states still counting requests in flight (there must be none)."""

    async def scan() -> list[bytes]:
        bad = []
        for k in await store.redis.keys(store.prefix + "s:*"):
            doc = json.loads(await store.redis.get(k))
            if doc["u"] or doc["p"]:
                bad.append(k)
        return bad

    return loop.run_until_complete(scan())


@pytest.mark.parametrize("shared_routes", [False, True])
def test_redis_store_never_over_sends(
    redis_server: RedisServer, loop: asyncio.AbstractEventLoop, shared_routes: bool
) -> None:
    """The memory store's guarantee, through Redis: the server refuses nothing (for shared
    routes, once each route's hash is known)."""
    for seed in range(0, SCENARIOS, 24 if shared_routes else 12):
        groups, arrivals, latency, delay = scenario(seed, shared_routes=shared_routes)
        if shared_routes:
            first = {r.route_key: r for _, r in arrivals}
            warm = [(0.0, SimRoute(r.route_key, r.group, "channel_id=99")) for r in first.values()]
            arrivals = warm + [(t + 10.0, r) for t, r in arrivals]
        clock = [0.0]
        store, driven = redis_store(redis_server, loop, clock, f"sim{seed}:")
        try:
            res = simulate(
                driven, clock, groups, arrivals, seed=seed, latency=latency, send_delay=delay
            )
            assert res.refused == [], (seed, res.refused[:3])
            assert res.sent == len(arrivals)
            assert leftovers(store, loop) == []
        finally:
            loop.run_until_complete(store.aclose())


@pytest.mark.parametrize("shared_routes", [False, True])
def test_both_stores_decide_alike_in_the_simulation(
    redis_server: RedisServer, loop: asyncio.AbstractEventLoop, shared_routes: bool
) -> None:
    """Same scenario, same answers: every permit, wait and key is the same in both stores."""
    denied = 0
    for seed in range(3, SCENARIOS, 40):
        groups, arrivals, latency, delay = scenario(seed, shared_routes=shared_routes)
        clock_m, clock_r = [0.0], [0.0]
        memory = Driven(MemoryStore(clock=lambda c=clock_m: c[0]))  # type: ignore[misc]
        store, driven = redis_store(redis_server, loop, clock_r, f"par{seed}:")
        try:
            kw: dict[str, Any] = {"seed": seed, "latency": latency, "send_delay": delay}
            res_m = simulate(memory, clock_m, groups, arrivals, **kw)
            res_r = simulate(driven, clock_r, groups, arrivals, **kw)
        finally:
            loop.run_until_complete(store.aclose())
        assert len(memory.log) >= 2 * len(arrivals)
        assert driven.log == memory.log, seed
        assert res_r.send_times == res_m.send_times
        denied += sum(1 for d in memory.log if d[0] == "acquire" and d[3][1] is None)
    assert denied > 20  # the scenarios did make the stores refuse permits


def test_both_stores_decide_alike_on_a_scripted_sequence(
    redis_server: RedisServer, loop: asyncio.AbstractEventLoop
) -> None:
    """One hand-written sequence (first contact, a shared bucket learned on another channel,
    a refund, a shared-scope block, an abandoned request, a 429) fed to both stores."""
    edit, get, get2 = "PATCH /m/{id}", "GET /m/{id}", "GET /m"
    a, b = "channel_id=1", "channel_id=2"

    def info(remaining: int, served: float, oldest: float, **kw: Any) -> BucketInfo:
        return BucketInfo(
            2,
            remaining,
            round(oldest + 1.0 - served, 3),
            kw.pop("bucket", "read"),
            reset=round(EPOCH + oldest + 1.0, 3),
            **kw,
        )

    def script(s: Driven, clock: list[float]) -> None:
        def at(t: float) -> None:
            clock[0] = t

        at(0.0)
        k1, t1, _ = s.acquire_sync(get, a)  # first contact: a probe
        s.acquire_sync(get, a)  # a second waits for the probe
        k2, t2, _ = s.acquire_sync(get2, a)  # another unknown route probes alongside
        at(0.05)
        assert t1 is not None and t2 is not None
        s.update_sync(k1, get, a, t1, info(1, 0.02, 0.02))
        at(0.06)
        s.update_sync(k2, get2, a, t2, info(0, 0.03, 0.02))  # same bucket: now full
        s.acquire_sync(get, a)
        s.acquire_sync(get2, a)
        at(1.03)
        s.acquire_sync(get, a)  # the refill is not due yet
        at(1.06)
        k3, t3, _ = s.acquire_sync(get, a)  # the refill
        assert t3 is not None
        s.refund_sync(k3)  # never sent
        k4, t4, _ = s.acquire_sync(get, a)
        assert t4 is not None
        s.update_sync(k4, get, a, t4, info(0, 1.07, 1.07, limited=True))
        s.acquire_sync(get, a)
        k5, t5, _ = s.acquire_sync(get, b)  # hash known: channel 2 starts in the named bucket
        assert t5 is not None
        at(1.1)
        s.update_sync(k5, get, b, t5, None)  # abandoned
        s.acquire_sync(get, b)
        k6, t6, _ = s.acquire_sync(edit, b)
        assert t6 is not None
        s.block_sync(k6, 0.5)
        at(1.2)
        s.update_sync(k6, edit, b, t6, info(1, 1.15, 1.15, bucket="edit"))
        s.acquire_sync(edit, b)
        for t in (2.0, 2.2, 3.5, 70.0):
            at(t)
            for route, major in ((get, a), (get2, a), (get, b), (edit, b)):
                s.acquire_sync(route, major)

    clock_m, clock_r = [0.0], [0.0]
    memory = Driven(MemoryStore(clock=lambda: clock_m[0]))
    script(memory, clock_m)
    store, driven = redis_store(redis_server, loop, clock_r, "script:")
    try:
        script(driven, clock_r)
    finally:
        loop.run_until_complete(store.aclose())
    assert driven.log == memory.log
    grants = [d for d in memory.log if d[0] == "acquire" and d[3][1] is not None]
    assert 8 <= len(grants) < len([d for d in memory.log if d[0] == "acquire"])


async def test_concurrent_decisions_from_two_stores_never_double_grant(
    redis_server: RedisServer,
) -> None:
    """Two processes' stores racing on one channel's state: the compare-and-set makes every
    decision see the previous one, so exactly the free slots are granted."""
    a = RedisStore(redis_server.url, prefix="race:")
    b = RedisStore(redis_server.url, prefix="race:")
    route, major = "GET /m/{id}", "channel_id=1"
    try:
        key, ticket, _ = await a.bucket_acquire(route, major)
        assert ticket is not None
        info = BucketInfo(5, 4, 30.0, "x", reset=EPOCH + 30.0)
        await a.bucket_update(key, route, major, ticket, info)
        results = await asyncio.gather(
            *(s.bucket_acquire(route, major) for _ in range(15) for s in (a, b))
        )
        granted = [r for r in results if r[1] is not None]
        assert len(granted) == 4
        assert len({r[1] for r in granted}) == 4  # distinct tickets
        assert a.available and b.available
        # every grant answered (from either store): nothing stays counted in flight
        await asyncio.gather(
            *(
                (a if i % 2 else b).bucket_update(k, route, major, t, info)
                for i, (k, t, _) in enumerate(granted)
                if t is not None
            )
        )
        state = await a.redis.get("race:s:" + major)
        doc = json.loads(state)
        (bucket,) = doc["b"].values()
        sent, answered = bucket[_FIELD_INDEX["sent"]], bucket[_FIELD_INDEX["answered"]]
        assert sent == answered == 5
    finally:
        await a.aclose()
        await b.aclose()
