"""Replay protection with ``redis_url``: real redis-server, real processes, Redis outages."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from asgi_interactions import InteractionApp
from asgi_interactions.commands.locks import run_once
from asgi_interactions.errors import ConfigurationError
from asgi_interactions.shared_state import SharedState
from asgi_interactions.testing import (
    DEVELOPMENT_KEYS,
    InteractionTestClient,
    KeyPair,
    command_payload,
)
from asgi_interactions.verify import (
    ReplayCache,
    SharedReplayStore,
    SignatureVerifier,
    VerificationError,
)
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer, redis_server
from tests.serve import free_port, read_runs, uvicorn_workers

__all__ = ["redis_server"]

SHARED_LOG = "asgi_interactions.shared_state"
# Where a test is not about timeouts, a loaded test machine must not look like a Redis outage.
PATIENT = "?socket_timeout=5"


def request(name: str = "hit") -> tuple[bytes, str]:
    """A fresh command body and its timestamp: sending both again is an exact replay."""
    return json.dumps(command_payload(name)).encode(), str(int(time.time()))


def make_bot(keys: KeyPair, runs: list[str] | None = None, **kwargs: Any) -> InteractionApp:
    kwargs.setdefault("token", None)
    kwargs.setdefault("freeze_gc", False)
    bot = InteractionApp(public_key=keys.public_key, **kwargs)

    @bot.command(name="hit", description="Count a run")
    async def hit(ctx: Any) -> str:
        if runs is not None:
            runs.append(ctx.interaction.id)
        return "ok"

    return bot


# --------------------------------------------------------------------------- two workers

BOT_MODULE = """
import os
from asgi_interactions import InteractionApp

options = {"redis_url": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {}
bot = InteractionApp(public_key=os.environ["BOT_PUBLIC_KEY"], token=None, **options)

@bot.command(name="hit", description="Count a run")
async def hit(ctx) -> str:
    with open(os.environ["RUNS_FILE"], "a") as runs:
        runs.write(f"{os.getpid()} {ctx.interaction.id}\\n")
    return "ok"
"""


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-process-control"])
async def test_replays_are_refused_across_two_uvicorn_workers(
    tmp_path: Path, redis_server: RedisServer, shared: bool
) -> None:
    runs_file = tmp_path / "runs.txt"
    env = {
        "BOT_PUBLIC_KEY": DEVELOPMENT_KEYS.public_key,
        "RUNS_FILE": str(runs_file),
        "REDIS_URL": redis_server.url + PATIENT if shared else "",
    }
    # A new connection per request, so the kernel hands requests to either worker.
    close = {"connection": "close"}
    serving = uvicorn_workers(tmp_path, "replaybot", BOT_MODULE, "bot", env)
    async with (
        asyncio.timeout(60),
        serving as url,
        InteractionTestClient(url, DEVELOPMENT_KEYS) as client,
    ):
        while True:
            try:
                if (await client.ping()).status == 200:
                    break
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.1)
        # Distinct requests until both workers have run a handler (so both serve).
        sent: list[tuple[bytes, str]] = []
        while len({pid for pid, _ in read_runs(runs_file)}) < 2 and len(sent) < 300:
            body, ts = request()
            assert (await client.send(body, timestamp=ts, headers=close)).status == 200
            sent.append((body, ts))
        assert len({pid for pid, _ in read_runs(runs_file)}) == 2, "one worker served everything"
        statuses = []
        for _ in range(100):
            body, ts = sent[0]
            statuses.append((await client.send(body, timestamp=ts, headers=close)).status)
        for body, ts in sent[1:]:
            statuses.append((await client.send(body, timestamp=ts, headers=close)).status)
    ids = [interaction_id for _, interaction_id in read_runs(runs_file)]
    first = json.loads(sent[0][0])["id"]
    if shared:
        assert ids.count(first) == 1  # every replay refused, whichever worker it reached
        assert len(ids) == len(sent) == len(set(ids))
        assert set(statuses) == {401}
    else:  # the control: per process, a replay that reaches the other worker runs again
        assert ids.count(first) > 1
        assert 200 in statuses


# --------------------------------------------------------------------------- capacity


async def test_refused_after_more_than_replay_cache_size_other_requests(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    keys = KeyPair.generate()
    for shared in (True, False):
        runs: list[str] = []
        options = {"redis_url": redis_server.url + PATIENT} if shared else {}
        bot = make_bot(keys, runs, replay_cache_size=10, **options)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="asgi_interactions.security"):
            async with InteractionTestClient(bot, keys) as client:
                captured = request()
                assert (await client.send(captured[0], timestamp=captured[1])).status == 200
                for i in range(50):  # signed after the captured one, as later traffic is
                    body, _ = request()
                    ts = str(int(captured[1]) + 1 + i // 5)
                    assert (await client.send(body, timestamp=ts)).status == 200
                replay = await client.send(captured[0], timestamp=captured[1])
        turnover = [r for r in caplog.records if "no longer refused" in r.getMessage()]
        if shared:  # this process forgot it; Redis did not
            assert replay.status == 401
            assert len(runs) == 51
            assert not turnover  # with Redis up, the small local cache is harmless
        else:  # the control: 10 entries cannot hold the window
            assert replay.status == 200
            assert len(runs) == 52
            assert len(turnover) == 1


# --------------------------------------------------------------------------- skewed clock


async def test_a_skewed_signer_is_refused_at_301_s_in_redis_too(redis_server: RedisServer) -> None:
    keys = KeyPair.generate()
    shared = SharedState(redis_server.url + PATIENT)
    now = [1_700_000_000.0]
    arrival = now[0]

    def worker() -> SignatureVerifier:  # one per "process": its own local cache
        store = SharedReplayStore(shared, ReplayCache(100))
        return SignatureVerifier(
            keys.public_key, replay_cache=store.local, shared_replay=store, clock=lambda: now[0]
        )

    body = b'{"type":2}'
    ts = str(int(arrival + 290))  # the signer's clock runs 290 s ahead
    sig = keys.sign(ts, body).encode()
    try:
        await worker().verify_shared(sig, ts.encode(), body)
        pttl = await shared.client.pttl(b"asgi_interactions:rp:" + bytes.fromhex(sig.decode())[:16])
        assert 589_000 < pttl <= 590_001  # until the signed timestamp + 300 s
        now[0] = arrival + 301
        with pytest.raises(VerificationError, match="already received"):
            await worker().verify_shared(sig, ts.encode(), body)
    finally:
        await shared.aclose()


# --------------------------------------------------------------------------- outages


def _shared_records(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(1 for r in caplog.records if r.name == SHARED_LOG and text in r.getMessage())


async def test_redis_stopped_mid_run_falls_back_and_recovers_logging_once_each(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    keys = KeyPair.generate()
    runs: list[str] = []
    bot = make_bot(keys, runs, redis_url=redis_server.url + PATIENT)
    caplog.set_level(logging.WARNING, logger=SHARED_LOG)
    async with InteractionTestClient(bot, keys) as client:
        for _ in range(5):
            body, ts = request()
            assert (await client.send(body, timestamp=ts)).status == 200
        redis_server.stop()
        during = []
        for _ in range(20):
            body, ts = request()
            assert (await client.send(body, timestamp=ts)).status == 200
            during.append((body, ts))
        # This process still refuses replays of what it saw, before and during the outage.
        assert (await client.send(during[0][0], timestamp=during[0][1])).status == 401
        assert _shared_records(caplog, "unreachable") == 1
        assert _shared_records(caplog, "reachable again") == 0

        redis_server.start()
        async with asyncio.timeout(30):
            while not _shared_records(caplog, "reachable again"):
                body, ts = request()
                assert (await client.send(body, timestamp=ts)).status == 200
                await asyncio.sleep(0.1)
        for _ in range(5):
            body, ts = request()
            assert (await client.send(body, timestamp=ts)).status == 200
        # Shared again: the last request's signature is in Redis.
        sig = bytes.fromhex(keys.sign(ts, body))
        shared = SharedState(redis_server.url)
        try:
            assert await shared.client.exists(b"asgi_interactions:rp:" + sig[:16]) == 1
        finally:
            await shared.aclose()
    assert _shared_records(caplog, "unreachable") == 1
    assert _shared_records(caplog, "reachable again") == 1
    assert len(runs) == len(set(runs))


async def test_a_hung_redis_does_not_stall_requests(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    keys = KeyPair.generate()
    bot = make_bot(keys, redis_url=redis_server.url)
    caplog.set_level(logging.WARNING, logger=SHARED_LOG)
    assert redis_server.process is not None
    async with InteractionTestClient(bot, keys) as client:
        body, ts = request()
        assert (await client.send(body, timestamp=ts)).status == 200  # connected
        os.kill(redis_server.process.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
        try:
            async with asyncio.timeout(60):  # generous: each call is bounded by 0.25 s
                for _ in range(20):
                    body, ts = request()
                    assert (await client.send(body, timestamp=ts)).status == 200
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
    assert _shared_records(caplog, "unreachable") == 1


# --------------------------------------------------------------------------- wiring


async def test_redis_url_reaches_the_rest_limiter_and_the_sync_lock(
    redis_server: RedisServer,
) -> None:
    from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter

    keys = KeyPair.generate()
    async with serve_fake_discord() as fake:
        bot = InteractionApp(
            public_key=keys.public_key,
            token="test-token",
            application_id=1000,
            redis_url=redis_server.url + PATIENT,
            sync_commands=True,
            freeze_gc=False,
        )
        bot.rest.base_url = fake.base_url
        assert isinstance(bot.rest.rate_limiter, RedisRateLimiter)
        assert bot.redis_url == redis_server.url + PATIENT

        @bot.command(name=f"c{time.time_ns()}", description="A command to sync")
        async def handler(ctx: Any) -> str:
            return "ok"

        async with InteractionTestClient(bot, keys) as client:
            assert (await client.ping()).status == 200  # a replay check: the shared client connects
        assert [r.method for r in fake.requests].count("PUT") == 1
    shared = SharedState(redis_server.url)
    try:
        lock_keys = await shared.client.keys("asgi-interactions-sync-*")
        assert len(lock_keys) == 1
        assert await shared.client.get(lock_keys[0]) == b"done"
        assert await shared.client.keys("asgi_interactions:rl:*")  # the limiter wrote there
        # Shutdown closed every connection the app opened: only this check's own is left
        # (once Redis has noticed the closes).
        async with asyncio.timeout(10):
            while len(await shared.client.client_list()) > 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await shared.aclose()


async def test_the_sync_lock_falls_back_to_the_file_lock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    calls: list[int] = []

    async def work() -> int:
        calls.append(1)
        return 7

    with caplog.at_level(logging.WARNING, logger="asgi_interactions.commands.sync"):
        assert await run_once("k", work, redis_url=dead, lock_dir=tmp_path) == 7
        assert await run_once("k", work, redis_url=dead, lock_dir=tmp_path) is None
    assert calls == [1]
    assert "file lock" in caplog.text


def test_a_missing_redis_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r"asgi-interactions\[redis\]"):
        InteractionApp(public_key=DEVELOPMENT_KEYS.public_key, redis_url="redis://127.0.0.1/0")


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "http://127.0.0.1", ""])
def test_a_bad_redis_url_is_a_clear_error(url: str) -> None:
    if not url:  # empty means "no Redis", like None
        assert (
            InteractionApp(public_key=DEVELOPMENT_KEYS.public_key, redis_url=url).redis_url is None
        )
        return
    with pytest.raises(ConfigurationError, match="redis_url"):
        InteractionApp(public_key=DEVELOPMENT_KEYS.public_key, redis_url=url)


async def test_concurrent_checks_share_round_trips_and_stay_exact(
    redis_server: RedisServer,
) -> None:
    """Two "processes" (each its own Redis client and local cache) get the same 200 requests at
    once: each is accepted exactly once, and checks in flight together went in pipelines."""
    keys = KeyPair.generate()
    states = [SharedState(redis_server.url + PATIENT), SharedState(redis_server.url + PATIENT)]
    verifiers = []
    for state in states:
        store = SharedReplayStore(state, ReplayCache(1000))
        verifiers.append(
            SignatureVerifier(keys.public_key, replay_cache=store.local, shared_replay=store)
        )
    ts = str(int(time.time()))
    requests = []
    for i in range(200):
        body = b'{"type":2,"id":"%d"}' % i
        requests.append((keys.sign(ts, body).encode(), ts.encode(), body))

    async def accepted(verifier: SignatureVerifier, req: tuple[bytes, bytes, bytes]) -> bool:
        try:
            await verifier.verify_shared(*req)
        except VerificationError:
            return False
        return True

    round_trips = 0
    original = SharedState.run

    async def counting_run(self: SharedState, op: Any, fallback: Any) -> Any:
        nonlocal round_trips
        round_trips += 1
        return await original(self, op, fallback)

    try:
        SharedState.run = counting_run  # type: ignore[method-assign]
        results = await asyncio.gather(
            *(accepted(v, r) for r in requests for v in (verifiers[0], verifiers[1], verifiers[1]))
        )
    finally:
        SharedState.run = original  # type: ignore[method-assign]
        for state in states:
            await state.aclose()
    per_request = [sum(results[i * 3 : i * 3 + 3]) for i in range(200)]
    assert per_request == [1] * 200
    assert round_trips < 100  # 400 Redis checks (the local cache answers the rest) in few trips


async def test_closing_while_checks_wait_on_a_hung_redis_answers_them_locally(
    redis_server: RedisServer,
) -> None:
    keys = KeyPair.generate()
    shared = SharedState(redis_server.url, timeout=30.0)  # only the close can end the wait
    store = SharedReplayStore(shared, ReplayCache(100))
    verifier = SignatureVerifier(keys.public_key, replay_cache=store.local, shared_replay=store)
    await shared.client.ping()  # connected before Redis hangs
    assert redis_server.process is not None
    ts = str(int(time.time()))
    requests = []
    for i in range(5):
        body = b'{"type":2,"id":"%d"}' % i
        requests.append((keys.sign(ts, body).encode(), ts.encode(), body))
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        checks = [asyncio.create_task(verifier.verify_shared(*r)) for r in requests]
        await asyncio.sleep(0.2)
        assert not any(check.done() for check in checks)
        async with asyncio.timeout(10):
            await shared.aclose()
            await asyncio.gather(*checks)  # accepted: this process had not seen them
        with pytest.raises(VerificationError, match="already received"):
            verifier.verify(*requests[0])  # and they were recorded locally
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)


def test_the_redis_call_bound_comes_from_the_url() -> None:
    assert SharedState("redis://127.0.0.1:6379/0").timeout == 0.25
    assert SharedState("redis://127.0.0.1:6379/0?socket_timeout=2").timeout == 2.0
    with pytest.raises(ConfigurationError, match="socket_timeout"):
        SharedState("redis://127.0.0.1:6379/0?socket_timeout=soon")
