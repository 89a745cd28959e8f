"""The dispatcher on the app's loop: listeners start inline, in order; one that waits keeps a task.

These pin what a listener can rely on now that it runs without a task of its own until it first
waits: order, isolation of slow and failing listeners, its own current task (``asyncio.timeout``,
cancellation), its own context, and shutdown.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import pytest

from asgi_interactions.gateway.events import Dispatcher, GatewayEvent
from tests.fakes.discord_gateway import wait_until

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


def event(n: int, name: str = "MESSAGE_CREATE") -> GatewayEvent:
    return GatewayEvent(name, 0, n, {"n": n})


async def settle(dispatcher: Dispatcher) -> None:
    """Wait (bounded) until the queue is empty and no listener task is left."""
    await wait_until(lambda: dispatcher.idle, 10, "idle")


async def test_listeners_start_in_order_and_a_waiting_one_delays_nobody() -> None:
    """Each event's listeners start in sequence order; a listener stuck on an event does not
    hold up later listeners or later events."""
    dispatcher = Dispatcher()
    started: list[tuple[str, int]] = []
    release = asyncio.Event()

    async def slow(e: GatewayEvent) -> None:
        started.append(("slow", e.seq or 0))
        if e.seq == 2:
            await release.wait()  # stuck until the test says so

    async def fast(e: GatewayEvent) -> None:
        started.append(("fast", e.seq or 0))

    def plain(e: GatewayEvent) -> None:  # a plain def: runs in the worker pool
        started.append(("plain", e.seq or 0))

    dispatcher.add("MESSAGE_CREATE", slow)
    dispatcher.add("*", fast)
    for n in range(1, 51):
        dispatcher.dispatch(event(n))
    await wait_until(lambda: len([s for s in started if s[0] == "fast"]) == 50, 10, "50 fast")
    assert [n for kind, n in started if kind == "slow"] == list(range(1, 51))
    assert [n for kind, n in started if kind == "fast"] == list(range(1, 51))
    assert started.index(("slow", 2)) < started.index(("fast", 2)) < started.index(("slow", 3))
    assert len(dispatcher.tasks) == 1  # only the stuck listener holds a task
    release.set()
    dispatcher.add("*", plain)
    dispatcher.dispatch(event(51))
    await settle(dispatcher)
    assert ("plain", 51) in started


async def test_a_listener_keeps_its_own_task_timeout_and_cancellation() -> None:
    """``asyncio.current_task()`` is the same before and after the first wait, ``asyncio.timeout``
    fires on the listener alone, and other listeners go on meanwhile."""
    dispatcher = Dispatcher()
    seen: dict[str, Any] = {}

    async def timed(e: GatewayEvent) -> None:
        before = asyncio.current_task()
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            seen["timed out"] = True
        seen["same task"] = before is asyncio.current_task() and before is not None

    async def quick_timeout(e: GatewayEvent) -> None:  # finishes before its first wait
        async with asyncio.timeout(1):  # noqa: ASYNC100 (the point: no wait inside)
            seen["quick"] = e.seq

    async def after(e: GatewayEvent) -> None:
        seen.setdefault("after", []).append(e.seq)

    dispatcher.add("A", timed)
    dispatcher.add("A", quick_timeout)
    dispatcher.add("*", after)
    dispatcher.dispatch(event(1, "A"))
    dispatcher.dispatch(event(2, "B"))
    await wait_until(lambda: seen.get("after") == [1, 2], 10, "both events")
    assert "timed out" not in seen  # the others did not wait for the timed listener
    await settle(dispatcher)
    assert seen["timed out"] is True and seen["same task"] is True and seen["quick"] == 1


async def test_each_listener_has_its_own_context() -> None:
    """A context variable set by one listener is not seen by the next, before or after waits."""
    dispatcher = Dispatcher()
    seen: list[str] = []

    async def setter(e: GatewayEvent) -> None:
        var.set(f"set by {e.seq}")
        await asyncio.sleep(0)
        seen.append(var.get())  # still its own value after a wait

    async def reader(e: GatewayEvent) -> None:
        seen.append(var.get())

    dispatcher.add("*", setter)
    dispatcher.add("*", reader)
    dispatcher.dispatch(event(1))
    dispatcher.dispatch(event(2))
    await settle(dispatcher)
    assert sorted(seen) == ["set by 1", "set by 2", "unset", "unset"]
    assert var.get() == "unset"


async def test_failures_are_logged_and_later_events_still_arrive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A listener that raises at once, one that raises after a wait and one that cannot even be
    called are each logged with the event and shard; every later event still reaches the rest."""
    dispatcher = Dispatcher()
    got: list[int] = []

    async def at_once(e: GatewayEvent) -> None:
        raise RuntimeError("boom at once")

    async def after_wait(e: GatewayEvent) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom after wait")

    async def wrong_signature() -> None: ...

    async def good(e: GatewayEvent) -> None:
        got.append(e.seq or 0)

    for listener in (at_once, after_wait, wrong_signature, good):
        dispatcher.add("*", listener)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, "asgi_interactions.gateway"):
        for n in range(1, 4):
            dispatcher.dispatch(event(n))
        await settle(dispatcher)
    assert got == [1, 2, 3]
    messages = [r.getMessage() for r in caplog.records]
    for name in ("at_once", "after_wait", "wrong_signature"):
        failures = [m for m in messages if name in m]
        assert len(failures) == 3, messages
        assert all("MESSAGE_CREATE (shard 0" in m for m in failures)


async def test_drain_cancels_a_stuck_listener_within_the_limit() -> None:
    dispatcher = Dispatcher()
    cancelled = asyncio.Event()

    async def stuck(e: GatewayEvent) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    dispatcher.add("*", stuck)
    dispatcher.dispatch(event(1))
    await asyncio.sleep(0.01)
    assert len(dispatcher.tasks) == 1
    async with asyncio.timeout(10):
        await dispatcher.drain(0.05)
    assert cancelled.is_set() and not dispatcher.tasks


async def test_delivered_sequence_waits_for_listeners_that_are_still_running() -> None:
    """With delivery tracking (shared shards), a shard's delivered sequence is the last one with
    no listener of it or of an earlier event still running, under the session of its READY."""
    from asgi_interactions.gateway.delivery import delivered

    dispatcher = Dispatcher()
    dispatcher.delivered = {}
    idle: list[int] = []
    dispatcher.on_idle = lambda: idle.append(1)
    release = asyncio.Event()

    async def slow(ev: GatewayEvent) -> None:
        if ev.seq == 2:
            await release.wait()

    dispatcher.add("*", slow)

    for ev in [GatewayEvent("READY", 0, 1, {"session_id": "s1"}), event(2), event(3), event(4)]:
        dispatcher.dispatch(ev)
    await wait_until(lambda: dispatcher.delivered.get(0) == 4, 10, "every listener started")  # type: ignore[union-attr]
    assert delivered(dispatcher, 0) == ("s1", 1), "2 still runs: only READY is delivered"
    assert idle, "the recorder is told when the queue ran empty"
    release.set()
    await settle(dispatcher)
    assert delivered(dispatcher, 0) == ("s1", 4)
    dispatcher.dispatch(GatewayEvent("READY", 0, 1, {"session_id": "s2"}))  # a new session
    await settle(dispatcher)
    assert delivered(dispatcher, 0) == ("s2", 1)
    assert delivered(dispatcher, 1) is None, "nothing known of another shard"
