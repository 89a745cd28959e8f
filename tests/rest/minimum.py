"""The wall time an omniscient client needs for a phased workload: a discrete-event schedule.

The client knows every bucket's limit and window and the global limit from the start, and every
request's arrival time at the server once it is sent. It sends a request at the earliest moment
at which no latency draw could get it refused: a slot whose previous holder arrived at ``a`` may
be taken by a send at ``a + window - d_min``. Every trip takes ``trip`` seconds each way (pass the
fastest one-way trip for a lower bound on wall time). Phase ``k + 1`` starts when the last answer
of phase ``k`` is back (it needs ids from it). When several requests could go at once, the one
whose bucket still needs the longest chain of window turns goes first (critical path first);
the better of two schedules is kept, one that always sends whatever may go and one that keeps
global slots free for a longer chain that needs them within the global window. Neither is
optimal for every workload (the problem is a scheduling problem with sliding-window resources),
so tests/rest/test_minimum.py checks the result against hand-proved minima, the bench's included.

Faults (``fates``): each bucket's attempts, in the order they are sent, may be answered ``"ok"``,
``"shared"`` (a shared-scope 429: it uses a bucket slot and a global slot, and nothing more may be
sent in that bucket until ``retry_after`` after its answer; the request is sent again) or
``"edge"`` (an edge error: it uses no slot, costs its own round trip, and the request is sent
again). The schedule replays the fates a real run met, in each bucket's order.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

Bucket = tuple[str, str]  # (bucket group, major parameter)


@dataclass
class _Log:
    """Arrival times still counted by a sliding window of ``limit`` per ``window`` seconds."""

    limit: int
    window: float
    arrivals: deque[float] = field(default_factory=deque)

    def free_at(self, d_min: float) -> float:
        """The earliest send time that can never be refused by this window."""
        if len(self.arrivals) < self.limit:
            return -math.inf
        return self.arrivals[-self.limit] + self.window - d_min

    def add(self, arrival: float) -> None:
        self.arrivals.append(arrival)
        while len(self.arrivals) > self.limit:  # only the newest ``limit`` arrivals matter
            self.arrivals.popleft()


def _free(glob: _Log, t: float, d_min: float) -> int:
    """Global slots a send at ``t`` could take, counting only the arrivals logged so far."""
    return sum(1 for a in glob.arrivals if a + glob.window - d_min <= t) + (
        glob.limit - len(glob.arrivals)
    )


def _next_event(
    t: float,
    pending: dict[Bucket, int],
    logs: dict[Bucket, _Log],
    glob: _Log | None,
    d_min: float,
    blocked: dict[Bucket, float] | None = None,
) -> float:
    """The first moment after ``t`` at which a slot of a pending bucket or the global frees (or
    a bucket's block ends)."""
    times = [a + logs[b].window - d_min for b in pending for a in logs[b].arrivals]
    if blocked:
        times += [blocked[b] for b in pending if b in blocked]
    if glob is not None:
        times += [a + glob.window - d_min for a in glob.arrivals]
    later = [x for x in times if x > t]
    if not later:
        raise AssertionError("no slot ever frees")  # cannot happen: every limit is >= 1
    return min(later)


def _chain(logs: dict[Bucket, _Log], pending: dict[Bucket, int], b: Bucket) -> tuple[float, float]:
    """How long bucket ``b`` still needs: its window turns, then its share of them."""
    log, n = logs[b], pending[b]
    return ((math.ceil(n / log.limit) - 1) * log.window, n * log.window / log.limit)


def _spare(
    glob: _Log,
    logs: dict[Bucket, _Log],
    pending: dict[Bucket, int],
    b: Bucket,
    t: float,
    *,
    d_min: float,
    trip: float,
) -> bool:
    """Whether ``b`` may take a global slot at ``t`` without leaving a bucket with a longer
    chain short of one within the next global window."""
    mine = _chain(logs, pending, b)
    horizon = t + glob.window
    demand: list[float] = []
    for h, n in pending.items():
        if h == b or _chain(logs, pending, h) <= mine:
            continue
        log = logs[h]
        frees = [-math.inf] * (log.limit - len(log.arrivals))
        frees += [a + log.window - d_min for a in log.arrivals]
        times: list[float] = []
        for f in frees:  # each slot again and again while within the horizon
            r = max(f, t)
            while r < horizon and len(times) < n:
                times.append(r)
                r += trip + log.window - d_min
        demand += sorted(times)[:n]
    demand.sort()
    # by the k-th demand's time, k slots are needed, and this send would hold one of them
    return all(_free(glob, r, d_min) - 1 >= k for k, r in enumerate(demand, 1))


def minimum_wall_time(
    phases: list[list[Bucket]],
    limits: dict[str, tuple[int, float]],
    global_limit: tuple[int, float] | None,
    *,
    d_min: float,
    trip: float,
    fates: dict[Bucket, list[str]] | None = None,
    retry_after: float = 0.0,
) -> float:
    """Seconds from the first send to the last answer; ``limits`` maps a bucket group to
    (limit, window), each (group, major) pair being its own bucket, as on Discord.

    The better of two schedules: sending whatever may go (longest chain first), and the same
    but keeping global slots free for a longer chain that needs them within the global window.
    ``fates`` (see the module's docstring) lists some buckets' answers in the order of their
    attempts; ``retry_after`` is what a shared 429 asks to wait.
    """
    if trip < d_min:
        raise ValueError("trip must be at least d_min")
    return min(
        _schedule(
            phases,
            limits,
            global_limit,
            d_min=d_min,
            trip=trip,
            reserve=reserve,
            fates=fates or {},
            retry_after=retry_after,
        )
        for reserve in (False, True)
    )


def _schedule(
    phases: list[list[Bucket]],
    limits: dict[str, tuple[int, float]],
    global_limit: tuple[int, float] | None,
    *,
    d_min: float,
    trip: float,
    reserve: bool,
    fates: dict[Bucket, list[str]],
    retry_after: float,
) -> float:
    """One schedule of ``minimum_wall_time``: the time of its last answer."""
    logs: dict[Bucket, _Log] = {}
    todo = {b: deque(f) for b, f in fates.items()}  # each bucket's fates still to meet
    blocked: dict[Bucket, float] = {}  # buckets closed by a shared 429 until then
    glob = _Log(*global_limit) if global_limit is not None else None
    start = 0.0
    for phase in phases:
        pending: dict[Bucket, int] = {}
        for b in phase:
            pending[b] = pending.get(b, 0) + 1
            if b not in logs:
                logs[b] = _Log(*limits[b[0]])
        t, end = start, start

        while pending:
            g_free = glob.free_at(d_min) if glob is not None else -math.inf
            # an edge error meets no limit: its attempt goes at once, the request stays pending
            for b in pending:
                fate = todo.get(b)
                while fate and fate[0] == "edge" and blocked.get(b, -math.inf) <= t:
                    fate.popleft()
                    end = max(end, t + 2 * trip)
            ready = [
                b
                for b in pending
                if max(logs[b].free_at(d_min), g_free, blocked.get(b, -math.inf)) <= t
            ]
            ready.sort(key=lambda r: _chain(logs, pending, r), reverse=True)  # stable
            chosen = next(
                (
                    r
                    for r in ready
                    if glob is None
                    or not reserve
                    or _spare(glob, logs, pending, r, t, d_min=d_min, trip=trip)
                ),
                None,
            )
            if chosen is None:
                t = _next_event(t, pending, logs, glob, d_min, blocked)
                continue
            arrival = t + trip
            logs[chosen].add(arrival)
            if glob is not None:
                glob.add(arrival)
            end = max(end, arrival + trip)
            fate = todo.get(chosen)
            if fate and fate.popleft() == "shared":
                blocked[chosen] = arrival + trip + retry_after  # and the request is still due
                continue
            pending[chosen] -= 1
            if not pending[chosen]:
                del pending[chosen]
        start = end
    return start
