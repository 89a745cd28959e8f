"""``RedisRateLimiter``: bucket state, the global window and the invalid-request budget in Redis,
shared by every worker and host that uses the same Redis (needs the ``redis`` extra).

Buckets: each channel's (major parameters') state is one JSON document. An operation reads it
with Redis's clock (``TIME``) in one script, runs ``MemoryStore``'s own rules on it, and writes it
back with a compare-and-set script (retrying if another process changed it meanwhile): the two
stores decide alike by construction, and hosts need no clock agreement. The global window and
the invalid-request count are one Lua script each. If Redis cannot be reached, the store falls
back to a local ``MemoryStore`` (with this worker's share of the global limit: the limit divided
by the workers last seen alive), logs it once, and returns to Redis when it answers again. What
could not be written meanwhile is not lost (``_Journal``): answers to requests Redis had counted
are written once it is back, and permits or global slots whose writes may have landed after a
timeout are given back, so every bucket's capacity returns within seconds of Redis recovering. If
Redis lost its state (restarted empty), there is nothing to give back and the journal is dropped.
Single-node Redis (or a primary): keys are built inside the scripts, so Redis Cluster is not
supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import BucketInfo, RateLimitStore
from .limiter import RateLimiter
from .memory import MemoryStore, _Bucket
from .redis_scripts import (
    _EPOCH,
    _GLOBAL_ACQUIRE,
    _GLOBAL_BLOCK,
    _GLOBAL_IMPORT,
    _GLOBAL_RELEASE,
    _INVALID,
    _MAJOR_READ,
    _MAJOR_WRITE,
    _OP_EXISTS,
)

__all__ = ["RedisRateLimiter", "RedisStore"]

log = logging.getLogger("asgi_interactions.rest.ratelimit.redis")
T = TypeVar("T")

_LOCAL = "m|"  # keys and slots handed out by the fallback store carry this prefix
#: Attempts at a compare-and-set before an operation gives up (each retry means another
#: process changed the same channel's state in the meantime): a permit is then asked for again
#: shortly; an answer is tried much harder for, as a lost one stays counted in flight until
#: ``stale_after``.
CAS_TRIES = 32
CAS_TRIES_ANSWER = 512
_FIELDS = tuple(f.name for f in fields(_Bucket))


#: A kept write: (kind, major or global key, route key or slot, the operation, op id or hold).
_Entry = tuple[str, str, str, Callable[[MemoryStore], object] | None, str]
#: Writes kept at most (the oldest go first): a long outage must not grow memory without bound.
JOURNAL_MAX = 100_000


class _Journal:
    """Writes that could not reach Redis, in order, to apply once it is back."""

    def __init__(self) -> None:
        self._entries: deque[_Entry] = deque(maxlen=JOURNAL_MAX)

    def add(self, entry: _Entry) -> None:
        self._entries.append(entry)

    def first(self) -> _Entry:
        return self._entries[0]

    def pop(self) -> None:
        self._entries.popleft()

    def clear(self) -> int:
        n = len(self._entries)
        self._entries.clear()
        return n

    def __len__(self) -> int:
        return len(self._entries)


def _major_of(key: str) -> str:
    return key.rsplit(":", 1)[-1]


def _view(
    state: str, major: str, route_key: str, known: str, now: float, idle: float, stale: float
) -> MemoryStore:
    """A ``MemoryStore`` on the clock ``now`` holding ``major``'s state and one learned hash."""
    view = MemoryStore(idle_ttl=idle, stale_after=stale, clock=lambda: now)
    if known:
        view._routes[route_key] = known
    if state:
        doc = json.loads(state)
        view._buckets = {k: _Bucket(*v) for k, v in doc["b"].items()}
        if doc["u"]:
            view._unnamed[major] = doc["u"]
        if doc["p"]:
            view._probes[major] = doc["p"]
    return view


def _dump(view: MemoryStore, major: str) -> str:
    """``view``'s state as stored (``""``: nothing worth keeping)."""
    if not view._buckets and not view._unnamed and not view._probes:
        return ""
    doc = {
        "b": {k: [getattr(b, f) for f in _FIELDS] for k, b in view._buckets.items()},
        "u": view._unnamed.get(major, 0),
        "p": view._probes.get(major, {}),
    }
    return json.dumps(doc, separators=(",", ":"))


def _ttl(view: MemoryStore, now: float, idle: float, stale: float) -> int:
    """Milliseconds ``view``'s state must outlive: its idle time, or a request in flight's."""
    keep = 1.0
    for b in view._buckets.values():
        keep = max(keep, max(b.reset_at, b.last_send + b.window, b.blocked_until) - now + idle)
        if b.sent > b.answered:
            keep = max(keep, b.last_send + stale + idle - now)
    return math.ceil(keep * 1000)


def _wait(value: Any) -> float:
    w = float(value.decode() if isinstance(value, bytes) else value)
    return math.inf if w < 0 else w


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore(RateLimitStore):
    """Rate-limit state in Redis, with a local fallback while Redis is unreachable."""

    shared = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "asgi_interactions:rl:",
        idle_ttl: float = 60.0,
        stale_after: float = 120.0,
        retry_interval: float = 2.0,
        socket_timeout: float = 1.0,
        client: aioredis.Redis | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.prefix = prefix
        self.clock = clock  # tests only: a virtual clock instead of Redis's ``TIME``
        self.idle_ttl = idle_ttl
        self.stale_after = stale_after
        self.retry_interval = retry_interval
        # One immediate retry on a broken connection: after a Redis restart every pooled
        # connection is stale once (every script is safe to run twice, see ``_MAJOR_WRITE``).
        self.redis: aioredis.Redis = client or aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self.local = MemoryStore(idle_ttl=idle_ttl, stale_after=stale_after)
        self._down_until = 0.0
        self._down = False
        #: workers that took global slots in the last 30 s, as Redis last said (this one too)
        self.workers = 1
        self._worker = uuid.uuid4().hex
        self._epoch: str | None = None
        self._journal = _Journal()
        self._recovering: asyncio.Task[None] | None = None
        r = self.redis
        self._read = r.register_script(_MAJOR_READ)
        self._write = r.register_script(_MAJOR_WRITE)
        self._gacquire = r.register_script(_GLOBAL_ACQUIRE)
        self._grelease = r.register_script(_GLOBAL_RELEASE)
        self._gblock = r.register_script(_GLOBAL_BLOCK)
        self._invalid = r.register_script(_INVALID)
        self._epoch_script = r.register_script(_EPOCH)
        self._op_exists = r.register_script(_OP_EXISTS)
        self._gimport = r.register_script(_GLOBAL_IMPORT)
        # global pools used locally since the last fallback began (their window, for import)
        self._local_pools: dict[str, float] = {}
        self._grace_until = 0.0
        self._window_seen = 1.0

    @property
    def available(self) -> bool:
        """False while the store is running on its local fallback."""
        return not self._down

    @property
    def pending(self) -> int:
        """Writes kept for when Redis is back (answers, and permits to give back)."""
        return len(self._journal)

    def _use_redis(self) -> bool:
        return not self._down or time.monotonic() >= self._down_until

    async def _call(self, script: Any, *args: Any) -> Any:
        """Run a script; ``None`` (and fallback mode) if Redis cannot be reached."""
        if not self._use_redis():
            return None
        try:
            result = await script(args=list(args))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self._down_until = time.monotonic() + self.retry_interval
            if not self._down:
                self._down = True
                log.warning(
                    "Redis unreachable (%s); rate limits are kept locally until it is back "
                    "(this worker takes 1/%d of the global limit)",
                    type(exc).__name__,
                    self.workers,
                )
            return None
        if self._down:
            self._down = False
            # other workers may still be on their local fallback for a while: keep to this
            # worker's share of the global limit until they must be back too
            self._grace_until = time.monotonic() + 2 * self.retry_interval + self._window_seen
            log.warning("Redis reachable again; rate limits are shared again")
        if (self._down is False and (self._journal or self._epoch is None)) and (
            self._recovering is None or self._recovering.done()
        ):
            self._recovering = asyncio.ensure_future(self._recover())
        return result

    async def _recover(self) -> None:
        """Check Redis kept its state, then write what the journal holds (once each)."""
        epoch = await self._call(self._epoch_script, self.prefix, uuid.uuid4().hex)
        if epoch is None:
            return
        epoch = _text(epoch)
        if self._epoch is not None and epoch != self._epoch:
            dropped = self._journal.clear()
            if dropped:
                log.warning(
                    "Redis restarted without its state; %d kept writes are moot, dropped", dropped
                )
        self._epoch = epoch
        await self._import_local_slots()
        done = 0
        while self._journal:
            entry = self._journal.first()
            if not await self._replay(entry):
                return  # unreachable again: the next successful call resumes
            self._journal.pop()
            done += 1
        if done:
            log.warning("wrote %d rate-limit updates kept while Redis was unreachable", done)

    async def _import_local_slots(self) -> None:
        """Count in Redis the global slots this worker took locally that are still in their
        window: other workers would not see them otherwise, and could overfill the window."""
        pools, self._local_pools = self._local_pools, {}
        now = self.local.now()
        for key, window in pools.items():
            g = self.local._globals.get(key)
            if g is None:
                continue
            left = [f"{e - now:.6f}" for e in g.expiries if e > now]
            left += [f"{window:.6f}"] * len(g.pending)  # in flight: counted a window from now
            if left:
                await self._call(self._gimport, self.prefix, key, uuid.uuid4().hex, *left)

    async def _replay(self, entry: _Entry) -> bool:
        """Apply one journal entry; ``False`` if Redis could not be reached."""
        kind, major, route_key, op, opid = entry
        if kind == "uncertain":  # a permit's write may have landed: give it back if it did
            landed = await self._call(self._op_exists, self.prefix, opid)
            if landed is None:
                return False
            if int(landed) and op is not None:
                status, _ = await self._on_major(
                    major, route_key, op, CAS_TRIES_ANSWER, opid + ":refund"
                )
                return status != "unknown"
            return True
        if kind == "global":  # release or refund a global slot (idempotent)
            key, slot, hold = major, route_key, float(opid)
            return await self._call(self._grelease, self.prefix, key, slot, hold) is not None
        assert op is not None
        status, _ = await self._on_major(major, route_key, op, CAS_TRIES_ANSWER, opid)
        return status != "unknown"

    # -------------------------------------------------------------- buckets

    async def _on_major(
        self,
        major: str,
        route_key: str,
        op: Callable[[MemoryStore], T],
        tries: int = CAS_TRIES,
        opid: str = "",
    ) -> tuple[str, T | None]:
        """Run ``op`` on a ``MemoryStore`` holding ``major``'s buckets as Redis has them, and
        store the result if nobody changed them meanwhile (else start again).

        The status is ``"ok"`` (written, or written before under the same ``opid``), ``"no"``
        (not written: Redis was unreachable before the write, or the state kept changing under
        us ``tries`` times) or ``"unknown"`` (the write timed out: it may land later).
        """
        for attempt in range(tries):
            r = await self._call(self._read, self.prefix, major, route_key)
            if r is None:
                return "no", None
            now = self.clock() if self.clock is not None else int(r[0]) + int(r[1]) / 1_000_000
            old, known = _text(r[2]), _text(r[3])
            view = _view(old, major, route_key, known, now, self.idle_ttl, self.stale_after)
            result = op(view)
            new = _dump(view, major)
            learned = view._routes.get(route_key, "") if route_key else ""
            if learned == known:
                learned = ""
            if new == old and not learned:
                return "ok", result
            ttl = _ttl(view, now, self.idle_ttl, self.stale_after)
            done = await self._call(
                self._write, self.prefix, major, old, new, ttl, route_key, learned, opid
            )
            if done is None:
                return "unknown", result
            if int(done) in (1, 2):
                return "ok", result
            await asyncio.sleep(random.uniform(0, 0.001 * min(attempt + 1, 4)))
        log.warning("rate-limit state of %s kept changing; trying again later", major)
        return "no", None

    async def _answer(
        self, major: str, route_key: str, op: Callable[[MemoryStore], object]
    ) -> None:
        """Write an answer (or refund, or block) to Redis; if it cannot be written now, keep it
        for when Redis is back: a lost answer would count its request in flight for good."""
        opid = uuid.uuid4().hex
        status, _ = await self._on_major(major, route_key, op, CAS_TRIES_ANSWER, opid)
        if status != "ok":
            self._journal.add(("answer", major, route_key, op, opid))

    async def bucket_acquire(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        if self._use_redis():
            opid = uuid.uuid4().hex
            status, r = await self._on_major(
                major, route_key, lambda v: v.acquire_sync(route_key, major), CAS_TRIES, opid
            )
            if status == "ok" and r is not None:
                return r
            if status == "unknown" and r is not None and r[1] is not None:
                key = r[0]  # granted in Redis perhaps: if so, give it back once it answers
                self._journal.add(("uncertain", major, "", lambda v: v.refund_sync(key), opid))
            elif not self._down:  # contention, not an outage: ask again shortly
                return "r:" + route_key + ":" + major, None, 0.005
        key, ticket, wait = self.local.acquire_sync(route_key, major)
        return _LOCAL + key, ticket, wait

    async def bucket_update(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        if key.startswith(_LOCAL):
            self.local.update_sync(key[len(_LOCAL) :], route_key, major, ticket, info)
            return
        await self._answer(
            major, route_key, lambda v: v.update_sync(key, route_key, major, ticket, info)
        )

    async def bucket_refund(self, key: str) -> None:
        if key.startswith(_LOCAL):
            self.local.refund_sync(key[len(_LOCAL) :])
        else:
            await self._answer(_major_of(key), "", lambda v: v.refund_sync(key))

    async def bucket_block(self, key: str, seconds: float) -> None:
        if key.startswith(_LOCAL):
            self.local.block_sync(key[len(_LOCAL) :], seconds)
        else:
            await self._on_major(
                _major_of(key), "", lambda v: v.block_sync(key, seconds), CAS_TRIES_ANSWER
            )

    # -------------------------------------------------------------- global

    async def global_acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        slot = uuid.uuid4().hex
        tried = self._use_redis()
        self._window_seen = max(self._window_seen, window)
        share = max(1, limit // max(1, self.workers))
        if tried and not self._down and self._local_pools:
            await self._import_local_slots()  # before any slot is granted from Redis again
        grace = time.monotonic() < self._grace_until
        r = await self._call(
            self._gacquire,
            self.prefix,
            key,
            share if grace else limit,
            window,
            self.stale_after,
            slot,
            self._worker,
        )
        if r is None:
            if tried:  # it may have landed after the timeout: free it once Redis is back
                self._journal.add(("global", key, slot, None, "0"))
            if key not in self._local_pools:
                # Redis's window (others' slots in it) is unknown here: let it pass first
                self._local_pools[key] = window
                await self.local.global_block(key, window)
            local, wait = await self.local.global_acquire(key, share, window)
            return (None if local is None else _LOCAL + local), wait
        self.workers = max(1, int(r[2]))
        slot_id = _text(r[0])
        return (slot_id or None), _wait(r[1])

    async def global_release(self, key: str, slot: str, hold: float) -> None:
        if slot.startswith(_LOCAL):
            await self.local.global_release(key, slot[len(_LOCAL) :], hold)
        elif await self._call(self._grelease, self.prefix, key, slot, hold) is None:
            self._journal.add(("global", key, slot, None, "0"))  # freed late: free it at once

    async def global_refund(self, key: str, slot: str) -> None:
        if slot.startswith(_LOCAL):
            await self.local.global_refund(key, slot[len(_LOCAL) :])
        elif await self._call(self._grelease, self.prefix, key, slot, 0) is None:
            self._journal.add(("global", key, slot, None, "0"))

    async def global_block(self, key: str, seconds: float) -> None:
        await self.local.global_block(key, seconds)
        await self._call(self._gblock, self.prefix, key, seconds)

    # -------------------------------------------------------------- invalid requests

    async def invalid_add(self, window: float) -> int:
        local = await self.local.invalid_add(window)
        r = await self._call(self._invalid, self.prefix, window, "1")
        return local if r is None else max(local, int(r))

    async def invalid_count(self, window: float) -> int:
        local = await self.local.invalid_count(window)
        r = await self._call(self._invalid, self.prefix, window, "0")
        return local if r is None else max(local, int(r))

    async def aclose(self) -> None:
        if self._recovering is not None and not self._recovering.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._recovering, 5)
        await self.redis.aclose()


class RedisRateLimiter(RateLimiter):
    """Rate limits shared through Redis by every process and host given the same ``url``.

    ``prefix`` namespaces the keys (one prefix per bot token set is enough: global windows are
    keyed by a hash of the token). ``stale_after``: a request whose caller crashed mid-flight
    stops counting after this many seconds. Other options as for ``RateLimiter``.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "asgi_interactions:rl:",
        idle_ttl: float = 60.0,
        stale_after: float = 120.0,
        retry_interval: float = 2.0,
        socket_timeout: float = 1.0,
        **options: float,
    ) -> None:
        store = RedisStore(
            url,
            prefix=prefix,
            idle_ttl=idle_ttl,
            stale_after=stale_after,
            retry_interval=retry_interval,
            socket_timeout=socket_timeout,
        )
        super().__init__(store, **options)
        self.redis_store = store
