"""Reading an unverified request body, bounded in size, in time, and in bytes held process-wide.

Until its signature is checked, a body is anyone's: so it must arrive whole within ``body_timeout``,
be no larger than ``max_body_size``, and, while it arrives in pieces, share one byte budget
(``max_unverified_bytes``) with every other body being read by the app.

The deadline costs a dict write per request rather than an ``asyncio.timeout`` (~4 µs): one timer
per event loop sweeps the reads in progress and cancels only those past their deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive

__all__ = ["BodyReader", "BodyRejected"]


class BodyRejected(Exception):
    """The body was refused before it was read whole; the connection should be closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_TOO_LARGE = (413, "request body too large")
_BUSY = (503, "too many request bodies in progress, try again")
_TIMEOUT = (408, "request body not received in time")
_SWEEP_SLACK = 0.01  # a sweep never re-arms closer than this: no busy timer under load


class BodyReader:
    """Reads request bodies under a size limit, a deadline, and a shared byte budget."""

    def __init__(self, max_body_size: int, body_timeout: float, max_unverified_bytes: int) -> None:
        self.max_body_size = max_body_size
        self.body_timeout = body_timeout
        self.max_unverified_bytes = max_unverified_bytes
        self.buffered = 0
        """Bytes held right now by bodies still arriving (their first pieces)."""
        self.peak = 0
        """The highest ``buffered`` has been: never above ``max_unverified_bytes``."""
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._expired: dict[asyncio.Task[Any], int] = {}  # task -> its cancelling() before ours
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    async def read(self, receive: Receive, length: int) -> bytes | None:
        """The whole body, or None if the client went away first.

        ``length`` is the Content-Length (-1 when absent). Raises ``BodyRejected`` for a body
        over the limit (413), one that does not fit the shared budget (503), or one not received
        within ``body_timeout`` (408).
        """
        limit = self.max_body_size
        if length > limit:
            raise BodyRejected(*_TOO_LARGE)
        if max(length, 1) > self.max_unverified_bytes - self.buffered:
            raise BodyRejected(*_BUSY)
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        self._deadlines[task] = deadline
        if self._timer_loop is not loop:
            self._timer_loop = loop
            loop.call_at(deadline, self._sweep)
        chunks: list[bytes] | None = None
        held = 0
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return None  # the client went away before sending the whole body
                chunk: bytes = message.get("body", b"")
                if not message.get("more_body", False):
                    if chunks is not None:
                        chunks.append(chunk)
                        chunk = b"".join(chunks)
                    if len(chunk) > limit:
                        raise BodyRejected(*_TOO_LARGE)
                    return chunk
                held += len(chunk)
                self.buffered += len(chunk)
                if held > limit:
                    raise BodyRejected(*_TOO_LARGE)
                if self.buffered > self.max_unverified_bytes:
                    raise BodyRejected(*_BUSY)
                self.peak = max(self.peak, self.buffered)
                if chunks is None:
                    chunks = []
                chunks.append(chunk)
        except asyncio.CancelledError:
            before = self._expired.pop(task, None)
            if before is None or task.uncancel() > before:
                raise  # cancelled by someone else, not by our deadline
            raise BodyRejected(*_TIMEOUT) from None
        finally:
            del self._deadlines[task]
            self._expired.pop(task, None)
            if held:
                self.buffered -= held

    def _sweep(self) -> None:
        """Cancel the reads past their deadline; re-arm for the next one, if any."""
        loop = self._timer_loop
        assert loop is not None
        now = loop.time()
        next_deadline = None
        for task, deadline in self._deadlines.items():
            if deadline <= now:
                if task not in self._expired:
                    self._expired[task] = task.cancelling()
                    task.cancel()
            elif next_deadline is None or deadline < next_deadline:
                next_deadline = deadline
        if next_deadline is None:
            self._timer_loop = None
        else:
            loop.call_at(max(next_deadline, now + _SWEEP_SLACK), self._sweep)
