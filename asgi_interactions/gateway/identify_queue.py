"""The fleet's IDENTIFY queue in Redis: the same rules as ``IdentifyQueue``, for every process.

Waiters of one ``shard_id % max_concurrency`` key queue in arrival order (a sorted set; a waiter
that stops polling, e.g. a dead process, drops out after ``alive`` seconds). The head takes the
key's lock once the key's next-allowed time (Redis's clock) has come, and the fleet's daily
session budget (from ``GET /gateway/bot``) is counted down on every grant: at or below ``floor``
nothing is granted and ``GatewayError`` says why, instead of letting Discord reset the token.
The lock is held until the session's READY; releasing after an IDENTIFY went out sets the key's
next time ``interval`` after the send; a holder that never releases loses the lock after
``hold`` seconds. While Redis is unreachable no slot is
granted (fail closed): waiters retry, and say so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any

from .errors import GatewayError
from .ratelimit import READY_TIMEOUT, IdentifyQueue

__all__ = ["FleetIdentifyQueue"]

log = logging.getLogger("asgi_interactions.gateway.identify")

# KEYS: queue, lock, next, budget, counter, alive. ARGV: ticket, alive_ms, hold_ms, floor.
# Returns 0 (granted), -1 (budget at the floor), else the milliseconds to wait before asking again.
_TRY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[6], now + tonumber(ARGV[2]), ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[5]), ARGV[1])
end
local head
while true do
  head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  local expiry = tonumber(redis.call('ZSCORE', KEYS[6], head) or '0')
  if expiry >= now then break end
  redis.call('ZREM', KEYS[1], head)
  redis.call('ZREM', KEYS[6], head)
end
if head ~= ARGV[1] then return 50 end
local held = redis.call('PTTL', KEYS[2])
if held > 0 then return held end
local nxt = tonumber(redis.call('GET', KEYS[3]) or '0')
if nxt > now then return nxt - now end
local budget = redis.call('GET', KEYS[4])
if budget and tonumber(budget) <= tonumber(ARGV[4]) then return -1 end
if budget then redis.call('DECR', KEYS[4]) end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
return 0
"""
# KEYS: lock, next. ARGV: ticket, interval_ms (0: nothing was sent).
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '0' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('SET', KEYS[2], now + tonumber(ARGV[2]), 'PX', ARGV[2])
end
return 1
"""
# KEYS: budget. ARGV: remaining, reset_ms. Discord's count, unless the fleet's own is lower.
_BUDGET = """
local cur = redis.call('GET', KEYS[1])
if not cur or tonumber(cur) > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, tonumber(ARGV[2])))
end
return tonumber(redis.call('GET', KEYS[1]))
"""


class FleetIdentifyQueue(IdentifyQueue):
    """``IdentifyQueue``'s interface, backed by Redis for every process of the bot."""

    def __init__(
        self,
        url: str,
        prefix: str,
        member: str,
        max_concurrency: int = 1,
        interval: float = 5.0,
        *,
        floor: int = 0,
        hold: float = READY_TIMEOUT + 5.0,
        alive: float = 2.0,
        timeout: float = 0.5,
        poll: float = 0.05,
        retry: float = 0.5,
    ) -> None:
        from ..shared_state import _redis_module

        super().__init__(max_concurrency, interval)
        self.floor = floor
        self.prefix = prefix
        self.hold, self.alive, self.poll, self.retry = hold, alive, poll, retry
        self._client: Any = _redis_module().Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._try = self._client.register_script(_TRY)
        self._release = self._client.register_script(_RELEASE)
        self._budget = self._client.register_script(_BUDGET)
        self._member = member
        self._tickets = itertools.count(1)
        self._granted: dict[int, str] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._down = False

    def _keys(self, key: int) -> list[str]:
        p = f"{self.prefix}:{key}"
        return [f"{p}:queue", f"{p}:lock", f"{p}:next", f"{self.prefix}:budget",
                f"{p}:counter", f"{p}:alive"]  # fmt: skip

    async def set_budget(self, remaining: int, reset_after: float) -> int:
        """Share ``GET /gateway/bot``'s count with the fleet; returns the fleet's count."""
        keys = [f"{self.prefix}:budget"]
        return int(await self._budget(keys=keys, args=[remaining, int(reset_after * 1000)]))

    async def acquire(self, shard_id: int) -> None:
        """Wait for this shard's turn; raises ``GatewayError`` when the budget is at the floor."""
        from redis.exceptions import ConnectionError, TimeoutError

        keys = self._keys(self.key(shard_id))
        ticket = f"{self._member}:{next(self._tickets)}"
        args = [ticket, int(self.alive * 1000), int(self.hold * 1000), self.floor]
        try:
            while True:
                try:
                    wait = int(await self._try(keys=keys, args=args))
                except (ConnectionError, TimeoutError, OSError) as exc:
                    if not self._down:
                        self._down = True
                        log.warning(
                            "identify queue unreachable (%s): no IDENTIFY until it is back", exc
                        )
                    await asyncio.sleep(self.retry)
                    continue
                if self._down:
                    self._down = False
                    log.warning("identify queue reachable again")
                if wait == 0:
                    self._granted[shard_id] = ticket
                    return
                if wait < 0:
                    message = (
                        f"shard {shard_id}: the fleet's daily session budget is at its floor "
                        f"({self.floor}); no IDENTIFY until Discord resets it"
                    )
                    log.error("%s", message)
                    raise GatewayError(message)
                await asyncio.sleep(min(wait / 1000, self.poll))
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._client.zrem(keys[0], ticket))
            raise

    def release(self, shard_id: int, *, sent: bool) -> None:
        """Free the key (in the background); after a send the next waits ``interval`` from it."""
        until = time.monotonic() + self.wait_after(shard_id, sent)
        ticket = self._granted.pop(shard_id, None)
        if ticket is None:
            return
        keys = self._keys(self.key(shard_id))

        async def release() -> None:
            # the wait counts from the send, not from whenever this task gets to run
            interval_ms = max(1, int((until - time.monotonic()) * 1000)) if sent else 0
            try:
                await self._release(keys=keys[1:3], args=[ticket, interval_ms])
            except Exception as exc:  # the lock expires after ``hold`` seconds
                log.warning("identify queue: release failed (%s); the lock will expire", exc)

        task = asyncio.ensure_future(release())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=1.0)
        await self._client.aclose()
