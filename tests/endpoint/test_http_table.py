"""Every row of DESIGN.md's HTTP table, in process and through uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from asgi_interactions import Context, InteractionApp, Message
from asgi_interactions.testing import (
    InteractionTestClient,
    KeyPair,
    command_payload,
    interaction_payload,
)

Connect = Callable[[InteractionApp], Any]


def echo_bot(make_bot: Callable[..., InteractionApp], **kwargs: Any) -> InteractionApp:
    bot = make_bot(**kwargs)

    @bot.on(2)
    async def handler(ctx: Context) -> Message:
        data: Any = ctx.interaction.data
        return Message(content=str(data.options[0].value))

    return bot


async def test_ping_is_answered_with_pong(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    async with connect(make_bot()) as client:
        response = await client.ping()
    assert response.status == 200
    assert response.json == {"type": 1}
    assert response.headers["content-type"] == "application/json"


async def test_handler_result_is_the_callback(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    async with connect(echo_bot(make_bot)) as client:
        response = await client.command("echo", {"text": "hello"})
    assert response.status == 200
    assert response.json == {"type": 4, "data": {"content": "hello"}}


async def test_methods_other_than_post_get_405(
    make_bot: Callable[..., InteractionApp], transport: str
) -> None:
    bot = make_bot()
    async with _raw(bot, transport) as http:
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            response = await http.request(method, "/")
            assert response.status_code == 405
            assert response.headers["allow"] == "POST"
            assert response.json() == {"error": "method not allowed"}


async def test_other_paths_get_404(make_bot: Callable[..., InteractionApp], transport: str) -> None:
    async with _raw(make_bot(), transport) as http:
        response = await http.post("/elsewhere", content=b"{}")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-signature-timestamp": "1"},
        {"x-signature-ed25519": "ab" * 64},
        {"x-signature-ed25519": "zz" * 64, "x-signature-timestamp": str(int(time.time()))},
        {"x-signature-ed25519": "ab" * 10, "x-signature-timestamp": str(int(time.time()))},
        # 128 characters that bytes.fromhex would read (spaces between bytes): not hex digits
        {"x-signature-ed25519": " ".join(["ab"] * 43), "x-signature-timestamp": "1"},
        {"x-signature-ed25519": "ab" * 64, "x-signature-timestamp": "not-a-number"},
    ],
    ids=[
        "none",
        "no-signature",
        "no-timestamp",
        "not-hex",
        "short",
        "spaced",
        "bad-timestamp",
    ],
)
async def test_missing_or_malformed_headers_get_401(
    make_bot: Callable[..., InteractionApp], connect: Connect, headers: dict[str, str]
) -> None:
    bot = echo_bot(make_bot)
    async with connect(bot) as client:
        response = await client.send(b'{"type":1}', headers=headers, sign=False)
    assert response.status == 401
    assert set(response.json) == {"error"}


async def test_wrong_signature_gets_401(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    other = KeyPair.generate()
    async with connect(make_bot()) as client:
        body = json.dumps(interaction_payload(1)).encode()
        response = await client.send(body, headers=other.headers(body), sign=False)
    assert response.status == 401
    assert response.json == {"error": "invalid request signature"}


async def test_tampered_body_gets_401(
    make_bot: Callable[..., InteractionApp], connect: Connect, keys: KeyPair
) -> None:
    body = json.dumps(interaction_payload(1)).encode()
    headers = keys.headers(body)
    async with connect(make_bot()) as client:
        response = await client.send(body + b" ", headers=headers, sign=False)
    assert response.status == 401


@pytest.mark.parametrize("age", [-400, 301, 10_000])
async def test_stale_or_future_timestamp_gets_401(
    make_bot: Callable[..., InteractionApp], connect: Connect, age: int
) -> None:
    async with connect(make_bot()) as client:
        response = await client.send(interaction_payload(1), timestamp=str(int(time.time()) - age))
    assert response.status == 401
    assert response.json == {"error": "request timestamp outside the allowed window"}


async def test_timestamp_check_can_be_disabled(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    async with connect(make_bot(timestamp_tolerance=None)) as client:
        response = await client.send(interaction_payload(1), timestamp="12345")
    assert response.status == 200


async def test_a_replayed_command_gets_401_and_its_handler_runs_once(
    make_bot: Callable[..., InteractionApp], connect: Connect, keys: KeyPair
) -> None:
    bot = make_bot()
    runs: list[str] = []

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        runs.append(str(ctx.interaction.id))
        return "ran"

    body = json.dumps(command_payload("echo", {"text": "hi"})).encode()
    headers = keys.headers(body)
    async with connect(bot) as client:
        first = await client.send(body, headers=headers, sign=False)
        second = await client.send(body, headers=headers, sign=False)
        third = await client.send(body, headers=headers, sign=False)
    assert first.status == 200
    assert first.json == {"type": 4, "data": {"content": "ran"}}
    assert second.status == third.status == 401
    assert second.json == third.json == {"error": "request was already received"}
    assert runs == [json.loads(body)["id"]]


async def test_a_replayed_ping_gets_pong(
    make_bot: Callable[..., InteractionApp], connect: Connect, keys: KeyPair
) -> None:
    """Answering a PING has no effect, so it skips the replay check (as webhook events do);
    the command after it, with the very same headers' timestamp, is still checked."""
    body = json.dumps(interaction_payload(1)).encode()
    headers = keys.headers(body)
    command = json.dumps(command_payload("echo", {"text": "hi"})).encode()
    command_headers = keys.headers(command, timestamp=headers["x-signature-timestamp"])
    async with connect(echo_bot(make_bot)) as client:
        pings = [await client.send(body, headers=headers, sign=False) for _ in range(3)]
        commands = [
            await client.send(command, headers=command_headers, sign=False) for _ in range(2)
        ]
    assert [(r.status, r.json) for r in pings] == [(200, {"type": 1})] * 3
    assert [r.status for r in commands] == [200, 401]


async def test_a_replayed_ping_is_still_verified(
    make_bot: Callable[..., InteractionApp], connect: Connect, keys: KeyPair
) -> None:
    """Skipping the replay check does not skip the signature or the freshness check."""
    body = json.dumps(interaction_payload(1)).encode()
    headers = keys.headers(body)
    forged = {**headers, "x-signature-ed25519": headers["x-signature-ed25519"][::-1]}
    stale = keys.headers(body, timestamp=str(int(time.time()) - 400))
    async with connect(make_bot()) as client:
        assert (await client.send(body, headers=headers, sign=False)).status == 200
        assert (await client.send(body, headers=forged, sign=False)).status == 401
        assert (await client.send(body, headers=stale, sign=False)).status == 401
        assert (await client.send(body, headers=headers, sign=False)).status == 200


async def test_replay_cache_can_be_disabled(
    make_bot: Callable[..., InteractionApp], connect: Connect, keys: KeyPair
) -> None:
    body = json.dumps(command_payload("echo", {"text": "hi"})).encode()
    headers = keys.headers(body)
    async with connect(echo_bot(make_bot, replay_cache_size=0)) as client:
        statuses = [(await client.send(body, headers=headers, sign=False)).status for _ in range(3)]
    assert statuses == [200, 200, 200]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'"text"', "body must be a JSON object"),
        (b"{}", "interaction type must be an integer"),
        (b'{"type": "2"}', "interaction type must be an integer"),
        (b'{"type": 1.5}', "interaction type must be an integer"),
        (b'{"type": null}', "interaction type must be an integer"),
    ],
)
async def test_bad_bodies_get_400(
    make_bot: Callable[..., InteractionApp], connect: Connect, body: bytes, error: str
) -> None:
    async with connect(make_bot()) as client:
        response = await client.send(body)
    assert response.status == 400
    assert response.json == {"error": error}


async def test_oversized_body_gets_413_by_content_length(
    make_bot: Callable[..., InteractionApp], transport: str
) -> None:
    async with _raw(make_bot(max_body_size=1000), transport) as http:
        response = await http.post("/", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}


async def test_oversized_chunked_body_gets_413_without_reading_it_all(
    make_bot: Callable[..., InteractionApp],
) -> None:
    """A chunked body with no Content-Length is cut off at the limit, over a real socket."""
    from tests.serve import serve

    bot = make_bot(max_body_size=10_000)
    async with serve(bot, lifespan="on") as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 4096
        sent = 0
        status_line = b""
        # Keep sending (bounded) until the server answers; it must answer long before 1 MiB.
        for _ in range(256):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            try:
                await writer.drain()
                status_line = await asyncio.wait_for(reader.readline(), timeout=0.02)
            except (TimeoutError, ConnectionError):
                continue
            if status_line:
                break
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert sent < 64 * 1024


async def test_no_handler_answers_ephemerally_and_warns(
    make_bot: Callable[..., InteractionApp], connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asgi_interactions")
    async with connect(make_bot()) as client:
        response = await client.command("nothing")
    assert response.status == 200
    assert response.type == 4
    assert response.ephemeral
    assert "isn't handled" in (response.content or "")
    assert any("no handler" in r.getMessage() for r in caplog.records)


async def test_raising_handler_gets_generic_notice_and_logged_traceback(
    make_bot: Callable[..., InteractionApp], connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()

    @bot.on(2)
    async def handler(ctx: Context) -> Message:
        raise RuntimeError("secret internal detail")

    caplog.set_level(logging.ERROR, logger="asgi_interactions")
    async with connect(bot) as client:
        response = await client.command("boom")
    assert response.status == 200
    assert response.ephemeral
    assert "secret" not in response.body.decode()
    assert "Traceback" not in response.body.decode()
    record = next(r for r in caplog.records if r.exc_info)
    assert record.exc_info is not None
    assert "secret internal detail" in str(record.exc_info[1])


async def test_error_handler_reply_is_used(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    bot = make_bot()

    @bot.on(2)
    async def handler(ctx: Context) -> Message:
        raise KeyError("x")

    seen: list[Exception] = []

    @bot.error_handler
    async def on_error(ctx: Context, exc: Exception) -> Message:
        seen.append(exc)
        return Message(content="custom failure", ephemeral=True)

    async with connect(bot) as client:
        response = await client.command("boom")
    assert response.content == "custom failure"
    assert response.ephemeral
    assert isinstance(seen[0], KeyError)


async def test_error_handler_returning_none_falls_back(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    bot = make_bot()

    @bot.on(2)
    async def handler(ctx: Context) -> Message:
        raise KeyError("x")

    @bot.error_handler
    async def on_error(ctx: Context, exc: Exception) -> None:
        raise ValueError("the error handler itself fails")

    async with connect(bot) as client:
        response = await client.command("boom")
    assert response.status == 200
    assert response.ephemeral
    assert "went wrong" in (response.content or "")


async def test_string_result_is_a_plain_message(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    bot = make_bot()

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        return "plain"

    async with connect(bot) as client:
        response = await client.command("x")
    assert response.json == {"type": 4, "data": {"content": "plain"}}


async def test_dm_interaction_has_user_not_member(
    make_bot: Callable[..., InteractionApp], connect: Connect
) -> None:
    bot = make_bot()
    seen: dict[str, Any] = {}

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        seen.update(user=ctx.user, member=ctx.member, guild=ctx.guild_id)
        return "ok"

    async with connect(bot) as client:
        await client.send(command_payload("x", guild=False))
    assert seen["member"] is None
    assert seen["guild"] is None
    assert seen["user"].username == "tester"


class _raw:
    """An httpx2 client straight at the app (in process or via uvicorn), no signing."""

    def __init__(self, bot: InteractionApp, transport: str) -> None:
        self.bot = bot
        self.transport = transport
        self._serve: Any = None
        self._client: httpx2.AsyncClient | None = None

    async def __aenter__(self) -> httpx2.AsyncClient:
        from tests.serve import serve

        if self.transport == "in-process":
            self._client = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=self.bot), base_url="http://testserver"
            )
        else:
            self._serve = serve(self.bot, lifespan="on")
            url = await self._serve.__aenter__()
            self._client = httpx2.AsyncClient(base_url=url)
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        await self._client.aclose()
        if self._serve is not None:
            await self._serve.__aexit__(None, None, None)


async def test_a_flood_of_bad_signatures_logs_one_quiet_line(
    make_bot: Callable[..., InteractionApp], caplog: pytest.LogCaptureFixture
) -> None:
    """Discord probes with bad signatures on purpose: no traceback, no log flood."""
    caplog.set_level(logging.DEBUG, logger="asgi_interactions")
    bad = {"x-signature-ed25519": "ab" * 64, "x-signature-timestamp": str(int(time.time()))}
    async with InteractionTestClient(make_bot(), lifespan=False) as client:
        for _ in range(200):
            assert (await client.send(b'{"type":1}', headers=bad, sign=False)).status == 401
    records = [r for r in caplog.records if r.name.startswith("asgi_interactions")]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert records[0].exc_info is None
    assert "invalid request signature" in records[0].getMessage()


async def test_application_id_is_learned_from_interactions(
    make_bot: Callable[..., InteractionApp], connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_APPLICATION_ID", raising=False)
    bot = echo_bot(make_bot)
    assert bot.application_id is None
    async with connect(bot) as client:
        payload = command_payload("echo", {"text": "x"})
        await client.send(payload)
    assert bot.application_id == int(payload["application_id"])
