"""``RateLimiter``: FIFO queues per bucket, the global window and the invalid-request guard,
cancellation-safe, on top of any ``RateLimitStore``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ..errors import InvalidRequestLimitError, RateLimitedError
from ..routes import Route
from .base import BucketInfo, RateLimitStore

__all__ = ["Permit", "RateLimiter"]

log = logging.getLogger("asgi_interactions.rest.ratelimit")
T = TypeVar("T")
#: How many queues the global planning looks at per grant (bounds its cost under large backlogs).
PLAN_SCAN = 32
#: Seconds between checks while every request in front waits for a retry of its bucket.
RETRY_POLL = 0.005


class _Waiter:
    """One caller in a queue; ``turn`` resolves when it may talk to the store."""

    __slots__ = ("bucket", "order", "seq", "turn")

    def __init__(
        self, order: float, bucket: tuple[str, str, str] | None = None, seq: float = 0.0
    ) -> None:
        self.order = order
        #: the request's issue order: breaks ties in the global queue, so that requests of one
        #: bucket (equal chains) take global slots in the order they were issued, retries first
        self.seq = seq
        #: in the global queue: (route key, major, bucket queue key) of the request's bucket
        self.bucket = bucket
        self.turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class _Queue:
    """Waiters for one bucket, served in the order their requests began, or for the global
    window, served longest bucket chain first (see ``RateLimiter._plan_allows``), then in order.

    Only the head (``active``) asks the store for a permit. A retry keeps its request's place, so
    it re-enters ahead of later requests and takes the head's place if the head has not been
    granted yet.
    """

    __slots__ = ("active", "pool", "sleeping", "waiters")

    def __init__(self) -> None:
        self.waiters: list[_Waiter] = []
        self.active: _Waiter | None = None
        self.sleeping: asyncio.Future[None] | None = None
        #: a bucket queue's global pool (its requests' ``global_key``; ``None``: exempt)
        self.pool: str | None = None


class Permit:
    """Leave to send one request: a bucket permit and, unless exempt, a global slot.

    Exactly one of ``complete`` (an answer came), ``abandon`` (it may have reached Discord, no
    answer) or ``refund`` (provably never sent) must be called; later calls are ignored.
    """

    __slots__ = (
        "_done",
        "_limiter",
        "bucket_key",
        "global_key",
        "global_slot",
        "order",
        "route",
        "ticket",
    )

    def __init__(
        self,
        limiter: RateLimiter,
        route: Route,
        bucket_key: str,
        ticket: int,
        global_key: str | None,
        global_slot: str | None,
    ) -> None:
        self._limiter = limiter
        self.route = route
        self.bucket_key = bucket_key
        self.ticket = ticket
        self.global_key = global_key
        self.global_slot = global_slot
        self.order = 0.0  # the request's place (set by ``acquire``)
        self._done = False

    async def complete(self, info: BucketInfo | None) -> None:
        """Record the answer's bucket headers (``None``: an answer without usable headers)."""
        if self._done:
            return
        self._done = True
        limiter = self._limiter
        if limiter.store.sync:
            limiter._finish_sync(self, info)
        else:
            await limiter._store_call(limiter._finish(self, info, sent=True))

    def abandon(self) -> None:
        """The request may have reached Discord but its answer will not be read."""
        if not self._done:
            self._done = True
            self._limiter._spawn(self._limiter._finish(self, None, sent=True))

    def refund(self) -> None:
        """The request was never sent: give the permit back."""
        if not self._done:
            self._done = True
            self._limiter._spawn(self._limiter._finish(self, None, sent=False))


class RateLimiter:
    """Discord's rate limits for one or more ``RestClient`` objects sharing a store.

    Options: ``global_limit`` requests per ``global_window`` seconds per token (50/1 s);
    ``invalid_limit`` 401/403/429 answers per ``invalid_window`` seconds before refusing to send
    (1,000 per 10 minutes, a tenth of Discord's ban threshold); ``poll_interval`` how often a
    waiter re-checks a shared store for answers other processes received.
    """

    def __init__(
        self,
        store: RateLimitStore,
        *,
        global_limit: float = 50,
        global_window: float = 1.0,
        invalid_limit: float = 1000,
        invalid_window: float = 600.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.store = store
        self.global_limit = int(global_limit)
        self.global_window = global_window
        self.invalid_limit = int(invalid_limit)
        self.invalid_window = invalid_window
        self.poll_interval = poll_interval
        self._queues: dict[str, _Queue] = {}
        self._sleepers: dict[str, set[asyncio.Future[None]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._invalid_local = 0
        self._orders = itertools.count(1 << 60)  # after any order a client hands in
        # per bucket queue key: {order of a request about to be retried: until when it counts}
        self._retrying: dict[str, dict[float, float]] = {}

    # ---------------------------------------------------------------- public

    async def acquire(
        self, route: Route, global_key: str | None, *, order: float | None = None, max_wait: float
    ) -> Permit:
        """Wait for leave to send ``route``'s request (FIFO within its bucket).

        ``global_key`` names the token's global window (``None``: exempt). ``order`` (default:
        now) ranks the request in its bucket's queue; a retry passes its first ``order`` to keep
        its place. Raises ``RateLimitedError`` if the wait would exceed ``max_wait`` and
        ``InvalidRequestLimitError`` if the invalid-request budget is spent.
        """
        if order is None:
            order = next(self._orders)
        try:
            permit = await self._acquire(route, global_key, order, max_wait)
        finally:
            if self._retrying:
                self._retry_done(f"{route.bucket_route}\x00{route.major}", order)
        permit.order = order
        return permit

    def note_retry(self, permit: Permit, within: float = 30.0) -> None:
        """``permit``'s request will be sent again: until it has its permits back (or ``within``
        seconds pass), later requests of its bucket wait behind it for the global limit too."""
        route = permit.route
        qkey = f"{route.bucket_route}\x00{route.major}"
        loop = asyncio.get_running_loop()
        self._retrying.setdefault(qkey, {})[permit.order] = loop.time() + within

    def _retry_done(self, qkey: str, order: float) -> None:
        pending = self._retrying.get(qkey)
        if pending is not None and pending.pop(order, None) is not None and not pending:
            del self._retrying[qkey]

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

    async def _acquire(
        self, route: Route, global_key: str | None, order: float, max_wait: float
    ) -> Permit:
        if self._invalid_local >= self.invalid_limit:
            count = await self._store_call(self.store.invalid_count(self.invalid_window))
            self._invalid_local = count
            if count >= self.invalid_limit:
                raise InvalidRequestLimitError(
                    f"refusing to send {route.display}: {count} requests got 401/403/429 in the "
                    f"last {self.invalid_window:.0f} s (limit {self.invalid_limit})"
                )
        route_key, major = route.bucket_route, route.major
        qkey = f"{route_key}\x00{major}"
        store = self.store
        granted: tuple[str, int] | None = None
        if store.sync and qkey not in self._queues:
            # fast path: nobody queued in this bucket, an in-process store answers at once
            key, ticket, _ = store.acquire_sync(route_key, major)
            if ticket is not None:
                granted = key, ticket
        if granted is None:

            async def take_bucket() -> tuple[tuple[str, int] | None, float, str]:
                key, ticket, wait = await self._store_call(
                    store.bucket_acquire(route_key, major),
                    on_cancel=lambda r: (
                        self._spawn(self._refund_bucket(r[0], major)) if r[1] is not None else None
                    ),
                )
                return ((key, ticket) if ticket is not None else None), wait, key

            granted = await self._through(
                qkey,
                take_bucket,
                order=order,
                max_wait=max_wait,
                what=route.display,
                also_wake=_major_wake(major),
                pool=global_key,
            )
        bucket_key, ticket = granted
        slot: str | None = None
        if global_key is not None:
            gkey = global_key
            gwake = _global_wake(gkey)
            chain = 0.0
            if store.sync:
                chain = self._chain(route_key, major, qkey)
                if (
                    gwake not in self._queues
                    and not (self._retrying and self._behind_retry(qkey, order))
                    and self._plan_allows(gkey, chain)[0]
                ):
                    slot, _ = store.global_acquire_sync(gkey, self.global_limit, self.global_window)
            if slot is None:

                async def take_global() -> tuple[str | None, float, str]:
                    if store.sync:
                        head = self._rank_global(gwake)
                        if head is None:
                            return None, 0.0, gwake  # another request goes first now
                        if head == -math.inf:
                            return None, RETRY_POLL, gwake
                        allowed, hold_off = self._plan_allows(gkey, head)
                        if not allowed:
                            return None, hold_off, gwake
                    slot, wait = await self._store_call(
                        store.global_acquire(gkey, self.global_limit, self.global_window),
                        on_cancel=lambda r: (
                            self._spawn(self._refund_global(gkey, r[0]))
                            if r[0] is not None
                            else None
                        ),
                    )
                    return slot, wait, gwake

                try:
                    slot = await self._through(
                        gwake,
                        take_global,
                        order=-chain,  # the longest chain of requests behind first, then FIFO
                        max_wait=max_wait,
                        what="global limit",
                        bucket=(route_key, major, qkey),
                        seq=order,
                    )
                except BaseException:
                    self._spawn(self._refund_bucket(bucket_key, major))
                    raise
        return Permit(self, route, bucket_key, ticket, global_key, slot)

    async def record_invalid(self) -> None:
        """Count one 401/403/non-shared 429 answer toward the invalid-request budget."""
        count = await self._store_call(self.store.invalid_add(self.invalid_window))
        self._invalid_local = count
        if count in (self.invalid_limit // 2, self.invalid_limit):
            log.warning(
                "%d requests answered 401/403/429 in the last %.0f s (limit %d)",
                count,
                self.invalid_window,
                self.invalid_limit,
            )

    async def block_bucket(self, permit: Permit, seconds: float) -> None:
        """Hold the permit's bucket closed for ``seconds`` (a shared-scope 429)."""
        await self._store_call(self.store.bucket_block(permit.bucket_key, seconds))

    async def hold_bucket(self, permit: Permit, seconds: float) -> None:
        """Hold the permit's bucket for ``seconds`` while its request waits to be retried (an
        edge error): the retry then goes first, and later requests wait no longer than that."""
        await self._store_call(self.store.bucket_block(permit.bucket_key, seconds))
        self._notify(permit.bucket_key)

    async def block_global(self, global_key: str, seconds: float) -> None:
        """Hold every non-exempt request of this token for ``seconds`` (a global 429)."""
        await self._store_call(self.store.global_block(global_key, seconds))

    async def aclose(self) -> None:
        """Let pending bookkeeping finish, then close the store."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self.store.aclose()

    # ---------------------------------------------------------------- internals

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

    async def _through(
        self,
        qkey: str,
        take: Callable[[], Awaitable[tuple[T | None, float, str]]],
        *,
        order: float,
        max_wait: float,
        what: str,
        also_wake: str | None = None,
        bucket: tuple[str, str, str] | None = None,
        seq: float | None = None,
        pool: str | None = None,
    ) -> T:
        """Queue in ``qkey`` and, once at the head, call ``take`` until it grants."""
        q = self._queues.get(qkey)
        if q is None:
            q = self._queues[qkey] = _Queue()
            q.pool = pool
        w = _Waiter(order, bucket, order if seq is None else seq)
        rank = _rank(w)
        i = len(q.waiters)
        while i > 0 and _rank(q.waiters[i - 1]) > rank:
            i -= 1
        q.waiters.insert(i, w)
        if i == 0 and q.sleeping is not None:
            _resolve(q.sleeping)  # the head yields its place to an earlier request
        if q.active is None and q.waiters[0] is w:
            w.turn.set_result(None)
        try:
            while True:
                await w.turn
                q.active = w
                while q.waiters[0] is w:
                    granted, wait, wake_key = await take()
                    if granted is not None:
                        return granted
                    if wait > max_wait and not math.isinf(wait):
                        raise RateLimitedError(
                            message=f"{what}: waiting {wait:.1f} s would exceed max_rate_limit",
                            retry_after=wait,
                        )
                    await self._sleep(q, wait, wake_key, also_wake)
                # a retry went ahead of us: wait for our turn again
                w.turn = asyncio.get_running_loop().create_future()
                q.active = None
                self._advance(qkey, q)
        finally:
            if q.active is w:
                q.active = None
            with contextlib.suppress(ValueError):
                q.waiters.remove(w)
            self._advance(qkey, q)

    async def _sleep(
        self, q: _Queue, wait: float, wake_key: str, also_wake: str | None = None
    ) -> None:
        """Sleep until ``wait`` passes or an answer in ``wake_key`` may have freed a permit.

        ``also_wake`` names the bucket's major parameters: any answer there may end a probe
        this bucket waits on (only one probe of unknown bucket runs per major parameters).
        """
        if math.isinf(wait) or self.store.shared:
            wait = min(wait, self.poll_interval if self.store.shared else 1.0)
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        q.sleeping = wake
        keys = (wake_key,) if also_wake is None else (wake_key, also_wake)
        for k in keys:
            self._sleepers.setdefault(k, set()).add(wake)
        handle = loop.call_later(max(wait, 0.0), _resolve, wake)
        try:
            await wake
        finally:
            handle.cancel()
            if q.sleeping is wake:
                q.sleeping = None
            for k in keys:
                sleepers = self._sleepers.get(k)
                if sleepers is not None:
                    sleepers.discard(wake)
                    if not sleepers:
                        del self._sleepers[k]

    def _advance(self, qkey: str, q: _Queue) -> None:
        if q.active is not None:
            return
        if q.waiters:
            _resolve(q.waiters[0].turn)
        elif self._queues.get(qkey) is q:
            del self._queues[qkey]

    def _notify(self, wake_key: str) -> None:
        for wake in list(self._sleepers.get(wake_key, ())):
            _resolve(wake)

    async def _refund_bucket(self, bucket_key: str, major: str) -> None:
        try:
            await self.store.bucket_refund(bucket_key)
        finally:
            self._notify(bucket_key)
            self._notify(_major_wake(major))

    async def _refund_global(self, global_key: str, slot: str) -> None:
        try:
            await self.store.global_refund(global_key, slot)
        finally:
            self._notify(_global_wake(global_key))

    def _finish_sync(self, permit: Permit, info: BucketInfo | None) -> None:
        """``_finish`` for an answered request on an in-process store, without a coroutine."""
        store, route = self.store, permit.route
        try:
            store.update_sync(
                permit.bucket_key, route.bucket_route, route.major, permit.ticket, info
            )
            if permit.global_key is not None and permit.global_slot is not None:
                store.global_release_sync(permit.global_key, permit.global_slot, self.global_window)
        finally:
            self._notify(permit.bucket_key)
            self._notify(_major_wake(route.major))
            if permit.global_key is not None:
                self._notify(_global_wake(permit.global_key))

    async def _finish(self, permit: Permit, info: BucketInfo | None, *, sent: bool) -> None:
        route = permit.route
        try:
            if sent:
                await self.store.bucket_update(
                    permit.bucket_key, route.bucket_route, route.major, permit.ticket, info
                )
            else:
                await self.store.bucket_refund(permit.bucket_key)
            if permit.global_key is not None and permit.global_slot is not None:
                if sent:
                    await self.store.global_release(
                        permit.global_key, permit.global_slot, self.global_window
                    )
                else:
                    await self.store.global_refund(permit.global_key, permit.global_slot)
        finally:
            self._notify(permit.bucket_key)
            self._notify(_major_wake(route.major))
            if permit.global_key is not None:
                self._notify(_global_wake(permit.global_key))

    async def _store_call(
        self, coro: Coroutine[Any, Any, T], on_cancel: Callable[[T], object] | None = None
    ) -> T:
        """Run a store operation to completion even if the caller is cancelled meanwhile.

        If the caller is cancelled, ``on_cancel`` receives the result once it is there (to give
        back a permit nobody will use).
        """
        if not self.store.shared:
            # the in-process store never suspends: nothing can interrupt it half-way
            return await coro
        task = asyncio.ensure_future(coro)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self._tasks.add(task)

            def done(t: asyncio.Task[T]) -> None:
                self._tasks.discard(t)
                if on_cancel is not None and not t.cancelled() and t.exception() is None:
                    on_cancel(t.result())

            task.add_done_callback(done)
            raise

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("rate-limit bookkeeping failed: %r", task.exception())


def _chain_of(n: int, limit: int, window: float) -> float:
    """Seconds a bucket of ``limit`` per ``window`` needs after the first of ``n`` requests
    goes, plus a thousandth of its window (a known bucket ranks above an unknown one)."""
    return (-(-n // max(limit, 1)) - 1 + 0.001) * window


def _rank(w: _Waiter) -> tuple[float, float]:
    return w.order, w.seq


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _major_wake(major: str) -> str:
    return f"\x02major:{major}"


def _global_wake(global_key: str) -> str:
    return f"\x01global:{global_key}"
