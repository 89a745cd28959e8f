"""One exchange with Discord: the request sent with its permit held (in its bucket's wire order,
safe against a cancelled caller), and the bookkeeping its answer calls for (bucket headers, 429
scopes, invalid requests, errors raised or retried)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import socket
from typing import Any

import httpx2

from .errors import (
    RateLimitedError,
    ServerError,
    error_for_status,
)
from .pacing import send_pacer
from .ratelimit.base import BucketInfo
from .ratelimit.limiter import Permit, RateLimiter
from .routes import Route
from .wire import (
    _NO_HEADERS,
    WIRE_WAIT,
    _bucket_info,
    _code_message,
    _decode_error,
    _float,
    _quiet,
    _Started,
)

log = logging.getLogger("asgi_interactions.rest")

#: Methods whose repetition is harmless: retried after a timeout or a 500 too.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
#: Answers from Discord's edge that prove the request was not processed.
EDGE_RETRYABLE = frozenset({502, 503, 504})
#: Failures that happen before any byte of the request left: always safe to retry.
NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
#: Retries after shared-scope 429s (a busy resource: Discord's doing, not ours).
SHARED_RETRIES = 10
#: The global pool of requests without the bot's Authorization: Discord counts them per IP.
_UNAUTH_KEY = "unauthenticated:" + hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16]


class Exchange:
    """The exchange half of ``RestClient``."""

    _http: httpx2.AsyncClient | None
    _wire: dict[str, asyncio.Future[None]]
    _in_flight: asyncio.Semaphore
    _detached: set[asyncio.Future[Any]]
    _token: str | None
    _token_rejected: bool
    _global_key: str
    _counted_webhooks: set[str]
    rate_limiter: RateLimiter
    max_retries: int
    max_rate_limit: float

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
        gate = send_pacer()
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
                await gate.turn()  # in grant order: the bucket's wire order is kept
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
