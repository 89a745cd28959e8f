"""Plain ``def`` handlers and listeners run in a bounded pool of worker threads, never on the loop.

Whether a callable is run on the loop or in a thread is decided once, when it is declared
(``to_async``). The pool has at most ``MAX_THREADS`` threads per process, started on demand;
more calls wait in line. A caller that stops waiting (a handler deadline, shutdown) gets its
queued call dropped, but a call already running cannot be stopped: its thread runs on to
completion, keeps its place in the pool until then, and its result is dropped (both logged).
The threads are daemons, so a stuck one never holds the process up after shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["MAX_THREADS", "ThreadPool", "is_async", "run_in_thread", "to_async"]

log = logging.getLogger("asgi_interactions.threads")

#: Threads running plain handlers at once, per process. The same figure as AnyIO's (and so
#: Starlette's) limit for plain endpoints: handlers mostly wait on I/O, and a stuck one costs a
#: thread, never the loop. Separate from the loop's default executor, which DNS look-ups use.
MAX_THREADS = 40
_IDLE_SECONDS = 60.0  # an idle thread exits after this long


def is_async(func: Callable[..., Any]) -> bool:
    """Whether calling `func` returns a coroutine (functions, methods, callable objects)."""
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004
    return call is not None and inspect.iscoroutinefunction(call)


_QUEUED, _RUNNING, _DONE, _DROPPED, _ABANDONED = range(5)


class _Job:
    """One call handed to the pool, and how its caller hears of the outcome."""

    __slots__ = ("args", "context", "func", "future", "kwargs", "lock", "loop", "started", "state")

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.context = contextvars.copy_context()
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self.lock = threading.Lock()
        self.state = _QUEUED
        self.started = 0.0

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", None) or repr(self.func)

    def run(self) -> None:
        """In a pool thread: run the call unless its caller left, and report back."""
        with self.lock:
            if self.state != _QUEUED:
                return
            self.state = _RUNNING
            self.started = time.monotonic()
        result: Any = None
        error: BaseException | None = None
        try:
            result = self.context.run(self.func, *self.args, **self.kwargs)
        except BaseException as exc:  # handed to the awaiting task, which decides
            error = exc if not isinstance(exc, StopIteration) else RuntimeError(repr(exc))
        with self.lock:
            abandoned = self.state == _ABANDONED
            self.state = _DONE
        if abandoned:
            log.warning(
                "plain-function %s finished %.1fs after it started, after its caller had "
                "stopped waiting: its result is dropped",
                self.name,
                time.monotonic() - self.started,
            )
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to tell
            self.loop.call_soon_threadsafe(self._settle, result, error)

    def _settle(self, result: Any, error: BaseException | None) -> None:
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)

    def leave(self) -> bool:
        """The caller stops waiting. True if the call had not started (it never will)."""
        with self.lock:
            if self.state == _QUEUED:
                self.state = _DROPPED
                return True
            if self.state == _RUNNING:
                self.state = _ABANDONED
            return False


class ThreadPool:
    """At most ``size`` daemon threads, started when work waits and no thread is idle."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._threads = 0
        self._idle = 0

    @property
    def threads(self) -> int:
        """Threads alive now (busy or idle)."""
        return self._threads

    def submit(self, job: _Job) -> None:
        with self._cond:
            self._jobs.append(job)
            if len(self._jobs) > self._idle and self._threads < self.size:
                self._threads += 1
                name = f"asgi_interactions handler {self._threads}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._idle += 1
                    woken = self._cond.wait(_IDLE_SECONDS)
                    self._idle -= 1
                    if not woken and not self._jobs:
                        self._threads -= 1
                        return
                job = self._jobs.popleft()
            try:
                job.run()
            except Exception:  # only a failure to report; the thread must stay in the count
                log.exception("reporting the outcome of %s failed", job.name)


_pool = ThreadPool(MAX_THREADS)


async def run_in_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``func(*args, **kwargs)`` in the pool and return its result (context vars copied).

    Cancelling the awaiting task returns at once: a queued call is dropped, a running one is
    abandoned (logged; its thread runs on and its result is dropped).
    """
    job = _Job(func, args, kwargs, asyncio.get_running_loop())
    _pool.submit(job)
    try:
        return await job.future
    except asyncio.CancelledError:
        if not job.leave():
            log.warning(
                "plain-function %s abandoned while running in its worker thread: a thread "
                "cannot be stopped, so it runs on to completion and its result is dropped",
                job.name,
            )
        raise


def to_async(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Decide once how to call `func`: an ``async def`` as is, a plain function in the pool.

    A plain function that returns an awaitable has it awaited on the loop.
    """
    if is_async(func):
        return func

    @functools.wraps(func)
    async def in_thread(*args: Any, **kwargs: Any) -> Any:
        result = await run_in_thread(func, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    return in_thread
