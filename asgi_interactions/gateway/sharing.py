"""How ``Gateway`` runs its share of the shards (mixed in): the lease coordinator's hooks.

With ``shard_ids=None`` the coordinator (``coordinator.py``) decides which shards this process
runs; these methods start them (resuming a saved session when there is one), stop them for a
handover, and close the leases and the fleet's IDENTIFY queue with the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from functools import partial
from typing import Any, Protocol

from .coordinator import Coordinator
from .delivery import DeliveryRecorder, delivered
from .events import Dispatcher
from .identify_queue import FleetIdentifyQueue
from .leases import FileLeases, LeaseBackend, RedisLeases, SavedSession, namespace
from .ratelimit import IdentifyQueue
from .shard import Shard, ShardConfig

__all__ = ["SharedShards"]


class _Gateway(Protocol):
    """What the mixin uses of ``Gateway``."""

    config: ShardConfig
    url: str | None
    redis_url: str | None
    lease_period: float
    lease_dir: str | None
    session_floor: int
    _budget: tuple[int, float] | None
    _fleet_queue: FleetIdentifyQueue | None
    _coordinator: Coordinator | None
    _recorder: DeliveryRecorder | None
    _start_args: tuple[int, str, IdentifyQueue] | None
    _dispatcher: Dispatcher
    _app_loop: asyncio.AbstractEventLoop | None
    _shards: dict[int, Shard]
    _shard_tasks: dict[int, asyncio.Task[None]]
    _io_tasks: list[asyncio.Task[None]]

    def _flush(self) -> None: ...
    def _supervise(self, shard: Shard) -> Coroutine[Any, Any, None]: ...
    def _watch_app_loop(self) -> Coroutine[Any, Any, None]: ...
    def _start_shard(self, sid: int, saved: SavedSession | None) -> Shard: ...
    async def _stop_shard(self, sid: int, code: int) -> Shard | None: ...


class SharedShards:
    """The shared-shards half of ``Gateway``'s start and close."""

    _fleet_queue: FleetIdentifyQueue | None
    _coordinator: Coordinator | None
    _recorder: DeliveryRecorder | None = None
    _start_args: tuple[int, str, IdentifyQueue] | None

    async def _io_start_shared(self: _Gateway, url: str, count: int, queue: IdentifyQueue) -> None:
        """Start the lease coordinator; wait for the shards of its first claim to be READY."""
        backend: LeaseBackend
        name = namespace(self.config.token, self.url, count)
        if self.redis_url:
            timeout = min(1.0, self.lease_period / 8)
            backend = RedisLeases(self.redis_url, name, self.lease_period, timeout)
            fleet = self._fleet_queue = FleetIdentifyQueue(
                self.redis_url,
                f"{backend.prefix.rsplit('-', 1)[0]}:identify",  # one queue per token
                backend.member,
                queue.max_concurrency,
                queue.interval,
                floor=self.session_floor,
                timeout=timeout,
            )
            if self._budget is not None:
                with contextlib.suppress(Exception):  # unreachable: Discord's count at start
                    await fleet.set_budget(*self._budget)
            queue = fleet
        else:
            backend = FileLeases(name, self.lease_dir)
        self._start_args = (count, url, queue)
        coordinator = self._coordinator = Coordinator(
            backend,
            count,
            self.lease_period,
            self._start_shard,
            self._stop_shard,
            self._shards,
            expires=isinstance(backend, RedisLeases),
        )
        if backend.shared_sessions:  # a takeover resumes after the last event delivered here
            assert self._app_loop is not None
            dispatcher = self._dispatcher
            gap = 0.01 if isinstance(backend, RedisLeases) else 0.05  # a file per shard
            self._recorder = DeliveryRecorder(
                coordinator, dispatcher, self._app_loop, asyncio.get_running_loop(), min_gap=gap
            )
            coordinator.progress = partial(delivered, dispatcher)
            self._io_tasks.append(asyncio.ensure_future(self._recorder.run()))
        await coordinator.start()
        self._io_tasks.append(asyncio.ensure_future(coordinator.run()))
        self._io_tasks.append(asyncio.ensure_future(coordinator.watchdog()))
        self._io_tasks.append(asyncio.ensure_future(self._watch_app_loop()))
        await asyncio.gather(*(s.first_ready for s in list(self._shards.values())))

    def _start_shard(self: _Gateway, sid: int, saved: SavedSession | None) -> Shard:
        """Coordinator hook: run shard ``sid`` here, resuming ``saved`` when given."""
        assert self._start_args is not None
        count, url, queue = self._start_args
        deliver = self._dispatcher.pending.append  # events in order
        shard = Shard(sid, count, url, self.config, queue, deliver, self._flush)
        shard.wanted = self._dispatcher.listeners  # names with listeners, read live
        if self._coordinator is not None:  # READY and RESUMED save the session: a takeover
            shard.on_session = self._coordinator.save_soon  # from then on resumes
        if saved is not None:
            shard.restore(str(saved["session_id"]), str(saved["resume_url"]), saved.get("seq"))
            if self._recorder is not None:
                self._recorder.forget(sid, str(saved["session_id"]))
        if self._coordinator is not None:
            shard.lease_ok = partial(self._coordinator.lease_ok, sid)
        shard.first_ready.add_done_callback(_retrieved)  # start() may no longer be waiting
        self._shards[sid] = shard
        self._shard_tasks[sid] = asyncio.ensure_future(self._supervise(shard))
        return shard

    async def _stop_shard(self: _Gateway, sid: int, code: int) -> Shard | None:
        """Coordinator hook: close shard ``sid`` with ``code`` and wait (bounded) for its end."""
        shard = self._shards.pop(sid, None)
        task = self._shard_tasks.pop(sid, None)
        if shard is not None:
            await shard.close(code)
            if not shard.first_ready.done():  # start() waits on it: a handed-over shard is done
                shard.first_ready.set_result(None)
        if task is not None:  # closed: it ends at once, unless it waits to identify or back off
            _, pending = await asyncio.wait({task}, timeout=0.1)
            for t in pending:
                t.cancel()
        return shard

    async def _close_shared(self: _Gateway) -> None:
        """Stop the ticks, hand every shard over, and close the fleet's IDENTIFY queue."""
        if self._coordinator is not None:
            coordinator, self._coordinator = self._coordinator, None
            for task in self._io_tasks:  # the ticks stop first, then every shard is handed over
                task.cancel()
            await asyncio.wait_for(coordinator.close(), self.config.close_timeout + 5)
        if self._fleet_queue is not None:
            fleet, self._fleet_queue = self._fleet_queue, None
            with contextlib.suppress(Exception):
                await fleet.aclose()


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
