"""``RateLimiter``: FIFO queues per bucket, the global window and the invalid-request guard,
cancellation-safe, on top of any ``RateLimitStore``."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import InvalidRequestLimitError
from ..routes import Route
from .base import BucketInfo, RateLimitStore
from .permit import Permit
from .planning import RETRY_POLL, GlobalPlanning
from .queues import Queueing, _global_wake, _major_wake, _Queue, _Recalled

__all__ = ["Permit", "RateLimiter"]

log = logging.getLogger("asgi_interactions.rest.ratelimit")
T = TypeVar("T")


class RateLimiter(GlobalPlanning, Queueing):
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
        while True:
            bucket_key, ticket = await self._bucket_permit(route, qkey, order, max_wait, global_key)
            if global_key is None:
                return Permit(self, route, bucket_key, ticket, None, None)
            try:
                slot = await self._global_slot(route, qkey, order, max_wait, global_key)
            except _Recalled as recalled:
                # an earlier request of this bucket is to be retried and needs the permit
                taken = recalled.granted if isinstance(recalled.granted, str) else None
                await self._store_call(self._give_back(bucket_key, major, global_key, taken))
                continue  # queue for a bucket permit again, behind it
            except BaseException:
                self._spawn(self._refund_bucket(bucket_key, major))
                raise
            return Permit(self, route, bucket_key, ticket, global_key, slot)

    async def _bucket_permit(
        self, route: Route, qkey: str, order: float, max_wait: float, global_key: str | None
    ) -> tuple[str, int]:
        """Wait for a permit of the request's bucket, in its queue: ``(bucket key, ticket)``."""
        route_key, major = route.bucket_route, route.major
        store = self.store
        if store.sync and qkey not in self._queues:
            # fast path: nobody queued in this bucket, an in-process store answers at once
            key, ticket, _ = store.acquire_sync(route_key, major)
            if ticket is not None:
                return key, ticket

        async def take_bucket() -> tuple[tuple[str, int] | None, float, str]:
            key, ticket, wait = await self._store_call(
                store.bucket_acquire(route_key, major),
                on_cancel=lambda r: (
                    self._spawn(self._refund_bucket(r[0], major)) if r[1] is not None else None
                ),
            )
            if ticket is None and self._retrying and order in self._retrying.get(qkey, ()):
                # a retry: later requests of its bucket may hold the permits it needs
                self._recall(qkey, order)
            return ((key, ticket) if ticket is not None else None), wait, key

        return await self._through(
            qkey,
            take_bucket,
            order=order,
            max_wait=max_wait,
            what=route.display,
            also_wake=_major_wake(major),
            pool=global_key,
        )

    async def _global_slot(
        self, route: Route, qkey: str, order: float, max_wait: float, gkey: str
    ) -> str:
        """Wait for a slot in the global pool ``gkey`` (the request holds its bucket permit).

        Raises ``_Recalled`` if an earlier request of its bucket, to be retried, needs that
        permit back.
        """
        route_key, major = route.bucket_route, route.major
        store = self.store
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
                if slot is not None:
                    return slot

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
                    self._spawn(self._refund_global(gkey, r[0])) if r[0] is not None else None
                ),
            )
            return slot, wait, gwake

        return await self._through(
            gwake,
            take_global,
            order=-chain,  # the longest chain of requests behind first, then FIFO
            max_wait=max_wait,
            what="global limit",
            bucket=(route_key, major, qkey),
            seq=order,
        )

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
    async def _refund_bucket(self, bucket_key: str, major: str) -> None:
        try:
            await self.store.bucket_refund(bucket_key)
        finally:
            self._notify(bucket_key)
            self._notify(_major_wake(major))

    async def _give_back(
        self, bucket_key: str, major: str, global_key: str, slot: str | None
    ) -> None:
        """A recalled request's bucket permit, and the global slot it may have just taken."""
        try:
            if slot is not None:
                await self._refund_global(global_key, slot)
        finally:
            await self._refund_bucket(bucket_key, major)

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
