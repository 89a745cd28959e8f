"""Recognising a webhook event Discord delivers again, so its handler runs once.

Discord retries an event it thinks was not acknowledged for up to 10 minutes (notes §1.7). A retry
is a new request (a new signature timestamp, so a new signature): the replay store does not
recognise it. The envelope carries no event id, so an event's identity is its content: the
application id, ``event.type``, ``event.timestamp`` (when the event occurred, in microseconds)
and ``event.data``, hashed over a canonical JSON form (sorted keys, no whitespace) so that a
retry serialised differently is still the same event. Two events equal in all four are the same
fact, and handling it once is right.

The identities are remembered for ``window`` seconds after first receipt: in this process, and
with ``redis_url`` in Redis too (``SET NX PX`` through the app's `SharedState`, grouped into
pipelines under load like the replay store's): one answer for every worker and host, each
process's own memory while Redis is unreachable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..shared_state import SharedState

__all__ = ["DEFAULT_DEDUP_SIZE", "DEFAULT_DEDUP_WINDOW", "EventDedup", "SeenEvents", "event_key"]

log = logging.getLogger("asgi_interactions.webhook_events")

DEFAULT_DEDUP_WINDOW = 900.0
"""Seconds an event's identity is remembered: Discord retries for up to 10 minutes; five more
cover its backoff's last step and clock skew."""
DEFAULT_DEDUP_SIZE = 100_000
"""Identities remembered per process (about 110 bytes each): 110 events/s over the window."""


def event_key(application_id: Any, event: dict[str, Any]) -> bytes:
    """The identity of an event (32 bytes): see the module docstring for why these fields."""
    canonical = json.dumps(
        [application_id, event.get("type"), event.get("timestamp"), event.get("data")],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).digest()


class SeenEvents:
    """This process's memory of event identities, each for ``ttl`` seconds, at most ``maxsize``.

    Every entry lives equally long, so insertion order is expiry order: expired entries leave
    from the front, and when full the oldest live one goes (logged once: a redelivery older than
    that is then no longer recognised in this process).
    """

    def __init__(self, maxsize: int, ttl: float) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self.warn_turnover = True
        self.warned = False

    def seen(self, key: bytes, now: float) -> bool:
        """Record ``key`` at ``now``; True if it was recorded less than ``ttl`` ago."""
        expiry = self._expiry
        while expiry:
            first, until = next(iter(expiry.items()))
            if until > now:
                break
            del expiry[first]
        if key in expiry:
            return True
        if len(expiry) >= self.maxsize:
            _, until = expiry.popitem(last=False)
            if self.warn_turnover and not self.warned:
                self.warned = True
                log.warning(
                    "the webhook event dedup store is full (%d events): redeliveries after %d s "
                    "are no longer recognised: raise dedup_size or configure Redis (redis_url)",
                    self.maxsize,
                    max(0, math.floor(self.ttl - (until - now))),
                )
        expiry[key] = now + self.ttl
        return False

    def __len__(self) -> int:
        return len(self._expiry)


class EventDedup:
    """Remembers event identities for ``window`` seconds: locally, and in Redis when shared."""

    def __init__(
        self,
        shared: SharedState | None,
        *,
        window: float = DEFAULT_DEDUP_WINDOW,
        size: int = DEFAULT_DEDUP_SIZE,
        clock: Callable[[], float] = time.monotonic,
        prefix: bytes = b"asgi_interactions:ev:",
    ) -> None:
        self.window = window
        self.local = SeenEvents(size, window)
        self.shared = shared
        self.prefix = prefix
        self._px = max(1, math.ceil(window * 1000))
        self._clock = clock

    async def seen(self, key: bytes) -> bool:
        """Record ``key`` now; True if it was recorded within the window (a redelivery).

        The local memory is asked first (a retry reaching the same process costs no round trip)
        and records every event, so it can stand in while Redis is unreachable.
        """
        local = self.local
        shared = self.shared
        if shared is None:
            return local.seen(key, self._clock())
        local.warn_turnover = not shared.available  # with Redis up, local turnover is harmless
        if local.seen(key, self._clock()):
            return True
        # False: the key existed (another process had it); None: Redis is down, local stands.
        return await shared.set_if_absent(self.prefix + key[:16], self._px) is False
