"""The limiter's queues: FIFO waiters per bucket (and per global pool), served one head at a
time, woken when an answer may have freed a permit."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import RateLimitedError
from .base import RateLimitStore

T = TypeVar("T")


class _Recalled(Exception):
    """A request waiting for a global slot was told to give its bucket permit back (an earlier
    request of its bucket, about to be retried, needs it). ``granted``: what ``take`` had
    granted meanwhile (to be given back too), if anything."""

    def __init__(self, granted: object = None) -> None:
        super().__init__()
        self.granted = granted


class _Waiter:
    """One caller in a queue; ``turn`` resolves when it may talk to the store."""

    __slots__ = ("bucket", "order", "recalled", "seq", "turn")

    def __init__(
        self, order: float, bucket: tuple[str, str, str] | None = None, seq: float = 0.0
    ) -> None:
        self.order = order
        #: the request's issue order: breaks ties in the global queue, so that requests of one
        #: bucket (equal chains) take global slots in the order they were issued, retries first
        self.seq = seq
        #: in the global queue: (route key, major, bucket queue key) of the request's bucket
        self.bucket = bucket
        #: set by ``Queueing._recall``: leave the queue (``_Recalled``) at the next step
        self.recalled = False
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


class Queueing:
    """The queueing half of ``RateLimiter``: ``_through`` a queue, sleeping until woken."""

    store: RateLimitStore
    poll_interval: float
    _queues: dict[str, _Queue]
    _sleepers: dict[str, set[asyncio.Future[None]]]

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
                if not w.recalled:
                    await w.turn
                if w.recalled:
                    raise _Recalled
                q.active = w
                while q.waiters[0] is w and not w.recalled:
                    granted, wait, wake_key = await take()
                    if w.recalled:
                        raise _Recalled(granted)
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

    def _recall(self, qkey: str, order: float) -> None:
        """Tell the requests of bucket queue ``qkey`` issued after ``order`` that hold its
        permits and wait for a global slot to give them back and queue for them again.

        Only a retry can be behind them (it keeps its first place); without this, when they
        held the bucket's last permits, the retry waited for the bucket's next window, and they
        waited behind the retry (or, with a shared store, went before it).
        """
        for gkey, gq in self._queues.items():
            if not gkey.startswith("\x01"):
                continue  # a bucket queue
            for x in gq.waiters:
                if x.recalled or x.bucket is None or x.bucket[2] != qkey or x.seq <= order:
                    continue
                x.recalled = True
                if gq.active is not x:
                    _resolve(x.turn)
                elif gq.sleeping is not None:
                    _resolve(gq.sleeping)

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


def _rank(w: _Waiter) -> tuple[float, float]:
    return w.order, w.seq


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _major_wake(major: str) -> str:
    return f"\x02major:{major}"


def _global_wake(global_key: str) -> str:
    return f"\x01global:{global_key}"
