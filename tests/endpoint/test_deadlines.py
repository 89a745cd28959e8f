"""Handler deadlines (``handler_timeout``), shutdown within ``shutdown_timeout`` with an answer for
every user, and ``ctx.defer()`` never left waiting: under uvicorn against the fake Discord REST."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from asgi_interactions import Context, InteractionApp, RestClient
from asgi_interactions.runner import FAILED_TEXT
from asgi_interactions.testing import InteractionTestClient, KeyPair, command_payload
from tests.fakes.discord_rest import FakeDiscord
from tests.serve import serve

WAIT = 10.0  # the bound on every wait for something that should happen much sooner


async def wait_for(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110 - state lives in another server's handlers
            await asyncio.sleep(0.01)


def failure_edits(fake: FakeDiscord) -> dict[str, str]:
    """Interaction token -> content of the failure notices the fake received (edits, follow-ups)."""
    found: dict[str, str] = {}
    for token, message in fake.originals.items():
        if message.get("content") == FAILED_TEXT:
            found[token] = "edit"
    for token, messages in fake.followups.items():
        if any(m.get("content") == FAILED_TEXT for m in messages):
            found[token] = "followup"
    return found


@pytest.mark.parametrize("kind", ["async", "plain"])
async def test_hung_handler_is_stopped_at_its_deadline_and_its_slot_freed(
    kind: str,
    bot_with_fake: Callable[..., InteractionApp],
    fake: FakeDiscord,
    keys: KeyPair,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = bot_with_fake(handler_timeout=0.6, max_concurrency=1)
    release = threading.Event()
    cancelled = asyncio.Event()

    if kind == "async":

        @bot.command()
        async def stuck(ctx: Context) -> str:
            try:
                await asyncio.sleep(WAIT * 3)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return "never"
    else:

        @bot.command()
        def stuck(ctx: Context) -> str:
            release.wait(WAIT * 3)
            return "never delivered"

    @bot.command()
    async def ok(ctx: Context) -> str:
        return "ok"

    caplog.set_level(logging.WARNING, logger="asgi_interactions")
    payload = command_payload("stuck")
    try:
        async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
            assert (await client.send(payload)).type == 5  # auto-deferred
            assert "busy" in ((await client.command("ok")).content or "")  # the one slot is taken
            await wait_for(lambda: payload["token"] in fake.originals)
            assert fake.originals[payload["token"]]["content"] == FAILED_TEXT
            await wait_for(lambda: not bot._runner.tasks)
            assert (await client.command("ok")).content == "ok"  # the slot is free again
    finally:
        release.set()
    assert kind == "plain" or cancelled.is_set()
    logged = [r.getMessage() for r in caplog.records]
    assert any(payload["id"] in m and "handler_timeout" in m for m in logged)
    if kind == "plain":
        assert any("runs on to completion" in m for m in logged)


async def test_handler_stopped_before_any_answer_gets_the_failure_notice_as_its_reply(
    bot_with_fake: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = bot_with_fake(handler_timeout=0.3, defer_after=None)

    @bot.command()
    async def stuck(ctx: Context) -> str:
        await asyncio.sleep(WAIT * 3)
        return "never"

    async with InteractionTestClient(bot, keys) as client:
        response = await client.command("stuck")
    assert response.content == FAILED_TEXT and response.ephemeral


async def test_handler_stopped_after_responding_gets_a_failure_followup(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake(handler_timeout=0.3, defer_after=None)

    @bot.command()
    async def stuck(ctx: Context) -> str:
        await ctx.respond("working on it")
        await asyncio.sleep(WAIT * 3)
        return "never"

    payload = command_payload("stuck")
    async with InteractionTestClient(bot, keys) as client:
        assert (await client.send(payload)).content == "working on it"
        await wait_for(lambda: payload["token"] in fake.followups)
    assert failure_edits(fake) == {payload["token"]: "followup"}


async def test_shutdown_with_hung_handlers_ends_in_time_and_every_user_is_answered(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    shutdown_timeout = 1.5
    bot = bot_with_fake(shutdown_timeout=shutdown_timeout)
    release = threading.Event()

    @bot.command()
    async def hangs(ctx: Context) -> str:
        await asyncio.sleep(WAIT * 3)
        return "never"

    @bot.command()
    async def responds_then_hangs(ctx: Context) -> str:
        await ctx.respond("on it")
        await asyncio.sleep(WAIT * 3)
        return "never"

    @bot.command()
    def blocks_a_thread(ctx: Context) -> str:
        release.wait(WAIT * 3)
        return "never delivered"

    payloads = [command_payload(n) for n in ("hangs", "responds_then_hangs", "blocks_a_thread")]
    try:
        async with serve(bot, lifespan="on") as url:
            async with InteractionTestClient(url, keys) as client:
                answers = [await client.send(p) for p in payloads]
            assert [a.type for a in answers] == [5, 4, 5]
            started = time.monotonic()
        stopped = time.monotonic() - started
    finally:
        release.set()
    # Loose margin: uvicorn's own stopping is included; the bug this guards against was 5 s late.
    assert stopped < shutdown_timeout + 1.5
    tokens = [p["token"] for p in payloads]
    assert failure_edits(fake) == {tokens[0]: "edit", tokens[1]: "followup", tokens[2]: "edit"}


async def test_shutdown_ends_in_time_when_discord_is_slow_to_take_the_failure_edits(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    """The failure edits themselves hang: shutdown still ends on time (the REST close is cut)."""
    shutdown_timeout = 1.0
    bot = bot_with_fake(shutdown_timeout=shutdown_timeout)

    @bot.command()
    async def hangs(ctx: Context) -> str:
        await asyncio.sleep(WAIT * 3)
        return "never"

    async with serve(bot, lifespan="on") as url:
        async with InteractionTestClient(url, keys) as client:
            assert (await client.command("hangs")).type == 5
        fake.latency = 3.0
        started = time.monotonic()
    stopped = time.monotonic() - started
    assert stopped < shutdown_timeout + 1.5
    assert any(r.method == "PATCH" for r in fake.requests)  # it was tried


async def test_a_rest_call_cut_at_shutdown_does_not_hold_the_close_up(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    """A follow-up in flight when shutdown ends: the REST client's close used to wait 5 s more."""
    bot = bot_with_fake(shutdown_timeout=1.0)

    @bot.command()
    async def posts(ctx: Context) -> None:
        await ctx.defer()
        await ctx.followup("slow to land")

    async with serve(bot, lifespan="on") as url:
        async with InteractionTestClient(url, keys) as client:
            fake.latency = 4.0
            assert (await client.command("posts")).type == 5
        started = time.monotonic()
    assert time.monotonic() - started < 1.0 + 1.5  # it was 4 s (the fake's latency) before


async def test_send_raising_never_leaves_ctx_defer_waiting(
    bot_with_fake: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    """In process: the server's ``send()`` fails while the handler waits in ``ctx.defer()``."""
    bot = bot_with_fake(defer_after=None)
    past_defer = asyncio.Event()

    @bot.command()
    async def defers(ctx: Context) -> str:
        await ctx.defer()
        past_defer.set()
        return "done"

    body = json.dumps(command_payload("defers")).encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in keys.headers(body).items()]
    scope = {"type": "http", "method": "POST", "path": "/", "root_path": "", "headers": headers}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        raise OSError("connection reset by peer")

    async with bot.lifespan(None):
        with pytest.raises(OSError):
            await bot(scope, receive, send)
        await asyncio.wait_for(past_defer.wait(), WAIT)
        await wait_for(lambda: not bot._runner.tasks)


async def test_request_cancelled_while_the_handler_is_about_to_defer(
    bot_with_fake: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    """The request goes away (its task cancelled) before the handler defers: defer returns."""
    bot = bot_with_fake(defer_after=None)
    entered, go, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @bot.command()
    async def late(ctx: Context) -> None:
        entered.set()
        await go.wait()
        await ctx.defer()
        assert ctx.responded and not ctx.deferred
        finished.set()

    body = json.dumps(command_payload("late")).encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in keys.headers(body).items()]
    scope = {"type": "http", "method": "POST", "path": "/", "root_path": "", "headers": headers}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async with bot.lifespan(None):
        request = asyncio.ensure_future(bot(scope, receive, send))
        await asyncio.wait_for(entered.wait(), WAIT)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        go.set()
        await asyncio.wait_for(finished.wait(), WAIT)
        await wait_for(lambda: not bot._runner.tasks)


async def test_a_handler_whose_request_went_away_still_has_a_deadline(
    bot_with_fake: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = bot_with_fake(defer_after=2.5, handler_timeout=0.4)
    entered = asyncio.Event()

    @bot.command()
    async def hangs(ctx: Context) -> None:
        entered.set()
        await asyncio.sleep(WAIT * 3)

    body = json.dumps(command_payload("hangs")).encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in keys.headers(body).items()]
    scope = {"type": "http", "method": "POST", "path": "/", "root_path": "", "headers": headers}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async with bot.lifespan(None):
        request = asyncio.ensure_future(bot(scope, receive, send))
        await asyncio.wait_for(entered.wait(), WAIT)
        request.cancel()  # before the auto-defer: the client went away
        with pytest.raises(asyncio.CancelledError):
            await request
        await wait_for(lambda: not bot._runner.tasks)  # freed at handler_timeout


async def test_gateway_callback_failing_never_leaves_ctx_defer_waiting(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord
) -> None:
    bot = bot_with_fake(defer_after=None)
    past_defer = asyncio.Event()

    @bot.command()
    async def defers(ctx: Context) -> str:
        await ctx.defer()
        past_defer.set()
        return "done"

    fake.inject(400, body={"code": 40060, "message": "already acknowledged"}, path="/callback")
    async with bot.lifespan(None):
        await asyncio.wait_for(bot.process_gateway_interaction(command_payload("defers")), WAIT)
        await asyncio.wait_for(past_defer.wait(), WAIT)


def test_handler_timeout_must_be_positive(keys: KeyPair) -> None:
    from asgi_interactions.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        InteractionApp(public_key=keys.public_key, handler_timeout=0)
    assert InteractionApp(public_key=keys.public_key).handler_timeout == 900.0


async def test_late_autocomplete_results_and_failures_are_dropped_quietly(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake(handler_timeout=0.5)

    @bot.command()
    async def pick(ctx: Context, fruit: str, other: str = "") -> str:
        return fruit

    @bot.autocomplete("pick", "fruit")
    async def late(ctx: Context, value: str) -> list[str]:
        await asyncio.sleep(0.3)
        return ["too late"]

    @bot.autocomplete("pick", "other")
    async def hung(ctx: Context, value: str) -> list[str]:
        await asyncio.sleep(WAIT * 3)
        return ["never"]

    async with InteractionTestClient(bot, keys) as client:
        first = await client.autocomplete("pick", "fruit", "a")
        second = await client.autocomplete("pick", "other", "b", {"fruit": "a"})
        await wait_for(lambda: not bot._runner.tasks)
    assert first.json == second.json == {"type": 8, "data": {"choices": []}}
    assert fake.requests == []  # no follow-up attempted for suggestions or the failure


async def test_shutdown_ends_in_time_when_the_gateway_does_not_close(
    bot_with_fake: Callable[..., InteractionApp],
) -> None:
    class StuckGateway:
        closing = False

        async def start(self) -> None:
            pass

        async def close(self) -> None:
            self.closing = True
            await asyncio.sleep(WAIT * 3)

    gateway = StuckGateway()
    bot = bot_with_fake(gateway=gateway, shutdown_timeout=0.5)
    await bot.startup()
    rest = bot.rest
    started = time.monotonic()
    await bot.shutdown()
    assert time.monotonic() - started < 0.5 + 1.0
    assert gateway.closing
    assert rest._http is None  # the REST client was still closed


async def test_serverless_handler_still_running_at_the_end_gets_a_failure_edit(
    fake: FakeDiscord, keys: KeyPair
) -> None:
    from mangum import Mangum

    from tests.endpoint.test_deferral import _api_gateway_event, invoke_lambda

    bot = InteractionApp(
        public_key=keys.public_key,
        rest=RestClient(None, base_url=fake.base_url),
        defer_after=0.15,
        shutdown_timeout=0.5,
        serverless=True,
    )

    @bot.command()
    async def hangs(ctx: Context) -> str:
        await asyncio.sleep(WAIT * 3)
        return "never"

    payload = command_payload("hangs")
    body = json.dumps(payload).encode()
    result = await asyncio.wait_for(
        asyncio.to_thread(
            invoke_lambda,
            Mangum(bot, lifespan="auto"),
            _api_gateway_event(body, keys.headers(body)),
        ),
        WAIT,
    )
    assert result["statusCode"] == 202
    assert failure_edits(fake) == {payload["token"]: "edit"}
