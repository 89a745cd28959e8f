"""RestClient against the fake Discord: helpers, headers, bodies, errors, secrets."""

from __future__ import annotations

import logging
import re

import pytest

from asgi_interactions.rest import (
    BadRequestError,
    NotFoundError,
    RestClient,
    UnauthorizedError,
)
from tests.fakes.discord_rest import FakeDiscord, serve_fake_discord

TOKEN = "tok"
ITOKEN = "aW50ZXJhY3Rpb24tdG9rZW4tc2VjcmV0"


async def test_message_helpers_and_headers(fake: FakeDiscord) -> None:
    async with RestClient(TOKEN, base_url=fake.base_url) as rest:
        assert rest.is_open
        m = await rest.create_message(5, "hello", embeds=[{"title": "t"}])
        assert m["content"] == "hello" and m["embeds"] == [{"title": "t"}]
        got = await rest.get_message(5, m["id"])
        assert got["id"] == m["id"]
        edited = await rest.edit_message(5, m["id"], content="bye")
        assert edited["content"] == "bye"
        await rest.add_reaction(5, m["id"], "👍")
        assert fake.reactions == [(5, int(m["id"]), "👍")]
        await rest.delete_message(5, m["id"], reason="cleanup: spam ✓")
        with pytest.raises(NotFoundError) as info:
            await rest.get_message(5, m["id"])
        assert info.value.code == 10008 and info.value.message == "Unknown Message"
        assert (await rest.get_channel(5))["id"] == "5"
        assert (await rest.get_current_user())["bot"] is True
        assert "url" in await rest.get_gateway_bot()
        listed = await rest.request(
            "GET",
            "/channels/{channel_id}/messages",
            channel_id=5,
            params={"limit": 2, "around": None} | {"x": True},
        )
        assert listed == []
    assert not rest.is_open
    await rest.close()  # idempotent

    first = fake.requests[0]
    assert first.headers["authorization"] == f"Bot {TOKEN}"
    assert first.headers["content-type"] == "application/json"
    assert re.match(r"DiscordBot \(https?://\S+, [\w.]+\)", first.headers["user-agent"])
    delete = next(r for r in fake.requests if r.method == "DELETE")
    assert delete.headers["x-audit-log-reason"] == "cleanup%3A spam %E2%9C%93"
    assert fake.requests[-1].query["x"] == "true"


async def test_interaction_helpers_need_no_token(fake: FakeDiscord) -> None:
    async with RestClient(base_url=fake.base_url) as rest:
        await rest.create_interaction_response(
            77,
            ITOKEN,
            {"type": 4, "data": {"content": "hi", "attachments": [{"id": 0, "filename": "a.txt"}]}},
            files=[("a.txt", b"abc")],
        )
        cb = fake.callbacks[0]
        assert cb["payload"]["data"]["content"] == "hi"
        assert cb["files"] == {"files[0]": ("a.txt", b"abc")}
        assert "authorization" not in fake.requests[0].headers
        assert (await rest.get_original_response(1000, ITOKEN))["content"] == "hi"
        edited = await rest.edit_original_response(1000, ITOKEN, {"content": "edited"})
        assert edited["content"] == "edited"
        f = await rest.create_followup(
            1000,
            ITOKEN,
            {"content": "more", "flags": 64},
            files=[("b.png", b"\x89PNG"), ("c.txt", b"c")],
        )
        assert [a["filename"] for a in f["attachments"]] == ["b.png", "c.txt"]
        assert (await rest.get_followup(1000, ITOKEN, f["id"]))["content"] == "more"
        assert (await rest.edit_followup(1000, ITOKEN, f["id"], {"content": "x"}))["content"] == "x"
        await rest.delete_followup(1000, ITOKEN, f["id"])
        await rest.delete_original_response(1000, ITOKEN)
        with pytest.raises(BadRequestError) as info:
            await rest.create_interaction_response(77, ITOKEN, {"type": 4, "data": {}})
        assert info.value.code == 40060
        assert ITOKEN not in str(info.value) and ITOKEN not in repr(info.value)
        resp = await rest.create_interaction_response(78, ITOKEN, {"type": 5}, with_response=True)
        assert resp["resource"]["message"]["flags"] & 128
    assert all("authorization" not in r.headers for r in fake.requests)


async def test_command_helpers(fake: FakeDiscord) -> None:
    cmds = [{"name": "echo", "description": "Repeat", "type": 1}]
    async with RestClient(TOKEN, base_url=fake.base_url) as rest:
        assert await rest.get_global_commands(1000) == []
        stored = await rest.bulk_overwrite_global_commands(1000, cmds)
        assert stored[0]["name"] == "echo" and stored[0]["id"]
        assert await rest.get_global_commands(1000) == stored
        g = await rest.bulk_overwrite_guild_commands(1000, 42, cmds)
        assert (await rest.get_guild_commands(1000, 42)) == g
    assert fake.commands[(1000, None)] == stored
    assert fake.commands[("1000", "42")] == g


async def test_nested_errors_are_readable(fake: FakeDiscord) -> None:
    async with RestClient(TOKEN, base_url=fake.base_url) as rest:
        with pytest.raises(BadRequestError) as info:
            await rest.create_interaction_response(1, ITOKEN, {"type": 99})
    assert info.value.code == 50035
    assert "type" in info.value.flat_errors
    assert "type: Value must be one of" in str(info.value)


async def test_token_never_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    secret = "MTAwMDAwMDAwMDAwMDAwMDAw.Gsecret.bot-token-value"
    caplog.set_level(logging.DEBUG)
    async with serve_fake_discord(token=secret) as fake:
        rest = RestClient(
            secret,
            base_url=fake.base_url,
            max_retries=1,
            retry_backoff=0.01,
            edge_retry_delay=0.001,
        )
        assert secret not in repr(rest)
        async with rest:
            await rest.create_message(1, "x")
            fake.inject(503, times=20)
            with pytest.raises(Exception) as e1:
                await rest.create_message(1, "y")
            fake.inject_429(scope="shared", retry_after=0.01, times=20, path="/webhooks/")
            with pytest.raises(Exception) as e2:
                await rest.create_followup(1000, ITOKEN, {"content": "z"})
            fake.inject(401, body={"code": 0, "message": "401: Unauthorized"})
            with pytest.raises(UnauthorizedError) as e3:
                await rest.get_channel(1)
    for text in (caplog.text, str(e1.value), repr(e1.value), str(e2.value), str(e3.value)):
        assert secret not in text and ITOKEN not in text
    assert "***" in str(e2.value)


async def test_401_stops_the_bot_token_but_not_interactions(fake: FakeDiscord) -> None:
    async with RestClient("wrong", base_url=fake.base_url) as rest:
        with pytest.raises(UnauthorizedError):
            await rest.get_current_user()
        sent = len(fake.requests)
        with pytest.raises(UnauthorizedError, match="rejected"):
            await rest.get_channel(1)
        assert len(fake.requests) == sent  # refused locally
        await rest.create_followup(1000, ITOKEN, {"content": "still fine"})
        assert len(fake.requests) == sent + 1


async def test_command_lists_ask_for_localizations_and_params_encode(fake: FakeDiscord) -> None:
    async with RestClient(TOKEN, base_url=fake.base_url) as rest:
        await rest.get_global_commands(1000)
        await rest.get_guild_commands(1000, 42, with_localizations=False)
        await rest.request(
            "GET",
            "/channels/{channel_id}/messages",
            channel_id=5,
            params={"limit": 2, "around": None, "flag": False},
        )
    assert fake.requests[0].query == {"with_localizations": "true"}
    assert fake.requests[1].query == {"with_localizations": "false"}
    assert fake.requests[2].query == {"limit": "2", "flag": "false"}


async def test_http2_option_talks_to_a_server() -> None:
    """``http2=True`` (the http2 extra) builds a working pool; plain-HTTP servers get HTTP/1.1."""
    from asgi_interactions import RestClient
    from tests.fakes.discord_rest import serve_fake_discord

    async with (
        serve_fake_discord() as fake,
        RestClient("token", base_url=fake.base_url, http2=True) as rest,
    ):
        assert (await rest.get_current_user())["id"]
