"""Plain ``def`` handlers run in worker threads and never block the event loop: under uvicorn,
against the fake Discord REST where the answer goes over REST."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asgi_interactions import Context, InteractionApp, Message, RestClient
from asgi_interactions.testing import InteractionTestClient, KeyPair, command_payload
from tests.fakes.discord_rest import FakeDiscord
from tests.serve import serve

WAIT = 10.0


@pytest.fixture
def make_bot(keys: KeyPair, fake: FakeDiscord) -> Callable[..., InteractionApp]:
    def factory(**kwargs: Any) -> InteractionApp:
        rest = RestClient(None, base_url=fake.base_url)
        return InteractionApp(public_key=keys.public_key, rest=rest, **kwargs)

    return factory


@contextlib.asynccontextmanager
async def serve_in_own_thread(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` under uvicorn in a thread with its own event loop, so a blocked server loop
    cannot also stop this test's clock and client (as it would sharing one loop)."""
    ready: queue.Queue[str | BaseException] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        try:
            async with serve(app, lifespan="on") as url:
                ready.put(url)
                while not stop.is_set():  # noqa: ASYNC110 - set from the test's thread
                    await asyncio.sleep(0.01)
        except BaseException as exc:
            ready.put(exc)
            raise

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    url = await asyncio.to_thread(ready.get, True, WAIT)
    if isinstance(url, BaseException):
        raise url
    try:
        yield url
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, WAIT * 3)


async def test_a_sleeping_plain_handler_does_not_delay_async_ones(keys: KeyPair) -> None:
    bot = InteractionApp(public_key=keys.public_key, token=None)  # defer_after 2.5 s: inline
    sleeping = threading.Event()
    threads: list[threading.Thread] = []

    @bot.command()
    def slow(ctx: Context) -> str:
        threads.append(threading.current_thread())
        sleeping.set()
        time.sleep(1.0)
        return "slept"

    @bot.command()
    async def fast(ctx: Context) -> str:
        threads.append(threading.current_thread())  # the server loop's thread
        return "fast"

    async with serve_in_own_thread(bot) as url, InteractionTestClient(url, keys) as client:
        slow_call = asyncio.ensure_future(client.command("slow"))
        async with asyncio.timeout(WAIT):
            while not sleeping.is_set():  # noqa: ASYNC110 - set from the handler's thread
                await asyncio.sleep(0.005)

        async def timed() -> tuple[float, str | None]:
            started = time.monotonic()
            response = await client.command("fast")
            return time.monotonic() - started, response.content

        results = await asyncio.gather(*(timed() for _ in range(20)))
        slept = await asyncio.wait_for(slow_call, WAIT)
    assert slept.content == "slept"
    assert threads[0] not in threads[1:]  # the plain handler ran off the loop's thread
    assert [content for _, content in results] == ["fast"] * 20
    # A correctness bound, not a benchmark: a blocked server loop would hold each for most of 1 s.
    assert max(elapsed for elapsed, _ in results) < 0.8


async def test_slow_plain_handler_is_auto_deferred_and_its_result_edits_the_original(
    make_bot: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = make_bot(defer_after=0.15)

    @bot.command()
    def slow(ctx: Context) -> Message:
        time.sleep(0.6)
        return Message(content="from a thread")

    payload = command_payload("slow")
    async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
        assert (await client.send(payload)).json == {"type": 5}
        async with asyncio.timeout(WAIT):
            while payload["token"] not in fake.originals:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    assert fake.originals[payload["token"]]["content"] == "from a thread"
    edit = next(r for r in fake.requests if r.method == "PATCH")
    assert edit.path.endswith(
        f"/webhooks/{payload['application_id']}/{payload['token']}/messages/@original"
    )


async def test_plain_error_handlers_run_in_threads(
    make_bot: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = make_bot()
    where: dict[str, threading.Thread] = {}

    @bot.command()
    def fails(ctx: Context) -> str:
        raise LookupError("no such row")

    @fails.error
    def fails_error(ctx: Context, exc: Exception) -> Message:
        where["command"] = threading.current_thread()
        return Message(content=f"command said: {exc}", ephemeral=True)

    @bot.command()
    async def also_fails(ctx: Context) -> str:
        raise ValueError("bad")

    @bot.error_handler
    def on_error(ctx: Context, exc: Exception) -> str:
        where["app"] = threading.current_thread()
        return f"app said: {type(exc).__name__}"

    async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
        first = await client.command("fails")
        second = await client.command("also_fails")
    assert first.content == "command said: no such row" and first.ephemeral
    assert second.content == "app said: ValueError"
    assert all(t is not threading.main_thread() for t in where.values()) and len(where) == 2


async def test_plain_component_autocomplete_modal_and_low_level_handlers_run_in_threads(
    make_bot: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = make_bot()
    main = threading.main_thread()

    @bot.command()
    async def pick(ctx: Context, fruit: str) -> str:
        return fruit

    @bot.autocomplete("pick", "fruit")
    def suggest(ctx: Context, value: str) -> list[str]:
        assert threading.current_thread() is not main
        return [f"{value}-berry"]

    @bot.component("press:{n:int}")
    def press(ctx: Context, n: int) -> str:
        assert threading.current_thread() is not main
        return f"pressed {n}"

    @bot.modal("form")
    def form(ctx: Context, answer: str) -> str:
        assert threading.current_thread() is not main
        return f"got {answer}"

    @bot.on(2)
    def low_level(ctx: Context) -> str:
        assert threading.current_thread() is not main
        return "low level"

    async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
        choices = await client.autocomplete("pick", "fruit", "straw")
        pressed = await client.button("press:3")
        submitted = await client.modal_submit("form", {"answer": "yes"})
        command = await client.command("pick", {"fruit": "kiwi"})
    assert choices.json == {
        "type": 8,
        "data": {"choices": [{"name": "straw-berry", "value": "straw-berry"}]},
    }
    assert pressed.content == "pressed 3"
    assert submitted.content == "got yes"
    assert command.content == "low level"  # the low-level handler wins over the command layer


async def test_the_documented_async_way_to_defer_and_follow_up_around_blocking_code(
    make_bot: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    """docs/reference/decorators.md: plain handlers answer by returning; for a deferral and
    follow-ups, an ``async def`` handler runs its blocking part with ``asyncio.to_thread``."""
    bot = make_bot()

    def slow_report() -> str:
        time.sleep(0.1)
        return "report ready"

    @bot.command()
    async def report_later(ctx: Context) -> None:
        await ctx.defer(ephemeral=True)
        await ctx.followup(await asyncio.to_thread(slow_report))

    payload = command_payload("report_later")
    async with InteractionTestClient(bot, keys) as client:
        assert (await client.send(payload)).json == {"type": 5, "data": {"flags": 64}}
    assert [m["content"] for m in fake.followups[payload["token"]]] == ["report ready"]
