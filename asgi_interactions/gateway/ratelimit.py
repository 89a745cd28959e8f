"""The gateway's own limits: 120 sends per 60 s per connection, and the IDENTIFY queue.

Sends use a sliding window; heartbeats have slots that other payloads may not take, so a burst
of presence updates waits instead of starving the heartbeat (notes §7.9). IDENTIFYs go through
one queue per process: one per ``shard_id % max_concurrency`` key per 5 s, in shard order (§7.10).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

__all__ = ["IdentifyQueue", "SendLimiter"]

#: Seconds added to each IDENTIFY window: what reaches Discord late must still be spaced.
SEND_MARGIN = 0.1
#: Seconds an IDENTIFY's slot stays held waiting for its READY (then the next may go).
READY_TIMEOUT = 30.0


class SendLimiter:
    """Sliding-window limit of one connection's sends, with slots reserved for heartbeats."""

    def __init__(self, limit: int = 120, window: float = 60.0) -> None:
        self.limit = limit
        # Discord counts when frames arrive, we when they leave: a longer window absorbs the
        # jitter between the two (a burst sent at the window's edge may land inside it).
        self.window = window * 1.05 + 0.25
        self.reserved = 3
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def reserve_for(self, heartbeat_interval: float) -> None:
        """Keep slots for the heartbeats one window holds at this interval (plus two).

        Never more than half the limit: Discord's intervals (about 41 s) need 4 of 120.
        """
        beats = math.ceil(self.window / heartbeat_interval) + 2 if heartbeat_interval > 0 else 3
        self.reserved = min(beats, self.limit // 2)

    def _prune(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    def take_heartbeat(self) -> None:
        """Count a heartbeat; it may use the reserved slots, so it never waits."""
        now = time.monotonic()
        self._prune(now)
        self._sent.append(now)

    async def acquire(self) -> None:
        """Wait for a slot outside the heartbeat reserve, then count it (FIFO among callers)."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self._prune(now)
                if len(self._sent) < self.limit - self.reserved:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + self.window - now + 0.001)


class IdentifyQueue:
    """At most one IDENTIFY per ``rate_limit_key`` per ``interval`` seconds, first come first.

    A slot is held from before connecting until the session's READY (or ``READY_TIMEOUT``, or
    the connection's end); the key's window starts when the IDENTIFY is sent (``sent``), so
    spacing holds however long connecting took, and a slow READY delays the next IDENTIFY.
    """

    def __init__(self, max_concurrency: int = 1, interval: float = 5.0) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.interval = interval
        self._locks: dict[int, asyncio.Lock] = {}
        self._next: dict[int, float] = {}
        self._sent_at: dict[int, float] = {}

    def key(self, shard_id: int) -> int:
        """The shard's rate-limit key."""
        return shard_id % self.max_concurrency

    async def acquire(self, shard_id: int) -> None:
        """Wait until this shard's key may identify; the caller must ``release`` afterwards."""
        key = self.key(shard_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        await lock.acquire()
        delay = self._next.get(key, 0.0) - time.monotonic()
        if delay > 0:
            try:
                await asyncio.sleep(delay)
            except BaseException:
                lock.release()
                raise

    def sent(self, shard_id: int) -> None:
        """The shard's IDENTIFY went out now (its slot stays held until ``release``)."""
        self._sent_at[shard_id] = time.monotonic()

    def wait_after(self, shard_id: int, sent: bool) -> float:
        """Seconds from now until the key may identify again (0: nothing was sent)."""
        at = self._sent_at.pop(shard_id, None)
        if not sent:
            return 0.0
        since = time.monotonic() - at if at is not None else 0.0
        return max(0.0, self.interval + SEND_MARGIN - since)  # a margin for the way to Discord

    def release(self, shard_id: int, *, sent: bool) -> None:
        """Free the key; if an IDENTIFY went out, the next waits ``interval`` (+ margin) from
        when it was sent (``sent``; else from now)."""
        key = self.key(shard_id)
        wait = self.wait_after(shard_id, sent)
        if sent:
            self._next[key] = time.monotonic() + wait
        self._locks[key].release()
