"""InteractionApp: the ASGI application that receives, verifies and answers Discord interactions.

The request path is written against raw ASGI (no Request/Response objects) because it is hot;
Starlette is used only where it pays, to patch a parent app's routing at startup.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import ValidationError
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from .commands import CommandTree
from .context import Context, InitialResponse
from .errors import ConfigurationError, HandlerNotFound
from .models import Interaction, InteractionType
from .responses import callback_payload, deferred_payload
from .verify import ReplayCache, SignatureVerifier, VerificationError

if TYPE_CHECKING:
    from .commands.sync import SyncReport
    from .rest import RestClient

__all__ = ["InteractionApp"]

log = logging.getLogger("asgi_interactions.app")
security_log = logging.getLogger("asgi_interactions.security")

Handler = Callable[[Context], Awaitable[Any]]
ErrorHandler = Callable[[Context, Exception], Awaitable[Any]]
H = TypeVar("H", bound=Handler)
E = TypeVar("E", bound=ErrorHandler)


class Service(Protocol):
    """Something the lifespan starts and closes alongside the app (the gateway client)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...


# Precomputed answers: the hot path should not rebuild constant bytes.
_JSON = (b"content-type", b"application/json")
_PONG = b'{"type":1}'
NOT_HANDLED_TEXT = "This interaction isn't handled by this app."
FAILED_TEXT = "Something went wrong while handling this interaction."
BUSY_TEXT = "This app is busy right now; please try again in a moment."


def _error_body(message: str) -> bytes:
    return to_json({"error": message})


def _notice(text: str, interaction_type: int) -> dict[str, Any]:
    """An ephemeral message for the user; an empty choice list for autocomplete."""
    if interaction_type == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
        return {"type": 8, "data": {"choices": []}}
    return {"type": 4, "data": {"content": text, "flags": 64}}


class _RateLimitedLog:
    """Logs at most one line per ``interval`` seconds and counts what it held back."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._next = 0.0
        self._held = 0

    def info(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next:
            self._held += 1
            return
        held, self._held, self._next = self._held, 0, now + self._interval
        suffix = f" ({held} similar lines suppressed)" if held else ""
        self._logger.info(message + suffix, *args)


class _MountAlias:
    """Serves ``POST /prefix`` (no trailing slash) as if it were ``POST /prefix/``."""

    def __init__(self, app: InteractionApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = dict(scope)
        scope["root_path"] = scope.get("root_path", "") + self.path
        await self.app(scope, receive, send)


class InteractionApp:
    """An ASGI app that verifies Discord interactions and routes them to your handlers.

    Args:
        public_key: the application's public key (hex or 32 bytes); default
            ``DISCORD_PUBLIC_KEY``.
        token: the bot token for REST calls; default ``DISCORD_TOKEN``. Interaction webhooks
            (deferrals, follow-ups, edits) work without one.
        application_id: default ``DISCORD_APPLICATION_ID``, else learned from interactions.
        rest: a ``RestClient`` to use instead of building one; the lifespan opens and closes it.
        gateway: a service with ``start()``/``close()`` run by the lifespan, or None.
        max_body_size: larger bodies get 413 without being read whole.
        timestamp_tolerance: seconds a request's timestamp may be off; None disables the check.
        defer_after: seconds before a slow handler is deferred (type 5, or 6 for components);
            None disables auto-defer.
        shutdown_timeout: seconds shutdown waits for in-flight handler work.
        replay_cache_size: how many recent signatures to remember to refuse replays; 0 disables.
        max_concurrency: handlers in flight at once; beyond it users get an ephemeral "busy".
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
        replay_cache_size: int = 10_000,
        max_concurrency: int = 1000,
        sync_commands: bool = False,
        serverless: bool = False,
        freeze_gc: bool = True,
    ) -> None:
        key = public_key if public_key is not None else os.environ.get("DISCORD_PUBLIC_KEY")
        if not key:
            raise ConfigurationError(
                "no public key: pass public_key= or set DISCORD_PUBLIC_KEY "
                "(the application's public key from the developer portal)"
            )
        if defer_after is not None and not 0 < defer_after < 3:
            raise ConfigurationError("defer_after must be between 0 and 3 seconds, or None")
        if max_body_size <= 0 or max_concurrency <= 0:
            raise ConfigurationError("max_body_size and max_concurrency must be positive")
        replay = None
        if replay_cache_size > 0:
            replay = ReplayCache(replay_cache_size, ttl=timestamp_tolerance or 300.0)
        self._verifier = SignatureVerifier(
            key, timestamp_tolerance=timestamp_tolerance, replay_cache=replay
        )
        self._token = token if token is not None else os.environ.get("DISCORD_TOKEN")
        app_id = application_id or os.environ.get("DISCORD_APPLICATION_ID")
        self.application_id: int | None = int(app_id) if app_id else None
        self._rest = rest
        self.gateway = gateway
        self.max_body_size = max_body_size
        self.defer_after = defer_after
        self.shutdown_timeout = shutdown_timeout
        self.max_concurrency = max_concurrency
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
        self._error_handler: ErrorHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._users = 0
        self._lifecycle_lock: asyncio.Lock | None = None
        self._bad_request_log = _RateLimitedLog(security_log)

    # -- registration ---------------------------------------------------------------------------

    def on(self, interaction_type: int) -> Callable[[H], H]:
        """Register a low-level handler for one interaction type; it wins over the command layer."""

        def register(handler: H) -> H:
            if interaction_type == InteractionType.PING:
                raise ConfigurationError("PING is answered by the app itself")
            self._handlers[int(interaction_type)] = handler
            return handler

        return register

    def error_handler(self, handler: E) -> E:
        """Register the app-wide error handler: ``handler(ctx, exc) -> Message | None``."""
        self._error_handler = handler
        return handler

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

            self._rest = RestClient(self._token)
        return self._rest

    @property
    def is_running(self) -> bool:
        """True between startup and shutdown (or after a lazy start)."""
        return self._users > 0

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
        """
        return self._lifespan(app)

    @asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        if app is not None:
            self.fix_mounts(app)
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    def fix_mounts(self, app: Any) -> int:
        """Add a no-trailing-slash route before every Starlette ``Mount`` of this bot in ``app``."""
        from starlette.routing import Mount, Route

        target: InteractionApp = self  # compared by identity below; keeps its type unnarrowed

        def walk(routes: list[Any]) -> int:
            added = 0
            for index in range(len(routes) - 1, -1, -1):
                route = routes[index]
                if not isinstance(route, Mount):
                    continue
                if route.app is self and route.path:
                    alias = Route(
                        route.path, endpoint=_MountAlias(target, route.path), methods=None
                    )
                    alias.include_in_schema = False
                    already = any(
                        isinstance(r, Route)
                        and isinstance(r.endpoint, _MountAlias)
                        and r.path == route.path
                        for r in routes
                    )
                    if not already:
                        routes.insert(index, alias)
                        added += 1
                elif isinstance(getattr(route, "routes", None), list):
                    added += walk(route.routes)
            return added

        routes = getattr(getattr(app, "router", None), "routes", None)
        if routes is None:
            routes = getattr(app, "routes", None)
        return walk(routes) if isinstance(routes, list) else 0

    def _lock(self) -> asyncio.Lock:
        if self._lifecycle_lock is None:
            self._lifecycle_lock = asyncio.Lock()
        return self._lifecycle_lock

    async def startup(self) -> None:
        """Open the REST client and start the gateway; nested calls start things only once."""
        async with self._lock():
            await self._start_locked()

    async def _start_locked(self) -> None:
        self._users += 1
        if self._users > 1:
            return
        try:
            await self.rest.open()
            if self.gateway is not None:
                await self.gateway.start()
            if self.sync_commands_at_startup:
                await self._sync_at_startup()
            if self.freeze_gc:
                _freeze_heap_once()
        except BaseException:
            self._users -= 1
            await self._close_resources()
            raise
        log.debug("started")

    async def shutdown(self) -> None:
        """Finish accepted work (up to ``shutdown_timeout``), then close what startup opened."""
        async with self._lock():
            if self._users == 0:
                return
            self._users -= 1
            if self._users > 0:
                return
            await self._drain(self.shutdown_timeout)
            await self._close_resources()
            log.debug("stopped")

    async def _close_resources(self) -> None:
        if self.gateway is not None:
            try:
                await self.gateway.close()
            except Exception:
                log.exception("closing the gateway failed")
        if self._rest is not None:
            await self._rest.close()

    async def _sync_at_startup(self) -> None:
        from .commands.sync import sync_at_startup

        limiter = getattr(self.rest, "rate_limiter", None)
        report = await sync_at_startup(
            self.rest,
            await self._resolve_application_id(),
            self.commands_payload(),
            redis_url=getattr(limiter, "url", None),
        )
        if report is not None:
            log.info("command sync: %s", report)

    async def _drain(self, deadline: float) -> None:
        """Wait for in-flight handler work; log and cancel what is still running at the deadline."""
        if not self._tasks:
            return
        log.info("waiting for %d in-flight interaction(s) to finish", len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=deadline)
        for task in pending:
            log.error(
                "interaction work still running after %.1fs at shutdown, cancelled: %s",
                deadline,
                task.get_name(),
            )
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    async def _ensure_started(self) -> None:
        """Start on the first request when no lifespan ran; concurrent first requests wait."""
        async with self._lock():
            if self._users > 0:
                return
            log.warning(
                "the app's lifespan did not run (Starlette's Mount does not forward it): starting "
                "lazily on the first request. Pass lifespan=bot.lifespan to the parent app."
            )
            await self._start_locked()

    async def _lifespan_protocol(self, receive: Receive, send: Send) -> None:
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

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan_protocol(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path not in ("", "/"):
            await _reply(send, 404, _error_body("not found"))
            return
        if scope["method"] != "POST":
            await _reply(send, 405, _error_body("method not allowed"), ((b"allow", b"POST"),))
            return

        signature = timestamp = None
        length = -1
        for name, value in scope["headers"]:
            if name == b"x-signature-ed25519":
                signature = value
            elif name == b"x-signature-timestamp":
                timestamp = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
        limit = self.max_body_size
        if length > limit:
            await _reply(send, 413, _error_body("request body too large"), _CLOSE)
            return

        body = b""
        chunks: list[bytes] | None = None
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away before sending the whole body
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, _error_body("request body too large"), _CLOSE)
                return
            if not message.get("more_body", False):
                if chunks is None:
                    body = chunk
                else:
                    chunks.append(chunk)
                    body = b"".join(chunks)
                break
            if chunks is None:
                chunks = []
            chunks.append(chunk)

        try:
            self._verifier.verify(signature, timestamp, body)
        except VerificationError as exc:
            client = scope.get("client")
            self._bad_request_log.info(
                "rejected request from %s: %s", client[0] if client else "?", exc
            )
            await _reply(send, 401, _error_body(str(exc)))
            return

        try:
            interaction = Interaction.model_validate_json(body)
        except ValidationError as exc:
            await _reply(send, 400, _error_body(_describe_invalid(exc)))
            return

        if interaction.type == InteractionType.PING:
            await _reply(send, 200, _PONG)
            return
        if self._users == 0:
            await self._ensure_started()

        initial, task = await self._begin(interaction)
        if self.serverless and task is not None and not task.done():
            await self._reply_serverless(interaction, initial, task, send)
        elif initial.files:
            await self._reply_with_files(interaction, initial, send)
        else:
            await _reply(send, 200, to_json(initial.payload))
        if not initial.sent.done():
            initial.sent.set_result(None)

    async def _reply_serverless(
        self,
        interaction: Interaction,
        initial: InitialResponse,
        task: asyncio.Task[None],
        send: Send,
    ) -> None:
        """Serverless platforms freeze the process once the HTTP answer is out, and Mangum sends
        it only when the app returns: so the initial response goes through the callback endpoint,
        the work finishes inside the invocation, and the POST is answered 202 at the end."""
        await self._post_initial(interaction, initial)
        _, pending = await asyncio.wait({task}, timeout=self.shutdown_timeout)
        if pending:
            log.error(
                "interaction %s still running after %.1fs, cancelled",
                interaction.id,
                self.shutdown_timeout,
            )
            task.cancel()
        await _reply_empty(send, 202)

    async def _reply_with_files(
        self, interaction: Interaction, initial: InitialResponse, send: Send
    ) -> None:
        """Files go through the callback endpoint (notes §1.5), then the POST gets 202."""
        if await self._post_initial(interaction, initial):
            await _reply_empty(send, 202)
        else:
            await _reply(send, 200, to_json(_notice(FAILED_TEXT, interaction.type)))

    async def _post_initial(self, interaction: Interaction, initial: InitialResponse) -> bool:
        """Send the initial response to the callback endpoint; False (logged) if that failed."""
        try:
            await self.rest.create_interaction_response(
                interaction.id or 0,
                interaction.token or "",
                initial.payload,
                files=initial.files or None,
            )
        except Exception:
            log.exception("callback for interaction %s failed", interaction.id)
            return False
        finally:
            if not initial.sent.done():
                initial.sent.set_result(None)
        return True

    # -- processing -----------------------------------------------------------------------------

    async def process(self, interaction: Interaction) -> InitialResponse:
        """Run the interaction's handler and return its initial response, deferring if it is slow.

        The handler runs as a tracked task: if it outlives ``defer_after`` the deferral is
        returned at once and the task's result later edits the original response.
        """
        initial, _ = await self._begin(interaction)
        return initial

    async def _begin(
        self, interaction: Interaction
    ) -> tuple[InitialResponse, asyncio.Task[None] | None]:
        itype = interaction.type
        if self.application_id is None:
            self.application_id = interaction.application_id  # learned, as DESIGN promises
        ctx = Context(interaction, self)
        handler = self._handlers.get(itype)
        if handler is None and self._tree.handles(itype):
            handler = self._tree.dispatch
        if handler is None:
            log.warning("no handler for interaction type %s (id %s)", itype, interaction.id)
            return InitialResponse(_notice(NOT_HANDLED_TEXT, itype), []), None
        if len(self._tasks) >= self.max_concurrency:
            log.warning(
                "max_concurrency (%d) handlers in flight: answering interaction %s as busy",
                self.max_concurrency,
                interaction.id,
            )
            return InitialResponse(_notice(BUSY_TEXT, itype), []), None

        loop = asyncio.get_running_loop()
        name = f"interaction {interaction.id}"
        if sys.version_info >= (3, 12):
            # Eager: a handler that never suspends finishes here, with no loop round trip;
            # unlike stepping the coroutine by hand, current_task() is the handler's own task.
            task = asyncio.Task(self._run(ctx, handler), loop=loop, name=name, eager_start=True)
            if task.done():
                return ctx._initial.result(), task
        else:
            task = loop.create_task(self._run(ctx, handler), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        timer = None
        if self.defer_after is not None:
            timer = loop.call_later(self.defer_after, self._auto_defer, ctx)
        try:
            return await ctx._initial, task
        finally:
            if timer is not None:
                timer.cancel()

    def _auto_defer(self, ctx: Context) -> None:
        itype = ctx.interaction.type
        if itype == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            # Autocomplete cannot be deferred; late suggestions are useless, so send none.
            log.warning("autocomplete handler too slow (interaction %s)", ctx.interaction.id)
            ctx._offer_initial(InitialResponse(_notice("", itype), []))
            return
        if ctx._offer_initial(InitialResponse(deferred_payload(itype, False), [], deferred=True)):
            log.debug("auto-deferred interaction %s", ctx.interaction.id)

    async def _run(self, ctx: Context, handler: Handler) -> None:
        try:
            result = await handler(ctx)
        except HandlerNotFound as exc:
            log.warning("no handler for interaction %s: %s", ctx.interaction.id, exc)
            result = _NOT_HANDLED
        except Exception as exc:
            result = await self._handle_error(ctx, exc)
        await self._deliver(ctx, result)

    async def _handle_error(self, ctx: Context, exc: Exception) -> Any:
        log.error(
            "handler for interaction %s (type %s) raised",
            ctx.interaction.id,
            ctx.interaction.type,
            exc_info=exc,
        )
        if self._error_handler is not None:
            try:
                result = await self._error_handler(ctx, exc)
            except Exception:
                log.exception("the error handler raised (interaction %s)", ctx.interaction.id)
            else:
                if result is not None:
                    return result
        return _FAILED

    async def _deliver(self, ctx: Context, result: Any) -> None:
        """Hand the result over as the initial response, or edit/follow up once that is gone."""
        interaction = ctx.interaction
        if not ctx.responded:
            if result is None:
                log.warning("handler for interaction %s returned nothing", interaction.id)
                result = _FAILED
            if isinstance(result, _Notice):
                response = InitialResponse(_notice(result.text, interaction.type), [])
            else:
                try:
                    payload, files = callback_payload(
                        result, interaction.type, from_message=interaction.message is not None
                    )
                except (TypeError, ValueError) as exc:
                    log.error("invalid handler result for interaction %s: %s", interaction.id, exc)
                    payload, files = _notice(FAILED_TEXT, interaction.type), []
                response = InitialResponse(payload, files)
            if ctx._offer_initial(response):
                return
        if result is None:
            return
        if isinstance(result, _Notice):
            result = _notice_message(result.text)
        try:
            if ctx.deferred:
                await ctx.edit_original(result)
            else:
                await ctx.followup(result)
        except Exception:
            log.exception(
                "could not deliver the result of interaction %s after its initial response",
                interaction.id,
            )

    async def process_gateway_interaction(self, data: dict[str, Any]) -> None:
        """Answer an ``INTERACTION_CREATE`` from the gateway through the callback endpoint."""
        interaction = Interaction.model_validate(data)
        await self._post_initial(interaction, await self.process(interaction))


_heap_frozen = False


def _freeze_heap_once() -> None:
    """Move everything alive after startup out of the collector's reach, once per process.

    Imports leave tens of thousands of long-lived objects; without this every full collection
    walks them all, which showed up as 10-20 ms p99 spikes under load.
    """
    global _heap_frozen
    if not _heap_frozen:
        gc.collect()
        gc.freeze()
        _heap_frozen = True


class _Notice:
    """A default answer the app writes itself (never a handler's result)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_NOT_HANDLED = _Notice(NOT_HANDLED_TEXT)
_FAILED = _Notice(FAILED_TEXT)
_CLOSE = ((b"connection", b"close"),)


def _notice_message(text: str) -> Any:
    from .responses import Message

    return Message(content=text, ephemeral=True)


def _describe_invalid(exc: ValidationError) -> str:
    """A short reason for a 400: never echo the body back."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0] if errors else {"type": "", "loc": ()}
    if first["type"] in ("json_invalid", "json_type"):
        return "body is not valid JSON"
    if not first["loc"]:
        return "body must be a JSON object"
    if first["loc"][0] == "type":
        return "interaction type must be an integer"
    return f"invalid interaction field: {'.'.join(str(p) for p in first['loc'])}"


async def _reply_empty(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _reply(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
