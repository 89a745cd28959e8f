"""``GET /gateway/bot`` shared by a fleet through a real redis-server (gateway/discovery.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis.asyncio

from asgi_interactions import Gateway, RestClient
from asgi_interactions.gateway import discovery
from asgi_interactions.gateway.discovery import fleet_gateway_bot
from tests.fakes.discord_gateway import serve_fake_gateway
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer, redis_server  # noqa: F401 - fixture

ANSWER = {"url": "wss://gateway.example", "shards": 4, "session_start_limit": {"remaining": 9}}


class Fetches:
    """A stand-in for ``rest.get_gateway_bot``: counts calls; each takes ``delay`` seconds,
    and the first ``failures`` raise."""

    def __init__(self, delay: float = 0.2, failures: int = 0) -> None:
        self.calls = 0
        self.delay, self.failures = delay, failures

    async def __call__(self) -> Any:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.calls <= self.failures:
            raise RuntimeError("Discord said no")
        return ANSWER


def ask(url: str, fetch: Fetches, base_url: str = "http://discord.test/api") -> Any:
    return fleet_gateway_bot(url, "token", base_url, fetch)


async def test_processes_starting_together_send_one_request(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    fetch = Fetches()
    answers = await asyncio.wait_for(
        asyncio.gather(*(ask(redis_server.url, fetch) for _ in range(4))), 20
    )
    assert answers == [ANSWER] * 4 and fetch.calls == 1
    other = Fetches()  # another bot (or REST base URL) does not share this bot's answer
    assert await ask(redis_server.url, other, "http://other.test/api") == ANSWER
    assert other.calls == 1


async def test_a_failed_fetch_lets_the_next_process_ask_at_once(
    redis_server: RedisServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discovery, "WAIT", 60.0)  # they do not wait for that
    fetch = Fetches(failures=1)
    first = asyncio.ensure_future(ask(redis_server.url, fetch))
    await asyncio.sleep(0.05)  # the first takes the lock
    second = await asyncio.wait_for(ask(redis_server.url, fetch), 10)
    with pytest.raises(RuntimeError, match="Discord said no"):
        await first
    assert second == ANSWER and fetch.calls == 2


async def test_a_stuck_fetcher_is_waited_for_a_bounded_time(
    redis_server: RedisServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(discovery, "WAIT", 0.3)
    stuck = Fetches(delay=3600)
    first = asyncio.ensure_future(ask(redis_server.url, stuck))
    try:
        await asyncio.sleep(0.05)
        fetch = Fetches()
        assert await asyncio.wait_for(ask(redis_server.url, fetch), 10) == ANSWER
        assert fetch.calls == 1
        assert "no shared GET /gateway/bot answer after" in caplog.text
    finally:
        first.cancel()
        await asyncio.wait({first}, timeout=10)


async def test_without_redis_each_process_asks_discord(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="asgi_interactions")
    fetch = Fetches(delay=0)
    closed = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    assert await asyncio.wait_for(ask(closed, fetch), 10) == ANSWER
    assert await asyncio.wait_for(ask(closed, fetch), 10) == ANSWER
    assert fetch.calls == 2
    assert "GET /gateway/bot not shared" in caplog.text


async def test_an_unreadable_shared_answer_is_ignored(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        await client.set(discovery._key("token", "http://discord.test/api"), b"{not json")
    finally:
        await client.aclose()
    fetch = Fetches(delay=0)
    assert await asyncio.wait_for(ask(redis_server.url, fetch), 10) == ANSWER
    assert fetch.calls == 1


async def test_a_gateway_started_soon_after_uses_the_fleets_answer(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    with serve_fake_gateway(heartbeat_interval=500) as fake:
        async with serve_fake_discord(gateway_url=fake.url, shards=2) as discord:
            for _ in range(2):  # a restart: the second start sends no GET /gateway/bot
                async with RestClient("token", base_url=discord.base_url) as rest:
                    gw = Gateway(
                        fake.token, rest=rest, redis_url=redis_server.url, compress=False,
                        close_timeout=0.5, identify_interval=0.0,
                    )  # fmt: skip
                    try:
                        await asyncio.wait_for(gw.start(), 20)
                        assert sorted(gw.shards) == [0, 1]
                    finally:
                        await gw.close()
            asked = [r for r in discord.requests if r.path.endswith("/gateway/bot")]
            assert len(asked) == 1
