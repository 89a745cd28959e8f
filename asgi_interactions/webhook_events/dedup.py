"""Recognising a webhook event Discord delivers again, so its handler runs once.

Discord retries an event it thinks was not acknowledged for up to 10 minutes (notes §1.7). A retry
is a new request (a new signature timestamp, so a new signature): the replay store does not
recognise it. The envelope carries no event id, so an event's identity is its content: the
application id, ``event.type``, ``event.timestamp`` (when the event occurred, in microseconds)
and ``event.data``, hashed over a canonical JSON form (sorted keys, no whitespace) so that a
retry serialised differently is still the same event. Two events equal in all four are the same
fact, and handling it once is right.

The identities are remembered for ``window`` seconds after first receipt: in this process (the
replay store's `ReplayCache`), and with ``redis_url`` in Redis too (``SET NX PX`` through the
replay store's `SharedReplayStore`: one shared answer for every worker and host, each process's
own memory while Redis is unreachable).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..verify import ReplayCache, SharedReplayStore

if TYPE_CHECKING:
    from ..shared_state import SharedState

__all__ = ["DEFAULT_DEDUP_SIZE", "DEFAULT_DEDUP_WINDOW", "EventDedup", "event_key"]

#: Discord retries for up to 10 minutes; five more cover its backoff's last step and clock skew.
DEFAULT_DEDUP_WINDOW = 900.0
#: Identities remembered per process (about 110 bytes each): 110 events/s over the whole window.
DEFAULT_DEDUP_SIZE = 100_000


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


class EventDedup:
    """Remembers event identities for ``window`` seconds: locally, and in Redis when shared."""

    def __init__(
        self,
        shared: SharedState | None,
        *,
        window: float = DEFAULT_DEDUP_WINDOW,
        size: int = DEFAULT_DEDUP_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window = window
        self.local = ReplayCache(
            size, ttl=window, what="redelivered events", setting="the events app's dedup_size"
        )
        self.shared = (
            None
            if shared is None
            else SharedReplayStore(shared, self.local, ttl=window, prefix=b"asgi_interactions:ev:")
        )
        self._clock = clock

    async def seen(self, key: bytes) -> bool:
        """Record ``key`` now; True if it was recorded within the window (a redelivery)."""
        now = self._clock()
        stamp = float(math.floor(now))  # one group per second in the local store
        if self.shared is not None:
            return await self.shared.seen(key, stamp, now)
        return self.local.seen(key, stamp, now)
