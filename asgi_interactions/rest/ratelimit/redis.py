"""``RedisRateLimiter``: bucket state, the global window and the invalid-request budget in Redis,
shared by every worker and host that uses the same Redis (needs the ``redis`` extra).

Each operation is one Lua script, so it is atomic across processes, and uses Redis's own clock
(``TIME``), so hosts need no clock agreement. The bucket rules are ``MemoryStore``'s, except its
newest-snapshot refinement (ordering answers by ``X-RateLimit-Reset``) and its rules for routes
whose bucket is unknown (one probe per route and major parameters, slots held in the known
buckets), not ported yet: the Redis estimate is the ticket-based lower bound, a little less
eager (and not yet run through the simulation in ``tests/rest/test_estimate.py``).
If Redis cannot be reached, the store falls back to a local ``MemoryStore``, logs it once, and
returns to Redis when it answers again. Single-node Redis (or a primary): keys are built inside
the scripts, so Redis Cluster is not supported.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import BucketInfo, RateLimitStore
from .limiter import RateLimiter
from .memory import MemoryStore

__all__ = ["RedisRateLimiter", "RedisStore"]

log = logging.getLogger("asgi_interactions.rest.ratelimit.redis")

_PRELUDE = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local FIELDS = {'limit', 'unl', 'avail', 'reset_at', 'used', 'window', 'sent', 'ans', 'last',
                'blocked', 'snap', 'rid'}
local function load(key)
  local f = redis.call('HMGET', key, unpack(FIELDS))
  return {limit = tonumber(f[1]) or -1, unl = tonumber(f[2]) or 0, avail = tonumber(f[3]) or 0,
          reset_at = tonumber(f[4]) or 0, used = tonumber(f[5]) or 0,
          window = tonumber(f[6]) or 0, sent = tonumber(f[7]) or 0, ans = tonumber(f[8]) or 0,
          last = tonumber(f[9]) or 0, blocked = tonumber(f[10]) or 0,
          snap = tonumber(f[11]) or 0, rid = tonumber(f[12]) or 0,
          exists = f[7] ~= false}
end
local function unnamed_done(P, key, major, n)
  if string.sub(key, #P + 1, #P + 2) == 'r:' and n > 0 then
    local left = redis.call('DECRBY', P .. 'pm:' .. major, n)
    if left <= 0 then redis.call('DEL', P .. 'pm:' .. major) end
  end
end
local function save(key, b, now, idle)
  redis.call('HSET', key, 'limit', b.limit, 'unl', b.unl, 'avail', b.avail,
             'reset_at', fmt(b.reset_at), 'used', b.used, 'window', fmt(b.window),
             'sent', b.sent, 'ans', b.ans, 'last', fmt(b.last), 'blocked', fmt(b.blocked),
             'snap', fmt(b.snap), 'rid', fmt(b.rid))
  local keep = math.max(b.reset_at, b.last + b.window, b.blocked) - now + idle
  redis.call('PEXPIRE', key, math.max(1000, math.floor(keep * 1000)))
end
"""

_BUCKET_ACQUIRE = (
    _PRELUDE
    + """
local P, route, major = ARGV[1], ARGV[2], ARGV[3]
local stale, idle = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_s()
local h = redis.call('HGET', P .. 'routes', route)
local key
if h then key = P .. 'b:' .. h .. ':' .. major else key = P .. 'r:' .. route .. ':' .. major end
local b = load(key)
if now < b.blocked then return {key, -1, fmt(b.blocked - now)} end
if b.sent > b.ans and now - b.last > stale then
  unnamed_done(P, key, major, b.sent - b.ans)
  b.ans = b.sent
end
local inflight = b.sent - b.ans
if b.used == 1 and inflight == 0 and now >= b.last + b.window + 1.0 then
  b.used = 0
  b.avail = math.max(b.avail, 0)
end
local granted = false
local wait = -1
if b.unl == 1 then granted = true
elseif b.limit < 0 then granted = (inflight == 0)
elseif b.avail > 0 then b.avail = b.avail - 1; granted = true
elseif b.used == 0 then
  if now >= b.reset_at and (b.avail == 0 or inflight == 0) then
    b.avail = 0; b.used = 1; granted = true
  elseif now < b.reset_at then wait = b.reset_at - now end
end
if not granted then
  if b.exists then save(key, b, now, idle) end
  return {key, -1, fmt(wait)}
end
local ticket = b.ans
b.sent = b.sent + 1
b.last = now
save(key, b, now, idle)
if not h then
  redis.call('INCR', P .. 'pm:' .. major)
  redis.call('PEXPIRE', P .. 'pm:' .. major, math.floor(stale * 1000))
end
return {key, ticket, '0'}
"""
)

_BUCKET_UPDATE = (
    _PRELUDE
    + """
local P, key, route, major = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ticket, has_info, limit = tonumber(ARGV[5]), ARGV[6] == '1', tonumber(ARGV[7])
local remaining, reset_after, bucket = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local limited, idle = ARGV[11] == '1', tonumber(ARGV[12])
local reset = tonumber(ARGV[13])
local now = now_s()
local b = load(key)
if b.exists and b.ans < b.sent then
  b.ans = b.ans + 1
  unnamed_done(P, key, major, 1)
end
if not has_info then
  if b.exists then
    if b.limit < 0 and b.unl == 0 then
      b.blocked = math.max(b.blocked, now + 1.0)
    elseif b.limit >= 0 and b.used == 1 and b.sent == b.ans then
      b.reset_at = math.max(b.reset_at, now + b.window); b.used = 0
    end
    save(key, b, now, idle)
  end
  return 0
end
if limit < 0 then
  if b.exists then
    if b.limit < 0 and not limited then b.unl = 1 end
    save(key, b, now, idle)
  end
  return 0
end
local target = key
local others = 0
local merged = false
if bucket ~= '' then
  redis.call('HSET', P .. 'routes', route, bucket)
  redis.call('PEXPIRE', P .. 'routes', 86400000)
  target = P .. 'b:' .. bucket .. ':' .. major
end
if target ~= key then
  local t = load(target)
  if not t.exists and b.exists then
    t = b
    redis.call('DEL', key)
    others = b.sent - ticket - 1
  elseif t.exists then
    merged = true
    if b.exists then
      if b.sent == b.ans then redis.call('DEL', key) else save(key, b, now, idle) end
    end
  end
  b = t
else
  if b.exists then others = b.sent - ticket - 1 end
end
if reset_after < 0 then reset_after = 0 end
local unnamed = tonumber(redis.call('GET', P .. 'pm:' .. major) or '0')
local estimate = remaining - math.max(0, others) - unnamed
local fresh = b.limit < 0 or b.unl == 1
if limited or ((not merged) and (fresh or estimate >= b.avail)) then
  b.avail = estimate; b.reset_at = now + reset_after; b.used = 0
  if reset >= 0 then b.rid = reset; b.snap = reset - reset_after end
elseif merged and fresh then
  b.avail = math.min(0, estimate); b.reset_at = now + reset_after; b.used = 0
elseif b.used == 1 and reset >= 0 and reset > math.max(b.rid, b.snap) + 0.002 then
  b.reset_at = now + reset_after; b.used = 0; b.rid = reset
end
b.limit = limit
b.unl = 0
b.window = math.max(b.window, reset_after)
save(target, b, now, idle)
return 1
"""
)

_BUCKET_REFUND = (
    _PRELUDE
    + """
local P, key, idle = ARGV[1], ARGV[2], tonumber(ARGV[3])
local b = load(key)
if not b.exists or b.ans >= b.sent then return 0 end
b.ans = b.ans + 1
unnamed_done(P, key, string.match(key, ':([^:]*)$'), 1)
if b.limit >= 0 and b.unl == 0 then
  if b.used == 1 and b.avail == 0 then b.used = 0 else b.avail = b.avail + 1 end
end
save(key, b, now_s(), idle)
return 1
"""
)

_BUCKET_BLOCK = (
    _PRELUDE
    + """
local key, seconds, idle = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_s()
local b = load(key)
b.blocked = math.max(b.blocked, now + seconds)
save(key, b, now, idle)
return 1
"""
)

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
    ) -> None:
        self.prefix = prefix
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
        self._acquire = r.register_script(_BUCKET_ACQUIRE)
        self._update = r.register_script(_BUCKET_UPDATE)
        self._refund = r.register_script(_BUCKET_REFUND)
        self._block = r.register_script(_BUCKET_BLOCK)
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

    async def bucket_acquire(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        r = await self._call(
            self._acquire, self.prefix, route_key, major, self.stale_after, self.idle_ttl
        )
        if r is None:
            key, ticket, wait = self.local.acquire_sync(route_key, major)
            return _LOCAL + key, ticket, wait
        ticket = int(r[1])
        return _text(r[0]), (ticket if ticket >= 0 else None), _wait(r[2])

    async def bucket_update(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        if key.startswith(_LOCAL):
            self.local.update_sync(key[len(_LOCAL) :], route_key, major, ticket, info)
            return
        if info is None:
            fields: tuple[Any, ...] = ("0", -1, 0, 0.0, "", "0", -1)
        else:
            fields = (
                "1",
                -1 if info.limit is None else info.limit,
                info.remaining,
                info.reset_after,
                info.bucket or "",
                "1" if info.limited else "0",
                -1 if info.reset is None else repr(info.reset),
            )
        await self._call(
            self._update,
            self.prefix,
            key,
            route_key,
            major,
            ticket,
            *fields[:6],
            self.idle_ttl,
            fields[6],
        )

    async def bucket_refund(self, key: str) -> None:
        if key.startswith(_LOCAL):
            self.local.refund_sync(key[len(_LOCAL) :])
        else:
            await self._call(self._refund, self.prefix, key, self.idle_ttl)

    async def bucket_block(self, key: str, seconds: float) -> None:
        if key.startswith(_LOCAL):
            await self.local.bucket_block(key[len(_LOCAL) :], seconds)
        else:
            await self._call(self._block, key, seconds, self.idle_ttl)

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
