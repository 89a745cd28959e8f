"""The rate-limit store interface and the facts a response gives about its bucket.

A store decides permits and keeps bucket, global and invalid-request state; the limiter in
``limiter.py`` adds per-bucket FIFO queues and cancellation safety on top of any store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = ["BucketInfo", "RateLimitStore"]


@dataclass(frozen=True, slots=True)
class BucketInfo:
    """What a response said about its bucket.

    ``limit`` is ``None`` when the response carried no rate-limit headers. ``remaining`` and
    ``reset_after`` (seconds until the oldest counted request leaves the window) come from
    ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset-After``; ``bucket`` from ``X-RateLimit-Bucket``.
    ``limited`` marks a route-scope 429: the store must believe it over its own estimate.
    ``reset`` is ``X-RateLimit-Reset`` (the server's epoch time at which that oldest slot frees):
    two answers naming different ``reset`` values name different slots. ``block``: grant nothing
    in the bucket the answer names for that many seconds (a shared-scope 429's ``retry_after``),
    applied with the rest of the answer, so no request slips in between.
    """

    limit: int | None
    remaining: int = 0
    reset_after: float = 0.0
    bucket: str | None = None
    limited: bool = False
    reset: float | None = None
    block: float = 0.0


class RateLimitStore(ABC):
    """Where rate-limit state lives: process memory, or Redis shared by many processes.

    Every method is atomic with respect to every other caller of the same store. Times are the
    store's own clock; waits are returned in seconds. ``math.inf`` as a wait means "until a
    response in flight comes back" (callers poll or get notified).
    """

    #: Whether other processes change this store's state (callers then poll instead of waiting
    #: for local notifications only).
    shared: bool = False
    #: Whether the ``*_sync`` methods below are implemented (an in-process store that never
    #: waits): the limiter then calls them directly on its fast path.
    sync: bool = False

    def acquire_sync(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        """``bucket_acquire`` without a coroutine (only when ``sync``)."""
        raise NotImplementedError

    def update_sync(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        """``bucket_update`` without a coroutine (only when ``sync``)."""
        raise NotImplementedError

    def global_acquire_sync(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        """``global_acquire`` without a coroutine (only when ``sync``)."""
        raise NotImplementedError

    def global_release_sync(self, key: str, slot: str, hold: float) -> None:
        """``global_release`` without a coroutine (only when ``sync``)."""
        raise NotImplementedError

    def shape_sync(self, route_key: str, major: str) -> tuple[int, float, float | None] | None:
        """``(limit, window, when its next permit could be granted)`` of a known bucket, for
        planning the global window (``None``: unknown; the ready time is ``None`` while the
        bucket waits for an answer). Only when ``sync``."""
        return None

    def probing_sync(self, route_key: str, major: str) -> bool:
        """Whether the bucket's limit is still unknown, so that its next answer tells it (that
        request goes first in the global window). Only when ``sync``."""
        return False

    def global_outlook_sync(self, key: str, limit: int) -> tuple[int, float]:
        """Free global slots now, and the store's time now. Only when ``sync``."""
        raise NotImplementedError

    def global_frees_sync(self, key: str, until: float) -> list[float]:
        """The times (sorted) at which counted global slots free, up to ``until``. Only when
        ``sync``."""
        raise NotImplementedError

    @abstractmethod
    async def bucket_acquire(self, route_key: str, major: str) -> tuple[str, int | None, float]:
        """Try to take a permit: ``(bucket key, ticket, 0.0)`` or ``(bucket key, None, wait)``."""

    @abstractmethod
    async def bucket_update(
        self, key: str, route_key: str, major: str, ticket: int, info: BucketInfo | None
    ) -> None:
        """Record the answer to a permit's request; ``info=None``: no answer (abandoned)."""

    @abstractmethod
    async def bucket_refund(self, key: str) -> None:
        """Give back a permit whose request was provably never sent."""

    @abstractmethod
    async def bucket_block(self, key: str, seconds: float) -> None:
        """Grant nothing in this bucket for ``seconds`` (a shared-scope 429)."""

    @abstractmethod
    async def global_acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        """Take a slot in the global window: ``(slot id, 0.0)`` or ``(None, wait)``."""

    @abstractmethod
    async def global_release(self, key: str, slot: str, hold: float) -> None:
        """The slot's request was answered (or abandoned): keep it counted ``hold`` more seconds."""

    @abstractmethod
    async def global_refund(self, key: str, slot: str) -> None:
        """Free a slot whose request was provably never sent."""

    @abstractmethod
    async def global_block(self, key: str, seconds: float) -> None:
        """Grant no global slot for ``seconds`` (a global 429)."""

    @abstractmethod
    async def invalid_add(self, window: float) -> int:
        """Count one invalid request (401/403/429); return the count within ``window`` seconds."""

    @abstractmethod
    async def invalid_count(self, window: float) -> int:
        """Invalid requests counted within the last ``window`` seconds."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections (no-op by default)."""
