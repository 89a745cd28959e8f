"""``RestClient``: Discord's HTTP API over one HTTPX2 connection pool, within every rate limit."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import hashlib
import importlib
import itertools
import logging
import platform
import random
import socket
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
    RateLimitedError,
    RequestDeadlineError,
    ServerError,
    UnauthorizedError,
    error_for_status,
)
from .helpers import FileTuple, RestHelpers
from .pacing import pacer
from .ratelimit.base import BucketInfo
from .ratelimit.limiter import Permit, RateLimiter
from .ratelimit.memory import MemoryRateLimiter
from .routes import Route
from .wire import (
    _NO_HEADERS,
    WIRE_WAIT,
    _bucket_info,
    _code_message,
    _decode,
    _decode_error,
    _float,
    _query_string,
    _quiet,
    _rate_headers,
    _Started,
)

__all__ = ["DEFAULT_BASE_URL", "RestClient"]

log = logging.getLogger("asgi_interactions.rest")
_debug = functools.partial(log.isEnabledFor, logging.DEBUG)

DEFAULT_BASE_URL = "https://discord.com/api/v10"
_ORDER = itertools.count()  # requests' places in the limiter's queues (retries keep theirs)
#: Methods whose repetition is harmless: retried after a timeout or a 500 too.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
#: Answers from Discord's edge that prove the request was not processed.
EDGE_RETRYABLE = frozenset({502, 503, 504})
#: Failures that happen before any byte of the request left: always safe to retry.
NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
#: Retries after shared-scope 429s (a busy resource: Discord's doing, not ours).
SHARED_RETRIES = 10
#: Retries after edge errors (they use no rate limit; the delay grows from tens of ms to 2 s).
EDGE_RETRIES = 8
#: The global pool of requests without the bot's Authorization: Discord counts them per IP.
_UNAUTH_KEY = "unauthenticated:" + hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16]


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


class RestClient(RestHelpers):
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
            self._http = httpx2.AsyncClient(
                http2=self.http2,
                timeout=self.timeout,
                limits=limits,
                headers={"User-Agent": USER_AGENT},
                transport=self._transport,
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

    async def _send(
        self,
        permit: Permit,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        multipart: list[tuple[str, Any]] | None,
        auth: bool,
    ) -> httpx2.Response:
        """Send with the permit held, and account for it whatever happens.

        If the caller is cancelled before the request's first byte left, the request is dropped
        and the permit refunded. Once sending has begun, the request runs to its end in the
        background and its answer still updates the limits (Discord may act on it anyway), so a
        cancelled caller never leaves a bucket believing in a slot that is not there. That is
        why the exchange runs in its own task: the one task per request the client creates.
        """
        assert self._http is not None
        http = self._http
        # Requests of one bucket go on the wire in the order their permits were granted: a
        # request on a fresh connection must not be overtaken by a later one on a warm one.
        key = permit.bucket_key
        before = self._wire.get(key)
        on_wire = self._wire[key] = asyncio.get_running_loop().create_future()
        tracer = _Started(on_wire)
        request = http.build_request(
            method,
            url,
            headers=headers,
            content=content,
            files=multipart,
            extensions={"trace": tracer},
        )

        async def send() -> httpx2.Response:
            async with self._in_flight:
                if before is not None and not before.done():
                    await asyncio.wait((before,), timeout=WIRE_WAIT)
                return await http.send(request)

        def sent(_: object) -> None:
            if not on_wire.done():
                on_wire.set_result(None)
            if self._wire.get(key) is on_wire:
                del self._wire[key]

        task = asyncio.ensure_future(send())
        task.add_done_callback(sent)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not tracer.started:
                task.cancel()
                permit.refund()
                task.add_done_callback(_quiet)
            else:
                self._detached.add(task)
                task.add_done_callback(lambda t: self._finish_detached(t, permit, auth))
            raise
        except NOT_SENT:
            permit.refund()
            raise
        except BaseException:
            if tracer.started:
                permit.abandon()
            else:
                permit.refund()
            raise

    def _finish_detached(
        self, task: asyncio.Task[httpx2.Response], permit: Permit, auth: bool
    ) -> None:
        self._detached.discard(task)
        if task.cancelled() or task.exception() is not None:
            permit.abandon()
            return
        done = asyncio.ensure_future(self._record(permit, permit.route, task.result(), auth))
        self._detached.add(done)
        done.add_done_callback(self._detached.discard)
        done.add_done_callback(_quiet)

    async def _record(
        self, permit: Permit, route: Route, response: httpx2.Response, auth: bool
    ) -> tuple[Any, str | None, float]:
        """All bookkeeping an answer calls for: bucket headers, 429 scopes, invalid requests.

        Returns the decoded error body, the 429 scope and its ``retry_after`` (``-1.0`` for a
        429 that is not from Discord's API, e.g. the edge's ban page).
        """
        status = response.status_code
        if status < 300:
            await permit.complete(_bucket_info(response, limited=False))
            return None, None, 0.0
        body = _decode_error(response)
        if status != 429:
            await permit.complete(_bucket_info(response, limited=False))
            if status in (401, 403):
                await self.rate_limiter.record_invalid()
                if status == 401 and auth and not self._token_rejected:
                    self._token_rejected = True
                    log.error("the bot token was rejected (401); no more requests will use it")
            return body, None, 0.0
        scope = response.headers.get("x-ratelimit-scope")
        if not isinstance(body, dict) or "retry_after" not in body:
            await permit.complete(None)
            await self.rate_limiter.record_invalid()
            return body, scope, -1.0
        retry_after = max(0.0, _float(body.get("retry_after")) or 0.0)
        if bool(body.get("global")) or scope == "global":
            scope = "global"
            await self.rate_limiter.block_global(self._pool_of(permit, auth), retry_after)
            await permit.complete(_bucket_info(response, limited=False))
        elif scope == "shared":  # the slot was used, and the resource is closed a while
            info = _bucket_info(response, limited=False) or _NO_HEADERS
            await permit.complete(dataclasses.replace(info, block=retry_after))
        else:
            await permit.complete(
                _bucket_info(response, limited=True, retry_after=retry_after)
                or BucketInfo(1, 0, retry_after, None, limited=True)
            )
        if scope != "shared":
            await self.rate_limiter.record_invalid()
        log.warning(
            "429 (%s scope) on %s; retry after %.2f s", scope or "user", route.display, retry_after
        )
        return body, scope, retry_after

    def _pool_of(self, permit: Permit, auth: bool) -> str:
        """The global pool a request was counted in; for one believed exempt, the pool Discord
        counted it in (that of its Authorization header, or the host's)."""
        if permit.global_key is not None:
            return permit.global_key
        return self._global_key if auth and self._token is not None else _UNAUTH_KEY

    async def _handle_error(
        self,
        permit: Permit,
        route: Route,
        response: httpx2.Response,
        attempt: int,
        auth: bool,
        shared: int = 0,
    ) -> tuple[float, str | None] | None:
        """Record an error answer; return to retry (``None``: after a backoff; else the 429's
        ``retry_after`` and, for a global 429, the pool it blocked) or raise."""
        status = response.status_code
        body, scope, retry_after = await self._record(permit, route, response, auth)
        if status == 429:
            if retry_after < 0:
                # Not Discord's API but its edge (e.g. the Cloudflare ban page): never retry.
                raise RateLimitedError(
                    429,
                    0,
                    "429 without a JSON body (blocked at Discord's edge); not retrying",
                    route=route.display,
                    retry_after=_float(response.headers.get("retry-after")),
                    scope=scope,
                )
            spent = shared >= SHARED_RETRIES if scope == "shared" else attempt >= self.max_retries
            if spent or retry_after > self.max_rate_limit:
                exc = error_for_status(status, body, route=route.display)
                raise RateLimitedError(
                    429,
                    exc.code,
                    exc.message,
                    exc.errors,
                    route=route.display,
                    retry_after=retry_after,
                    scope=scope,
                )
            if scope != "global":
                return retry_after, None
            if permit.global_key is None and route.webhook_id is not None:
                self._counted_webhooks.add(route.webhook_id)  # Discord counts it: so do we
            return retry_after, self._pool_of(permit, auth)
        if status >= 500:
            retryable = status in EDGE_RETRYABLE or route.method in IDEMPOTENT
            if retryable and attempt < self.max_retries:
                log.warning("HTTP %d on %s; retrying", status, route.display)
                return None
            raise ServerError(status, *_code_message(body), route=route.display)
        raise error_for_status(status, body, route=route.display)

    async def _backoff(self, attempt: int, route: Route, why: str) -> None:
        delay = min(10.0, self.retry_backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        log.warning("%s failed (%s); retry %d in %.2f s", route.display, why, attempt, delay)
        await asyncio.sleep(delay)


__all__ += ["DiscordHTTPError"]
