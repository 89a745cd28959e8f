"""Runs this process's share of the shards: claims leases, hands shards over, stops lost ones.

Every ``lease / 4`` seconds a tick refreshes this process's membership, renews its leases, saves
its shards' sessions (fenced by the lease token; the sequence is the last one the listeners
finished with, see ``delivery.py``), hands over the shards that the live members'
assignment now gives to another process (close without ending the session, save, release), and
claims the free ones it should run, resuming from the saved session when there is one. A
watchdog stops a shard whose lease was not renewed in time (a paused process), before the lease
expires and another process can resume it. While the store is unreachable nothing is claimed
and running shards go on; after it is back, claims wait one lease period so that the running
holders re-claim their shards first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .leases import LeaseBackend, LeasesUnavailable, SavedSession, assign
from .shard import RECONNECT_CODE, Shard

__all__ = ["Coordinator"]

log = logging.getLogger("asgi_interactions.gateway.leases")

#: Seconds before a lease's expiry at which a holder that could not renew stops its shard.
STOP_MARGIN_SHARE = 0.25


@dataclass
class _Held:
    token: int
    valid_until: float


class Coordinator:
    """Claims and releases this process's shards; see the module docstring."""

    def __init__(
        self,
        backend: LeaseBackend,
        shard_count: int,
        lease: float,
        start_shard: Callable[[int, SavedSession | None], Shard],
        stop_shard: Callable[[int, int], Awaitable[Shard | None]],
        shards: dict[int, Shard],
        *,
        expires: bool = True,
    ) -> None:
        self.backend = backend
        self.count = shard_count
        self.lease = lease
        self.tick_interval = lease / 4
        self.expires = expires
        self.held: dict[int, _Held] = {}
        self._start_shard = start_shard
        self._stop_shard = stop_shard
        self._shards = shards
        self._reachable = True
        self._back_at = -math.inf
        self._lock = asyncio.Lock()
        self._saving: set[asyncio.Task[None]] = set()
        #: What the app's listeners have finished with (set by the gateway), and per shard the
        #: (session, seq) it was resumed from here: events up to it were delivered elsewhere.
        self.progress: Callable[[int], tuple[str, int] | None] | None = None
        self.resumed_from: dict[int, tuple[str, int | None]] = {}
        #: Seconds a handover waits for the listeners of the shard's last events to return
        #: (short of what would hold up the next renewal of the other leases).
        self.settle_limit = lease / 4

    @property
    def shards(self) -> dict[int, Shard]:
        """The shards running here, by id."""
        return self._shards

    @property
    def _end_code(self) -> int:
        """Handover keeps the session for the next holder; without shared sessions, end it."""
        return RECONNECT_CODE if self.backend.shared_sessions else 1000

    async def _alone(self) -> bool:
        """Is this process the only live member (its shutdown then ends the sessions)?"""
        try:
            return set(await self.backend.heartbeat()) <= {self.backend.member}
        except LeasesUnavailable:
            return False

    async def start(self, settle: float = 0.0) -> None:
        """Join the members and claim a first share at once (after ``settle`` seconds).

        Processes started together claim without waiting to see each other: the first claims
        every free shard and its IDENTIFYs fill the first window of every ``max_concurrency``
        key; the next ticks spread the shards, moving those still waiting to identify (and any
        READY one by RESUME; never one whose IDENTIFY awaits its READY), while the later
        windows go on.
        """
        try:
            await self.backend.join()
        except LeasesUnavailable as exc:
            self._unreachable(exc)
            return
        if settle:
            await asyncio.sleep(settle)
        await self.tick()

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                await self.tick()
                await self.save_all()
            except Exception:  # a bug must not end the shards' coordination
                log.exception("gateway lease tick failed")

    async def watchdog(self) -> None:
        """Stop a shard whose lease could not be renewed, before another process may take it."""
        if not self.expires:  # file locks: a lease lasts as long as this process, no renewal
            return
        margin = self.lease * STOP_MARGIN_SHARE
        while True:
            await asyncio.sleep(min(0.1, self.tick_interval / 2))
            if not (self.expires and self._reachable):
                continue  # unreachable store: nobody can claim the shard, so it runs on
            now = time.monotonic()
            for sid, held in list(self.held.items()):
                if now > held.valid_until - margin:
                    log.warning("shard %d: lease not renewed in time; stopping it", sid)
                    await self._drop(sid)

    def lease_ok(self, sid: int) -> bool:
        """May shard ``sid`` (re)connect now? Not when its lease may have expired unrenewed."""
        held = self.held.get(sid)
        if held is None:
            return False
        if not (self.expires and self._reachable):
            return True
        return time.monotonic() < held.valid_until - self.lease * STOP_MARGIN_SHARE

    async def tick(self) -> None:
        async with self._lock:
            await self._tick()

    async def _tick(self) -> None:
        began = time.monotonic()
        try:
            members = await self.backend.heartbeat()
            for sid, held in list(self.held.items()):
                token = await self.backend.claim(sid, held.token)
                if token == 0:
                    log.warning("shard %d: lease lost to another process; stopping it", sid)
                    await self._drop(sid)
                    continue
                held.token, held.valid_until = token, began + self.lease
        except LeasesUnavailable as exc:
            self._unreachable(exc)
            return
        if not self._reachable:
            self._reachable = True
            self._back_at = time.monotonic()
            log.warning("gateway lease store reachable again; running shards re-claimed")
        try:
            holders = await self.backend.holders(self.count)
        except LeasesUnavailable as exc:
            self._unreachable(exc)
            return
        target = assign(members, self.count, self.backend.member, holders)
        moving = [sid for sid in sorted(set(self.held) - target) if not self._identifying(sid)]
        await asyncio.gather(*(self._hand_over(sid) for sid in moving))
        if time.monotonic() - self._back_at < self.lease:
            return  # after an outage, the running holders re-claim before anyone claims anew
        for sid in sorted(target - set(self.held)):
            try:
                token = await self.backend.claim(sid, 0)
                if not token:
                    continue
                saved = await self.backend.load_session(sid)
            except LeasesUnavailable as exc:
                self._unreachable(exc)
                return
            self.held[sid] = _Held(token, began + self.lease if self.expires else math.inf)
            if saved is not None:
                self.resumed_from[sid] = (str(saved["session_id"]), saved.get("seq"))
            else:
                self.resumed_from.pop(sid, None)
            log.info("shard %d: lease taken (%s)", sid, "resuming" if saved else "identifying")
            self._start_shard(sid, saved)

    def _identifying(self, sid: int) -> bool:
        """Has the shard sent an IDENTIFY whose READY has not come? Moving it now would waste
        the session start; it moves at a later tick, by RESUME."""
        shard = self._shards.get(sid)
        return shard is not None and shard.state == "identifying"

    async def save(self, sid: int, shard: Shard) -> None:
        """Store the shard's session under its lease (a lost lease refuses the write)."""
        held = self.held.get(sid)
        if held is None or shard.session_id is None or shard.resume_url is None:
            return
        seq = self.delivered_seq(sid, shard)
        session = {"session_id": shard.session_id, "resume_url": shard.resume_url, "seq": seq}
        if not await self.backend.save_session(sid, held.token, session):
            log.warning("shard %d: session not saved: the lease is no longer ours", sid)

    def delivered_seq(self, sid: int, shard: Shard) -> int | None:
        """Where a next holder should resume the shard's session: after the last event whose
        listeners returned here (or, lacking a record, before any this process received)."""
        if self.progress is None:
            return shard.seq
        found = []
        mark = self.progress(sid)
        if mark is not None and mark[0] == shard.session_id:
            found.append(mark[1])
        start = self.resumed_from.get(sid)
        if start is not None and start[0] == shard.session_id and start[1] is not None:
            found.append(start[1])
        return max(found) if found else 0  # a new session, nothing delivered yet

    async def _settle(self, sid: int, shard: Shard) -> None:
        """After a shard stopped: wait (bounded) until its received events are delivered."""
        if self.progress is None or shard.seq is None:
            return
        deadline = time.monotonic() + self.settle_limit
        while (self.delivered_seq(sid, shard) or 0) < shard.seq:
            if time.monotonic() > deadline:
                log.warning(
                    "shard %d: listeners still running at handover; the next holder will "
                    "deliver their events again",
                    sid,
                )
                return
            await asyncio.sleep(0.01)

    def save_soon(self, sid: int) -> None:
        """Save shard ``sid``'s session in the background (after READY or RESUMED)."""
        shard = self._shards.get(sid)
        if shard is None or not self.backend.shared_sessions:
            return

        async def save() -> None:
            with contextlib.suppress(LeasesUnavailable):
                await self.save(sid, shard)

        task = asyncio.ensure_future(save())
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def save_all(self) -> None:
        """Save every held shard's session (called often, so a takeover replays little)."""
        if not self.backend.shared_sessions or not self._reachable:
            return
        with contextlib.suppress(LeasesUnavailable):
            for sid in list(self.held):
                shard = self._shards.get(sid)
                if shard is not None:
                    await self.save(sid, shard)

    async def close(self) -> None:
        """Hand every shard over (sessions kept when they are shared) and leave."""
        async with self._lock:
            end = 1000 if await self._alone() else self._end_code
            await asyncio.gather(*(self._hand_over(sid, end) for sid in sorted(self.held)))
            with contextlib.suppress(LeasesUnavailable):
                await self.backend.leave()

    async def _hand_over(self, sid: int, code: int | None = None) -> None:
        code = self._end_code if code is None else code
        shard = await self._stop_shard(sid, code)
        try:
            held = self.held.get(sid)
            if shard is not None and self.backend.shared_sessions and code != 1000:
                await self._settle(sid, shard)
                await self.save(sid, shard)
            elif held is not None and self.backend.shared_sessions:  # ended: nothing to resume
                await self.backend.drop_session(sid, held.token)
            held = self.held.pop(sid, None)
            if held is not None:
                await self.backend.release(sid, held.token)
        except LeasesUnavailable as exc:
            self._unreachable(exc)  # the lease expires on its own
        log.info("shard %d: handed over", sid)

    async def _drop(self, sid: int) -> None:
        """Stop a shard whose lease is gone, keeping its session for whoever holds it now."""
        self.held.pop(sid, None)
        await self._stop_shard(sid, RECONNECT_CODE)

    def _unreachable(self, exc: Exception) -> None:
        if self._reachable:
            self._reachable = False
            log.warning(
                "gateway lease store unreachable (%s): running shards go on, none is claimed "
                "until it is back",
                exc,
            )
