"""GatewayEvent and the delivery of dispatches to listeners on the app's event loop.

Listeners run as their own tasks (plain ``def`` ones in the app's worker-thread pool), started
in sequence order, so a slow or failing listener never delays reading, heartbeats or other
listeners.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .._sync import to_async

__all__ = ["Dispatcher", "GatewayEvent", "Listener"]

log = logging.getLogger("asgi_interactions.gateway")


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """One dispatch (op 0): its name (``t``), the shard it came on, its sequence and payload."""

    name: str
    shard_id: int
    seq: int | None
    data: Any


Listener = Callable[[GatewayEvent], Awaitable[None] | None]
AsyncListener = Callable[[GatewayEvent], Awaitable[Any]]


class Dispatcher:
    """Runs on the app's loop: starts every matching listener for each event, in order."""

    def __init__(self, backlog_limit: int = 1000) -> None:
        self.listeners: dict[str, list[AsyncListener]] = {}
        self.interaction_handler: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.backlog_limit = backlog_limit
        self.tasks: set[asyncio.Task[None]] = set()
        self._over = False
        self._routes: dict[str, list[AsyncListener]] = {}

    def add(self, name: str, listener: Listener) -> None:
        """Register ``listener`` for dispatches named ``name`` (``"*"``: every dispatch)."""
        self.listeners.setdefault(name, []).append(to_async(listener))
        self._routes.clear()

    def _route(self, name: str) -> list[AsyncListener]:
        """The listeners of ``name`` then those of ``"*"`` (cached per name)."""
        route = self._routes.get(name)
        if route is None:
            route = self._routes[name] = [
                *self.listeners.get(name, ()),
                *self.listeners.get("*", ()),
            ]
        return route

    def dispatch(self, event: GatewayEvent) -> None:
        """Start the listeners of ``event`` (and the app's handlers for INTERACTION_CREATE)."""
        if (
            event.name == "INTERACTION_CREATE"
            and self.interaction_handler is not None
            and isinstance(event.data, dict)
        ):
            self._spawn(self._interaction(event), event)
        for listener in self._route(event.name):
            self._spawn(self._run(listener, event), event)

    def _spawn(self, coro: Awaitable[None], event: GatewayEvent) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if len(self.tasks) > self.backlog_limit and not self._over:
            self._over = True
            log.warning(
                "gateway listener backlog over %d tasks (at %s on shard %d): listeners are "
                "slower than the events arrive",
                self.backlog_limit,
                event.name,
                event.shard_id,
            )
        elif self._over and len(self.tasks) < self.backlog_limit // 2:
            self._over = False
            log.info("gateway listener backlog back to %d tasks", len(self.tasks))

    async def _interaction(self, event: GatewayEvent) -> None:
        assert self.interaction_handler is not None
        try:
            await self.interaction_handler(event.data)
        except Exception:
            log.exception("INTERACTION_CREATE on shard %d failed", event.shard_id)

    @staticmethod
    async def _run(listener: AsyncListener, event: GatewayEvent) -> None:
        try:
            await listener(event)
        except Exception:
            name = partial_name(listener)
            log.exception(
                "listener %s failed on %s (shard %d, seq %s)",
                name,
                event.name,
                event.shard_id,
                event.seq,
            )

    async def drain(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for running listeners, then cancel what is left."""
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=limit)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)


def partial_name(fn: Callable[..., Any]) -> str:
    """A readable name for a listener, also through ``functools.partial``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__qualname__", repr(fn))
