"""Keeps a burst of requests from stalling the event loop: their starts, and their sends, are
spread over loop iterations, about a millisecond of each per iteration, in the order they came."""

from __future__ import annotations

import asyncio
import time
from collections import deque

__all__ = ["Pacer", "pacer", "send_pacer"]

#: CPU seconds of request starts (and, separately, of sends) per loop iteration before the rest
#: wait for the next one. With both pacers full and the answers of that iteration, an iteration
#: measured 2-2.3 ms of CPU in bench/rest.py (2.6-4.2 ms with 2 ms here).
BUDGET = 0.001
#: After this long without a start, a request opens a new slice at once.
IDLE = 0.05
#: Bounds on the measured CPU cost of one request start. A start costs ~0.1-0.3 ms; a reading
#: above the upper bound means other work (answers, other tasks) ran in the same iterations, and
#: trusting it would let one start through per iteration while the loop is busy (measured: the
#: last channel of a 312-request burst started 1.7 s late on a loaded machine).
MIN_COST, MAX_COST = 0.00002, BUDGET / 4
#: A send (HTTPX2 writing the request: its pool's bookkeeping, the socket write) costs 0.1-1 ms
#: of CPU, more with many idle connections; at least two go per iteration, and a batch costlier
#: than the estimate raises it at once (a cheap estimate must not let a costly batch through).
SEND_MAX_COST = BUDGET / 2


class Pacer:
    """FIFO gate (one per event loop and kind of work: request starts, sends).

    Work that comes while the current slice has used its budget waits; each later loop
    iteration lets through as many as fit in the budget, by the measured CPU cost of the last
    batch, so timers and I/O (other tasks, the answers of requests in flight) run between
    batches.
    """

    __slots__ = (
        "_batch",
        "_cost",
        "_loop",
        "_mark",
        "_max_cost",
        "_rise",
        "_scheduled",
        "_start",
        "_waiting",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, max_cost: float = MAX_COST, cautious: bool = False
    ) -> None:
        self._loop = loop
        self._max_cost = max_cost  # bounds a measured cost (see MAX_COST)
        self._rise = 1.0 if cautious else 0.5  # weight of a measured cost above the estimate
        self._start = -IDLE * 2  # when the current slice began (perf_counter seconds)
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._scheduled = False
        # CPU seconds per item, measured on each batch (a cautious pacer starts at its bound)
        self._cost = max_cost if cautious else min(0.0002, max_cost)
        self._batch = 0  # starts let through by the last tick
        self._mark = 0.0  # thread CPU time when they were let through

    async def turn(self) -> None:
        """Return when this request may start its work."""
        now = time.perf_counter()
        if not self._waiting:
            if now - self._start > IDLE:
                self._start = now
                return
            if now - self._start < BUDGET:
                return
        fut = self._loop.create_future()
        self._waiting.append(fut)
        if not self._scheduled:
            self._scheduled = True
            self._batch = 0
            self._loop.call_soon(self._tick)
        await fut

    def _tick(self) -> None:
        """Once per iteration while requests wait: measure the last batch (its tasks ran just
        before this callback), then let the next batch through."""
        if self._batch:
            cost = (time.thread_time() - self._mark) / self._batch
            w = self._rise if cost > self._cost else 0.5
            self._cost = min(self._max_cost, max(MIN_COST, (1 - w) * self._cost + w * cost))
        self._start = time.perf_counter()
        n = 0
        limit = max(1, int(BUDGET / self._cost))
        while self._waiting and n < limit:
            fut = self._waiting.popleft()
            if not fut.done():  # a cancelled caller left its place
                fut.set_result(None)
                n += 1
        self._batch = n
        self._mark = time.thread_time()
        if self._waiting or n:
            # runs after this batch's tasks in the next iteration (they were scheduled first)
            self._loop.call_soon(self._tick)
        else:
            self._scheduled = False


_pacers: dict[tuple[asyncio.AbstractEventLoop, bool], Pacer] = {}


def _get(sends: bool) -> Pacer:
    loop = asyncio.get_running_loop()
    p = _pacers.get((loop, sends))
    if p is None:
        if len(_pacers) > 16:  # loops that ended (tests start many): forget them
            for old in [k for k in _pacers if k[0].is_closed()]:
                del _pacers[old]
        p = Pacer(loop, max_cost=SEND_MAX_COST, cautious=True) if sends else Pacer(loop)
        _pacers[loop, sends] = p
    return p


def pacer() -> Pacer:
    """The running loop's pacer of request starts."""
    return _get(False)


def send_pacer() -> Pacer:
    """The running loop's pacer of sends: when a rate-limit window opens, the requests it
    releases write to the wire a few per iteration, not all in one."""
    return _get(True)
