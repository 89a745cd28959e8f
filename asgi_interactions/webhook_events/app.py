"""``bot.webhook_events``: the ASGI app for Discord's Webhook Events URL (notes §1.7).

It shares the bot's request checks (`Endpoint.receive_authentic`: body bounds, signature,
freshness; `verifier.refuse_replay` once the payload is an event), its runner (event handlers
are tracked work: ``max_concurrency``, ``handler_timeout``, drained at shutdown) and its
lifespan. A PING (``type`` 0) is answered 204; an event (``type`` 1) is answered 204 at once
while its handler runs, or, with ``serverless=True``, once its handler is done (Mangum answers
only when the app returns).

Status choices: Discord retries whatever is not a 2xx for 10 minutes, so only a body that is no
webhook payload at all (not JSON, not an object, no integer ``type``; Discord never sends one,
and a retry would carry the same bytes) gets a 400, for whoever is testing by hand. An event of
a type nobody handles, a webhook ``type`` other than 0 and 1, or an event whose ``data`` does
not fit its model are answered 204 and logged (once per type): a retry would change nothing.
The one deliberate retry is 503 when ``max_concurrency`` handlers are in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from pydantic_core import from_json
from starlette.types import Receive, Scope, Send

from .._sync import to_async
from ..commands.tree import Route
from ..endpoint import error_body, reply
from ..errors import ConfigurationError
from ..models.webhook_events import EVENT_DATA, WebhookEvent, WebhookType
from ..verify import VerificationError
from .dedup import DEFAULT_DEDUP_SIZE, DEFAULT_DEDUP_WINDOW, EventDedup, event_key

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from ..endpoint import Endpoint
    from ..lifespan import Lifecycle
    from ..runner import Runner
    from ..shared_state import SharedState

__all__ = ["WebhookEventsApp"]

log = logging.getLogger("asgi_interactions.webhook_events")

H = TypeVar("H", bound=Callable[..., Any])

# 204 with a content type: the docs ask for a valid one on the PING's answer.
_NO_CONTENT = {
    "type": "http.response.start",
    "status": 204,
    "headers": [(b"content-type", b"application/json")],
}
_EMPTY = {"type": "http.response.body", "body": b""}
_MAX_LOGGED_TYPES = 256  # types remembered for "logged once": bounded whatever arrives


@dataclass(frozen=True, slots=True)
class _Registered:
    handler: Callable[[WebhookEvent[Any]], Awaitable[Any]]
    idempotent: bool
    source: Callable[..., Any]  # the function as declared, for listings


_UNTYPED: type[WebhookEvent[Any]] = WebhookEvent[dict[str, Any]]
_TYPED: dict[str, type[WebhookEvent[Any]]] = {
    name: WebhookEvent[model]  # type: ignore[valid-type]
    for name, model in EVENT_DATA.items()
}


async def _no_content(send: Send) -> None:
    await send(_NO_CONTENT)
    await send(_EMPTY)


class WebhookEventsApp:
    """An ASGI app for the Webhook Events URL; mount it at its own path.

    ``app.mount("/discord/events", bot.webhook_events)`` next to ``app.mount("/interactions",
    bot)`` with ``FastAPI(lifespan=bot.lifespan)``; or serve it alone (``uvicorn
    module:bot.webhook_events``), where it runs the bot's lifespan itself.
    """

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        runner: Runner,
        lifecycle: Lifecycle,
        lifespan: Callable[[Any], AbstractAsyncContextManager[None]],
        shared: SharedState | None,
        serverless: bool,
        shutdown_timeout: float,
        dedup_window: float = DEFAULT_DEDUP_WINDOW,
        dedup_size: int = DEFAULT_DEDUP_SIZE,
    ) -> None:
        if not dedup_window > 0 or dedup_size <= 0:
            raise ConfigurationError("dedup_window and dedup_size must be positive")
        self._endpoint = endpoint
        self._runner = runner
        self._lifecycle = lifecycle
        self._lifespan = lifespan
        self.dedup = EventDedup(shared, window=dedup_window, size=dedup_size)
        self.serverless = serverless
        self.shutdown_timeout = shutdown_timeout
        self._handlers: dict[str, _Registered] = {}
        self._logged: set[str] = set()

    # -- registration ---------------------------------------------------------------------------

    def event(self, event_type: str, *, idempotent: bool = True) -> Callable[[H], H]:
        """Register ``handler(event)`` for one ``event.type`` (``"*"``: every type left over).

        ``event`` is a `WebhookEvent` whose ``data`` is the type's model (``Entitlement`` for
        ``ENTITLEMENT_CREATE``, ...; a dict for undocumented types). With ``idempotent`` (the
        default) an event Discord delivers again within the dedup window does not run it again.
        A plain function runs in a worker thread, an ``async def`` on the event loop.
        """
        if not isinstance(event_type, str) or not event_type:
            raise ConfigurationError("bot.event() takes an event type such as 'ENTITLEMENT_CREATE'")
        key = str(event_type)  # a WebhookEventType member counts as its value

        def register(handler: H) -> H:
            if key in self._handlers:
                raise ConfigurationError(f"a handler for webhook event {key!r} already exists")
            self._handlers[key] = _Registered(to_async(handler), idempotent, handler)
            return handler

        return register

    def routes(self) -> list[Route]:
        """Every event handler as a row of ``bot.routes()`` (``asgi-interactions routes``)."""
        return [
            Route(
                "webhook event",
                name,
                f"{getattr(entry.source, '__module__', '?')}."
                f"{getattr(entry.source, '__qualname__', entry.source)}",
                "" if entry.idempotent else "every delivery",
            )
            for name, entry in self._handlers.items()
        ]

    # -- lifespan -------------------------------------------------------------------------------

    def lifespan(self, app: Any = None) -> AbstractAsyncContextManager[None]:
        """The bot's lifespan (``bot.lifespan``): one lifespan starts and stops both apps."""
        return self._lifespan(app)

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifecycle.protocol(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        # PINGs carry no id: two in one second are the same signed bytes, and refusing the
        # second as a replay could fail Discord's URL check. So the replay check waits for events.
        authentic = await self._endpoint.receive_authentic(scope, receive, send)
        if authentic is None:
            return  # answered already (404, 405, 401, ...), or the client went away
        body, sig, sent, now = authentic
        try:
            payload = from_json(body)
        except ValueError:
            await reply(send, 400, error_body("body is not valid JSON"))
            return
        if not isinstance(payload, dict):
            await reply(send, 400, error_body("body must be a JSON object"))
            return
        webhook_type = payload.get("type")
        if type(webhook_type) is not int:
            await reply(send, 400, error_body("webhook type must be an integer"))
            return
        if webhook_type == WebhookType.PING:
            await _no_content(send)
            return
        if not await self._fresh(sig, sent, now, send):
            return
        event = payload.get("event")
        if webhook_type != WebhookType.EVENT:
            self._once(
                f"type:{webhook_type}", "webhook type %s is unknown: answered 204", webhook_type
            )
        elif not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._once("no-event", "a webhook event without event.type was ignored (answered 204)")
        else:
            await self._dispatch(payload, event, send)
            return
        await _no_content(send)

    async def _fresh(self, sig: bytes, sent: float, now: float, send: Send) -> bool:
        """The replay check the request skipped so far; False once answered 401."""
        try:
            await self._endpoint.verifier.refuse_replay(sig, sent, now)
        except VerificationError as exc:
            await reply(send, 401, error_body(str(exc)))
            return False
        return True

    async def _dispatch(self, payload: dict[str, Any], event: dict[str, Any], send: Send) -> None:
        event_type: str = event["type"]
        entry = self._handlers.get(event_type) or self._handlers.get("*")
        if entry is None:
            self._once(event_type, "no handler for webhook event %s: answered 204", event_type)
            await _no_content(send)
            return
        try:
            parsed = _TYPED.get(event_type, _UNTYPED).model_validate(
                {
                    "type": event_type,
                    "timestamp": event.get("timestamp"),
                    "data": {} if event.get("data") is None else event["data"],  # data?
                    "application_id": payload.get("application_id"),
                    "version": payload.get("version", 1),
                }
            )
        except ValidationError as exc:
            self._unreadable(event_type, exc)
            await _no_content(send)
            return
        runner = self._runner
        if len(runner.tasks) >= runner.max_concurrency:
            log.warning(
                "max_concurrency (%d) handlers in flight: webhook event %s answered 503 "
                "(Discord delivers it again later)",
                runner.max_concurrency,
                event_type,
            )
            await reply(send, 503, error_body("busy, try again"))
            return
        if entry.idempotent and await self.dedup.seen(
            event_key(payload.get("application_id"), event)
        ):
            log.info("webhook event %s delivered again: its handler ran already", event_type)
            await _no_content(send)
            return
        if self._lifecycle.users == 0:
            await self._lifecycle.ensure_started()
        task = runner.run_tracked(partial(entry.handler, parsed), f"webhook event {event_type}")
        if self.serverless and not task.done():
            await self._finish_inside_invocation(task, event_type)
        await _no_content(send)

    async def _finish_inside_invocation(self, task: asyncio.Task[None], event_type: str) -> None:
        """Serverless: Mangum answers only when the app returns and the process is then frozen,
        so the handler finishes first (up to ``shutdown_timeout``; Discord retries an event
        not acknowledged within 3 s, which the dedup store then recognises)."""
        _, pending = await asyncio.wait({task}, timeout=self.shutdown_timeout)
        if pending:
            log.error(
                "webhook event %s: handler still running after %.1fs, stopped",
                event_type,
                self.shutdown_timeout,
            )
            self._runner.expire(task)
            await asyncio.wait({task}, timeout=1.0)

    def _once(self, key: str, message: str, *args: object) -> None:
        """Log ``message`` the first time ``key`` is seen (keys kept: a bounded number)."""
        if key in self._logged or len(self._logged) >= _MAX_LOGGED_TYPES:
            return
        self._logged.add(key)
        log.warning(message + "; further ones are not logged", *args)

    def _unreadable(self, event_type: str, exc: ValidationError) -> None:
        """The event's data did not fit its model: say where, never with the input."""
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(the event)"
        self._once(
            f"invalid:{event_type}",
            "webhook event %s could not be read (%s: %s): its handler was not run, answered 204",
            event_type,
            where,
            first["msg"],
        )
