"""``Permit``: leave to send one request, to be settled exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..routes import Route
from .base import BucketInfo

if TYPE_CHECKING:
    from .limiter import RateLimiter

__all__ = ["Permit"]


class Permit:
    """Leave to send one request: a bucket permit and, unless exempt, a global slot.

    Exactly one of ``complete`` (an answer came), ``abandon`` (it may have reached Discord, no
    answer) or ``refund`` (provably never sent) must be called; later calls are ignored.
    """

    __slots__ = (
        "_done",
        "_limiter",
        "bucket_key",
        "global_key",
        "global_slot",
        "order",
        "route",
        "ticket",
    )

    def __init__(
        self,
        limiter: RateLimiter,
        route: Route,
        bucket_key: str,
        ticket: int,
        global_key: str | None,
        global_slot: str | None,
    ) -> None:
        self._limiter = limiter
        self.route = route
        self.bucket_key = bucket_key
        self.ticket = ticket
        self.global_key = global_key
        self.global_slot = global_slot
        self.order = 0.0  # the request's place (set by ``acquire``)
        self._done = False

    async def complete(self, info: BucketInfo | None) -> None:
        """Record the answer's bucket headers (``None``: an answer without usable headers)."""
        if self._done:
            return
        self._done = True
        limiter = self._limiter
        if limiter.store.sync:
            limiter._finish_sync(self, info)
        else:
            await limiter._store_call(limiter._finish(self, info, sent=True))

    def abandon(self) -> None:
        """The request may have reached Discord but its answer will not be read."""
        if not self._done:
            self._done = True
            self._limiter._spawn(self._limiter._finish(self, None, sent=True))

    def refund(self) -> None:
        """The request was never sent: give the permit back."""
        if not self._done:
            self._done = True
            self._limiter._spawn(self._limiter._finish(self, None, sent=False))
