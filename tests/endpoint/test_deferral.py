"""Auto-defer, explicit deferral, follow-ups, files and serverless delivery, against the fake
Discord REST server over a real socket."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from asgi_interactions import Context, InteractionApp, Message, RestClient
from asgi_interactions.testing import (
    InteractionTestClient,
    KeyPair,
    command_payload,
    component_payload,
)
from tests.fakes.discord_rest import FakeDiscord
from tests.serve import serve


async def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` for up to 5 seconds."""
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 - state lives in another server's handlers
            await asyncio.sleep(0.01)


async def test_slow_handler_is_deferred_and_its_result_edits_the_original(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake()

    @bot.on(2)
    async def slow(ctx: Context) -> Message:
        await asyncio.sleep(0.5)
        return Message(content="finally")

    payload = command_payload("slow")
    async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
        started = time.monotonic()
        response = await client.send(payload)
        elapsed = time.monotonic() - started
        assert response.json == {"type": 5}
        assert elapsed < 0.45
        await wait_for(lambda: payload["token"] in fake.originals)
    original = fake.originals[payload["token"]]
    assert original["content"] == "finally"
    edit = next(r for r in fake.requests if r.method == "PATCH")
    assert edit.path.endswith(
        f"/webhooks/{payload['application_id']}/{payload['token']}/messages/@original"
    )
    assert "authorization" not in edit.headers


async def test_slow_component_handler_defers_with_type_6(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake()

    @bot.on(3)
    async def slow(ctx: Context) -> Message:
        await asyncio.sleep(0.4)
        return Message(content="updated", update=True)

    payload = component_payload("press")
    async with InteractionTestClient(bot, keys) as client:
        response = await client.send(payload)
        assert response.json == {"type": 6}
    # Leaving the client ran the lifespan's shutdown, which waited for the edit.
    assert fake.originals[payload["token"]]["content"] == "updated"


async def test_handler_failing_after_deferral_edits_in_the_error_message(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake()

    @bot.on(2)
    async def slow(ctx: Context) -> Message:
        await asyncio.sleep(0.3)
        raise RuntimeError("late failure")

    @bot.error_handler
    async def on_error(ctx: Context, exc: Exception) -> Message:
        return Message(content=f"sorry: {type(exc).__name__}")

    payload = command_payload("slow")
    async with InteractionTestClient(bot, keys) as client:
        assert (await client.send(payload)).type == 5
    assert fake.originals[payload["token"]]["content"] == "sorry: RuntimeError"


async def test_explicit_defer_then_result(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake(defer_after=None)

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        await ctx.defer(ephemeral=True)
        assert ctx.deferred
        await asyncio.sleep(0.05)
        return "done"

    payload = command_payload("x")
    async with InteractionTestClient(bot, keys) as client:
        response = await client.send(payload)
    assert response.json == {"type": 5, "data": {"flags": 64}}
    assert fake.originals[payload["token"]]["content"] == "done"


async def test_respond_then_followups(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake()

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        await ctx.respond("first")
        created = await ctx.followup(Message(content="second", ephemeral=True))
        assert created["content"] == "second"
        return "third"  # after respond(), a returned result becomes a follow-up

    payload = command_payload("x")
    async with InteractionTestClient(bot, keys) as client:
        response = await client.send(payload)
    assert response.content == "first"
    contents = [m["content"] for m in fake.followups[payload["token"]]]
    assert contents == ["second", "third"]
    assert fake.followups[payload["token"]][0]["flags"] & 64


async def test_edit_and_delete_original(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake()

    @bot.on(2)
    async def handler(ctx: Context) -> None:
        await ctx.respond("draft")
        await ctx.edit_original("edited")
        await ctx.delete_original()

    payload = command_payload("x")
    async with InteractionTestClient(bot, keys) as client:
        assert (await client.send(payload)).content == "draft"
    methods = [r.method for r in fake.requests]
    assert methods == ["PATCH", "DELETE"]
    assert payload["token"] not in fake.originals


async def test_shutdown_waits_for_a_deferred_handler_and_its_edit_arrives(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake()

    @bot.on(2)
    async def slow(ctx: Context) -> str:
        await asyncio.sleep(0.6)
        return "after shutdown began"

    payload = command_payload("slow")
    async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
        assert (await client.send(payload)).type == 5
        assert payload["token"] not in fake.originals
    # The uvicorn server has shut down; its lifespan waited for the handler and its edit.
    assert fake.originals[payload["token"]]["content"] == "after shutdown began"


async def test_failed_edit_after_deferral_is_logged_with_the_interaction_id(
    bot_with_fake: Callable[..., InteractionApp],
    fake: FakeDiscord,
    keys: KeyPair,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = bot_with_fake()
    fake.inject(404, body={"code": 10015, "message": "Unknown Webhook"}, times=10)

    @bot.on(2)
    async def slow(ctx: Context) -> str:
        await asyncio.sleep(0.3)
        return "lost?"

    caplog.set_level(logging.ERROR, logger="asgi_interactions")
    payload = command_payload("slow")
    async with InteractionTestClient(bot, keys) as client:
        assert (await client.send(payload)).type == 5
    assert any(payload["id"] in r.getMessage() for r in caplog.records)


async def test_response_with_files_uses_the_callback_endpoint_and_202(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake()
    png = bytes(range(256)) * 4

    @bot.on(2)
    async def handler(ctx: Context) -> Message:
        return Message(content="see attached", files=[("a.png", png), ("b.txt", b"hello")])

    payload = command_payload("files")
    async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
        response = await client.send(payload)
    assert response.status == 202
    assert response.body == b""
    callback = fake.callbacks[0]
    assert callback["interaction_id"] == int(payload["id"])
    assert callback["token"] == payload["token"]
    assert callback["payload"]["type"] == 4
    assert callback["payload"]["data"]["content"] == "see attached"
    assert callback["payload"]["data"]["attachments"] == [
        {"id": 0, "filename": "a.png"},
        {"id": 1, "filename": "b.txt"},
    ]
    assert callback["files"] == {"files[0]": ("a.png", png), "files[1]": ("b.txt", b"hello")}
    request = next(r for r in fake.requests if r.path.endswith("/callback"))
    assert request.headers["content-type"].startswith("multipart/form-data")


async def test_slow_autocomplete_answers_no_choices_in_time(
    bot_with_fake: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    bot = bot_with_fake()

    @bot.on(4)
    async def suggest(ctx: Context) -> list[str]:
        await asyncio.sleep(0.4)
        return ["late"]

    async with InteractionTestClient(bot, keys) as client:
        response = await client.autocomplete("x", "q", "partial")
    assert response.json == {"type": 8, "data": {"choices": []}}


async def test_max_concurrency_answers_busy_and_loses_nothing_accepted(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord, keys: KeyPair
) -> None:
    bot = bot_with_fake(max_concurrency=2)
    release = asyncio.Event()

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        await release.wait()
        return "ok"

    payloads = [command_payload("x") for _ in range(3)]
    async with InteractionTestClient(bot, keys) as client:
        first = await asyncio.gather(*(client.send(p) for p in payloads[:2]))
        busy = await client.send(payloads[2])
        release.set()
    assert [r.type for r in first] == [5, 5]
    assert busy.ephemeral and "busy" in (busy.content or "")
    assert all(fake.originals[p["token"]]["content"] == "ok" for p in payloads[:2])


def invoke_lambda(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Call a Mangum handler the way Lambda does: in its own thread with its own event loop."""

    class LambdaContext:
        aws_request_id = "req"

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        result: dict[str, Any] = handler(event, LambdaContext())
        return result
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _api_gateway_event(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "Discord-Interactions/1.0",
            },
            "requestId": "id",
            "routeKey": "POST /",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


async def test_serverless_mode_under_mangum_defers_over_rest_and_finishes_in_invocation(
    fake: FakeDiscord, keys: KeyPair
) -> None:
    from mangum import Mangum

    bot = InteractionApp(
        public_key=keys.public_key,
        rest=RestClient(None, base_url=fake.base_url),
        defer_after=0.15,
        serverless=True,
    )
    finished_at: list[float] = []

    @bot.on(2)
    async def slow(ctx: Context) -> str:
        await asyncio.sleep(0.5)
        finished_at.append(time.monotonic())
        return "from lambda"

    handler = Mangum(bot, lifespan="auto")
    payload = command_payload("slow")
    body = json.dumps(payload).encode()

    result = await asyncio.to_thread(
        invoke_lambda, handler, _api_gateway_event(body, keys.headers(body))
    )
    assert result["statusCode"] == 202
    callback = next(r for r in fake.requests if r.path.endswith("/callback"))
    edit = next(r for r in fake.requests if r.method == "PATCH")
    assert callback.json == {"type": 5}
    assert callback.time < finished_at[0] < edit.time
    assert fake.originals[payload["token"]]["content"] == "from lambda"


async def test_serverless_mode_answers_fast_handlers_inline(
    fake: FakeDiscord, keys: KeyPair
) -> None:
    from mangum import Mangum

    bot = InteractionApp(
        public_key=keys.public_key, rest=RestClient(None, base_url=fake.base_url), serverless=True
    )

    @bot.on(2)
    async def fast(ctx: Context) -> str:
        return "quick"

    body = json.dumps(command_payload("fast")).encode()

    result = await asyncio.to_thread(
        invoke_lambda, Mangum(bot, lifespan="auto"), _api_gateway_event(body, keys.headers(body))
    )
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"type": 4, "data": {"content": "quick"}}
    assert fake.requests == []


async def test_gateway_interactions_are_answered_through_the_callback_endpoint(
    bot_with_fake: Callable[..., InteractionApp], fake: FakeDiscord
) -> None:
    """INTERACTION_CREATE from the gateway: same handlers, answered over REST."""
    bot = bot_with_fake()

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        if ctx.interaction.data.name == "slow":  # type: ignore[union-attr]
            await asyncio.sleep(0.4)
        return f"hello from {ctx.interaction.data.name}"  # type: ignore[union-attr]

    fast, slow = command_payload("fast"), command_payload("slow")
    async with bot.lifespan(None):
        await bot.process_gateway_interaction(fast)
        await bot.process_gateway_interaction(slow)
    by_id = {c["interaction_id"]: c["payload"] for c in fake.callbacks}
    assert by_id[int(fast["id"])] == {"type": 4, "data": {"content": "hello from fast"}}
    assert by_id[int(slow["id"])] == {"type": 5}
    assert fake.originals[slow["token"]]["content"] == "hello from slow"
