"""One Redis client per app (``redis_url``), and the rules for serving while Redis is away.

Every shared part (the replay store, the startup sync lock; the REST rate limiter builds its own
client from the same URL) goes through `SharedState.run`: each call is bounded by ``timeout``, a
failed call marks Redis down for ``retry_interval`` seconds, during which callers get their local
fallback at once, without waiting; then one call at a time tries Redis again. The move to the
fallback and the return to Redis are each logged once. Redis is an optional extra, imported only
when a URL is given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["SharedState"]

log = logging.getLogger("asgi_interactions.shared_state")

T = TypeVar("T")


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
        self.timeout = timeout
        self.retry_interval = retry_interval
        self._clock = clock
        self._client: Any = None
        self._down = False
        self._retry_at = 0.0
        self._probing = False

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
        except (self._redis.RedisError, OSError, TimeoutError) as exc:
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

    async def aclose(self) -> None:
        """Close the client's connections (a later call opens new ones)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
