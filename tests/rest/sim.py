"""A discrete-event simulation of Discord's sliding-window buckets driving a rate-limit store.

The store under test decides every send on a virtual clock; the simulated server applies the
real limits and answers with Discord's headers (rounded to the millisecond, as Discord sends
them). Any request the server would refuse is a defect of the store's estimate: the tests assert
there are none, for many random latencies, delays and route mixes. Deterministic per seed.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field

from asgi_interactions.rest.ratelimit.base import BucketInfo

EPOCH = 1_700_000_000.0


@dataclass
class SimRoute:
    """A route: its limiter key, the bucket group the server counts it in, its major value."""

    route_key: str
    group: str
    major: str


@dataclass
class SimResult:
    """What happened: requests sent, the server's refusals, when the last answer came."""

    sent: int = 0
    refused: list[tuple[float, str, str]] = field(default_factory=list)
    finished: float = 0.0
    send_times: list[tuple[float, str, str]] = field(default_factory=list)


def simulate(
    store: object,
    clock: list[float],
    groups: dict[str, tuple[int, float]],
    arrivals: list[tuple[float, SimRoute]],
    *,
    seed: int,
    latency: tuple[float, float] = (0.02, 0.08),
    send_delay: float = 0.0,
    poll: float = 1.0,
    horizon: float = 600.0,
) -> SimResult:
    """Run ``arrivals`` (time, route) through ``store`` against the simulated server.

    ``clock[0]`` is the virtual time the store reads. Each request waits in a FIFO queue per
    (route, major) as the limiter keeps them; only the head asks the store. A granted request
    leaves after up to ``send_delay`` (a wait for the global window), reaches the server after
    half of a random round trip and its answer comes back after the other half.
    """
    rng = random.Random(seed)
    seq = itertools.count()
    events: list[tuple[float, int, str, object]] = []
    windows: dict[tuple[str, str], deque[float]] = {}
    queues: dict[tuple[str, str], deque[SimRoute]] = {}
    asleep: dict[tuple[str, str], int] = {}  # queue -> token of its pending wake-up
    busy: dict[tuple[str, str], None] = {}  # queues with waiters (ordered: deterministic)
    res = SimResult()

    def push(t: float, kind: str, data: object) -> None:
        heapq.heappush(events, (t, next(seq), kind, data))

    def wake(q: tuple[str, str], t: float) -> None:
        token = next(seq)
        asleep[q] = token
        push(t, "try", (q, token))

    for t, r in arrivals:
        push(t, "arrive", r)
    acquire = store.acquire_sync  # type: ignore[attr-defined]
    update = store.update_sync  # type: ignore[attr-defined]
    while events:
        t, _, kind, data = heapq.heappop(events)
        if t > horizon:
            raise AssertionError(f"simulation did not finish by {horizon} s")
        clock[0] = t
        if kind == "arrive":
            assert isinstance(data, SimRoute)
            q = (data.route_key, data.major)
            queues.setdefault(q, deque()).append(data)
            if q not in busy:
                busy[q] = None
                wake(q, t)
        elif kind == "try":
            q, token = data  # type: ignore[misc]
            if asleep.get(q) != token:
                continue  # superseded by an earlier wake-up
            del asleep[q]
            r = queues[q][0]
            key, ticket, wait = acquire(r.route_key, r.major)
            if ticket is None:
                wake(q, t + min(wait, poll) if math.isinf(wait) else t + wait)
                continue
            queues[q].popleft()
            d_out = rng.uniform(*latency) / 2
            d_back = rng.uniform(*latency) / 2
            delay = rng.uniform(0, send_delay) if send_delay else 0.0
            push(t + delay + d_out, "handle", (r, key, ticket, d_back))
            if queues[q]:
                wake(q, t)
            else:
                busy.pop(q, None)
                del queues[q]
        elif kind == "handle":
            r, key, ticket, d_back = data  # type: ignore[misc]
            limit, window = groups[r.group]
            log = windows.setdefault((r.group, r.major), deque())
            while log and log[0] <= t - window:
                log.popleft()
            res.sent += 1
            res.send_times.append((t, r.group, r.major))
            if len(log) >= limit:
                res.refused.append((t, r.group, r.major))
                retry = log[0] + window - t
                info = BucketInfo(limit, 0, round(retry, 3), r.group, limited=True)
            else:
                log.append(t)
                reset_after = log[0] + window - t
                info = BucketInfo(
                    limit,
                    limit - len(log),
                    round(reset_after, 3),
                    r.group,
                    reset=round(EPOCH + log[0] + window, 3),
                )
            push(t + d_back, "answer", (r, key, ticket, info))
        elif kind == "answer":
            r, key, ticket, info = data  # type: ignore[misc]
            update(key, r.route_key, r.major, ticket, info)
            res.finished = t
            if info.limited:  # retried at the head of its queue, as the client does
                q = (r.route_key, r.major)
                queues.setdefault(q, deque()).appendleft(r)
                busy[q] = None
            for q in list(busy):  # an answer may free permits: heads ask again
                wake(q, t)
    return res
