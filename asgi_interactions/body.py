"""Bounds on reading an unverified request body: size, time, and bytes held process-wide.

Until its signature is checked, a body is anyone's: so it must arrive whole within ``body_timeout``,
be no larger than ``max_body_size``, and, while it arrives in pieces, share one byte budget
(``max_unverified_bytes``) with every other body being read by the app.

The deadline costs a dict write per request rather than an ``asyncio.timeout`` (~4 µs): one timer
per event loop sweeps the reads in progress every quarter ``body_timeout`` (only while there are
some) and cancels those that began over ``body_timeout`` ago.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Receive

__all__ = ["BUSY", "TIMED_OUT", "TOO_LARGE", "BodyReader", "BodyRejected", "current_task"]


class BodyRejected(Exception):
    """The body was refused before it was read whole; the connection should be closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


TOO_LARGE = (413, "request body too large")
BUSY = (503, "too many request bodies in progress, try again")
TIMED_OUT = (408, "request body not received in time")
_TICKS = 4  # sweeps per body_timeout: a late body is cut between 1 and 1.25 body_timeouts

current_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]
if sys.version_info >= (3, 12):
    current_task = asyncio.current_task  # implemented in C
else:  # 3.11's current_task() is a Python function around this lookup (~500 instructions)
    from asyncio.tasks import _current_tasks  # type: ignore[attr-defined]

    current_task = _current_tasks.get


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
        self.reading: dict[asyncio.Task[Any], int] = {}
        """Tasks reading a body -> the sweep count when they began (the hot path writes here)."""
        self.expired: dict[asyncio.Task[Any], int] = {}
        """Tasks the sweep cancelled -> their ``cancelling()`` before it (see ``timed_out``).

        A read ends with ``del reader.reading[task]`` and, if ``expired``, popping it there."""
        self.sweeps = 0
        self.timer_loop: asyncio.AbstractEventLoop | None = None

    def fits(self, length: int) -> bool:
        """Whether a body of ``length`` (-1: unknown) fits in the budget left now."""
        return max(length, 1) <= self.max_unverified_bytes - self.buffered

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start sweeping on ``loop`` (first read, or the loop it swept on is gone)."""
        self.timer_loop = loop
        loop.call_later(self.body_timeout / _TICKS, self._sweep, loop)

    def timed_out(self, task: asyncio.Task[Any]) -> bool:
        """On a CancelledError while reading: True if it was our deadline (then it is undone)."""
        before = self.expired.pop(task, None)
        return before is not None and task.uncancel() <= before

    async def read_rest(self, receive: Receive, message: Message) -> bytes | None:
        """The body whose first message is ``message``, or None if the client went away.

        Pieces held while the rest arrives count against the shared budget.
        """
        limit = self.max_body_size
        chunks: list[bytes] = []
        held = 0
        try:
            while True:
                if message["type"] != "http.request":
                    return None  # the client went away before sending the whole body
                chunk: bytes = message.get("body", b"")
                if not message.get("more_body", False):
                    chunks.append(chunk)
                    body = b"".join(chunks)
                    if len(body) > limit:
                        raise BodyRejected(*TOO_LARGE)
                    return body
                held += len(chunk)
                self.buffered += len(chunk)
                if held > limit:
                    raise BodyRejected(*TOO_LARGE)
                if self.buffered > self.max_unverified_bytes:
                    raise BodyRejected(*BUSY)
                self.peak = max(self.peak, self.buffered)
                chunks.append(chunk)
                message = await receive()
        finally:
            self.buffered -= held

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Every body_timeout / _TICKS while reads are pending: cancel those past the deadline."""
        if loop is not self.timer_loop:
            return  # armed on a loop the reader has since left
        if not self.reading:
            self.timer_loop = None  # nothing to watch: the next read re-arms
            return
        self.sweeps += 1
        oldest = self.sweeps - _TICKS - 1  # began before the previous _TICKS full sweeps
        for task, began in self.reading.items():
            if began <= oldest and task not in self.expired:
                self.expired[task] = task.cancelling()
                task.cancel()
        loop.call_later(self.body_timeout / _TICKS, self._sweep, loop)
