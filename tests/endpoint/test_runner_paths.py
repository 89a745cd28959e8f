"""The runner's two paths: a handler done in its first step (no timer, no tracking left behind)
and one that suspends (named, tracked, auto-deferred); either way it runs in its own task."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from asgi_interactions import Context, InteractionApp
from asgi_interactions.testing import InteractionTestClient, KeyPair, command_payload


async def test_a_fast_handler_runs_in_its_own_task_and_leaves_nothing_tracked(
    make_bot: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = make_bot()
    seen: list[asyncio.Task[Any] | None] = []

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        seen.append(asyncio.current_task())
        return "hi"

    async with InteractionTestClient(bot, keys) as client:
        outer = asyncio.current_task()
        response = await client.send(command_payload("x"))
        assert response.json == {"type": 4, "data": {"content": "hi"}}
        assert seen and seen[0] is not None and seen[0] is not outer
        assert seen[0].done()
        assert not bot._runner.tasks and not bot._runner._deadlines


async def test_a_suspending_handler_is_named_tracked_and_auto_deferred(
    make_bot: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = make_bot(defer_after=0.1)
    release = asyncio.Event()
    seen: list[asyncio.Task[Any] | None] = []

    @bot.on(2)
    async def handler(ctx: Context) -> None:
        seen.append(asyncio.current_task())
        await release.wait()
        assert asyncio.current_task() is seen[0]

    payload = command_payload("x")
    async with InteractionTestClient(bot, keys) as client:
        response = await client.send(payload)
        assert response.json == {"type": 5}
        task = seen[0]
        assert task is not None and task in bot._runner.tasks
        assert task.get_name() == f"interaction {payload['id']}"
        assert task in bot._runner._deadlines  # handler_timeout armed once the answer is out
        release.set()
        async with asyncio.timeout(5):
            while bot._runner.tasks:  # noqa: ASYNC110 - the done-callback frees the slot
                await asyncio.sleep(0.01)
        assert not bot._runner._deadlines


async def test_defer_in_the_first_step_answers_at_once_without_waiting_for_the_timer(
    make_bot: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = make_bot(defer_after=2.5)
    release = asyncio.Event()

    @bot.on(2)
    async def handler(ctx: Context) -> None:
        await ctx.defer(ephemeral=True)
        await release.wait()

    async with InteractionTestClient(bot, keys) as client:
        async with asyncio.timeout(2):  # well before defer_after
            response = await client.send(command_payload("x"))
        assert response.json == {"type": 5, "data": {"flags": 64}}
        assert len(bot._runner.tasks) == 1
        release.set()


async def test_the_initial_response_is_handed_over_once_and_awaited_only_on_demand(
    make_bot: Callable[..., InteractionApp],
) -> None:
    """Context keeps the initial response as a plain value; a future exists only for a waiter."""
    from asgi_interactions.context import InitialResponse
    from asgi_interactions.models import Interaction

    bot = make_bot()
    interaction = Interaction.model_validate(command_payload("x"))
    first, second = InitialResponse({"type": 4}, []), InitialResponse({"type": 5}, [])

    ctx = Context(interaction, bot)
    waiter = ctx._initial_future()  # a runner waiting before the handler answered
    assert not waiter.done() and not ctx.responded
    assert ctx._offer_initial(first) and not ctx._offer_initial(second)
    assert waiter.result() is first and ctx.responded and not ctx.deferred

    ctx = Context(interaction, bot)
    assert ctx._offer_initial(second)  # answered before anyone waited: no future until asked
    assert ctx._waiter is None and ctx._initial_future().result() is second

    ctx = Context(interaction, bot)
    ctx._initial_future().cancel()  # the request went away while waiting
    ctx._abandon_initial()
    assert not ctx._offer_initial(first)  # a late answer has nowhere to go
    assert ctx.responded
    await asyncio.wait_for(ctx._initial.sent, 5)  # ctx.defer() would return, not hang


async def test_a_str_result_answers_as_callback_payload_does(
    make_bot: Callable[..., InteractionApp],
) -> None:
    """The runner answers a ``str`` without calling callback_payload: same answers, same limit."""
    from asgi_interactions.models import Interaction
    from asgi_interactions.responses import callback_payload
    from asgi_interactions.runner import FAILED_TEXT, notice
    from asgi_interactions.testing import autocomplete_payload, component_payload, modal_payload

    payloads = {
        2: command_payload("x"),
        3: component_payload("c"),
        4: autocomplete_payload("x", "q", {"q": "a"}),
        5: modal_payload("m", {"f": "v"}),
    }
    for text in ("", "hi", "é" * 2000, "x" * 2001):
        for itype, payload in payloads.items():
            bot = make_bot()

            @bot.on(itype)
            async def handler(ctx: Context, text: str = text) -> str:
                return text

            interaction = Interaction.model_validate(payload)
            initial = await bot.process(interaction)
            try:
                expected, _ = callback_payload(text, itype, from_message=False)
            except (TypeError, ValueError):  # the runner's answer to an invalid result
                expected = notice(FAILED_TEXT, itype)
            assert initial.payload == expected, (text[:10], itype)
