"""The global window's planning: which queued request takes the next global slot (the longest
bucket chain first, retries before later requests of their bucket), and when a slot must be kept
for a longer chain."""

from __future__ import annotations

import asyncio
import itertools
import math

from .base import RateLimitStore
from .permit import Permit
from .queues import _Queue, _rank, _resolve

#: How many queues the global planning looks at per grant (bounds its cost under large backlogs).
PLAN_SCAN = 32
#: Seconds between checks while every request in front waits for a retry of its bucket.
RETRY_POLL = 0.005


class GlobalPlanning:
    """The planning half of ``RateLimiter`` (needs an in-process store's ``*_sync`` methods)."""

    store: RateLimitStore
    global_limit: int
    global_window: float
    _queues: dict[str, _Queue]
    #: per bucket queue key: {order of a request about to be retried: until when it counts}
    _retrying: dict[str, dict[float, float]]

    def note_retry(self, permit: Permit, within: float = 30.0) -> None:
        """``permit``'s request will be sent again: until it has its permits back (or ``within``
        seconds pass), later requests of its bucket wait behind it for the global limit too."""
        route = permit.route
        qkey = f"{route.bucket_route}\x00{route.major}"
        loop = asyncio.get_running_loop()
        self._retrying.setdefault(qkey, {})[permit.order] = loop.time() + within

    def _retry_done(self, qkey: str, order: float) -> None:
        pending = self._retrying.get(qkey)
        if pending is None or pending.pop(order, None) is None:
            return
        if not pending:
            del self._retrying[qkey]
        if self.store.sync:
            self._rank_again(qkey)

    def _rank_again(self, qkey: str) -> None:
        """Give the requests of bucket queue ``qkey`` that ``_rank_global`` put last in a global
        queue (an earlier request of their bucket was to be retried) their rank back, wherever
        they are now: others may have pushed them out of the front that is re-ranked, and a
        later request of their bucket would then take a global slot before them."""
        for gkey, gq in self._queues.items():
            if not gkey.startswith("\x01"):
                continue  # a bucket queue
            held = [
                x
                for x in gq.waiters
                if x.order == math.inf
                and x.bucket is not None
                and x.bucket[2] == qkey
                and not self._behind_retry(qkey, x.seq)
            ]
            if not held:
                continue
            bucket = held[0].bucket
            assert bucket is not None
            chain = -self._chain(*bucket)
            head = gq.waiters[0]
            for x in held:
                gq.waiters.remove(x)
                x.order = chain
                i = len(gq.waiters)
                while i > 0 and _rank(gq.waiters[i - 1]) > _rank(x):
                    i -= 1
                gq.waiters.insert(i, x)
            if gq.waiters[0] is not head and gq.sleeping is not None:
                _resolve(gq.sleeping)  # the head yields its place

    def _behind_retry(self, qkey: str, order: float) -> bool:
        """Whether an earlier request of this bucket is about to be retried."""
        pending = self._retrying.get(qkey)
        if not pending:
            return False
        now = asyncio.get_running_loop().time()
        for o, until in list(pending.items()):
            if until < now:
                del pending[o]
            elif o < order:
                return True
        if not pending:
            del self._retrying[qkey]
        return False

    def _chain(self, route_key: str, major: str, qkey: str) -> float:
        """Seconds this request and those queued behind it need in its bucket (by its learned
        limit and window): the longer, the sooner it should have a global slot.

        A bucket whose limit is unknown, with requests queued behind its probe, ranks first
        (``inf``): the probe's answer tells how long that chain is, and ranked last it would
        wait for every known bucket's backlog (a retried probe lost whole windows that way).
        Alone in its bucket, an unknown request has no chain (0).
        """
        store = self.store
        q = self._queues.get(qkey)
        behind = len(q.waiters) if q is not None else 0
        shape = store.shape_sync(route_key, major)
        if shape is None:
            return math.inf if behind and store.probing_sync(route_key, major) else 0.0
        limit, window, _ = shape
        return _chain_of(1 + behind, limit, window)

    def _rank_global(self, gwake: str) -> float | None:
        """Re-rank the global queue by each request's chain now (they shorten as buckets
        drain): the head's chain, or ``None`` if another request is now ahead of it
        (``-inf``: every request in front waits for an earlier one of its bucket to be retried).
        """
        q = self._queues[gwake]
        head = q.waiters[0]
        retrying = bool(self._retrying)
        if len(q.waiters) > 1 or retrying:
            # only the front of a long queue (ranks go stale there first; bounded work per grant)
            front = q.waiters[:PLAN_SCAN]
            chains: dict[str, float] = {}
            for x in front:
                if x.bucket is not None:
                    c = chains.get(x.bucket[2])
                    if c is None:
                        c = chains[x.bucket[2]] = self._chain(*x.bucket)
                    x.order = -c
                    if retrying and self._behind_retry(x.bucket[2], x.seq):
                        x.order = math.inf  # an earlier request of its bucket goes first
            front.sort(key=_rank)
            q.waiters[: len(front)] = front
        return -head.order if q.waiters[0] is head else None

    def _plan_allows(self, global_key: str, chain: float) -> tuple[bool, float]:
        """Whether a request whose bucket needs ``chain`` seconds for it and those queued behind
        it may take a global slot now, and if not, how long to hold off.

        The global window is a sliding one: a slot taken now stays taken a whole window. So a
        slot is kept for each request that a bucket with a longer chain will be able to send
        within the window (its permits come in batches of its limit, one window of its own
        apart), unless a slot frees in time for it. Otherwise a burst of short-chain requests
        would fill the window and delay every step of a long chain by up to a window.
        """
        store = self.store
        longer: list[tuple[int, int, float, float]] = []  # (queued, limit, window, ready)
        # the oldest PLAN_SCAN queues only: bounded work per grant however many buckets wait
        for qkey, q in itertools.islice(self._queues.items(), PLAN_SCAN):
            n = len(q.waiters)
            if n == 0 or qkey.startswith("\x01") or q.pool != global_key:
                continue  # empty, a global queue, or a bucket whose requests use another pool
            route_key, _, major = qkey.partition("\x00")
            shape = store.shape_sync(route_key, major)
            if shape is None or shape[2] is None:
                continue
            limit, window, ready = shape[0], shape[1], shape[2]
            limit = max(limit, 1)
            if _chain_of(n, limit, window) > chain:
                longer.append((n, limit, window, ready))
        if not longer:
            return True, 0.0
        free, now = store.global_outlook_sync(global_key, self.global_limit)
        if free <= 0:
            return True, 0.0  # the store itself says how long to wait
        horizon = now + self.global_window
        due: list[float] = []
        for n, limit, window, t in longer:
            while n > 0 and t <= horizon and len(due) < 4 * self.global_limit:
                due.extend([t] * min(limit, n))
                n -= limit
                t += window
        if len(due) < free:
            return True, 0.0
        due.sort()
        frees = store.global_frees_sync(global_key, horizon)
        slack = free - 1  # after this request takes one
        i = 0
        for t in due:
            while i < len(frees) and frees[i] <= t:
                slack += 1
                i += 1
            slack -= 1
            if slack < 0:
                nxt = frees[0] if frees else horizon
                return False, max(min(nxt, due[0] + 0.01) - now, 0.001)
        return True, 0.0


def _chain_of(n: int, limit: int, window: float) -> float:
    """Seconds a bucket of ``limit`` per ``window`` needs after the first of ``n`` requests
    goes, plus a thousandth of its window (a known bucket ranks above an unknown one)."""
    return (-(-n // max(limit, 1)) - 1 + 0.001) * window
