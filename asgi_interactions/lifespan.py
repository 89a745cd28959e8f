"""Startup and shutdown of what the app owns, the ASGI lifespan protocol, and mount fixing.

Startup opens the REST client, starts the gateway and syncs commands; shutdown drains in-flight
handler work and closes them again. Nested lifespans (a parent app's and the bot's own) start
things once: a counter of users decides.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from .rest import RestClient

__all__ = [
    "FrontDoor",
    "Lifecycle",
    "Service",
    "close_reserve",
    "close_within",
    "fix_mounts",
    "install_front_door",
]

log = logging.getLogger("asgi_interactions.lifespan")


class Service(Protocol):
    """Something the lifespan starts and closes alongside the app (the gateway client)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...


class Lifecycle:
    """Counts the lifespans that started the app; the first starts, the last stops."""

    def __init__(
        self,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
        abort: Callable[[], Awaitable[None]],
    ) -> None:
        self._start = start
        self._stop = stop
        self._abort = abort
        self.users = 0
        self._lock: asyncio.Lock | None = None

    def _locked(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def startup(self) -> None:
        """Start what the app owns; nested calls start things only once."""
        async with self._locked():
            await self._start_locked()

    async def _start_locked(self) -> None:
        self.users += 1
        if self.users > 1:
            return
        try:
            await self._start()
        except BaseException:
            self.users -= 1
            await self._abort()
            raise
        log.debug("started")

    async def shutdown(self) -> None:
        """The last user out finishes accepted work and closes what startup opened."""
        async with self._locked():
            if self.users == 0:
                return
            self.users -= 1
            if self.users > 0:
                return
            await self._stop()
            log.debug("stopped")

    async def ensure_started(self) -> None:
        """Start on the first request when no lifespan ran; concurrent first requests wait."""
        async with self._locked():
            if self.users > 0:
                return
            log.warning(
                "the app's lifespan did not run (Starlette's Mount does not forward it): starting "
                "lazily on the first request. Pass lifespan=bot.lifespan to the parent app."
            )
            await self._start_locked()

    @asynccontextmanager
    async def context(self) -> AsyncIterator[None]:
        """``async with``: startup on entry, shutdown on exit."""
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def protocol(self, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol, for running the bot alone under an ASGI server."""
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        try:
            await self.startup()
        except BaseException as exc:
            log.exception("startup failed")
            await send({"type": "lifespan.startup.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await self.shutdown()
        except BaseException as exc:
            log.exception("shutdown failed")
            await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})


def close_reserve(shutdown_timeout: float) -> float:
    """The part of a shutdown kept for closing the gateway and the REST client (at most 1 s)."""
    return min(1.0, shutdown_timeout / 10)


async def close_within(until: float, gateway: Service | None, rest: RestClient | None) -> None:
    """Close the gateway, then the REST client, both done by loop time ``until``.

    The REST client gets the time left for requests whose callers were cancelled to land (its
    close is cut short then, and still closes its pool); a gateway that does not close in its
    share is left behind (logged).
    """
    loop = asyncio.get_running_loop()
    if gateway is not None:
        share = (until - loop.time()) / 2
        try:
            async with asyncio.timeout(max(0.0, share)):
                await gateway.close()
        except TimeoutError:
            log.error("the gateway did not close within %.2fs at shutdown", share)
        except Exception:
            log.exception("closing the gateway failed")
    if rest is not None:
        left = max(0.0, until - loop.time())
        try:
            async with asyncio.timeout(left):
                await rest.close()
        except TimeoutError:
            log.error("REST requests still in flight at the end of shutdown were dropped")


def parent_lifespan(
    lifecycle: Lifecycle, fix: Callable[[Any], int], app: Any
) -> AbstractAsyncContextManager[None]:
    """``FastAPI(lifespan=bot.lifespan)``: fix the parent's mounts, then run the lifecycle."""
    if app is not None:
        fix(app)
    return lifecycle.context()


class MountAlias:
    """Serves ``POST /prefix`` (no trailing slash) as if it were ``POST /prefix/``."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = dict(scope)
        scope["root_path"] = scope.get("root_path", "") + self.path
        await self.app(scope, receive, send)


def fix_mounts(bot: ASGIApp, app: Any) -> int:
    """Add a no-trailing-slash route before every Starlette ``Mount`` of ``bot`` in ``app``.

    Discord follows no redirect, and a bare ``Mount("/interactions")`` answers
    ``POST /interactions`` with 307. Returns how many routes were added.
    """
    from starlette.routing import Mount, Route

    def walk(routes: list[Any]) -> int:
        added = 0
        for index in range(len(routes) - 1, -1, -1):
            route = routes[index]
            if not isinstance(route, Mount):
                continue
            if route.app is bot and route.path:
                already = any(
                    isinstance(r, Route)
                    and isinstance(r.endpoint, MountAlias)
                    and r.path == route.path
                    for r in routes
                )
                if not already:
                    alias = Route(route.path, endpoint=MountAlias(bot, route.path), methods=None)
                    alias.include_in_schema = False
                    routes.insert(index, alias)
                    added += 1
            elif isinstance(getattr(route, "routes", None), list):
                added += walk(route.routes)
        return added

    routes = getattr(getattr(app, "router", None), "routes", None)
    if routes is None:
        routes = getattr(app, "routes", None)
    return walk(routes) if isinstance(routes, list) else 0


class FrontDoor:
    """Sends a parent app's ``POST /prefix`` and ``POST /prefix/`` straight to the mounted bot.

    Installed by ``bot.lifespan(app)`` in place of the parent's middleware stack when that stack
    holds only the framework's own middleware: the bot answers these requests whole, so the
    parent's exception, body-limit and routing layers (~100k instructions a request in FastAPI)
    would do nothing but cost. Every other request takes the parent's usual path.
    """

    __slots__ = ("app", "bot", "paths")

    def __init__(self, app: ASGIApp, bot: ASGIApp, paths: dict[str, str]) -> None:
        self.app = app
        self.bot = bot  # the bot, or its HTTP handler (install_front_door)
        self.paths = paths  # request path -> the mount prefix (the bot's root_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            prefix = self.paths.get(scope["path"])
            if prefix is not None:
                scope["root_path"] = prefix  # what Starlette's Mount gives the bot
                await self.bot(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_front_door(bot: ASGIApp, app: Any, http: ASGIApp | None = None) -> bool:
    """Put a ``FrontDoor`` before a Starlette/FastAPI parent's middleware stack, when safe.

    Safe means: the stack is built (the parent's lifespan is running), the parent has no user
    middleware and no handler for 500/``Exception`` (both must keep seeing every request), and
    for each path the bot's ``Mount`` (or its no-slash route) is the route Starlette would pick
    for a POST. ``http``, when given, answers those requests in the bot's place (its HTTP
    handler, one call shorter than the bot itself). Returns whether it was installed.
    """
    stack = getattr(app, "middleware_stack", None)
    router = getattr(app, "router", None)
    routes = getattr(router, "routes", None)
    if stack is None or isinstance(stack, FrontDoor) or not isinstance(routes, list):
        return False
    if getattr(app, "user_middleware", None) or any(
        key in (500, Exception) for key in getattr(app, "exception_handlers", {})
    ):
        return False
    from starlette.routing import Match, Mount, Route

    def serves_bot(route: Any) -> bool:
        if isinstance(route, Mount):
            return route.app is bot
        endpoint = getattr(route, "endpoint", None)
        return isinstance(route, Route) and isinstance(endpoint, MountAlias) and endpoint.app is bot

    paths: dict[str, str] = {}
    for route in routes:
        if not (isinstance(route, Mount) and route.app is bot and route.path):
            continue
        for path in (route.path, route.path + "/"):
            probe = {"type": "http", "method": "POST", "path": path, "root_path": "",
                     "headers": [], "query_string": b""}  # fmt: skip
            try:
                first = next(r for r in routes if r.matches(dict(probe))[0] == Match.FULL)
            except Exception:  # a custom route that cannot take a probe: leave routing alone
                return False
            if not serves_bot(first):
                return False
            paths[path] = route.path
    if not paths:
        return False
    app.middleware_stack = FrontDoor(stack, http or bot, paths)
    log.debug("front door: %s served straight by the bot", ", ".join(sorted(paths)))
    return True


_heap_frozen = False


def freeze_heap_once() -> None:
    """Move everything alive after startup out of the collector's reach, once per process.

    Imports leave tens of thousands of long-lived objects; without this every full collection
    walks them all, which showed up as 10-20 ms p99 spikes under load.
    """
    global _heap_frozen
    if not _heap_frozen:
        gc.collect()
        gc.freeze()
        _heap_frozen = True
