"""Many shards in one process, the IDENTIFY queue, the session budget, member requests and
INTERACTION_CREATE through the app's own handlers: fake gateway + fake REST over real sockets."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from asgi_interactions import (
    Context,
    Gateway,
    GatewayError,
    Intents,
    InteractionApp,
    Message,
    RestClient,
)
from asgi_interactions.gateway import commands as commands_module
from asgi_interactions.gateway import transport
from asgi_interactions.testing import KeyPair, command_payload
from tests.fakes.discord_gateway import FakeGateway, serve_fake_gateway, wait_until
from tests.fakes.discord_rest import serve_fake_discord
from tests.gateway.helpers import Recorder, exactly_once_in_order

SPACING = 0.5  # seconds between IDENTIFYs of one rate-limit key (Discord: 5)
#: What the fake enforces (on arrival): a little under SPACING, for a loaded machine's jitter.
FAKE_SPACING = SPACING - 0.1


def gateway_for(fake: FakeGateway, rest: RestClient, **options: Any) -> Gateway:
    options.setdefault("compress", "zlib-stream")
    options.setdefault("backoff_base", 0.05)
    options.setdefault("close_timeout", 0.5)
    options.setdefault("identify_interval", SPACING)
    return Gateway(fake.token, rest=rest, **options)


@pytest.mark.parametrize(("shards", "concurrency"), [(2, 1), (2, 2), (4, 1), (4, 2)])
async def test_shards_start_in_max_concurrency_buckets(shards: int, concurrency: int) -> None:
    with serve_fake_gateway(
        heartbeat_interval=400, max_concurrency=concurrency, identify_interval=FAKE_SPACING
    ) as fake:
        async with serve_fake_discord(
            gateway_url=fake.url, shards=shards, max_concurrency=concurrency
        ) as discord:
            rest = RestClient("token", base_url=discord.base_url)
            gw = gateway_for(fake, rest)
            rec = Recorder()
            gw.listen("*")(rec)
            try:
                await asyncio.wait_for(gw.start(), 30)
                assert sorted(gw.shards) == list(range(shards))
                assert all(s.state == "ready" for s in gw.shards.values())
                identifies = fake.identifies
                assert len(identifies) == shards, [(t, s) for t, s, _ in identifies]
                assert {d["shard"][1] for _, _, d in identifies} == {shards}
                # buckets in order, and one IDENTIFY per key per SPACING seconds
                buckets = [sid // concurrency for _, sid, _ in identifies]
                assert buckets == sorted(buckets)
                for key in range(concurrency):
                    times = [t for t, sid, _ in identifies if sid % concurrency == key]
                    gaps = [b - a for a, b in itertools.pairwise(times)]
                    assert all(g >= FAKE_SPACING for g in gaps), gaps
                # each shard's events reach listeners once and in order
                for sid in range(shards):
                    for n in range(5):
                        await fake.run(fake.dispatch(sid, "MESSAGE_CREATE", {"n": n}))
                for sid in range(shards):
                    await wait_until(lambda sid=sid: len(rec.markers(sid)) == 5, 10)
                    exactly_once_in_order(rec, fake, sid)
                guild = (123 << 22) | 5
                assert gw.shard_for_guild(guild) == 123 % shards
            finally:
                await gw.close()
                await rest.close()


async def test_a_later_identify_goes_through_the_same_queue() -> None:
    """Op 9 false on shard 0 right after shard 1 identified: the new IDENTIFY waits its turn."""
    with serve_fake_gateway(heartbeat_interval=400, identify_interval=FAKE_SPACING) as fake:
        async with serve_fake_discord(gateway_url=fake.url, shards=2) as discord:
            rest = RestClient("token", base_url=discord.base_url)
            gw = gateway_for(fake, rest, backoff_base=0.01)
            rec = Recorder()
            gw.listen("*")(rec)
            try:
                await asyncio.wait_for(gw.start(), 30)
                await fake.run(fake.invalidate(0, resumable=False))
                await wait_until(lambda: len(fake.identifies) == 3, 10, "a new IDENTIFY")
                times = [t for t, _, _ in fake.identifies]
                assert times[2] - times[1] >= FAKE_SPACING
                await wait_until(lambda: len(rec.named("READY")) == 3, 10)
                assert gw.shards[0].identifies == 2
            finally:
                await gw.close()
                await rest.close()


async def test_an_exhausted_session_budget_refuses_to_start() -> None:
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        async with serve_fake_discord(gateway_url=fake.url, shards=2) as discord:
            discord.gateway_bot["session_start_limit"].update(remaining=1, reset_after=300)
            rest = RestClient("token", base_url=discord.base_url)
            gw = gateway_for(fake, rest)
            with pytest.raises(GatewayError) as caught:
                await asyncio.wait_for(gw.start(), 10)
            message = str(caught.value)
            assert "only 1 of 1000" in message and "2 shard(s)" in message
            assert "resets in" in message and "wait_for_session_budget" in message
            assert not fake.connections and not gw.is_alive
            # the opt-in waits for reset_after (300 ms here), then starts
            waiting = gateway_for(fake, rest, wait_for_session_budget=True)
            began = time.monotonic()
            try:
                await asyncio.wait_for(waiting.start(), 30)
                assert time.monotonic() - began >= 0.3
                assert len(waiting.shards) == 2
            finally:
                await waiting.close()
                await rest.close()


async def test_compress_true_falls_back_to_zlib_without_zstd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Gateway("t", compress=True).config.compression == "zstd-stream"
    monkeypatch.setattr(transport, "_zstd_module", lambda: None)
    assert Gateway("t", compress=True).config.compression == "zlib-stream"
    with pytest.raises(ValueError, match=r"zstd extra"):
        Gateway("t", compress="zstd-stream")


async def test_member_requests_keep_the_all_members_limit_and_retry_when_rate_limited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commands_module, "ALL_MEMBERS_INTERVAL", 0.6)
    with serve_fake_gateway(heartbeat_interval=400, member_window=0.3) as fake:
        intents = Intents.GUILDS | Intents.GUILD_MEMBERS
        gw = Gateway(fake.token, url=fake.url, intents=intents, compress=False, close_timeout=0.5)
        rec = Recorder()
        gw.listen("GUILD_MEMBERS_CHUNK")(rec)
        gw.listen("RATE_LIMITED")(rec)
        try:
            await asyncio.wait_for(gw.start(), 10)
            first = await gw.request_guild_members(42)
            second = await asyncio.wait_for(gw.request_guild_members(42), 5)
            await wait_until(lambda: len(rec.named("GUILD_MEMBERS_CHUNK")) == 2, 5)
            assert [e.data["nonce"] for e in rec.named("GUILD_MEMBERS_CHUNK")] == [first, second]
            sent = [(t, p["d"]) for t, p in fake.connections[0].received if p["op"] == 8]
            assert sent[1][0] - sent[0][0] >= 0.55, "one all-members request per guild per window"
            assert not rec.named("RATE_LIMITED")
            # Discord says RATE_LIMITED anyway (another process asked): wait retry_after, resend
            monkeypatch.setattr(commands_module, "ALL_MEMBERS_INTERVAL", 0.0)
            third = await gw.request_guild_members(42, nonce="third")
            await wait_until(lambda: len(rec.named("GUILD_MEMBERS_CHUNK")) == 3, 5)
            assert rec.named("RATE_LIMITED")[0].data["meta"]["nonce"] == third
            received = [p for _, p in fake.connections[0].received if p["op"] == 8]
            retries = [p for p in received if p["d"].get("nonce") == third]
            assert len(retries) >= 2
            # specific users are never throttled
            await gw.request_guild_members(42, user_ids=[1, 2], nonce="users")
            await wait_until(lambda: len(rec.named("GUILD_MEMBERS_CHUNK")) == 4, 5)
            with pytest.raises(ValueError, match="32 bytes"):
                await gw.request_guild_members(42, nonce="x" * 40)
        finally:
            await gw.close()


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return KeyPair.generate()


async def test_interaction_create_runs_the_apps_handlers(keys: KeyPair) -> None:
    """INTERACTION_CREATE goes through the same runner as HTTP: answer, auto-defer, edit."""
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        async with serve_fake_discord(gateway_url=fake.url) as discord:
            rest = RestClient("token", base_url=discord.base_url)
            # url=None: GET /gateway/bot through the app's own REST client
            gw = Gateway(fake.token, compress="zlib-stream", close_timeout=0.5)
            seen = Recorder()
            gw.listen("INTERACTION_CREATE")(seen)
            bot = InteractionApp(public_key=keys.public_key, rest=rest, gateway=gw, defer_after=0.2)

            @bot.command(description="Say hi")
            async def hi(ctx: Context) -> Message:
                return Message(content="hi there", ephemeral=True)

            @bot.command(description="Slow")
            async def slow(ctx: Context) -> str:
                await asyncio.sleep(0.5)
                return "done slowly"

            fast_payload, slow_payload = command_payload("hi"), command_payload("slow")
            async with bot.lifespan(None):
                assert gw.is_alive and gw.shards[0].state == "ready"
                await fake.run(fake.dispatch(0, "INTERACTION_CREATE", fast_payload))
                await fake.run(fake.dispatch(0, "INTERACTION_CREATE", slow_payload))
                await wait_until(lambda: slow_payload["token"] in discord.originals, 10)
                conn = fake.connections[0]
            assert not gw.is_alive, "the lifespan closed the gateway"
            # the fake records the close frame on its own thread: give it time under load
            await wait_until(lambda: conn.client_close_code is not None, 10, "the close frame")
            assert conn.client_close_code == 1000
            by_id = {c["interaction_id"]: c["payload"] for c in discord.callbacks}
            assert by_id[int(fast_payload["id"])] == {
                "type": 4,
                "data": {"content": "hi there", "flags": 64},
            }
            assert by_id[int(slow_payload["id"])] == {"type": 5}
            assert discord.originals[slow_payload["token"]]["content"] == "done slowly"
            assert len(seen.events) == 2, "listeners see INTERACTION_CREATE too"
            assert [r.path for r in discord.requests].count("/api/v10/gateway/bot") == 1
