"""The in-process rate-limit store, and ``MemoryRateLimiter`` built on it (the default).

The Redis store runs these same bucket rules on state it loads from Redis (one channel's
buckets at a time), so the two stores decide alike.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .base import BucketInfo, RateLimitStore
from .limiter import RateLimiter

__all__ = ["ABANDON_HOLD", "MemoryRateLimiter", "MemoryStore"]

#: Seconds a still-unknown bucket stays closed after a request whose answer never came.
ABANDON_HOLD = 1.0


@dataclass(slots=True)
class _Bucket:
    """One bucket's estimate: ``avail`` is a lower bound on free slots (see ``bucket_update``)."""

    limit: int | None = None  # None: not learned yet (one probe in flight at a time)
    unlimited: bool = False  # answers carried no rate-limit headers
    avail: int = 0
    reset_at: float = 0.0  # when the oldest slot of the adopted snapshot frees
    reset_used: bool = False  # that freed slot was already granted
    window: float = 0.0  # longest Reset-After seen: a lower bound on the window length
    sent: int = 0  # permits granted, ever
    answered: int = 0  # permits finished (answered, abandoned or refunded), ever
    last_send: float = 0.0
    blocked_until: float = 0.0
    snap: float = 0.0  # server time (epoch) of the adopted snapshot
    reset_id: float = 0.0  # server time (epoch) at which the last refill's slot freed
    basis: int = -1  # ``sent`` when the newest snapshot was adopted (-1: avail has another basis)
    held: int = 0  # unknown-route probes subtracted from ``avail`` in case they land here


#: Seconds added to every Reset-After: Discord rounds it to the millisecond (maybe down).
ROUNDING = 0.001
#: Two Reset values closer than this may name the same slot (millisecond rounding).
SAME_SLOT = 0.002
#: A ticket packs the request's sequence number and the answered count when it was sent.
TICKET = 1 << 24


def unpack_ticket(ticket: int, answered_now: int) -> tuple[int, int]:
    """``(sequence number, answered count at send)`` from a ticket."""
    seq, low = divmod(ticket, TICKET)
    return seq, answered_now - ((answered_now - low) % TICKET)


@dataclass(slots=True)
class _Global:
    pending: set[str]
    expiries: list[float]  # heap of times at which answered slots stop counting
    blocked_until: float = 0.0


class MemoryStore(RateLimitStore):
    """Rate-limit state in this process's memory.

    Bucket rule: each answer gives a snapshot "``remaining`` free at the server when it handled
    the request". Every request that was in flight alongside it may have been handled after it,
    so ``remaining - others`` is a lower bound on what is free now; later sends subtract from it.
    When the snapshot's ``reset_after`` passes, one slot (the oldest) is known to be free: one
    probe goes out and its answer tells the rest. This holds for sliding and fixed windows alike.
    """

    sync = True

    def __init__(
        self,
        *,
        idle_ttl: float = 60.0,
        stale_after: float = 120.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        #: The store's clock (monotonic seconds unless ``clock`` is given).
        self.now: Callable[[], float] = clock if clock is not None else time.monotonic
        self.idle_ttl = idle_ttl
        self.stale_after = stale_after
        self._buckets: dict[str, _Bucket] = {}
        self._routes: dict[str, str] = {}
        # requests in flight on buckets whose hash is not known yet, per major parameters: any
        # of them may turn out to share a bucket with a route whose hash we know
        self._unnamed: dict[str, int] = {}
        # probes (requests on buckets whose limit is unknown) in flight, per major parameters:
        # major -> bucket key -> tickets; a route never probes twice at once on one major (once
        # under its route key, again under the hash it learned elsewhere meanwhile)
        self._probes: dict[str, dict[str, list[int]]] = {}
        self._globals: dict[str, _Global] = {}
        self._invalid: deque[float] = deque()
        self._ids = itertools.count()
        self._next_sweep = 0.0

    # -------------------------------------------------------------- buckets

    def _key(self, route_key: str, major: str) -> str:
        bucket = self._routes.get(route_key)
        return f"b:{bucket}:{major}" if bucket is not None else f"r:{route_key}:{major}"

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + min(self.idle_ttl, 10.0)
        for key, b in list(self._buckets.items()):
            idle_since = max(b.reset_at, b.last_send + b.window, b.blocked_until)
            if b.sent == b.answered and now > idle_since + self.idle_ttl:
                del self._buckets[key]
        for key, g in list(self._globals.items()):
            while g.expiries and g.expiries[0] <= now:
                heapq.heappop(g.expiries)
            if not g.pending and not g.expiries and now > g.blocked_until:
                del self._globals[key]

    def acquire_sync(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        """``bucket_acquire`` without the coroutine (this store never waits)."""
        now = self.now()
        if now >= self._next_sweep:
            self._sweep(now)
        key = self._key(route_key, major)
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket()
        if now < b.blocked_until:
            return key, None, b.blocked_until - now
        if b.sent > b.answered and now - b.last_send > self.stale_after:
            self._unnamed_done(key, major, b.sent - b.answered)
            if key.startswith("r:"):
                for _ in range(b.sent - b.answered):
                    self._release(None, major)
            self._probes.get(major, {}).pop(key, None)
            if self._probes.get(major) == {}:
                del self._probes[major]
            b.answered = b.sent  # answers that never came: stop waiting for them
        inflight = b.sent - b.answered
        if b.reset_used and inflight == 0 and now >= b.last_send + b.window + 1.0:
            b.reset_used = False  # all our requests have left the window: probe again
            b.avail = max(b.avail, 0)
        granted = False
        wait = math.inf
        if b.unlimited:
            granted = True
        elif b.limit is None:
            granted = inflight == 0 and self._probe_ok(key, route_key, major)
        elif b.avail > 0:
            b.avail -= 1
            granted = True
        elif not b.reset_used:
            # below zero, the deficit is ours (stale once all our requests are answered) or
            # slots held for unknown routes' requests that may still land here
            if now >= b.reset_at and (b.avail == 0 or (inflight == 0 and b.held == 0)):
                b.avail = 0
                b.reset_used = True
                granted = True
            elif now < b.reset_at:
                wait = b.reset_at - now
        if not granted:
            return key, None, wait
        ticket = b.sent * TICKET + b.answered % TICKET
        b.sent += 1
        b.last_send = now
        if key.startswith("r:"):
            self._unnamed[major] = self._unnamed.get(major, 0) + 1
            self._hold(key, major)
        if b.limit is None and not b.unlimited:
            self._probes.setdefault(major, {}).setdefault(key, []).append(ticket)
        return key, ticket, 0.0

    def _named(self, major: str) -> list[tuple[str, _Bucket]]:
        """Buckets of ``major`` whose hash and limit are known (probes on unknown routes are
        rare: a scan is cheaper than an index kept on every request)."""
        suffix = ":" + major
        return [
            (k, b)
            for k, b in self._buckets.items()
            if k.startswith("b:") and k.endswith(suffix) and b.limit is not None
        ]

    def _hold(self, key: str, major: str) -> None:
        """A request on an unknown route may land in any bucket of its major parameters: take
        one slot from each that has one, until its answer names the bucket."""
        for _, ob in self._named(major):
            if not ob.unlimited and ob.avail > 0:
                ob.avail -= 1
                ob.held += 1

    def _release(self, landed: str | None, major: str) -> None:
        """An unknown route's request was answered: it landed in ``landed`` (``None``: no hash
        named, so nothing comes back; ``""``: never sent), and every other bucket gets back the
        slot it held for it."""
        for k, ob in self._named(major):
            if ob.held > 0:
                ob.held -= 1
                if landed is not None and k != landed:
                    ob.avail += 1

    def _probe_ok(self, key: str, route_key: str, major: str) -> bool:
        """Whether a probe on ``key`` may go while other probes on ``major`` are in flight.

        A route learns its hash from any major parameters; until its own first request here is
        answered, that request may already be in the bucket ``key`` names: the two must not be
        probes side by side. (Probes of different routes do go together, as before their hashes
        are known they are counted against each other's estimates and held slots.)
        """
        others = self._probes.get(major)
        if not others or not key.startswith("b:"):
            return True
        return f"r:{route_key}:{major}" not in others

    def _probe_done(self, key: str, major: str, ticket: int | None) -> None:
        """Forget an answered, abandoned or refunded probe (``ticket=None``: any one of key's)."""
        per_major = self._probes.get(major)
        tickets = per_major.get(key) if per_major is not None else None
        if per_major is None or not tickets:
            return
        if ticket is None:
            tickets.pop()
        elif ticket in tickets:
            tickets.remove(ticket)
        else:
            return
        if not tickets:
            del per_major[key]
            if not per_major:
                del self._probes[major]

    def _unnamed_done(self, key: str, major: str, n: int = 1) -> None:
        if key.startswith("r:") and major in self._unnamed:
            left = self._unnamed[major] - n
            if left > 0:
                self._unnamed[major] = left
            else:
                del self._unnamed[major]

    def update_sync(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        """``bucket_update`` without the coroutine."""
        now = self.now()
        self._probe_done(key, major, ticket)
        b = self._buckets.get(key)
        seq, sent_after = 0, 0
        if b is not None:
            seq, answered_at_send = unpack_ticket(ticket, b.answered)
            sent_after = b.sent - answered_at_send - 1  # others, counted by tickets
        if b is not None and b.answered < b.sent:
            b.answered += 1
            self._unnamed_done(key, major)
        if key.startswith("r:") and (info is None or info.limit is None):
            self._release(None, major)  # where it landed stays unknown: keep the slots taken
        if info is None:  # no answer: it may still have used a slot
            if b is not None and b.limit is None and not b.unlimited:
                b.blocked_until = max(b.blocked_until, now + ABANDON_HOLD)
            elif b is not None and b.limit is not None and b.reset_used and b.sent == b.answered:
                b.reset_at = max(b.reset_at, now + b.window)
                b.reset_used = False
            return
        if info.limit is None:
            if b is not None and b.limit is None and not info.limited and not info.block:
                b.unlimited = True
            if info.block:
                if b is None:
                    b = self._buckets[key] = _Bucket()
                b.blocked_until = max(b.blocked_until, now + info.block)
            return
        target = key
        if info.bucket is not None:
            self._routes[route_key] = info.bucket
            target = f"b:{info.bucket}:{major}"
        others: int | None = None  # requests that may have been handled after this one
        if target != key:
            t = self._buckets.get(target)
            if t is None and b is not None:
                self._buckets[target] = t = b  # the provisional bucket becomes the named one
                del self._buckets[key]
                others = sent_after
            elif t is None:
                t = self._buckets[target] = _Bucket()
                others = 0
            else:  # counted in a bucket whose counters did not include this request
                if b is not None and b.sent == b.answered:
                    self._buckets.pop(key, None)
            b = t
        elif b is None:
            b = self._buckets[key] = _Bucket()
            others = 0
        else:
            others = sent_after
        own = target == key or others is not None  # this request was counted in ``b``
        if key.startswith("r:"):
            self._release(target if info.bucket is not None else None, major)
        reset_after = max(0.0, info.reset_after)
        # The server's own time for this snapshot (Reset - Reset-After): the newest snapshot has
        # seen every request already answered, so only those still in flight can come after it.
        served = None if info.reset is None else info.reset - reset_after
        # (strictly later than any snapshot seen, beyond the millisecond rounding of the headers)
        newest = served is not None and served > b.snap + SAME_SLOT
        if newest:
            others = b.sent - b.answered
        unnamed = self._unnamed.get(major, 0)
        estimate = None if others is None else info.remaining - max(0, others) - unnamed
        fresh = b.limit is None or b.unlimited
        if info.limited or fresh:
            if estimate is None:
                estimate = min(0, info.remaining - (b.sent - b.answered) - unnamed)
            b.avail = estimate
            b.held = unnamed
            b.basis = b.sent if newest else -1
            self._refill(b, now, reset_after, info.reset)
        elif estimate is not None and (estimate > b.avail or (estimate == b.avail and newest)):
            b.avail = estimate
            b.held = unnamed
            b.basis = b.sent if newest else -1
            # The refill belongs to the snapshot ``avail`` came from: an older snapshot's unused
            # refill may name a slot that had freed before this one was handled (this
            # ``remaining`` counts it already), so it must not be kept alongside. This
            # snapshot's oldest slot frees no later than the older one's (it is in this window),
            # so taking its refill loses nothing; only a refill already spent on that very slot
            # stays spent.
            if not (
                b.reset_used
                and info.reset is not None
                and abs(info.reset - b.reset_id) <= SAME_SLOT
            ):
                self._refill(b, now, reset_after, info.reset)
        elif newest:
            b.basis = -1
        elif own and served is not None and 0 <= seq < b.basis and served < b.snap - SAME_SLOT:
            # handled before the adopted snapshot, which counted it already, yet subtracted
            # it as still in flight: give that slot back
            b.avail += 1
        if newest and served is not None:
            b.snap = served
            # the oldest slot of the newest snapshot frees at Reset: one refill then, unless
            # that slot was already counted as a refill
            if (b.reset_used or now + reset_after < b.reset_at) and (
                info.reset is not None and info.reset > b.reset_id + SAME_SLOT
            ):
                self._refill(b, now, reset_after, info.reset)
        b.limit = info.limit
        b.unlimited = False
        b.window = max(b.window, reset_after)
        if info.block:
            b.blocked_until = max(b.blocked_until, now + info.block)

    @staticmethod
    def _refill(b: _Bucket, now: float, reset_after: float, reset: float | None) -> None:
        # Reset-After comes rounded to the millisecond, possibly down: wait out the rounding
        b.reset_at = now + reset_after + ROUNDING
        b.reset_used = False
        if reset is not None:
            b.reset_id = reset

    def refund_sync(self, key: str) -> None:
        """``bucket_refund`` without the coroutine."""
        b = self._buckets.get(key)
        if b is None or b.answered >= b.sent:
            return
        b.answered += 1
        major = key.rsplit(":", 1)[-1]
        self._unnamed_done(key, major)
        self._probe_done(key, major, None)
        if key.startswith("r:"):
            self._release("", major)  # never sent: every held slot comes back
        if b.limit is not None and not b.unlimited:
            if b.reset_used and b.avail == 0:
                b.reset_used = False
            else:
                b.avail += 1

    def shape_sync(self, route_key: str, major: str) -> tuple[int, float, float | None] | None:
        """``RateLimitStore.shape_sync``: from the bucket's estimate."""
        b = self._buckets.get(self._key(route_key, major))
        if b is None or b.limit is None or b.unlimited or b.window <= 0:
            return None
        now = self.now()
        ready: float
        if now < b.blocked_until:
            ready = b.blocked_until
        elif b.avail > 0:
            ready = now
        elif not b.reset_used:
            ready = max(now, b.reset_at)
        else:  # waiting for answers: the slot of the last request sent frees a window later
            ready = max(now, b.last_send + b.window)
        return b.limit, b.window, ready

    def probing_sync(self, route_key: str, major: str) -> bool:
        """``RateLimitStore.probing_sync``."""
        b = self._buckets.get(self._key(route_key, major))
        return b is None or (b.limit is None and not b.unlimited)

    def global_outlook_sync(self, key: str, limit: int) -> tuple[int, float]:
        """``RateLimitStore.global_outlook_sync``."""
        now = self.now()
        g = self._globals.get(key)
        if g is None:
            return limit, now
        while g.expiries and g.expiries[0] <= now:
            heapq.heappop(g.expiries)
        if now < g.blocked_until:
            return 0, now
        return limit - len(g.pending) - len(g.expiries), now

    def global_frees_sync(self, key: str, until: float) -> list[float]:
        """``RateLimitStore.global_frees_sync``."""
        g = self._globals.get(key)
        return [] if g is None else sorted(e for e in g.expiries if e <= until)

    async def bucket_acquire(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        return self.acquire_sync(route_key, major)

    async def bucket_update(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        self.update_sync(key, route_key, major, ticket, info)

    async def bucket_refund(self, key: str) -> None:
        self.refund_sync(key)

    async def bucket_block(self, key: str, seconds: float) -> None:
        self.block_sync(key, seconds)

    def block_sync(self, key: str, seconds: float) -> None:
        """``bucket_block`` without the coroutine."""
        b = self._buckets.setdefault(key, _Bucket())
        b.blocked_until = max(b.blocked_until, self.now() + seconds)

    # -------------------------------------------------------------- global

    def _global(self, key: str) -> _Global:
        g = self._globals.get(key)
        if g is None:
            g = self._globals[key] = _Global(set(), [])
        return g

    async def global_acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        return self.global_acquire_sync(key, limit, window)

    def global_acquire_sync(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        now = self.now()
        g = self._global(key)
        if now < g.blocked_until:
            return None, g.blocked_until - now
        while g.expiries and g.expiries[0] <= now:
            heapq.heappop(g.expiries)
        if len(g.pending) + len(g.expiries) < limit:
            slot = str(next(self._ids))
            g.pending.add(slot)
            return slot, 0.0
        return None, (g.expiries[0] - now) if g.expiries else math.inf

    async def global_release(self, key: str, slot: str, hold: float) -> None:
        self.global_release_sync(key, slot, hold)

    def global_release_sync(self, key: str, slot: str, hold: float) -> None:
        g = self._global(key)
        if slot in g.pending:
            g.pending.discard(slot)
            heapq.heappush(g.expiries, self.now() + hold)

    async def global_refund(self, key: str, slot: str) -> None:
        self._global(key).pending.discard(slot)

    async def global_block(self, key: str, seconds: float) -> None:
        g = self._global(key)
        g.blocked_until = max(g.blocked_until, self.now() + seconds)

    # -------------------------------------------------------------- invalid requests

    async def invalid_add(self, window: float) -> int:
        now = self.now()
        self._invalid.append(now)
        return await self.invalid_count(window)

    async def invalid_count(self, window: float) -> int:
        now = self.now()
        while self._invalid and self._invalid[0] <= now - window:
            self._invalid.popleft()
        return len(self._invalid)

    def __len__(self) -> int:
        """Buckets currently remembered (for tests of memory staying flat)."""
        return len(self._buckets)


class MemoryRateLimiter(RateLimiter):
    """Rate limiting within one process (the default). See ``RateLimiter`` for the options."""

    def __init__(self, *, idle_ttl: float = 60.0, **options: float) -> None:
        super().__init__(MemoryStore(idle_ttl=idle_ttl), **options)
