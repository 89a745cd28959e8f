"""``RestClient``: Discord's HTTP API over one HTTPX2 connection pool, within every rate limit."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import importlib
import itertools
import logging
import platform
import random
from collections.abc import Mapping, Sequence
from importlib import metadata
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx2
import pydantic_core

from . import redact
from .errors import (
    DiscordHTTPError,
    RequestDeadlineError,
    UnauthorizedError,
)
from .exchange import (
    _UNAUTH_KEY,
    EDGE_RETRYABLE,
    IDEMPOTENT,
    NOT_SENT,
    Exchange,
)
from .helpers import FileTuple, RestHelpers
from .pacing import pacer
from .ratelimit.limiter import Permit, RateLimiter
from .ratelimit.memory import MemoryRateLimiter
from .routes import Route
from .transport import SchemeTransport
from .wire import (
    _bucket_info,
    _decode,
    _query_string,
    _rate_headers,
)

__all__ = ["DEFAULT_BASE_URL", "RestClient"]

log = logging.getLogger("asgi_interactions.rest")
_debug = functools.partial(log.isEnabledFor, logging.DEBUG)

DEFAULT_BASE_URL = "https://discord.com/api/v10"
_ORDER = itertools.count()  # requests' places in the limiter's queues (retries keep theirs)
#: Retries after edge errors (they use no rate limit; the delay grows from tens of ms to 2 s).
EDGE_RETRIES = 8


def _id_from_token(token: str | None) -> str | None:
    """The bot's user id (its application's id) from a bot token's first segment."""
    if not token:
        return None
    head = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if decoded.isdigit() else None


def _version() -> str:
    try:
        return metadata.version("asgi-interactions")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0.1.0"


USER_AGENT = (
    f"DiscordBot (https://github.com/asgi-interactions/asgi_interactions, {_version()}) "
    f"Python/{platform.python_version()} httpx2/{httpx2.__version__}"
)


class RestClient(Exchange, RestHelpers):
    """An async client for Discord's REST API that obeys every rate limit.

    ``token`` is the bot token (``None`` for a client that only answers interactions: those
    endpoints need no token). ``rate_limiter`` defaults to a ``MemoryRateLimiter``; pass a
    ``RedisRateLimiter`` to share limits with other processes and hosts. ``max_retries`` bounds
    retries after 429s and retryable failures; a wait longer than ``max_rate_limit`` seconds raises
    ``RateLimitedError`` instead. ``max_in_flight`` bounds concurrent requests on the wire.
    ``application_id`` (default: read from the bot token, or learned from the first interaction
    helper called) tells interaction webhooks, which are exempt from the global limit, from other
    webhooks, which are not. A request not sent within ``request_deadline`` seconds raises
    ``RequestDeadlineError``. Edge errors (502/503/504 without rate-limit headers, connections
    that fail before sending) are retried after ``edge_retry_delay`` seconds (jittered, growing
    while the edge keeps failing), in the request's place in its bucket, at most
    ``edge_retries`` times (0: fail at once, as the command line does).

    Use it as ``async with RestClient(token) as rest:`` or ``await rest.open()`` / ``await
    rest.close()`` (both idempotent); the app's lifespan does this for you.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        rate_limiter: RateLimiter | None = None,
        max_retries: int = 3,
        max_rate_limit: float = 300.0,
        timeout: float | httpx2.Timeout = 15.0,
        http2: bool = False,
        max_in_flight: int = 64,
        retry_backoff: float = 0.5,
        transport: httpx2.AsyncBaseTransport | None = None,
        application_id: int | str | None = None,
        request_deadline: float = 900.0,
        edge_retry_delay: float = 0.025,
        edge_retries: int = EDGE_RETRIES,
    ) -> None:
        self._token = token
        self._application_id = (
            str(application_id) if application_id is not None else _id_from_token(token)
        )
        self.request_deadline = request_deadline
        self.edge_retry_delay = edge_retry_delay
        self.edge_retries = edge_retries
        self._counted_webhooks: set[str] = set()  # got a global 429: not exempt after all
        self._edge_streak = 0  # edge errors in a row, client-wide: the retry delay grows with it
        self.base_url = base_url.rstrip("/")
        self._own_limiter = rate_limiter is None
        self.rate_limiter: RateLimiter = rate_limiter or MemoryRateLimiter()
        self.max_retries = max_retries
        self.max_rate_limit = max_rate_limit
        self.timeout = timeout
        self.http2 = http2
        self.max_in_flight = max_in_flight
        self.retry_backoff = retry_backoff
        self._transport = transport
        #: the bot's global pool (requests with its Authorization header), and this host's pool
        #: of unauthenticated requests (Discord counts those per IP)
        self._global_key = (
            "token:" + hashlib.sha256(token.encode()).hexdigest()[:24] if token else _UNAUTH_KEY
        )
        self._auth_header = f"Bot {token}"
        self._http: httpx2.AsyncClient | None = None
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._token_rejected = False
        self._detached: set[asyncio.Future[Any]] = set()
        #: per bucket, the last granted request's "headers written" future (wire order)
        self._wire: dict[str, asyncio.Future[None]] = {}

    def __repr__(self) -> str:
        token = "set" if self._token else "none"
        return f"<RestClient base_url={self.base_url!r} token={token} open={self.is_open}>"

    @property
    def application_id(self) -> str | None:
        """The application's id, if known: from the argument, the bot token, or an interaction
        helper's call (the app sets it when it learns it)."""
        return self._application_id

    @application_id.setter
    def application_id(self, value: int | str | None) -> None:
        self._application_id = None if value is None else str(value)

    def _learn_application_id(self, application_id: int | str) -> None:
        if self._application_id is None:
            self._application_id = str(application_id)  # learned from the app's own call

    def _pool(self, route: Route, use_token: bool) -> str | None:
        """The global pool a request counts against (``None``: an interaction endpoint).

        Discord exempts only interaction endpoints: the callback and the application's own
        webhook. Any other webhook request counts against the bot's pool when it carries the
        bot's Authorization, else against the host's unauthenticated pool.
        """
        if route.exempt_from_global:
            return None
        webhook = route.webhook_id
        if webhook is not None and webhook == self._application_id:
            if webhook not in self._counted_webhooks:
                return None
            return self._global_key if use_token else _UNAUTH_KEY
        return self._global_key if use_token else _UNAUTH_KEY

    # ---------------------------------------------------------------- lifecycle

    @property
    def is_open(self) -> bool:
        """Whether the connection pool is open."""
        return self._http is not None

    async def open(self) -> None:
        """Open the connection pool (idempotent; ``request`` opens it on first use too)."""
        if self._http is None:
            redact.install()
            # imported by the first connection otherwise, stalling the loop mid-burst
            with contextlib.suppress(ImportError):
                importlib.import_module("anyio._backends._asyncio")
            limits = httpx2.Limits(
                max_connections=self.max_in_flight,
                max_keepalive_connections=self.max_in_flight,
                keepalive_expiry=30.0,
            )
            transport = self._transport
            if transport is None:  # TLS (the CA bundle) only for https
                transport = SchemeTransport(http2=self.http2, limits=limits)
                transport.prepare(httpx2.URL(self.base_url).scheme)  # its cost now, not mid-burst
            self._http = httpx2.AsyncClient(
                http2=self.http2,
                timeout=self.timeout,
                limits=limits,
                headers={"User-Agent": USER_AGENT},
                transport=transport,
                follow_redirects=False,
            )

    async def close(self) -> None:
        """Close the pool, and the rate limiter if this client created it (idempotent).

        Requests whose callers were cancelled get up to 5 s to land first; cancelling the close
        (``asyncio.timeout``) cuts that wait short and still closes the pool.
        """
        http, self._http = self._http, None
        if http is not None:
            try:
                if self._detached:  # requests whose callers were cancelled: let them land
                    await asyncio.wait(list(self._detached), timeout=5)
            finally:
                await http.aclose()
                if self._own_limiter:
                    await self.rate_limiter.aclose()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- the generic request

    async def request(
        self,
        method: str,
        route_template: str,
        *,
        json: Any = None,
        files: Sequence[FileTuple] | None = None,
        params: Mapping[str, Any] | None = None,
        reason: str | None = None,
        auth: bool = True,
        **path: Any,
    ) -> Any:
        """Send one request and return its decoded JSON body (``None`` for 204).

        ``route_template`` is the path with ``{placeholders}`` filled from ``path``; it names the
        route for rate limiting. ``files`` (``[(filename, bytes)]``) turns the body into
        multipart/form-data with ``payload_json`` and ``files[n]``. ``reason`` sets
        ``X-Audit-Log-Reason``. ``auth=False`` sends no Authorization header (interaction and
        webhook-token endpoints). Raises ``DiscordHTTPError`` subclasses.
        """
        await pacer().turn()  # a burst of requests starts over several loop iterations
        route = Route(method, route_template, **path)
        use_token = auth and self._token is not None
        if use_token and self._token_rejected:
            raise UnauthorizedError(
                401, 0, "the bot token was rejected (401) earlier; not sending", route=route.display
            )
        if self._http is None:
            await self.open()
        global_key = self._pool(route, use_token)
        headers: dict[str, str] = {}
        if use_token:
            headers["Authorization"] = self._auth_header
        if reason is not None:
            headers["X-Audit-Log-Reason"] = quote(reason, safe=" ")
        content: bytes | None = None
        multipart: list[tuple[str, Any]] | None = None
        if files:
            payload = pydantic_core.to_json(json if json is not None else {})
            multipart = [("payload_json", (None, payload, "application/json"))]
            multipart += [(f"files[{n}]", (name, data)) for n, (name, data) in enumerate(files)]
        elif json is not None:
            content = pydantic_core.to_json(json)
            headers["Content-Type"] = "application/json"
        # the whole URL as one string: HTTPX2 parses it once (params= would parse it again)
        url = self.base_url + route.path
        if params:
            query = _query_string(params)
            if query:
                url += "?" + query

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_deadline
        attempt = 0  # retries after 429s and 5xx
        shared = 0  # retries after shared-scope 429s
        edge = 0  # retries after edge errors (no rate limit used): more, and faster
        sent = 0
        order = next(_ORDER)  # a retry keeps its first place in the queues
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    permit = await self.rate_limiter.acquire(
                        route, global_key, order=order, max_wait=self.max_rate_limit
                    )
            except TimeoutError:
                raise RequestDeadlineError(
                    f"{route.display} was not sent within {self.request_deadline:.0f} s "
                    f"(request_deadline): the rate limits did not free in time",
                    route=route.display,
                    sent_attempts=sent,
                ) from None
            sent += 1
            try:
                response = await self._send(
                    permit, method, url, headers, content, multipart, use_token
                )
            except NOT_SENT as exc:
                if edge >= self.edge_retries:
                    raise
                edge += 1
                self.rate_limiter.note_retry(permit)
                await self._edge_hold(permit, edge, route, repr(exc))
                continue
            except httpx2.TransportError as exc:
                if route.method not in IDEMPOTENT or attempt >= self.max_retries:
                    raise
                attempt += 1
                await self._backoff(attempt, route, repr(exc))
                continue
            status = response.status_code
            if status < 300:
                self._edge_streak = 0
                await permit.complete(_bucket_info(response, limited=False))
                if _debug():
                    log.debug("%s -> %d", route.display, status)
                return _decode(response)
            if status in EDGE_RETRYABLE and edge < self.edge_retries:
                # Discord's edge answered: the API never saw the request. Its place is kept.
                if _rate_headers(response):  # the API did see it after all: count it
                    await permit.complete(_bucket_info(response, limited=False))
                else:
                    permit.refund()
                edge += 1
                self.rate_limiter.note_retry(permit)
                await self._edge_hold(permit, edge, route, f"HTTP {status}")
                continue
            retry = await self._handle_error(permit, route, response, attempt, use_token, shared)
            self.rate_limiter.note_retry(permit)  # it did not raise: the request goes again
            if status == 429 and response.headers.get("x-ratelimit-scope") == "shared":
                shared += 1  # the resource is busy, not our doing: retried more times
                continue
            attempt += 1
            if retry is None:  # 5xx: backoff
                await self._backoff(attempt, route, f"HTTP {status}")
            elif retry[1] is not None:
                # a global 429 is waited in the pool it names, whatever this client believed
                global_key = retry[1]

    async def _edge_hold(self, permit: Permit, edge: int, route: Route, why: str) -> None:
        """Hold the request's bucket for a short jittered delay, then let it retry first.

        The delay starts in the tens of milliseconds and grows only while the edge keeps
        failing (this request's retries, or the client's streak of edge errors). The bucket is
        held (not slept on outside it) so the retry keeps its place ahead of later requests.
        """
        self._edge_streak += 1
        step = max(edge, min(self._edge_streak // 8 + 1, edge + 3))
        delay = min(2.0, self.edge_retry_delay * 2 ** (step - 1)) * random.uniform(0.6, 1.4)
        if edge > 1 or _debug():
            log.warning(
                "%s failed at the edge (%s); retry %d in %.3f s", route.display, why, edge, delay
            )
        await self.rate_limiter.hold_bucket(permit, delay)

    async def _backoff(self, attempt: int, route: Route, why: str) -> None:
        delay = min(10.0, self.retry_backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        log.warning("%s failed (%s); retry %d in %.2f s", route.display, why, attempt, delay)
        await asyncio.sleep(delay)


__all__ += ["DiscordHTTPError"]
