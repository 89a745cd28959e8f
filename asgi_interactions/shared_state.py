"""One Redis client per app (``redis_url``), and the rules for serving while Redis is away.

The replay store's checks go through `SharedState.run`: each call is bounded by ``timeout``
(0.25 s, far above a healthy Redis's answer time; ``?socket_timeout=`` in the URL changes it), a
failed call marks Redis down for ``retry_interval`` seconds, during which callers get their local
fallback at once, without waiting; then one call at a time tries Redis again. The move to the
fallback and the return to Redis are each logged once. The app hands the same URL to the REST
rate limiter (its own client and timeouts, same fallback rules) and the startup sync lock (a
short-lived client; this host's file lock when Redis is away). Redis is an optional extra,
imported only when a URL is given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from .errors import ConfigurationError

__all__ = ["SharedState"]

log = logging.getLogger("asgi_interactions.shared_state")

T = TypeVar("T")

# Commands per pipeline: a burst is sent in several round trips, each well within ``timeout``.
_MAX_BATCH = 256


def _redis_module() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError:
        raise ConfigurationError(
            "redis_url needs the redis package: pip install 'asgi-interactions[redis]'"
        ) from None
    return redis_asyncio


def describe(url: str) -> str:
    """``host:port/db`` of a Redis URL, without credentials (safe to log)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 6379}{parts.path or ''}"


class SharedState:
    """The app's Redis client and its fallback rules (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.25,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = _redis_module()  # fail at construction if the extra is missing
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError(
                f"redis_url must start with redis://, rediss:// or unix://, got {url[:10]!r}..."
            )
        self.url = url
        # ``?socket_timeout=`` in the URL (redis-py's own option) sets the bound for every call.
        query = parse_qs(urlsplit(url).query).get("socket_timeout")
        try:
            self.timeout = float(query[-1]) if query else timeout
        except ValueError:
            raise ConfigurationError("redis_url: socket_timeout must be a number") from None
        self.retry_interval = retry_interval
        self._clock = clock
        self._client: Any = None
        self._down = False
        self._retry_at = 0.0
        self._probing = False
        self._pending: list[tuple[bytes, int, asyncio.Future[bool | None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        """False from a failed call until a later call succeeds."""
        return not self._down

    @property
    def client(self) -> Any:
        """The ``redis.asyncio.Redis`` client, made on first use (short timeouts, no retries)."""
        if self._client is None:
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = self._redis.Redis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
            )
        return self._client

    async def run(self, op: Callable[[Any], Awaitable[T]], fallback: T) -> T:
        """``await op(client)``; ``fallback`` at once while Redis is down, or if the call fails."""
        probe = False
        if self._down:
            if self._probing or self._clock() < self._retry_at:
                return fallback
            self._probing = probe = True
        try:
            async with asyncio.timeout(self.timeout):
                result = await op(self.client)
        except Exception as exc:  # RedisError, OSError, TimeoutError; whatever it is, keep serving
            self._retry_at = self._clock() + self.retry_interval
            if not self._down:
                self._down = True
                log.warning(
                    "Redis at %s unreachable (%s); shared state falls back to this process "
                    "(replays are refused per process) until it answers again",
                    describe(self.url),
                    type(exc).__name__,
                )
            return fallback
        finally:
            if probe:
                self._probing = False
        if self._down:
            self._down = False
            log.warning(
                "Redis at %s reachable again; shared state is shared again", describe(self.url)
            )
        return result

    async def set_if_absent(self, key: bytes, px: int) -> bool | None:
        """``SET key 1 NX PX px``: True if set now, False if it existed, None while Redis is down.

        Group commit: calls made while a round trip is in flight wait for it and then go to Redis
        together in one pipeline, so under load many requests share one round trip (and most of
        redis-py's per-command cost), while a lone request is sent at once.
        """
        future: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self._pending.append((key, px, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[bytes, int, asyncio.Future[bool | None]]] = []
        try:
            while self._pending:
                batch = self._pending[:_MAX_BATCH]
                del self._pending[:_MAX_BATCH]
                results = await self.run(partial(_set_all, batch=batch), fallback=None)
                _resolve(batch, results)
                batch = []
        finally:  # cancelled (at shutdown): the callers still waiting get the local answer
            self._flusher = None
            _resolve(batch + self._pending, None)
            self._pending = []

    async def aclose(self) -> None:
        """Close the client's connections (a later call opens new ones)."""
        flusher = self._flusher
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _resolve(
    batch: list[tuple[bytes, int, asyncio.Future[bool | None]]], results: list[Any] | None
) -> None:
    for i, (_, _, future) in enumerate(batch):
        if not future.done():  # its request may have been cancelled meanwhile
            future.set_result(None if results is None else bool(results[i]))


async def _set_all(redis: Any, batch: list[tuple[bytes, int, Any]]) -> list[Any]:
    """One ``SET NX PX`` per entry, in one round trip (a plain command for a lone entry)."""
    if len(batch) == 1:
        key, px, _ = batch[0]
        return [await redis.set(key, b"1", nx=True, px=px)]
    async with redis.pipeline(transaction=False) as pipe:
        for key, px, _ in batch:
            pipe.set(key, b"1", nx=True, px=px)
        results: list[Any] = await pipe.execute()
        return results
