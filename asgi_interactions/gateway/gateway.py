"""Gateway: the public facade over this process's shards.

Shards run on their own thread and event loop, so heartbeats and socket reads go on while the
app's loop is busy (a handler that blocks it costs nothing but latency); dispatches are handed to
the app's loop, where listeners and the app's interaction handlers run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from . import commands
from .coordinator import Coordinator
from .delivery import DeliveryRecorder
from .discovery import fleet_gateway_bot
from .errors import GatewayError
from .events import Dispatcher, Listener
from .guild_commands import GuildCommands
from .identify_queue import FleetIdentifyQueue
from .intents import DEFAULT_INTENTS, Intents
from .ratelimit import IdentifyQueue
from .shard import Shard, ShardConfig, ShardStatus
from .sharing import SharedShards
from .transport import encode, resolve_compression

if TYPE_CHECKING:
    from ..rest import RestClient

__all__ = ["Gateway"]

log = logging.getLogger("asgi_interactions.gateway")

L = TypeVar("L", bound=Listener)
T = TypeVar("T")


class Gateway(GuildCommands, SharedShards):
    """Websocket shards for one process: events to listeners, interactions to the app.

    Args:
        token: the bot token; default ``DISCORD_TOKEN``.
        intents: the event groups to receive (``Intents``); default: all non-privileged ones.
        shard_ids: the shards this process runs; default all of ``range(shard_count)``.
        shard_count: total shards; default Discord's recommendation from ``GET /gateway/bot``.
        url: the gateway URL; None asks ``GET /gateway/bot`` (a given URL skips it, and
            ``max_concurrency`` is then 1).
        compress: True (zstd-stream when available, else zlib-stream), ``"zstd-stream"``,
            ``"zlib-stream"`` or False (plain JSON).
        redis_url: shares shard leases and resume state with every process and host of the
            bot; without it (and without ``shard_ids``) the processes of one host share the
            shards through file locks.
        presence: the presence sent with IDENTIFY (Discord's presence object).
        large_threshold: 50–250, member count above which offline members are not sent.
        rest: the RestClient for ``GET /gateway/bot``; default the app's, else one of its own.
        wait_for_session_budget: when the daily IDENTIFY budget cannot cover the shards, wait
            for it to reset instead of refusing to start.
        share_shards: with ``shard_ids=None``, run only this process's share of the shards
            (leases); False runs every shard here.
        lease_period: seconds a shard lease lasts unrenewed: a dead process's shards are
            taken over within about this long (renewed every quarter of it).
        session_floor: with ``redis_url``, the fleet's daily session budget below which no
            shard identifies (``GatewayError``) rather than have Discord reset the token.
    """

    def __init__(
        self,
        token: str | None = None,
        intents: Intents | int = DEFAULT_INTENTS,
        shard_ids: Iterable[int] | None = None,
        shard_count: int | None = None,
        url: str | None = None,
        compress: bool | str = True,
        redis_url: str | None = None,
        presence: dict[str, Any] | None = None,
        large_threshold: int = 50,
        *,
        rest: RestClient | None = None,
        wait_for_session_budget: bool = False,
        identify_interval: float = 5.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        send_limit: tuple[int, float] = (120, 60.0),
        close_timeout: float = 1.0,
        hello_timeout: float = 20.0,
        listener_backlog: int = 1000,
        blocked_warning: float = 1.0,
        share_shards: bool = True,
        lease_period: float = 5.0,
        lease_dir: str | None = None,
        session_floor: int = 0,
    ) -> None:
        token = token if token is not None else os.environ.get("DISCORD_TOKEN")
        if not token:
            raise GatewayError("no bot token: pass Gateway(token) or set DISCORD_TOKEN")
        if not 50 <= large_threshold <= 250:
            raise ValueError("large_threshold must be between 50 and 250")
        if shard_count is not None and shard_count < 1:
            raise ValueError("shard_count must be at least 1")
        if presence is not None:
            encode({"op": 3, "d": presence})  # a clear error now, not a 4002 later
        self.config = ShardConfig(
            token=token,
            intents=int(intents),
            compression=resolve_compression(compress),
            presence=presence,
            large_threshold=large_threshold,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            send_limit=send_limit,
            hello_timeout=hello_timeout,
            close_timeout=close_timeout,
        )
        self.shard_ids = sorted(set(shard_ids)) if shard_ids is not None else None
        self.shard_count = shard_count
        self.url = url
        self.redis_url = redis_url
        self.wait_for_session_budget = wait_for_session_budget
        self.identify_interval = identify_interval
        self.blocked_warning = blocked_warning
        self._rest = rest
        self.share_shards = share_shards
        self.lease_period = lease_period
        self.lease_dir = lease_dir
        self.session_floor = session_floor
        self._budget: tuple[int, float] | None = None
        self._fleet_queue: FleetIdentifyQueue | None = None
        self._coordinator: Coordinator | None = None
        self._recorder: DeliveryRecorder | None = None
        self._shard_tasks: dict[int, asyncio.Task[None]] = {}
        self._start_args: tuple[int, str, IdentifyQueue] | None = None
        self._app: Any = None
        self._dispatcher = Dispatcher(listener_backlog)
        self._shards: dict[int, Shard] = {}
        self._thread: threading.Thread | None = None
        self._io_loop: asyncio.AbstractEventLoop | None = None
        self._app_loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._error: GatewayError | None = None
        self._io_tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"<Gateway shards={sorted(self._shards)} alive={self.is_alive}>"

    # -- registration --------------------------------------------------------------------------

    def listen(self, event: str = "*") -> Callable[[L], L]:
        """Decorator: call the function with every dispatch named ``event`` (``"*"``: all)."""
        name = event.upper() if event != "*" else event

        def register(fn: L) -> L:
            self._dispatcher.add(name, fn)
            return fn

        return register

    def attach(self, app: Any) -> None:
        """Run ``app``'s handlers for INTERACTION_CREATE and use its REST client (InteractionApp
        calls this when given ``gateway=``)."""
        self._app = app
        self._dispatcher.interaction_handler = app.process_gateway_interaction
        if self.redis_url is None:  # the app's one switch for shared state (shard leases)
            self.redis_url = getattr(app, "redis_url", None)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect every shard of this process; returns once all are READY.

        Raises ``GatewayError`` if a shard fails for good first, or the IDENTIFY budget is short.
        """
        if self._thread is not None:
            return
        self._app_loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._error = None
        url, count, concurrency = await self._discover()
        ids = self.shard_ids if self.shard_ids is not None else list(range(count))
        if not ids or ids[0] < 0 or ids[-1] >= count:
            raise GatewayError(f"shard ids {ids} must lie in range({count})")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run_io_loop, args=(ready,), name="asgi-interactions-gateway", daemon=True
        )
        self._thread.start()
        ready.wait()
        queue_args = (concurrency, self.identify_interval)
        try:
            await self._on_io(self._io_start(url, count, ids, queue_args))
        except BaseException:
            await self.close()
            raise
        log.info("gateway started: shards %s of %d", sorted(self._shards), count)

    async def close(self) -> None:
        """Close every shard with 1000 (bounded, never waiting on a dead peer) and stop."""
        thread, io_loop = self._thread, self._io_loop
        if thread is None or io_loop is None:
            return
        try:
            await asyncio.wait_for(self._on_io(self._io_close()), self.config.close_timeout + 5)
        except (TimeoutError, RuntimeError):
            log.warning("gateway shards did not close in time")
        io_loop.call_soon_threadsafe(io_loop.stop)
        await asyncio.to_thread(thread.join, 5.0)
        self._thread = self._io_loop = None
        await self._dispatcher.drain(5.0)
        if self._stopped is not None:
            self._stopped.set()

    async def join(self) -> None:
        """Wait until the gateway stops; raises its ``error`` if it stopped for good."""
        if self._stopped is None:
            return
        await self._stopped.wait()
        if self._error is not None:
            raise self._error

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def is_alive(self) -> bool:
        """True while started and not stopped (by ``close`` or a fatal error)."""
        return self._thread is not None and self._error is None

    @property
    def error(self) -> GatewayError | None:
        """The error that stopped the gateway for good, else None."""
        return self._error

    # -- state and commands ---------------------------------------------------------------------

    @property
    def latency(self) -> float | None:
        """Mean heartbeat round trip over this process's shards (seconds); None before any."""
        values = [s.latency for s in self._shards.values() if s.latency is not None]
        return sum(values) / len(values) if values else None

    @property
    def shards(self) -> dict[int, ShardStatus]:
        """Shard id -> a snapshot of its state, latency, session, sequence and counters."""
        return {sid: shard.status() for sid, shard in sorted(self._shards.items())}

    def shard_for_guild(self, guild_id: int | str) -> int:
        """The shard that receives ``guild_id``'s events: ``(guild_id >> 22) % shard_count``."""
        count = self.shard_count or 1
        return (int(guild_id) >> 22) % count

    async def update_presence(
        self,
        status: str = "online",
        activity: dict[str, Any] | str | None = None,
        *,
        afk: bool = False,
        since: int | None = None,
    ) -> None:
        """Set the bot's presence on every shard (op 3), and for later IDENTIFYs.

        ``activity`` is Discord's activity object, or a string for "Playing <string>".
        """
        if status not in {"online", "dnd", "idle", "invisible", "offline"}:
            raise ValueError(f"unknown status {status!r}")
        if isinstance(activity, str):
            activity = {"name": activity, "type": 0}
        presence = {
            "since": since,
            "activities": [activity] if activity else [],
            "status": status,
            "afk": afk,
        }
        commands.check_size({"op": 3, "d": presence})
        self.config.presence = presence
        shards = list(self._shards.values())

        async def send_all() -> None:
            await asyncio.gather(*(s.send({"op": 3, "d": presence}) for s in shards))

        await self._on_io(send_all())

    # -- internals -----------------------------------------------------------------------------

    async def _discover(self) -> tuple[str, int, int]:
        """The URL, shard count and max_concurrency; checks the session start budget."""
        if self.url is not None:
            self.shard_count = self.shard_count or 1
            return self.url, self.shard_count, 1
        rest = self._rest
        own = rest is None and self._app is None
        if rest is None:
            if self._app is not None:
                rest = self._app.rest
            else:
                from ..rest import RestClient

                rest = RestClient(self.config.token)
        try:
            if self.redis_url and self.shard_ids is None and self.share_shards:
                info = await fleet_gateway_bot(
                    self.redis_url,
                    self.config.token,
                    rest.base_url,
                    rest.get_gateway_bot,
                    socket_timeout=min(1.0, self.lease_period / 8),
                )
            else:
                info = await rest.get_gateway_bot()
        finally:
            if own:
                await rest.close()
        self.shard_count = count = self.shard_count or int(info["shards"])
        limit = info["session_start_limit"]
        needed = len(self.shard_ids) if self.shard_ids is not None else count
        remaining, reset = int(limit["remaining"]), float(limit["reset_after"]) / 1000.0
        self._budget = (remaining, reset)
        if remaining < needed:
            message = (
                f"only {remaining} of {limit['total']} session starts (IDENTIFYs) are left today "
                f"and {needed} shard(s) need one; the budget resets in {reset:.0f}s"
            )
            if not self.wait_for_session_budget:
                raise GatewayError(message + " (pass wait_for_session_budget=True to wait)")
            log.warning("%s; waiting", message)
            await asyncio.sleep(reset)
        return str(info["url"]), count, int(limit.get("max_concurrency", 1))

    def _run_io_loop(self, ready: threading.Event) -> None:
        loop = self._io_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        ready.set()
        try:
            loop.run_forever()
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def _on_io(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run a coroutine on the I/O loop and await it from the app's loop."""
        if self._io_loop is None:
            coro.close()
            raise GatewayError("the gateway is not running; call start() first")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self._io_loop)
        return asyncio.wrap_future(future)

    def _flush(self) -> None:
        """On the I/O loop, after a read: wake the app's loop once for what it delivered."""
        assert self._app_loop is not None
        self._dispatcher.hand_over(self._app_loop)

    async def _io_start(
        self, url: str, count: int, ids: list[int], queue_args: tuple[int, float]
    ) -> None:
        queue = IdentifyQueue(*queue_args)
        if self.shard_ids is None and self.share_shards:
            await self._io_start_shared(url, count, queue)
            return
        for sid in ids:  # in shard order: the identify queue serves them first come first served
            deliver, flush = self._dispatcher.pending.append, self._flush  # events in order
            shard = self._shards[sid] = Shard(sid, count, url, self.config, queue, deliver, flush)
            shard.wanted = self._dispatcher.listeners  # names with listeners, read live
            self._io_tasks.append(asyncio.ensure_future(self._supervise(shard)))
        self._io_tasks.append(asyncio.ensure_future(self._watch_app_loop()))
        await asyncio.gather(*(s.first_ready for s in self._shards.values()))

    async def _supervise(self, shard: Shard) -> None:
        await shard.run()
        if shard.error is not None and self._error is None:
            self._error = shard.error
            await asyncio.gather(*(s.close() for s in self._shards.values() if s is not shard))
            for task in self._io_tasks:
                if task is not asyncio.current_task():
                    task.cancel()
            assert self._app_loop is not None and self._stopped is not None
            self._app_loop.call_soon_threadsafe(self._stopped.set)

    async def _io_close(self) -> None:
        await self._close_shared()
        await asyncio.gather(*(s.close() for s in self._shards.values()))
        for task in self._io_tasks:
            task.cancel()
        if self._io_tasks:
            await asyncio.wait(self._io_tasks, timeout=1.0)
        self._io_tasks.clear()

    async def _watch_app_loop(self) -> None:
        """Probe the app's loop; when a probe was held up, log once how long it was blocked."""
        app_loop = self._app_loop
        assert app_loop is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.25)
            ran: asyncio.Future[float] = loop.create_future()

            def probe(ran: asyncio.Future[float] = ran) -> None:
                loop.call_soon_threadsafe(_settle, ran, time.monotonic())

            posted = time.monotonic()
            try:
                app_loop.call_soon_threadsafe(probe)
            except RuntimeError:
                return
            delay = await ran - posted
            if delay > self.blocked_warning:
                log.warning(
                    "the app's event loop was blocked for %.2fs; the gateway shards kept "
                    "heartbeating on their own thread, but events waited",
                    delay,
                )


def _settle(future: asyncio.Future[float], value: float) -> None:
    if not future.done():
        future.set_result(value)
