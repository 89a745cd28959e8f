"""``RedisRateLimiter``: bucket state, the global window and the invalid-request budget in Redis,
shared by every worker and host that uses the same Redis (needs the ``redis`` extra).

Buckets: each channel's (major parameters') state is one JSON document. An operation reads it
with Redis's clock (``TIME``) in one script, runs ``MemoryStore``'s own rules on it, and writes it
back with a compare-and-set script (retrying if another process changed it meanwhile): the two
stores decide alike by construction, and hosts need no clock agreement. The global window and
the invalid-request count are one Lua script each. If Redis cannot be reached, the store falls
back to a local ``MemoryStore``, logs it once, and returns to Redis when it answers again.
Single-node Redis (or a primary): keys are built inside the scripts, so Redis Cluster is not
supported.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import BucketInfo, RateLimitStore
from .limiter import RateLimiter
from .memory import MemoryStore, _Bucket

__all__ = ["RedisRateLimiter", "RedisStore"]

log = logging.getLogger("asgi_interactions.rest.ratelimit.redis")
T = TypeVar("T")

_PRELUDE = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
"""

# One major parameter set's bucket state (a JSON document), the hash its route has learned and
# Redis's clock, read at one instant.
_MAJOR_READ = """
local P, major, route = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('TIME')
local state = redis.call('GET', P .. 's:' .. major) or ''
local h = ''
if route ~= '' then h = redis.call('HGET', P .. 'routes', route) or '' end
return {t[1], t[2], state, h}
"""

# Compare and set: write the new state only if nobody changed it since it was read.
_MAJOR_WRITE = """
local P, major, old, new, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local route, h = ARGV[6], ARGV[7]
local k = P .. 's:' .. major
if (redis.call('GET', k) or '') ~= old then return 0 end
if new == '' then redis.call('DEL', k) else redis.call('SET', k, new, 'PX', ttl) end
if h ~= '' then
  redis.call('HSET', P .. 'routes', route, h)
  redis.call('PEXPIRE', P .. 'routes', 86400000)
end
return 1
"""

_GLOBAL_ACQUIRE = (
    _PRELUDE
    + """
local P, g, limit, window, hold = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])
local now = now_s()
local done, pend = P .. 'g:' .. g, P .. 'gp:' .. g
local blocked = tonumber(redis.call('GET', P .. 'gb:' .. g) or '0')
if now < blocked then return {'', fmt(blocked - now)} end
redis.call('ZREMRANGEBYSCORE', done, '-inf', now)
redis.call('ZREMRANGEBYSCORE', pend, '-inf', now)
if redis.call('ZCARD', done) + redis.call('ZCARD', pend) < limit then
  local id = tostring(redis.call('INCR', P .. 'gid'))
  redis.call('PEXPIRE', P .. 'gid', 86400000)
  redis.call('ZADD', pend, now + hold, id)
  redis.call('PEXPIRE', pend, math.floor((hold + window) * 1000))
  return {id, '0'}
end
local first = redis.call('ZRANGE', done, 0, 0, 'WITHSCORES')
if first[2] then return {'', fmt(tonumber(first[2]) - now)} end
return {'', '-1'}
"""
)

_GLOBAL_RELEASE = (
    _PRELUDE
    + """
local P, g, id, hold = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_s()
local done, pend = P .. 'g:' .. g, P .. 'gp:' .. g
if redis.call('ZREM', pend, id) == 1 and hold > 0 then
  redis.call('ZADD', done, now + hold, id)
  redis.call('PEXPIRE', done, math.floor(hold * 1000) + 1000)
end
return 1
"""
)

_GLOBAL_BLOCK = (
    _PRELUDE
    + """
local P, g, seconds = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_s()
local k = P .. 'gb:' .. g
local cur = tonumber(redis.call('GET', k) or '0')
if now + seconds > cur then
  redis.call('SET', k, fmt(now + seconds), 'PX', math.floor(seconds * 1000) + 1)
end
return 1
"""
)

_INVALID = (
    _PRELUDE
    + """
local P, window, add = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local now = now_s()
local k = P .. 'inv'
if add then
  local id = tostring(redis.call('INCR', P .. 'invid'))
  redis.call('PEXPIRE', P .. 'invid', 86400000)
  redis.call('ZADD', k, now, id)
  redis.call('PEXPIRE', k, math.floor(window * 1000) + 1000)
end
redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
return redis.call('ZCARD', k)
"""
)

_LOCAL = "m|"  # keys and slots handed out by the fallback store carry this prefix
#: Attempts at a compare-and-set before an operation gives up (each retry means another
#: process changed the same channel's state in the meantime): a permit is then asked for again
#: shortly; an answer is tried much harder for, as a lost one stays counted in flight until
#: ``stale_after``.
CAS_TRIES = 32
CAS_TRIES_ANSWER = 512
_FIELDS = tuple(f.name for f in fields(_Bucket))


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
        self.redis: aioredis.Redis = client or aioredis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self.local = MemoryStore(idle_ttl=idle_ttl, stale_after=stale_after)
        self._down_until = 0.0
        self._down = False
        r = self.redis
        self._read = r.register_script(_MAJOR_READ)
        self._write = r.register_script(_MAJOR_WRITE)
        self._gacquire = r.register_script(_GLOBAL_ACQUIRE)
        self._grelease = r.register_script(_GLOBAL_RELEASE)
        self._gblock = r.register_script(_GLOBAL_BLOCK)
        self._invalid = r.register_script(_INVALID)

    @property
    def available(self) -> bool:
        """False while the store is running on its local fallback."""
        return not self._down

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
                    "Redis unreachable (%s); rate limits are kept locally until it is back",
                    type(exc).__name__,
                )
            return None
        if self._down:
            self._down = False
            log.warning("Redis reachable again; rate limits are shared again")
        return result

    # -------------------------------------------------------------- buckets

    async def _on_major(
        self, major: str, route_key: str, op: Callable[[MemoryStore], T], tries: int = CAS_TRIES
    ) -> tuple[T] | None:
        """Run ``op`` on a ``MemoryStore`` holding ``major``'s buckets as Redis has them, and
        store the result if nobody changed them meanwhile (else start again).

        ``None``: Redis is unreachable (the caller falls back to the local store) or the state
        kept changing under us ``tries`` times.
        """
        for attempt in range(tries):
            r = await self._call(self._read, self.prefix, major, route_key)
            if r is None:
                return None
            now = self.clock() if self.clock is not None else int(r[0]) + int(r[1]) / 1_000_000
            old, known = _text(r[2]), _text(r[3])
            view = _view(old, major, route_key, known, now, self.idle_ttl, self.stale_after)
            result = op(view)
            new = _dump(view, major)
            learned = view._routes.get(route_key, "") if route_key else ""
            if learned == known:
                learned = ""
            if new == old and not learned:
                return (result,)
            ttl = _ttl(view, now, self.idle_ttl, self.stale_after)
            done = await self._call(
                self._write, self.prefix, major, old, new, ttl, route_key, learned
            )
            if done is None:
                return None
            if int(done) == 1:
                return (result,)
            await asyncio.sleep(random.uniform(0, 0.001 * min(attempt + 1, 4)))
        log.warning("rate-limit state of %s kept changing; giving up this update", major)
        return None

    async def bucket_acquire(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        if self._use_redis():
            r = await self._on_major(major, route_key, lambda v: v.acquire_sync(route_key, major))
            if r is not None:
                return r[0]
            if not self._down:  # contention, not an outage: ask again shortly
                return "r:" + route_key + ":" + major, None, 0.005
        key, ticket, wait = self.local.acquire_sync(route_key, major)
        return _LOCAL + key, ticket, wait

    async def bucket_update(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        if key.startswith(_LOCAL):
            self.local.update_sync(key[len(_LOCAL) :], route_key, major, ticket, info)
            return
        await self._on_major(
            major,
            route_key,
            lambda v: v.update_sync(key, route_key, major, ticket, info),
            CAS_TRIES_ANSWER,
        )

    async def bucket_refund(self, key: str) -> None:
        if key.startswith(_LOCAL):
            self.local.refund_sync(key[len(_LOCAL) :])
        else:
            await self._on_major(_major_of(key), "", lambda v: v.refund_sync(key), CAS_TRIES_ANSWER)

    async def bucket_block(self, key: str, seconds: float) -> None:
        if key.startswith(_LOCAL):
            self.local.block_sync(key[len(_LOCAL) :], seconds)
        else:
            await self._on_major(
                _major_of(key), "", lambda v: v.block_sync(key, seconds), CAS_TRIES_ANSWER
            )

    # -------------------------------------------------------------- global

    async def global_acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        r = await self._call(self._gacquire, self.prefix, key, limit, window, self.stale_after)
        if r is None:
            slot, wait = await self.local.global_acquire(key, limit, window)
            return (None if slot is None else _LOCAL + slot), wait
        slot_id = _text(r[0])
        return (slot_id or None), _wait(r[1])

    async def global_release(self, key: str, slot: str, hold: float) -> None:
        if slot.startswith(_LOCAL):
            await self.local.global_release(key, slot[len(_LOCAL) :], hold)
        else:
            await self._call(self._grelease, self.prefix, key, slot, hold)

    async def global_refund(self, key: str, slot: str) -> None:
        if slot.startswith(_LOCAL):
            await self.local.global_refund(key, slot[len(_LOCAL) :])
        else:
            await self._call(self._grelease, self.prefix, key, slot, 0)

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
        await self.redis.aclose()


class RedisRateLimiter(RateLimiter):
    """Rate limits shared through Redis by every process and host given the same ``url``.

    ``prefix`` namespaces the keys (one prefix per bot token set is enough: global windows are
    keyed by a hash of the token). Other options as for ``RateLimiter``.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "asgi_interactions:rl:",
        idle_ttl: float = 60.0,
        retry_interval: float = 2.0,
        socket_timeout: float = 1.0,
        **options: float,
    ) -> None:
        store = RedisStore(
            url,
            prefix=prefix,
            idle_ttl=idle_ttl,
            retry_interval=retry_interval,
            socket_timeout=socket_timeout,
        )
        super().__init__(store, **options)
        self.redis_store = store
