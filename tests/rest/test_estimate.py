"""The bucket estimate never lets a request into a full bucket: scripted answers and a
simulated sliding-window server with random latencies, global-queue delays and route mixes."""

from __future__ import annotations

import random

import pytest

from asgi_interactions.rest.ratelimit.base import BucketInfo
from asgi_interactions.rest.ratelimit.memory import MemoryStore
from tests.rest.sim import EPOCH, SimRoute, simulate

M = "channel_id=1"
ROUTE = "GET /channels/{channel_id}/messages/{message_id}"


def clocked() -> tuple[MemoryStore, list[float]]:
    store = MemoryStore()
    clock = [0.0]
    store.now = lambda: clock[0]  # type: ignore[method-assign]
    return store, clock


def answer(remaining: int, served: float, oldest: float, window: float = 0.25) -> BucketInfo:
    """The headers of an answer handled at ``served`` with the oldest slot taken at ``oldest``."""
    return BucketInfo(
        2,
        remaining,
        round(oldest + window - served, 3),
        "read",
        reset=round(EPOCH + oldest + window, 3),
    )


def test_an_old_unused_refill_is_not_kept_beside_a_newer_snapshot() -> None:
    """The over-send: a refill left over from an old snapshot was granted on top of a newer
    snapshot's ``remaining`` (which counted that freed slot already)."""
    store, clock = clocked()
    key, t, _ = store.acquire_sync(ROUTE, M)
    assert t is not None
    clock[0] = 0.001
    store.update_sync(key, ROUTE, M, t, answer(1, 0.0005, 0.0005))  # one refill due at ~0.25
    for sent, served, remaining in ((1.0, 1.0005, 1), (1.1, 1.1005, 0)):
        clock[0] = sent
        key, t, _ = store.acquire_sync(ROUTE, M)
        assert t is not None
        clock[0] = sent + 0.001
        store.update_sync(key, ROUTE, M, t, answer(remaining, served, 1.0005))
    # both slots are taken until ~1.2505 (1.0005 + 0.25): nothing may go before then
    clock[0] = 1.102
    _, t, wait = store.acquire_sync(ROUTE, M)
    assert t is None, "granted a request into a full bucket"
    assert clock[0] + wait >= 1.2505


SCENARIOS = 240


def scenario(
    seed: int, *, shared_routes: bool
) -> tuple[dict[str, tuple[int, float]], list[tuple[float, SimRoute]], tuple[float, float], float]:
    rng = random.Random(seed)
    groups = {
        "read": (rng.choice([2, 3, 5, 10]), rng.choice([0.1, 0.25, 0.5, 1.0])),
        "edit": (rng.choice([1, 2, 5]), rng.choice([0.25, 1.0, 5.0])),
        "react": (1, rng.choice([0.05, 0.25])),
    }
    routes = []
    for i in range(rng.randint(1, 3)):
        m = f"channel_id={i}"
        routes += [
            SimRoute("GET /m/{id}", "read", m),
            SimRoute("PATCH /m/{id}", "edit", m),
            SimRoute("REACT", "react", m),
        ]
        if shared_routes:  # another route counted in the same bucket as GET /m/{id}
            routes.append(SimRoute("GET /m", "read", m))
    n = rng.randint(10, 80)
    spread = rng.choice([0.0, 0.5, 3.0])
    arrivals = sorted(
        ((rng.uniform(0, spread), rng.choice(routes)) for _ in range(n)), key=lambda a: a[0]
    )
    latency = rng.choice([(0.0, 0.01), (0.02, 0.08), (0.001, 0.2)])
    send_delay = rng.choice([0.0, 0.0, 0.05, 0.3])  # waits for the global window
    return groups, arrivals, latency, send_delay


@pytest.mark.parametrize("chunk", range(4))
def test_no_request_is_ever_refused(chunk: int) -> None:
    """Every bucket's routes known or learned alone: the server never refuses a request."""
    for seed in range(chunk, SCENARIOS, 4):
        groups, arrivals, latency, delay = scenario(seed, shared_routes=False)
        store, clock = clocked()
        res = simulate(store, clock, groups, arrivals, seed=seed, latency=latency, send_delay=delay)
        assert res.refused == [], (seed, res.refused[:3])
        assert res.sent == len(arrivals)
        assert store._unnamed == {} and getattr(store, "_probes", {}) == {}


@pytest.mark.parametrize("chunk", range(2))
def test_routes_sharing_a_bucket_once_their_hash_is_known(chunk: int) -> None:
    """Two routes in one bucket: once each route's hash is known (from any channel), never
    refused. (A route's very first request cannot know which bucket it will land in.)"""
    for seed in range(chunk, SCENARIOS, 2):
        groups, arrivals, latency, delay = scenario(seed, shared_routes=True)
        first = {r.route_key: r for _, r in arrivals}
        warm = [(0.0, SimRoute(r.route_key, r.group, "channel_id=99")) for r in first.values()]
        arrivals = warm + [(t + 10.0, r) for t, r in arrivals]
        store, clock = clocked()
        res = simulate(store, clock, groups, arrivals, seed=seed, latency=latency, send_delay=delay)
        assert res.refused == [], (seed, res.refused[:3])
