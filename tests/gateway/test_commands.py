"""Every command a shard can send (ops 3, 4, 8, 31, 43) against the fake gateway over real
sockets: payloads field by field, routing by guild id, member chunks collected, RATE_LIMITED
retried, the 4096-byte limit, and a burst that keeps heartbeats on time."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_interactions import Gateway, GatewayError, Intents
from asgi_interactions.gateway import GuildMembers
from asgi_interactions.gateway import commands as commands_module
from asgi_interactions.gateway.commands import channel_info, member_request, soundboard_sounds
from tests.fakes.discord_gateway import FakeConn, FakeGateway, serve_fake_gateway, wait_until
from tests.gateway.helpers import Recorder, make_gateway

MEMBERS_INTENTS = Intents.GUILDS | Intents.GUILD_MEMBERS | Intents.GUILD_PRESENCES


def guild_on(shard: int, n: int = 0) -> int:
    """A guild id that ``(id >> 22) % 4`` puts on ``shard`` (and ``% 2`` on ``shard % 2``)."""
    return ((shard + 4 * n + 1000) << 22) | 7


def member(uid: int, name: str) -> dict[str, Any]:
    return {"user": {"id": str(uid), "username": name}, "roles": [], "joined_at": None}


def sent(conn: FakeConn, op: int) -> list[dict[str, Any]]:
    """The ``d`` of every payload with ``op`` the fake received on this connection."""
    return [p["d"] for _, p in conn.received if p["op"] == op]


async def started(fake: FakeGateway, **options: Any) -> tuple[Gateway, Recorder]:
    gw = make_gateway(fake, **options)
    rec = Recorder()
    gw.listen("*")(rec)
    await asyncio.wait_for(gw.start(), 15)
    return gw, rec


async def test_each_command_payload_field_by_field() -> None:
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        guild = guild_on(0)
        fake.channel_info[str(guild)] = [
            {"id": "501", "status": "raid night", "voice_start_time": 1700000000},
            {"id": "502", "status": None, "voice_start_time": None},
        ]
        fake.soundboard[str(guild)] = [{"sound_id": "9", "name": "quack", "volume": 1.0}]
        gw, rec = await started(fake, intents=MEMBERS_INTENTS | Intents.GUILD_VOICE_STATES)
        try:
            conn = fake.connections[0]
            await gw.update_voice_state(guild, 77, self_mute=True)
            await gw.update_voice_state(str(guild), None, self_deaf=True)
            await gw.request_soundboard_sounds([guild])
            await gw.request_channel_info(guild)
            await gw.request_channel_info(guild, ["status"])
            nonce = await gw.request_guild_members(guild, query="ad", limit=5, presences=True)
            await gw.request_guild_members(guild, user_ids=[11, "12"], nonce="mine")
            await wait_until(lambda: len(rec.named("GUILD_MEMBERS_CHUNK")) == 2, 10)
            g = str(guild)
            assert sent(conn, 4) == [
                {"guild_id": g, "channel_id": "77", "self_mute": True, "self_deaf": False},
                {"guild_id": g, "channel_id": None, "self_mute": False, "self_deaf": True},
            ]
            assert sent(conn, 31) == [{"guild_ids": [g]}]
            assert sent(conn, 43) == [
                {"guild_id": g, "fields": ["status", "voice_start_time"]},
                {"guild_id": g, "fields": ["status"]},
            ]
            assert sent(conn, 8) == [
                {"guild_id": g, "query": "ad", "limit": 5, "presences": True, "nonce": nonce},
                {"guild_id": g, "user_ids": ["11", "12"], "presences": False, "nonce": "mine"},
            ]
            assert len(nonce.encode()) <= 32
            # the answers are ordinary events
            states = rec.named("VOICE_STATE_UPDATE")
            assert [(e.data["channel_id"], e.data["self_mute"]) for e in states] == [
                ("77", True),
                (None, False),
            ]
            assert len(rec.named("VOICE_SERVER_UPDATE")) == 1, "only when joining"
            sounds = rec.named("SOUNDBOARD_SOUNDS")[0].data
            assert sounds == {"soundboard_sounds": fake.soundboard[g], "guild_id": g}
            infos = [e.data for e in rec.named("CHANNEL_INFO")]
            assert infos[0] == {"guild_id": g, "channels": fake.channel_info[g]}
            assert infos[1]["channels"] == [
                {"id": "501", "status": "raid night"},
                {"id": "502", "status": None},
            ]
            assert conn.closed_at is None and conn.server_close_code is None
        finally:
            await gw.close()


@pytest.mark.parametrize("count", [2, 4])
async def test_commands_go_to_the_shard_that_owns_the_guild(count: int) -> None:
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        guilds = [guild_on(s, n) for n in range(2) for s in range(4)]
        for guild in guilds:
            fake.guild_members[str(guild)] = [member(1, "x")]
        gw, rec = await started(fake, shard_count=count, intents=MEMBERS_INTENTS)
        try:
            assert sorted(gw.shards) == list(range(count))
            for guild in guilds:
                await gw.update_voice_state(guild, 5)
                await gw.request_channel_info(guild, "voice_start_time")
                got = await gw.fetch_guild_members(guild, user_ids=[1], timeout=10)
                assert got.guild_id == str(guild) and len(got.members) == 1
            await gw.request_soundboard_sounds(guilds)
            await wait_until(lambda: len(rec.named("SOUNDBOARD_SOUNDS")) == len(guilds), 10)
            for sid in range(count):
                conn = fake.live(sid)
                assert conn is not None
                mine = [str(g) for g in guilds if (g >> 22) % count == sid]
                assert mine and all(gw.shard_for_guild(g) == sid for g in map(int, mine))
                assert [d["guild_id"] for d in sent(conn, 4)] == mine
                assert [d["guild_id"] for d in sent(conn, 43)] == mine
                assert [d["guild_id"] for d in sent(conn, 8)] == mine
                assert sent(conn, 31) == [{"guild_ids": mine}], "one op 31 per shard, its guilds"
            answered = {(e.shard_id, e.data["guild_id"]) for e in rec.named("SOUNDBOARD_SOUNDS")}
            assert answered == {((g >> 22) % count, str(g)) for g in guilds}
        finally:
            await gw.close()


async def test_a_guild_on_a_shard_of_another_process_is_refused_before_sending() -> None:
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        gw, _ = await started(fake, shard_ids=[0], shard_count=2, intents=MEMBERS_INTENTS)
        try:
            conn = fake.connections[0]
            other = guild_on(1)
            attempts = [
                lambda: gw.update_voice_state(other, 5),
                lambda: gw.request_channel_info(other),
                lambda: gw.request_guild_members(other, user_ids=[1]),
                lambda: gw.fetch_guild_members(other, user_ids=[1]),
                lambda: gw.request_soundboard_sounds([guild_on(0), other]),
            ]
            for attempt in attempts:
                with pytest.raises(GatewayError, match=r"on shard 1, which this process does not"):
                    await attempt()
            await asyncio.sleep(0.2)
            assert [op for op in conn.ops() if op not in (1, 2)] == [], "nothing was sent"
        finally:
            await gw.close()
    not_started = Gateway("t", url="ws://127.0.0.1:9/")
    with pytest.raises(GatewayError, match="start"):
        await not_started.update_voice_state(guild_on(0), None)


async def test_a_member_request_answered_in_3_chunks_is_one_result() -> None:
    with serve_fake_gateway(heartbeat_interval=400, member_chunk_size=2) as fake:
        guild = str(guild_on(0))
        fake.guild_members[guild] = [member(100 + i, f"user{i}") for i in range(5)]
        gw, rec = await started(fake, intents=MEMBERS_INTENTS)
        try:
            asked = [100, 101, 102, 103, 104, 999]
            got = await gw.fetch_guild_members(guild, user_ids=asked, presences=True, timeout=10)
            assert isinstance(got, GuildMembers)
            assert got.chunk_count == 3 and got.guild_id == guild
            assert [m["user"]["id"] for m in got.members] == [str(u) for u in asked[:5]]
            assert [p["user"]["id"] for p in got.presences] == [str(u) for u in asked[:5]]
            assert got.not_found == ["999"]
            await wait_until(lambda: len(rec.named("GUILD_MEMBERS_CHUNK")) == 3, 5)
            chunks = rec.named("GUILD_MEMBERS_CHUNK")
            assert {c.data["nonce"] for c in chunks} == {got.nonce}, "listeners see them too"
            assert [c.data["chunk_index"] for c in chunks] == [0, 1, 2]
            # a query with a limit, and everyone (its chunks merged in chunk order)
            some = await gw.fetch_guild_members(guild, query="USER", limit=3, timeout=10)
            assert [m["user"]["username"] for m in some.members] == ["user0", "user1", "user2"]
            assert some.presences == [] and some.not_found == []
            everyone = await gw.fetch_guild_members(guild, nonce="all of them", timeout=10)
            assert everyone.nonce == "all of them" and len(everyone.members) == 5
            assert len(gw._shards[0].members) == 0, "nothing left in flight"
        finally:
            await gw.close()


async def test_rate_limited_then_success(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process asked for the guild's members a moment ago: Discord says RATE_LIMITED;
    the request is sent again after retry_after and its chunks still come back as one result."""
    monkeypatch.setattr(commands_module, "ALL_MEMBERS_INTERVAL", 0.0)
    with serve_fake_gateway(heartbeat_interval=400, member_window=0.5) as fake:
        guild = str(guild_on(0))
        fake.guild_members[guild] = [member(7, "seven")]
        gw, rec = await started(fake, intents=MEMBERS_INTENTS)
        try:
            first = await gw.fetch_guild_members(guild, timeout=10)
            second = await gw.fetch_guild_members(guild, timeout=10)
            assert len(first.members) == len(second.members) == 1
            limited = rec.named("RATE_LIMITED")
            assert len(limited) == 1 and limited[0].data["meta"]["nonce"] == second.nonce
            requests = [(t, p["d"]) for t, p in fake.connections[0].received if p["op"] == 8]
            again = [t for t, d in requests if d["nonce"] == second.nonce]
            assert len(again) == 2
            assert again[1] - again[0] >= limited[0].data["retry_after"] - 0.05
        finally:
            await gw.close()


async def test_a_request_without_all_its_chunks_times_out_clearly() -> None:
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        gw, _ = await started(fake, intents=MEMBERS_INTENTS)
        try:
            # the fake answers; dropping its answer on our side stands for chunks never sent
            shard = gw._shards[0]
            shard.members.on_dispatch = lambda name, data: None  # type: ignore[method-assign]
            with pytest.raises(TimeoutError, match=r"0 of \? chunk\(s\) arrived in 0.3s"):
                await gw.fetch_guild_members(guild_on(0), user_ids=[1], timeout=0.3)
            assert len(shard.members) == 0
        finally:
            await gw.close()


async def test_a_new_session_sends_the_request_again_and_close_ends_the_wait() -> None:
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        guild = str(guild_on(0))
        fake.guild_members[guild] = [member(3, "three")]
        fake.unanswered_member_requests = 1
        gw, _ = await started(fake, intents=MEMBERS_INTENTS)
        try:
            fetch = asyncio.ensure_future(gw.fetch_guild_members(guild, user_ids=[3], timeout=10))
            await wait_until(lambda: len(fake.member_requests) == 1, 5)
            await fake.run(fake.invalidate(0, resumable=False))  # op 9 false: a new session
            got = await asyncio.wait_for(fetch, 10)
            assert [m["user"]["id"] for m in got.members] == ["3"]
            nonces = [d["nonce"] for d in fake.member_requests]
            assert nonces == [got.nonce, got.nonce] and len(fake.identifies) == 2
            assert fake.live(0) is not None and sent(fake.live(0), 8)[0]["nonce"] == got.nonce
            # closing the gateway ends a wait for chunks that will never come
            fake.unanswered_member_requests = 1
            waiting = asyncio.ensure_future(gw.fetch_guild_members(guild, user_ids=[3]))
            await wait_until(lambda: len(fake.member_requests) == 3, 5)
        finally:
            await gw.close()
        with pytest.raises(GatewayError, match="closed before every member chunk"):
            await asyncio.wait_for(waiting, 5)


async def test_payloads_over_4096_bytes_are_refused_before_sending() -> None:
    with serve_fake_gateway(heartbeat_interval=400) as fake:
        gw, _ = await started(fake)
        try:
            conn = fake.connections[0]

            def presence_of(size: int) -> str:
                base = {"since": None, "activities": [{"name": "", "type": 0}], "status": "idle"}
                envelope = {"op": 3, "d": {**base, "afk": False}}
                return "x" * (size - len(pydantic_core.to_json(envelope)))

            with pytest.raises(ValueError, match=r"4097 bytes.*at most 4096.*4002"):
                await gw.update_presence("idle", presence_of(4097))
            await gw.update_presence("idle", presence_of(4096))
            await wait_until(lambda: len(sent(conn, 3)) == 1, 5)
            assert len(pydantic_core.to_json({"op": 3, "d": sent(conn, 3)[0]})) == 4096
            # op 31 with more guilds than one payload holds is split, never refused
            many = [guild_on(0, n) for n in range(400)]
            await gw.request_soundboard_sounds(many)
            await wait_until(lambda: len(sent(conn, 31)) == 3, 5)
            assert [g for d in sent(conn, 31) for g in d["guild_ids"]] == [str(g) for g in many]
            await asyncio.sleep(0.2)
            assert conn.closed_at is None and conn.server_close_code is None
        finally:
            await gw.close()


async def test_130_commands_in_a_burst_never_delay_a_heartbeat() -> None:
    """With the send limit scaled to 120 per 6 s, on both sides: no 4008, beats on time."""
    with serve_fake_gateway(heartbeat_interval=250, send_limit=(120, 6.0)) as fake:
        gw, rec = await started(fake, send_limit=(120, 6.0), intents=MEMBERS_INTENTS)
        try:
            conn = fake.connections[0]
            guild = guild_on(0)
            kinds = itertools.cycle(
                [
                    lambda i: gw.update_voice_state(guild, None if i % 2 else 5),
                    lambda i: gw.request_channel_info(guild),
                    lambda i: gw.request_soundboard_sounds([guild]),
                    lambda i: gw.request_guild_members(guild, user_ids=[i + 1]),
                    lambda i: gw.update_presence("idle", f"game {i}"),
                ]
            )
            burst = [kind(i) for i, kind in zip(range(130), kinds, strict=False)]
            await asyncio.wait_for(asyncio.gather(*burst), 30)
            commands = (3, 4, 8, 31, 43)
            await wait_until(lambda: sum(op in commands for op in conn.ops()) == 130, 20)
            assert conn.server_close_code is None and conn.closed_at is None, "no 4008"
            assert {op: conn.ops().count(op) for op in commands} == dict.fromkeys(commands, 26)
            gaps = [b - a for a, b in itertools.pairwise(conn.heartbeats)]
            # a starved heartbeat would wait for the 6 s window; allow for a loaded machine
            assert len(gaps) > 10 and max(gaps) < 1.5, f"a heartbeat was late: {max(gaps):.3f}s"
            assert gw.shards[0].reconnects == {}
            await wait_until(lambda: len(rec.named("GUILD_MEMBERS_CHUNK")) == 26, 10)
        finally:
            await gw.close()


async def test_bad_command_input_gets_clear_errors_and_sends_nothing() -> None:
    gw = Gateway("t", url="ws://127.0.0.1:9/", intents=Intents.GUILDS)
    cases: list[tuple[Any, str]] = [
        (lambda: gw.update_voice_state("general", 5), "guild_id must be a snowflake"),
        (lambda: gw.update_voice_state(1, -5), "channel_id must be a snowflake"),
        (lambda: gw.request_channel_info(1, ["topic"]), "fields must be"),
        (lambda: gw.request_channel_info(1, []), "fields must be"),
        (lambda: gw.request_soundboard_sounds([]), "at least one guild"),
        (lambda: gw.request_guild_members(1), "needs Intents.GUILD_MEMBERS"),
        (lambda: gw.request_guild_members(1, user_ids=[1], presences=True), "GUILD_PRESENCES"),
        (lambda: gw.request_guild_members(1, user_ids=range(1, 102)), "1 to 100 ids"),
        (lambda: gw.request_guild_members(1, user_ids=[]), "1 to 100 ids"),
        (lambda: gw.request_guild_members(1, user_ids=[1], query="a"), "either user_ids or query"),
        (lambda: gw.request_guild_members(1, query="a", limit=101), "limit must be 0 to 100"),
        (lambda: gw.fetch_guild_members(1, user_ids=[1], nonce="é" * 17), "1 to 32 bytes"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            await call()


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=40))
def test_a_nonce_is_accepted_exactly_when_it_fits_32_bytes(nonce: str) -> None:
    fits = 1 <= len(nonce.encode()) <= 32
    try:
        payload = member_request(1, user_ids=[2], nonce=nonce)
    except ValueError:
        assert not fits
    else:
        assert fits and payload["d"]["nonce"] == nonce


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 2**64 - 1), min_size=1, max_size=700))
def test_soundboard_payloads_stay_under_4096_bytes_and_keep_every_guild(ids: list[int]) -> None:
    payloads = soundboard_sounds(ids)
    assert all(len(pydantic_core.to_json(p)) <= 4096 for p in payloads)
    assert [g for p in payloads for g in p["d"]["guild_ids"]] == list(dict.fromkeys(map(str, ids)))


def test_channel_info_fields_are_the_documented_ones() -> None:
    assert channel_info(5, "status")["d"] == {"guild_id": "5", "fields": ["status"]}
    with pytest.raises(ValueError, match="larger than a snowflake"):
        channel_info(2**64, ["status"])
