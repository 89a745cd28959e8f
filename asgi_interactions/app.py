"""InteractionApp: configuration, registration decorators, and the wiring of the parts.

The request path lives in ``endpoint``, handler running in ``runner`` (shared with the gateway
path), startup and shutdown in ``lifespan``; this module only puts them together.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.types import Receive, Scope, Send

from ._sync import to_async
from .body import BodyReader
from .commands import CommandTree
from .commands.tree import Route
from .context import Context, InitialResponse
from .endpoint import Endpoint
from .errors import ConfigurationError
from .lifespan import (
    Lifecycle,
    Service,
    close_reserve,
    close_within,
    fix_mounts,
    freeze_heap_once,
    install_front_door,
    parent_lifespan,
)
from .models import Interaction, InteractionType
from .runner import Handler, Runner
from .shared_state import SharedState
from .verify import DEFAULT_REPLAY_CACHE_SIZE, ReplayCache, SharedReplayStore, SignatureVerifier
from .webhook_events.app import WebhookEventsApp

if TYPE_CHECKING:
    from .commands.sync import SyncReport
    from .rest import RateLimiter, RestClient

__all__ = ["InteractionApp"]

log = logging.getLogger("asgi_interactions.app")

# Plain functions are accepted too (they run in a worker thread), hence ``Any`` results.
H = TypeVar("H", bound=Callable[[Context], Any])
E = TypeVar("E", bound=Callable[[Context, Exception], Any])


class InteractionApp:
    """An ASGI app that verifies Discord interactions and routes them to your handlers.

    ``bot.webhook_events`` is a second ASGI app, for the Webhook Events URL, whose handlers are
    registered with ``@bot.event("ENTITLEMENT_CREATE")``; it shares this app's checks, handler
    limits and lifespan.

    Args:
        public_key: the application's public key (hex or 32 bytes); default
            ``DISCORD_PUBLIC_KEY``.
        token: the bot token for REST calls; default ``DISCORD_TOKEN``. Interaction webhooks
            (deferrals, follow-ups, edits) work without one.
        application_id: default ``DISCORD_APPLICATION_ID``, else learned from interactions.
        rest: a ``RestClient`` to use instead of building one; the lifespan opens and closes it.
        gateway: a service with ``start()``/``close()`` run by the lifespan, or None.
        max_body_size: larger bodies get 413 without being read whole. The default, 1 MiB, is
            ~165x the largest real interaction we know (6.4 KB compact: a modal submit with
            selects and a file upload), yet only ~1.3x one built at Discord's documented limits
            (0.78 MB: a button on a message with full content, 10 embeds, 2,048-character URLs,
            replying to a message as large); memory is bounded by ``max_unverified_bytes``.
        body_timeout: seconds to receive a whole request body; past it, 408 and the connection
            is closed. Discord sends the body at once and waits only 3 s for the answer.
        max_unverified_bytes: bytes all bodies still arriving may hold at once (before their
            signature is checked); a request that does not fit gets 503 and is not read.
        timestamp_tolerance: seconds a request's timestamp may be off; None disables the check.
        defer_after: seconds before a slow handler is deferred (type 5, or 6 for components);
            None disables auto-defer.
        shutdown_timeout: seconds the whole shutdown may take: waiting for in-flight handlers,
            failure notices for those still running at its end, closing the gateway and REST.
        replay_cache_size: how many accepted signatures this process remembers to refuse replays
            (each until its signed timestamp + ``timestamp_tolerance``); 0 turns replay checks
            off. The default covers the whole window at about 330 interactions/s.
        redis_url: one switch for everything the app shares across workers and hosts: seen
            signatures, the REST rate limits (when the app builds its REST client) and the
            startup sync lock. While Redis is unreachable each part falls back to this process.
        max_concurrency: handlers in flight at once; beyond it users get an ephemeral "busy".
        handler_timeout: seconds a handler may run (an interaction token lives 15 minutes);
            then it is cancelled, its slot freed, and its user gets a failure notice or edit.
        sync_commands: sync commands with Discord at startup, once per deployment.
        serverless: deliver deferrals through the callback endpoint and finish work before
            returning (AWS Lambda with Mangum); see the serverless how-to.
        freeze_gc: after the first startup in a process, ``gc.freeze()`` the heap so full
            collections stop walking import-time objects (cuts p99 latency under load).
    """

    def __init__(
        self,
        public_key: str | bytes | None = None,
        token: str | None = None,
        application_id: int | str | None = None,
        rest: RestClient | None = None,
        gateway: Service | None = None,
        max_body_size: int = 1 << 20,
        timestamp_tolerance: float | None = 300.0,
        defer_after: float | None = 2.5,
        shutdown_timeout: float = 30.0,
        *,
        replay_cache_size: int = DEFAULT_REPLAY_CACHE_SIZE,
        redis_url: str | None = None,
        body_timeout: float = 3.0,
        max_unverified_bytes: int = 32 << 20,
        max_concurrency: int = 1000,
        handler_timeout: float = 900.0,
        sync_commands: bool = False,
        serverless: bool = False,
        freeze_gc: bool = True,
    ) -> None:
        key = public_key if public_key is not None else os.environ.get("DISCORD_PUBLIC_KEY")
        if not key:
            raise ConfigurationError(
                "no public key: pass public_key= or set DISCORD_PUBLIC_KEY "
                "(the application's public key from the developer portal; for local tests, "
                "the public key of asgi_interactions.testing.DEVELOPMENT_KEYS)"
            )
        if defer_after is not None and not 0 < defer_after < 3:
            raise ConfigurationError("defer_after must be between 0 and 3 seconds, or None")
        if max_body_size <= 0 or max_concurrency <= 0:
            raise ConfigurationError("max_body_size and max_concurrency must be positive")
        if not handler_timeout > 0 or not shutdown_timeout >= 0:
            raise ConfigurationError(
                "handler_timeout must be positive and shutdown_timeout not negative"
            )
        if replay_cache_size < 0:
            raise ConfigurationError("replay_cache_size must be 0 (off) or positive")
        if not body_timeout > 0:
            raise ConfigurationError("body_timeout must be a positive number of seconds")
        if max_unverified_bytes < max_body_size:
            raise ConfigurationError("max_unverified_bytes must be at least max_body_size")
        self._shared = SharedState(redis_url) if redis_url else None
        replay = shared_replay = None
        if replay_cache_size > 0:
            replay = ReplayCache(replay_cache_size, ttl=timestamp_tolerance)
            if self._shared is not None:
                shared_replay = SharedReplayStore(self._shared, replay, ttl=timestamp_tolerance)
        self._verifier = SignatureVerifier(
            key,
            timestamp_tolerance=timestamp_tolerance,
            replay_cache=replay,
            shared_replay=shared_replay,
        )
        self._own_limiter: RateLimiter | None = None
        self._token = token if token is not None else os.environ.get("DISCORD_TOKEN")
        app_id = application_id or os.environ.get("DISCORD_APPLICATION_ID")
        try:
            self.application_id: int | None = int(app_id) if app_id else None
        except ValueError:
            raise ConfigurationError(
                f"application_id / DISCORD_APPLICATION_ID must be the numeric Application ID "
                f"from the developer portal, got {app_id!r}"
            ) from None
        self._rest = rest
        self.gateway = gateway
        attach = getattr(gateway, "attach", None)
        if attach is not None:  # a Gateway: INTERACTION_CREATE runs this app's handlers
            attach(self)
        self.shutdown_timeout = shutdown_timeout
        self.sync_commands_at_startup = sync_commands
        self.serverless = serverless
        self.freeze_gc = freeze_gc
        self._handlers: dict[int, Handler] = {}
        tree = self._tree = CommandTree()
        # The command layer's decorators, bound here so they keep CommandTree's exact types.
        self.command = tree.command
        self.group = tree.group
        self.user_command = tree.user_command
        self.message_command = tree.message_command
        self.component = tree.component
        self.autocomplete = tree.autocomplete
        self.modal = tree.modal
        self._runner = Runner(
            self,
            self._resolve,
            defer_after=defer_after,
            max_concurrency=max_concurrency,
            handler_timeout=handler_timeout,
        )
        self._lifecycle = Lifecycle(self._start, self._stop, self._close_resources)
        self._endpoint = Endpoint(
            self._verifier,
            self._runner,
            reader=BodyReader(max_body_size, body_timeout, max_unverified_bytes),
            serverless=serverless,
            shutdown_timeout=shutdown_timeout,
            is_running=self._is_running,
            ensure_started=self._lifecycle.ensure_started,
        )
        self.webhook_events = WebhookEventsApp(
            endpoint=self._endpoint,
            runner=self._runner,
            lifecycle=self._lifecycle,
            lifespan=self.lifespan,
            shared=self._shared,
            serverless=serverless,
            shutdown_timeout=shutdown_timeout,
        )
        """The ASGI app for the Webhook Events URL: mount it at its own path."""
        self.event = self.webhook_events.event

    # -- registration ---------------------------------------------------------------------------

    def on(self, interaction_type: int) -> Callable[[H], H]:
        """Register a low-level handler for one interaction type; it wins over the command layer.

        A plain function runs in a worker thread, an ``async def`` on the event loop.
        """

        def register(handler: H) -> H:
            if interaction_type == InteractionType.PING:
                raise ConfigurationError("PING is answered by the app itself")
            self._handlers[int(interaction_type)] = to_async(handler)
            return handler

        return register

    def error_handler(self, handler: E) -> E:
        """Register the app-wide error handler: ``handler(ctx, exc) -> Message | None``.

        A plain function runs in a worker thread, an ``async def`` on the event loop.
        """
        self._runner.error_handler = to_async(handler)
        return handler

    def _resolve(self, interaction_type: int) -> Handler | None:
        """The handler for an interaction type: a low-level one first, else the command layer."""
        handler = self._handlers.get(interaction_type)
        if handler is None and self._tree.handles(interaction_type):
            handler = self._tree.dispatch
        return handler

    def routes(self) -> list[Route]:
        """Every command, autocomplete, component, modal and webhook event handler, as rows."""
        return self._tree.routes() + self.webhook_events.routes()

    @property
    def tree(self) -> CommandTree:
        """The command layer's routing table (also reachable via the decorators below)."""
        return self._tree

    def commands_payload(self) -> dict[int | None, list[dict[str, Any]]]:
        """The command JSON per scope (None for global, else a guild id), as Discord takes it."""
        return self._tree.payload()

    async def sync_commands(
        self, *, guild_id: int | None = None, dry_run: bool = False
    ) -> SyncReport:
        """Overwrite Discord's commands where they differ from the declared ones."""
        from .commands.sync import sync_commands

        return await sync_commands(
            self.rest,
            await self._resolve_application_id(),
            self.commands_payload(),
            guild_id=guild_id,
            dry_run=dry_run,
        )

    # -- resources ------------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        """The bot token the app's REST client uses (None: interaction webhooks only)."""
        return self._token

    @property
    def rest(self) -> RestClient:
        """The REST client the lifespan opens (built from ``token`` unless one was given)."""
        if self._rest is None:
            from .rest import RestClient

            if self._shared is not None:
                from .rest.ratelimit.redis import RedisRateLimiter

                self._own_limiter = RedisRateLimiter(self._shared.url)
            self._rest = RestClient(self._token, rate_limiter=self._own_limiter)
        return self._rest

    @property
    def redis_url(self) -> str | None:
        """The Redis URL everything shared goes through (None: all state is per process)."""
        return None if self._shared is None else self._shared.url

    @property
    def is_running(self) -> bool:
        """True between startup and shutdown (or after a lazy start)."""
        return self._lifecycle.users > 0

    def _is_running(self) -> bool:
        return self._lifecycle.users > 0

    @property
    def max_body_size(self) -> int:
        """Larger request bodies get 413 without being read whole."""
        return self._endpoint.reader.max_body_size

    @property
    def body_timeout(self) -> float:
        """Seconds to receive a whole request body before 408 and a closed connection."""
        return self._endpoint.reader.body_timeout

    @property
    def max_unverified_bytes(self) -> int:
        """Bytes that bodies still arriving (not yet verified) may hold at once in this process."""
        return self._endpoint.reader.max_unverified_bytes

    @property
    def defer_after(self) -> float | None:
        """Seconds before a slow handler is deferred; None: never."""
        return self._runner.defer_after

    @property
    def max_concurrency(self) -> int:
        """Handlers in flight at once; beyond it users get an ephemeral "busy"."""
        return self._runner.max_concurrency

    @property
    def handler_timeout(self) -> float:
        """Seconds a handler may run before it is stopped and its user told it failed."""
        return self._runner.handler_timeout

    async def _resolve_application_id(self) -> int:
        if self.application_id is None:
            me = await self.rest.get_current_user()
            self.application_id = int(me["id"])
        return self.application_id

    # -- lifespan -------------------------------------------------------------------------------

    def lifespan(self, app: Any = None) -> AbstractAsyncContextManager[None]:
        """Start and stop what the bot owns; use as ``FastAPI(lifespan=bot.lifespan)``.

        Given the parent app, it also makes ``POST /prefix`` (no trailing slash) reach a bot
        mounted with ``app.mount("/prefix", bot)``: Discord does not follow Starlette's 307.
        When the parent has no middleware of its own, those POSTs then skip its routing layers.
        """
        return parent_lifespan(self._lifecycle, self._prepare_parent, app)

    def _prepare_parent(self, app: Any) -> int:
        added = fix_mounts(self, app) + fix_mounts(self.webhook_events, app)
        install_front_door(self, app, self._endpoint)
        return added

    def fix_mounts(self, app: Any) -> int:
        """Add a no-trailing-slash route before every Starlette ``Mount`` of this bot (and of
        its ``webhook_events`` app) in ``app``."""
        return fix_mounts(self, app) + fix_mounts(self.webhook_events, app)

    async def startup(self) -> None:
        """Open the REST client and start the gateway; nested calls start things only once."""
        await self._lifecycle.startup()

    async def shutdown(self) -> None:
        """Finish accepted work (up to ``shutdown_timeout``), then close what startup opened."""
        await self._lifecycle.shutdown()

    async def _start(self) -> None:
        await self.rest.open()
        if self.gateway is not None:
            await self.gateway.start()
        if self.sync_commands_at_startup:
            await self._sync_at_startup()
        if self.freeze_gc:
            freeze_heap_once()

    async def _stop(self) -> None:
        """Drain, then close, all within ``shutdown_timeout`` (the closing keeps a small part)."""
        until = asyncio.get_running_loop().time() + self.shutdown_timeout
        await self._runner.drain(until - close_reserve(self.shutdown_timeout))
        await close_within(until, self.gateway, self._rest)
        await self._close_shared(until)

    async def _close_resources(self) -> None:
        until = asyncio.get_running_loop().time() + self.shutdown_timeout
        await close_within(until, self.gateway, self._rest)
        await self._close_shared(until)

    async def _close_shared(self, until: float) -> None:
        """Close what ``redis_url`` opened (the shared client, the app's own rate limiter)."""
        parts = [part for part in (self._shared, self._own_limiter) if part is not None]
        try:
            async with asyncio.timeout(max(0.0, until - asyncio.get_running_loop().time())):
                for part in parts:  # a limiter given to RestClient is ours to close
                    await part.aclose()
        except TimeoutError:
            log.warning("Redis connections were still closing at the end of shutdown")

    async def _sync_at_startup(self) -> None:
        from .commands.sync import sync_at_startup

        report = await sync_at_startup(
            self.rest,
            await self._resolve_application_id(),
            self.commands_payload(),
            redis_url=self.redis_url,
        )
        if report is not None:
            log.info("command sync: %s", report)

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._endpoint(scope, receive, send)
        elif kind == "lifespan":
            await self._lifecycle.protocol(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    # -- processing -----------------------------------------------------------------------------

    async def process(self, interaction: Interaction) -> InitialResponse:
        """Run the interaction's handler and return its initial response, deferring if it is slow.

        The handler runs as a tracked task: if it outlives ``defer_after`` the deferral is
        returned at once and the task's result later edits the original response.
        """
        return await self._runner.process(interaction)

    async def process_gateway_interaction(self, data: dict[str, Any]) -> None:
        """Answer an ``INTERACTION_CREATE`` from the gateway through the callback endpoint."""
        await self._runner.process_gateway_interaction(data)
