"""Records, per shared shard, the last event the app's listeners have finished with.

The dispatcher (on the app's loop) notes per shard the last sequence whose listeners have all
started, and the listeners still running; the delivered sequence is the highest one with no
listener of it or of an earlier event still running. ``DeliveryRecorder`` (on the I/O loop)
writes it, with the session it belongs to, in the lease store: write-behind, ordered, batched
into one round trip for all of this process's shards, woken when the dispatcher's queue runs
empty and at least every ``interval`` seconds. A process that takes a shard over resumes from
that sequence, so Discord's replay brings back exactly the events the dead holder had not
finished with, except those finished in the last moments before the kill, whose record had not
been written yet (``docs/how-to/gateway-fleet.md`` states the guarantee).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import TYPE_CHECKING

from .events import Dispatcher
from .leases import LeasesUnavailable

if TYPE_CHECKING:
    from .coordinator import Coordinator

__all__ = ["DeliveryRecorder", "delivered"]

log = logging.getLogger("asgi_interactions.gateway.leases")


def delivered(dispatcher: Dispatcher, shard_id: int) -> tuple[str, int] | None:
    """(session id, sequence) of the last event of the shard whose listeners have all returned,
    with every earlier one's; None when unknown. Safe to call from another thread."""
    marks = dispatcher.delivered
    if marks is None:
        return None
    # The order of the reads matters (the app's loop writes meanwhile): a READY clears the mark
    # before it changes the session, and a listener is counted as running before its event's
    # mark is set, so a mark read first and a session read on either side of it agree.
    session = dispatcher.sessions.get(shard_id)
    seq = marks.get(shard_id)
    low = [s for sid, s in list(dispatcher.running) if sid == shard_id and s is not None]
    if session is None or seq is None or dispatcher.sessions.get(shard_id) != session:
        return None
    if low:
        seq = min(seq, min(low) - 1)
    return session, seq


class DeliveryRecorder:
    """Writes every held shard's delivered sequence in the lease store (see the module doc)."""

    def __init__(
        self,
        coordinator: Coordinator,
        dispatcher: Dispatcher,
        app_loop: asyncio.AbstractEventLoop,
        io_loop: asyncio.AbstractEventLoop,
        interval: float = 0.05,
        min_gap: float = 0.01,
    ) -> None:
        self.coordinator = coordinator
        self.dispatcher = dispatcher
        self.interval = interval
        self.min_gap = min_gap  # at most one write per min_gap: a busy shard costs little
        self._io_loop = io_loop
        self._app_loop = app_loop
        self._wake = asyncio.Event()
        self._poked = False
        self._written: dict[int, tuple[str, int]] = {}
        dispatcher.delivered = {}
        dispatcher.on_idle = self.poke

    def poke(self) -> None:
        """On the app's loop, when its queue of events ran empty: write soon."""
        if not self._poked:
            self._poked = True
            with contextlib.suppress(RuntimeError):  # the I/O loop is closed
                self._io_loop.call_soon_threadsafe(self._wake.set)

    def forget(self, shard_id: int, session_id: str) -> None:
        """A shard starts here by resuming ``session_id``: marks of an earlier stay are stale."""
        self.dispatcher.sessions.pop(shard_id, None)
        if self.dispatcher.delivered is not None:
            self.dispatcher.delivered.pop(shard_id, None)
        self.dispatcher.sessions[shard_id] = session_id
        self._written.pop(shard_id, None)

    async def run(self) -> None:
        """Write what changed whenever poked, at least every ``interval`` s; until cancelled."""
        loop = asyncio.get_running_loop()
        last = -math.inf
        while True:
            # At least every interval: a timer sets the event (no task, no cancellation: this
            # runs 20 times a second on an idle shard, so it must cost next to nothing).
            timer = loop.call_later(self.interval, self._wake.set)
            await self._wake.wait()
            timer.cancel()
            if (wait := last + self.min_gap - loop.time()) > 0:
                await asyncio.sleep(wait)
            self._wake.clear()
            self._poked = False
            last = loop.time()
            try:
                await self.write()
            except LeasesUnavailable:
                await asyncio.sleep(self.interval)  # the coordinator logs the outage
            except Exception:
                log.exception("gateway delivery record failed")

    async def write(self) -> None:
        """One round trip: each held shard whose delivered sequence moved (fenced by its lease)."""
        entries = []
        coordinator = self.coordinator
        for sid, held in list(coordinator.held.items()):
            mark = delivered(self.dispatcher, sid)
            shard = coordinator.shards.get(sid)
            if mark is None or shard is None or self._written.get(sid) == mark:
                continue
            if mark[0] == shard.session_id and shard.seq is not None and mark[1] > shard.seq:
                continue  # a stale mark: never claim more than the shard received
            entries.append((sid, held.token, mark[0], mark[1]))
        if not entries:
            return
        await coordinator.backend.save_delivered(entries)
        for sid, _, session, seq in entries:
            self._written[sid] = (session, seq)
