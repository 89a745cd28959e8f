"""One shard's session against the fake gateway over real sockets: each fault scripted."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from asgi_interactions import Gateway, GatewayError, Intents
from tests.fakes.discord_gateway import FakeConn, FakeGateway, serve_fake_gateway, wait_until
from tests.gateway.helpers import Recorder, exactly_once_in_order, make_gateway

INTERVAL = 400  # ms: short heartbeats keep the tests quick


async def send_messages(fake: FakeGateway, first: int, count: int, shard_id: int = 0) -> None:
    for n in range(first, first + count):
        await fake.run(fake.dispatch(shard_id, "MESSAGE_CREATE", {"n": n}))


async def started(fake: FakeGateway, **options: object) -> tuple[Gateway, Recorder]:
    gw = make_gateway(fake, **options)  # type: ignore[arg-type]
    rec = Recorder()
    gw.listen("*")(rec)
    await asyncio.wait_for(gw.start(), 15)
    return gw, rec


def resumed_conn(fake: FakeGateway) -> FakeConn:
    conn = fake.connections[-1]
    assert conn.path == "/resume", "a RESUME must go to resume_gateway_url"
    assert conn.query == fake.connections[0].query, "with the same query parameters"
    assert conn.ops()[0] == 6
    return conn


async def test_identify_payload_and_ready(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="asgi_interactions")
    presence = {"since": None, "activities": [], "status": "idle", "afk": False}
    with serve_fake_gateway(heartbeat_interval=INTERVAL, token="secret-token-q7") as fake:
        gw, rec = await started(fake, presence=presence, large_threshold=120)
        try:
            first = fake.connections[0]
            assert first.query == {"v": "10", "encoding": "json"}
            identify = first.received[0][1]
            assert identify["op"] == 2
            d = identify["d"]
            assert d["token"] == "secret-token-q7"
            assert d["intents"] == int(Intents.GUILDS | Intents.GUILD_MESSAGES)
            assert set(d["properties"]) == {"os", "browser", "device"}
            assert d["shard"] == [0, 1]
            assert d["large_threshold"] == 120
            assert d["presence"] == presence
            status = gw.shards[0]
            assert status.state == "ready" and status.identifies == 1 and status.seq == 1
            assert gw.is_alive and gw.error is None
            assert rec.named("READY")[0].data["session_id"] == fake.session_for(0).session_id
            # heartbeats start after interval x random(), then every interval, with the last seq
            await wait_until(lambda: len(first.heartbeats) >= 3, 10, "three heartbeats")
            assert first.heartbeats[0] - first.opened_at < INTERVAL / 1000 + 1.0
            beats = [p for _, p in first.received if p["op"] == 1]
            assert beats[-1]["d"] == 1
            await wait_until(lambda: gw.latency is not None, 5, "a latency figure")
            assert 0 <= gw.latency < 1  # type: ignore[operator]
        finally:
            await gw.close()
        # the fake records the close frame on its own thread: give it time under load
        await wait_until(lambda: first.client_close_code is not None, 10, "the close frame")
        assert first.client_close_code == 1000, "closing ends the session with 1000"
        assert not gw.is_alive
        states = [r.getMessage() for r in caplog.records if "->" in r.getMessage()]
        assert "shard 0: identifying -> ready" in states and "shard 0: ready -> stopped" in states
        assert all("secret-token-q7" not in r.getMessage() for r in caplog.records)
        assert "secret-token-q7" not in repr(gw) + repr(gw.shards)


async def test_first_heartbeat_is_jittered() -> None:
    """Over several connections the first beat lands at different points of the interval."""
    with serve_fake_gateway(heartbeat_interval=1000) as fake:
        delays = []
        for _ in range(4):
            gw, _ = await started(fake)
            conn = fake.connections[-1]
            await wait_until(lambda c=conn: c.heartbeats, 5, "a first heartbeat")
            delays.append(conn.heartbeats[0] - conn.opened_at)
            await gw.close()
        assert all(0 <= d < 1.3 for d in delays)
        assert max(delays) - min(delays) > 0.01, f"first beats not jittered: {delays}"


@pytest.mark.parametrize("compress", [False, "zlib-stream", "zstd-stream"])
async def test_dispatches_in_order_with_each_transport(compress: object) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake, compress=compress)
        try:
            if compress:
                assert fake.connections[0].query["compress"] == compress
            await send_messages(fake, 0, 50)
            await wait_until(lambda: len(rec.markers()) == 50, 10)
            assert rec.markers() == list(range(50))
            exactly_once_in_order(rec, fake)
        finally:
            await gw.close()


@pytest.mark.parametrize("compress", ["zlib-stream", "zstd-stream"])
@pytest.mark.parametrize("split", ["messages", "frames"])
async def test_large_guild_create_split(compress: str, split: str) -> None:
    """A ~1 MB GUILD_CREATE over many websocket messages (zlib) or frames is decoded whole."""
    options = {"split_messages": 1000} if split == "messages" else {"fragment_frames": 1000}
    if compress == "zstd-stream" and split == "messages":
        options = {"fragment_frames": 700}  # zstd-stream: one payload per message, any frames
    members = [
        {"user": {"id": str(10**17 + i), "username": f"member-{i:06d}"}, "roles": ["1", "2"]}
        for i in range(9000)
    ]
    guild = {"id": "4194304", "name": "big", "members": members, "n": "guild"}
    with serve_fake_gateway(heartbeat_interval=INTERVAL, **options) as fake:  # type: ignore[arg-type]
        gw, rec = await started(fake, compress=compress)
        try:
            await fake.run(fake.dispatch(0, "GUILD_CREATE", guild))
            await send_messages(fake, 0, 3)
            await wait_until(lambda: len(rec.markers()) == 4, 15)
            got = rec.named("GUILD_CREATE")[0].data
            assert got == guild
            exactly_once_in_order(rec, fake)
        finally:
            await gw.close()


async def test_abrupt_drop_resumes_and_replays_missed_events() -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake, compress="zlib-stream")
        try:
            await send_messages(fake, 0, 5)
            await wait_until(lambda: len(rec.markers()) == 5)
            session = fake.session_for(0)
            await fake.run(fake.drop(0, missed=3))
            await wait_until(lambda: rec.named("RESUMED"), 10, "RESUMED")
            conn = resumed_conn(fake)
            assert conn.received[0][1]["d"] == {
                "token": "token",
                "session_id": session.session_id,
                "seq": 6,  # READY + 5 messages
            }
            await send_messages(fake, 5, 5)
            await wait_until(lambda: len(rec.markers()) == 13)
            exactly_once_in_order(rec, fake)
            assert len(fake.identifies) == 1, "a drop resumes, it never identifies anew"
            status = gw.shards[0]
            assert status.reconnects == {"dropped": 1} and status.resumes == 1
        finally:
            await gw.close()


@pytest.mark.parametrize("compress", ["zlib-stream", "zstd-stream"])
async def test_a_burst_cut_by_a_drop_is_delivered_once_in_order(compress: str) -> None:
    """Hundreds of dispatches sent as fast as the socket takes them reach the app's loop in
    batches; a drop while the shard is still reading them loses what was in flight, and the
    RESUME's replay brings exactly the rest: each once, in order, across both connections."""
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake, compress=compress)
        try:
            burst = [("MESSAGE_CREATE", {"n": n, "text": "x" * (n % 300)}) for n in range(600)]
            await fake.run(fake.blast(0, burst))
            await fake.run(fake.drop(0, missed=3))
            await wait_until(lambda: rec.named("RESUMED"), 10, "RESUMED")
            await send_messages(fake, 1000, 5)
            await wait_until(lambda: len(rec.markers()) == 608, 20, "every dispatch")
            exactly_once_in_order(rec, fake)
            assert len(fake.identifies) == 1
        finally:
            await gw.close()


async def test_zombie_closes_with_non_1000_and_resumes() -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)
        try:
            first = fake.connections[0]
            await wait_until(lambda: first.heartbeats and gw.shards[0].latency is not None)
            await fake.run(fake.stop_acks(0))
            await send_messages(fake, 0, 3)  # still delivered: the socket reads fine
            await wait_until(lambda: rec.named("RESUMED"), 10, "RESUMED after a zombie")
            await wait_until(lambda: first.closed_at is not None, 5)
            assert first.client_close_code not in (None, 1000, 1001)
            resumed_conn(fake)
            await send_messages(fake, 3, 2)
            await wait_until(lambda: len(rec.markers()) == 5)
            exactly_once_in_order(rec, fake)
            assert gw.shards[0].reconnects == {"zombie": 1}
        finally:
            await gw.close()


async def test_half_open_socket_is_left_without_waiting_for_its_close() -> None:
    """Both directions silent: the zombie check fires, and the dead close handshake never blocks."""
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake, close_timeout=30.0)
        try:
            first = fake.connections[0]
            await fake.run(fake.half_open(0))
            began = time.monotonic()
            await wait_until(lambda: rec.named("RESUMED"), 10, "RESUMED after half-open")
            # detected within about one interval plus the jitter, not after close_timeout (30 s)
            assert time.monotonic() - began < 10
            assert first.client_close_code is None  # the server never read a close frame
            resumed_conn(fake)
            await send_messages(fake, 0, 3)
            await wait_until(lambda: len(rec.markers()) == 3)
            exactly_once_in_order(rec, fake)
        finally:
            began = time.monotonic()
            await asyncio.wait_for(gw.close(), 20)
        assert time.monotonic() - began < 15


@pytest.mark.parametrize("compress", ["zlib-stream", "zstd-stream"])
async def test_an_undecodable_message_reconnects_and_resumes(compress: str) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake, compress=compress)
        try:
            await send_messages(fake, 0, 2)
            await wait_until(lambda: len(rec.markers()) == 2)
            await fake.run(fake.send_garbage(0))
            await wait_until(lambda: rec.named("RESUMED"), 10)
            resumed_conn(fake)
            await send_messages(fake, 2, 2)
            await wait_until(lambda: len(rec.markers()) == 4)
            exactly_once_in_order(rec, fake)
            assert gw.shards[0].reconnects == {"decode error": 1}
        finally:
            await gw.close()


async def test_server_heartbeat_request_is_answered_at_once() -> None:
    with serve_fake_gateway(heartbeat_interval=60_000) as fake:  # the timer would not beat soon
        gw, _ = await started(fake)
        try:
            conn = fake.connections[0]
            await asyncio.sleep(0.1)
            before = len(conn.heartbeats)
            await fake.run(fake.send_raw(0, {"op": 1, "d": None}))
            await wait_until(lambda: len(conn.heartbeats) > before, 5, "an answering heartbeat")
        finally:
            await gw.close()


@pytest.mark.parametrize("before_hello", [False, True])
async def test_op7_reconnects_and_resumes(before_hello: bool) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        if before_hello:
            fake.op7_instead_of_hello = 1
        gw, rec = await started(fake)
        try:
            if before_hello:
                assert fake.connections[0].sent[0][1]["op"] == 7
                assert fake.connections[1].ops()[0] == 2
            await send_messages(fake, 0, 2)
            await wait_until(lambda: len(rec.markers()) == 2)
            await fake.run(fake.reconnect(0))
            await wait_until(lambda: rec.named("RESUMED"), 10)
            resumed_conn(fake)
            await send_messages(fake, 2, 2)
            await wait_until(lambda: len(rec.markers()) == 4)
            exactly_once_in_order(rec, fake)
            assert gw.shards[0].reconnects["op 7"] == 1 + before_hello
        finally:
            await gw.close()


@pytest.mark.parametrize("resumable", [True, False])
async def test_op9(resumable: bool) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)
        try:
            await send_messages(fake, 0, 2)
            await wait_until(lambda: len(rec.markers()) == 2)
            await fake.run(fake.invalidate(0, resumable))
            if resumable:
                await wait_until(lambda: rec.named("RESUMED"), 10)
                resumed_conn(fake)
            else:
                await wait_until(lambda: len(rec.named("READY")) == 2, 10)
                assert fake.connections[-1].path == "/", "a new session uses the cached URL"
                assert len(fake.identifies) == 2
            await send_messages(fake, 2, 2)
            await wait_until(lambda: len(rec.markers()) == 4)
            exactly_once_in_order(rec, fake)
        finally:
            await gw.close()


@pytest.mark.parametrize("code", [4000, 4001, 4002, 4005, 4008, 1001])
async def test_resumable_close_codes(code: int) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)
        try:
            await send_messages(fake, 0, 2)
            await wait_until(lambda: len(rec.markers()) == 2)
            await fake.run(fake.close(0, code))
            await wait_until(lambda: rec.named("RESUMED"), 10)
            resumed_conn(fake)
            await send_messages(fake, 2, 2)
            await wait_until(lambda: len(rec.markers()) == 4)
            exactly_once_in_order(rec, fake)
            assert gw.shards[0].reconnects == {f"close {code}": 1}
        finally:
            await gw.close()


@pytest.mark.parametrize("code", [4003, 4007, 4009])
async def test_new_session_close_codes(code: int) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)
        try:
            await send_messages(fake, 0, 2)
            await wait_until(lambda: len(rec.markers()) == 2)
            await fake.run(fake.close(0, code))
            await wait_until(lambda: len(rec.named("READY")) == 2, 10)
            assert not fake.resumes, "a dead session is not resumed"
            assert fake.connections[-1].path == "/"
            await send_messages(fake, 2, 2)
            await wait_until(lambda: len(rec.markers()) == 4)
            exactly_once_in_order(rec, fake)
            assert gw.shards[0].identifies == 2
        finally:
            await gw.close()


@pytest.mark.parametrize("code", [4004, 4010, 4011, 4012, 4013, 4014])
async def test_fatal_close_codes_stop_for_good(code: int) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, _ = await started(fake)
        try:
            await fake.run(fake.close(0, code))
            with pytest.raises(GatewayError) as caught:
                await asyncio.wait_for(gw.join(), 10)
            assert caught.value.code == code and str(code) in str(caught.value)
            assert gw.error is caught.value and not gw.is_alive
            await asyncio.sleep(1.0)
            assert len(fake.connections) == 1, "no retry after a fatal close"
            assert gw.shards[0].state == "failed"
        finally:
            await gw.close()


async def test_bad_token_and_disallowed_intents_make_no_retry_storm() -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL, privileged_allowed=0) as fake:
        bad_token = make_gateway(fake)
        bad_token.config.token = "bad-secret-zq9"
        privileged = make_gateway(fake, intents=Intents.GUILDS | Intents.MESSAGE_CONTENT)
        for gw, code, fix in ((bad_token, 4004, "token"), (privileged, 4014, "portal")):
            with pytest.raises(GatewayError) as caught:
                await asyncio.wait_for(gw.start(), 10)
            assert caught.value.code == code and fix in str(caught.value)
            assert "zq9" not in str(caught.value)  # never the token
            assert not gw.is_alive
        await asyncio.sleep(10)
        assert len(fake.connections) == 2, "zero reconnects in 10 s"


async def test_repeated_sequences_are_delivered_once() -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)
        try:
            await send_messages(fake, 0, 3)
            session = fake.session_for(0)
            for payload in session.log[1:3]:  # Discord may send an event again
                await fake.run(fake.send_raw(0, payload))
            await send_messages(fake, 3, 1)
            await wait_until(lambda: len(rec.markers()) >= 4)
            await asyncio.sleep(0.2)
            assert rec.markers() == [0, 1, 2, 3]
            exactly_once_in_order(rec, fake)
        finally:
            await gw.close()


async def test_backoff_grows_on_repeated_failures_then_resets() -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake, backoff_base=1.0, backoff_max=4.0)
        try:
            # a healthy session (ACKed after READY) is resumed at once
            await wait_until(lambda: gw.shards[0].latency is not None)
            await asyncio.sleep(INTERVAL / 1000)
            fake.drop_after_ready = 4  # the next four connections die right after RESUMED
            began = time.monotonic()
            await fake.run(fake.drop(0))
            await wait_until(lambda: len(fake.connections) >= 6, 20, "five reconnects")
            await wait_until(lambda: gw.shards[0].state == "ready", 20)
            opened = [c.opened_at for c in fake.connections[1:6]]
            gaps = [b - a for a, b in itertools.pairwise(opened)]
            # backoff waits 0.5-1 s, 1-2 s, 2-4 s, 2-4 s; "at once" is well under the first
            assert opened[0] - began < 0.45, "no wait for the first reconnect of a healthy shard"
            # 0.2 x 2^(n-1) x [0.5, 1): each wait at least the previous one's lower bound
            assert gaps[0] >= 0.5 and gaps[1] >= 1.0 and gaps[2] >= 2.0 and gaps[3] >= 2.0, gaps
            # healthy again: the next drop reconnects at once
            await wait_until(lambda: fake.live(0) and gw.shards[0].state == "ready", 10)
            await wait_until(lambda: len(fake.live(0).heartbeats) >= 2, 10)  # type: ignore[union-attr]
            count = len(fake.connections)
            began = time.monotonic()
            await fake.run(fake.drop(0))
            await wait_until(lambda: len(fake.connections) > count, 10)
            assert fake.connections[-1].opened_at - began < 0.45, "backoff reset after health"
            await send_messages(fake, 0, 2)
            await wait_until(lambda: len(rec.markers()) == 2)
            exactly_once_in_order(rec, fake)
        finally:
            await gw.close()


async def test_refused_connections_back_off_and_a_failed_resume_identifies_anew() -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake, backoff_base=1.0, backoff_max=4.0)
        try:
            await wait_until(lambda: gw.shards[0].latency is not None)  # healthy
            await asyncio.sleep(INTERVAL / 1000)
            fake.reject_next = 4
            began = time.monotonic()
            await fake.run(fake.drop(0))
            await wait_until(lambda: len(rec.named("READY")) == 2, 20, "a new session")
            times = [t for t, _ in fake.rejected]
            assert times[0] - began < 0.45, "the first reconnect of a healthy shard is at once"
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert gaps[0] >= 0.5 and gaps[1] >= 1.0 and gaps[2] >= 2.0, gaps
            # the resume attempt failed: a fresh IDENTIFY on the cached URL follows
            assert [p for _, p in fake.rejected] == ["/resume", "/", "/", "/"]
            assert fake.connections[-1].path == "/" and fake.connections[-1].ops()[0] == 2
            await send_messages(fake, 0, 2)
            await wait_until(lambda: len(rec.markers()) == 2)
            exactly_once_in_order(rec, fake)
            assert gw.shards[0].reconnects["connect failed"] == 4
        finally:
            await gw.close()


async def test_presence_burst_keeps_the_send_limit_and_heartbeats() -> None:
    """130 presence updates with a scaled 120-per-6 s limit: no 4008, no late heartbeat."""
    with serve_fake_gateway(heartbeat_interval=250, send_limit=(120, 6.0)) as fake:
        gw, _ = await started(fake, send_limit=(120, 6.0))
        try:
            conn = fake.connections[0]
            await asyncio.wait_for(
                asyncio.gather(*(gw.update_presence("idle", f"game {i}") for i in range(130))), 30
            )
            await wait_until(lambda: sum(op == 3 for op in conn.ops()) == 130, 20)
            assert conn.server_close_code is None and conn.closed_at is None
            beats = conn.heartbeats
            gaps = [b - a for a, b in itertools.pairwise(beats)]
            # a starved heartbeat would wait for the 6 s window; allow for a loaded machine
            assert max(gaps) < 1.5, f"a heartbeat was starved: {max(gaps):.3f}s"
            assert gw.shards[0].reconnects == {}
            last = [p for _, p in conn.received if p["op"] == 3][-1]["d"]
            assert last["activities"] == [{"name": "game 129", "type": 0}]
        finally:
            await gw.close()


async def test_a_failing_and_a_slow_listener_block_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)
        slow_started: list[int] = []
        sync_seen: list[int] = []

        @gw.listen("MESSAGE_CREATE")
        async def failing(event: object) -> None:
            raise RuntimeError("listener bug")

        @gw.listen("MESSAGE_CREATE")
        async def slow(event: object) -> None:
            slow_started.append(event.data["n"])  # type: ignore[attr-defined]
            await asyncio.sleep(30)

        @gw.listen("message_create")
        def plain(event: object) -> None:  # a plain def runs in a worker thread
            time.sleep(0.05)
            sync_seen.append(event.data["n"])  # type: ignore[attr-defined]

        try:
            await send_messages(fake, 0, 10)
            await wait_until(lambda: len(rec.markers()) == 10, 10)
            await wait_until(lambda: len(sync_seen) == 10, 10)
            assert slow_started == list(range(10))
            assert sorted(sync_seen) == list(range(10))
            failures = [r for r in caplog.records if "listener bug" in str(r.exc_info)]
            assert len(failures) == 10
            assert "MESSAGE_CREATE" in failures[0].getMessage()
            assert "shard 0" in failures[0].getMessage()
            assert gw.shards[0].state == "ready" and gw.shards[0].reconnects == {}
            exactly_once_in_order(rec, fake)
        finally:
            await asyncio.wait_for(gw.close(), 20)


async def test_a_blocked_app_loop_does_not_cost_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)

        @gw.listen("BLOCK")
        async def block(event: object) -> None:
            time.sleep(2 * INTERVAL / 1000 + 1.0)  # noqa: ASYNC251 - a handler blocking the loop

        try:
            conn = fake.connections[0]
            await fake.run(fake.dispatch(0, "BLOCK", {}))
            await send_messages(fake, 0, 5)
            await wait_until(lambda: len(rec.markers()) == 5, 10)
            await asyncio.sleep(0.3)
            assert len(fake.connections) == 1 and conn.closed_at is None
            assert gw.shards[0].reconnects == {}
            gaps = [b - a for a, b in zip(conn.heartbeats, conn.heartbeats[1:], strict=False)]
            assert gaps and max(gaps) < 1.2, "heartbeats paused while the app's loop was blocked"
            blocked = [r for r in caplog.records if "was blocked for" in r.getMessage()]
            assert len(blocked) == 1
            exactly_once_in_order(rec, fake)
        finally:
            await gw.close()


async def test_bad_input_gets_clear_errors() -> None:
    with pytest.raises(ValueError, match="large_threshold"):
        Gateway("t", large_threshold=10)
    with pytest.raises(ValueError, match="compress"):
        Gateway("t", compress="gzip")
    with pytest.raises(ValueError, match="4096"):
        Gateway("t", presence={"status": "online", "activities": [{"name": "x" * 5000}]})
    gw = Gateway("t", url="ws://127.0.0.1:9/")
    with pytest.raises(ValueError, match="status"):
        await gw.update_presence("sleepy")
    with pytest.raises(GatewayError, match="start"):
        await gw.update_presence("idle")
    assert gw.shard_for_guild(4194304 * 7) == 0
    assert Gateway("t", shard_count=4).shard_for_guild(4194304 * 7) == 3


async def test_a_plain_listener_that_blocks_does_not_delay_heartbeats() -> None:
    """Issue 12: a plain ``def`` listener runs in a worker thread; while it blocks for several
    heartbeat intervals, the shard's beats keep their interval (judged by the fake's clock)."""
    with serve_fake_gateway(heartbeat_interval=INTERVAL) as fake:
        gw, rec = await started(fake)
        done: list[int] = []

        @gw.listen("MESSAGE_CREATE")
        def blocking(event: object) -> None:
            time.sleep(4 * INTERVAL / 1000)
            done.append(event.data["n"])  # type: ignore[attr-defined]

        try:
            conn = fake.connections[0]
            await wait_until(lambda: len(conn.heartbeats) >= 1, 10, "a first heartbeat")
            before = len(conn.heartbeats)
            await send_messages(fake, 0, 2)
            lags = []  # the app's loop stays free too: the listener is not on it
            while len(done) < 2 and len(lags) < 400:
                started_at = time.monotonic()
                await asyncio.sleep(0.02)
                lags.append(time.monotonic() - started_at - 0.02)
            await wait_until(lambda: len(done) == 2, 20, "the blocking listener")
            assert max(lags) < 4 * INTERVAL / 1000 / 2, max(lags)
            beats = conn.heartbeats[before - 1 :]
            assert len(beats) >= 4, "beats went on while the listener blocked"
            gaps = [b - a for a, b in itertools.pairwise(beats)]
            # the interval is 0.4 s; a loaded machine may add a little, never a blocked listener
            assert max(gaps) < INTERVAL / 1000 + 0.35, gaps
            assert gw.shards[0].state == "ready" and gw.shards[0].reconnects == {}
            exactly_once_in_order(rec, fake)
        finally:
            await asyncio.wait_for(gw.close(), 20)
