"""The dispatcher on the app's loop: listeners start inline, in order; one that waits keeps a task.

These pin what a listener can rely on now that it runs without a task of its own until it first
waits: order, isolation of slow and failing listeners, its own current task (``asyncio.timeout``,
cancellation), its own context, and shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from asgi_interactions.gateway.events import Dispatcher, GatewayEvent
from tests.fakes.discord_gateway import wait_until

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


def event(n: int, name: str = "MESSAGE_CREATE") -> GatewayEvent:
    return GatewayEvent(name, 0, n, {"n": n})


@contextlib.contextmanager
def caplog_off() -> Iterator[None]:
    """Silence the gateway's logger (a test whose listener fails on purpose, many times)."""
    logger = logging.getLogger("asgi_interactions.gateway")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


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


async def test_events_handed_over_from_another_thread_arrive_once_in_order() -> None:
    """The I/O thread queues events in batches of any size and hands each batch over; the app's
    loop is woken only while its consumer sleeps, and every listener sees every event once and
    in order, even when another listener raises or waits in the middle of a batch."""
    dispatcher = Dispatcher()
    loop = asyncio.get_running_loop()
    got: list[int] = []
    raised: list[int] = []
    wakes = 0
    wake = dispatcher.wake

    def counting_wake() -> None:
        nonlocal wakes
        wakes += 1
        wake()

    dispatcher.wake = counting_wake  # type: ignore[method-assign]

    async def failing(e: GatewayEvent) -> None:
        if (e.seq or 0) % 5 == 0:
            raised.append(e.seq or 0)
            raise RuntimeError("boom mid-batch")

    async def waiting(e: GatewayEvent) -> None:
        if (e.seq or 0) % 50 == 0:
            await asyncio.sleep(0.001)

    async def recording(e: GatewayEvent) -> None:
        got.append(e.seq or 0)

    for listener in (failing, waiting, recording):
        dispatcher.add("*", listener)
    total, batches = 3000, 0

    def io_thread() -> None:
        nonlocal batches
        rng = random.Random(5)
        n = 0
        while n < total:
            for _ in range(min(rng.randrange(1, 60), total - n)):
                n += 1
                dispatcher.pending.append(event(n))
            dispatcher.hand_over(loop)
            batches += 1
            if rng.random() < 0.3:
                time.sleep(0.0005)  # let the consumer run dry and sleep now and then

    with caplog_off():
        await asyncio.wait_for(asyncio.to_thread(io_thread), 30)
        await wait_until(lambda: len(got) == total, 30, "every event")
        await settle(dispatcher)
    assert got == list(range(1, total + 1))
    assert raised == list(range(5, total + 1, 5))
    assert 1 <= wakes <= batches


async def recording_after_one_event() -> tuple[Dispatcher, list[int]]:
    """A dispatcher whose ``"*"`` listener records sequences, after delivering event 1."""
    dispatcher = Dispatcher()
    got: list[int] = []

    async def recording(e: GatewayEvent) -> None:
        got.append(e.seq or 0)

    dispatcher.add("*", recording)
    dispatcher.dispatch(event(1))
    await settle(dispatcher)
    return dispatcher, got


async def test_one_consumer_takes_batch_after_batch_and_drain_ends_it_at_once() -> None:
    """Listeners that do not wait cost no task: the same consumer task takes every batch and
    sleeps between them; ``drain`` ends a sleeping consumer at once (not after its limit), and
    events dispatched after it are delivered by a new one."""
    dispatcher, got = await recording_after_one_event()
    consumer = dispatcher._consumer
    assert consumer is not None and not consumer.done(), "it sleeps, ready for the next batch"
    for n in (2, 3):
        dispatcher.dispatch(event(n))
    await settle(dispatcher)
    assert dispatcher._consumer is consumer and got == [1, 2, 3]
    async with asyncio.timeout(10):  # a drain that waited for the sleeping consumer: 60 s
        await dispatcher.drain(60.0)
    assert consumer.cancelled()
    dispatcher.dispatch(event(4))
    await settle(dispatcher)
    assert got == [1, 2, 3, 4] and dispatcher._consumer is not consumer


async def test_a_cancelled_sleeping_consumer_is_replaced() -> None:
    """Whoever cancels every task (a careless shutdown) may cancel the sleeping consumer too:
    the next events still arrive, through a new one."""
    dispatcher, got = await recording_after_one_event()
    consumer = dispatcher._consumer
    assert consumer is not None
    consumer.cancel()
    dispatcher.dispatch(event(2))  # before the cancellation has even reached it
    await settle(dispatcher)
    assert got == [1, 2] and consumer.cancelled()
    consumer = dispatcher._consumer
    assert consumer is not None
    consumer.cancel()
    await asyncio.sleep(0)  # the cancellation has reached it
    dispatcher.dispatch(event(3))
    await settle(dispatcher)
    assert got == [1, 2, 3]
