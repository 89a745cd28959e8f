"""The worker-thread pool for plain ``def`` handlers and listeners: bounded, cancellable while
queued, abandoning (never stopping) a running call, daemon threads, context vars copied."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from asgi_interactions import _sync
from asgi_interactions._sync import ThreadPool, is_async, run_in_thread, to_async

WAIT = 5.0  # every blocking wait in these tests ends by then


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadPool]:
    pool = ThreadPool(2)
    monkeypatch.setattr(_sync, "_pool", pool)
    yield pool


async def wait_until(predicate: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110 - the state changes in other threads
            await asyncio.sleep(0.005)


async def test_plain_function_runs_in_a_daemon_worker_thread() -> None:
    seen: dict[str, Any] = {}

    def work(a: int, *, b: int) -> int:
        seen["thread"] = threading.current_thread()
        return a + b

    assert await run_in_thread(work, 1, b=2) == 3
    assert seen["thread"] is not threading.main_thread()
    assert seen["thread"].daemon


async def test_exceptions_reach_the_caller() -> None:
    def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await run_in_thread(boom)


async def test_context_variables_are_copied_into_the_thread() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("from the loop")
    assert await run_in_thread(var.get) == "from the loop"


async def test_the_loop_stays_free_while_a_thread_blocks() -> None:
    release = threading.Event()
    call = asyncio.ensure_future(run_in_thread(release.wait, WAIT))
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 5 and not call.done()
    release.set()
    assert await asyncio.wait_for(call, WAIT) is True


async def test_pool_is_bounded_and_a_queued_call_cancelled_never_runs(
    small_pool: ThreadPool,
) -> None:
    release = threading.Event()
    running: list[str] = []

    def hold(name: str) -> str:
        running.append(name)
        release.wait(WAIT)
        return name

    first = asyncio.ensure_future(run_in_thread(hold, "a"))
    second = asyncio.ensure_future(run_in_thread(hold, "b"))
    queued = asyncio.ensure_future(run_in_thread(hold, "c"))
    await wait_until(lambda: len(running) == 2)
    await asyncio.sleep(0.05)
    assert sorted(running) == ["a", "b"]  # the third waits for a thread
    assert small_pool.threads == 2
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued  # the caller has left the line before a thread frees up
    release.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), WAIT) == ["a", "b"]
    await asyncio.sleep(0.05)
    assert "c" not in running
    assert small_pool.threads <= 2


async def test_a_running_call_is_abandoned_keeps_its_thread_and_is_logged(
    small_pool: ThreadPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asgi_interactions.threads")
    release = threading.Event()
    started = threading.Event()
    finished = threading.Event()

    def stuck() -> str:
        started.set()
        release.wait(WAIT)
        finished.set()
        return "dropped"

    call = asyncio.ensure_future(run_in_thread(stuck))
    await wait_until(started.is_set)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call  # the caller is free at once
    assert not finished.is_set()
    assert any("abandoned while running" in r.getMessage() for r in caplog.records)
    # The stuck call still holds one of the two threads: the other one serves new work.
    assert await asyncio.wait_for(run_in_thread(lambda: "still served"), WAIT) == "still served"
    release.set()
    await wait_until(lambda: any("finished" in r.getMessage() for r in caplog.records))
    assert finished.is_set()


async def test_to_async_decides_once() -> None:
    async def coroutine_function(x: int) -> int:
        return x

    class CallableObject:
        async def __call__(self, x: int) -> int:
            return x * 2

    def plain(x: int) -> str:
        return threading.current_thread().name

    def returns_awaitable(x: int) -> Any:
        return coroutine_function(x + 1)

    assert to_async(coroutine_function) is coroutine_function
    obj = CallableObject()
    assert to_async(obj) is obj and is_async(obj)
    wrapped = to_async(plain)
    assert wrapped is not plain and wrapped.__name__ == "plain"
    assert (await wrapped(1)).startswith("asgi_interactions handler")
    assert await to_async(returns_awaitable)(1) == 2
