"""Redeliveries recognised across processes with ``redis_url``: a real redis-server, two uvicorn
workers serving ``bot.webhook_events`` alone, and Redis going away mid-run."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from asgi_interactions import InteractionApp
from asgi_interactions.testing import DEVELOPMENT_KEYS, InteractionTestClient, webhook_event_payload
from asgi_interactions.webhook_events import EventDedup, event_key
from tests.fakes.redis_server import RedisServer, redis_server
from tests.serve import read_runs, uvicorn_workers

__all__ = ["redis_server"]

PATIENT = "?socket_timeout=5"  # a loaded test machine must not look like a Redis outage

BOT_MODULE = """
import os
from asgi_interactions import InteractionApp

options = {"redis_url": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {}
bot = InteractionApp(public_key=os.environ["BOT_PUBLIC_KEY"], token=None, **options)

@bot.event("ENTITLEMENT_CREATE")
def granted(event):
    with open(os.environ["RUNS_FILE"], "a") as runs:
        runs.write(f"{os.getpid()} {event.data.id}\\n")
"""


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-process-control"])
async def test_a_redelivered_event_runs_once_across_two_uvicorn_workers(
    tmp_path: Path, redis_server: RedisServer, shared: bool
) -> None:
    runs_file = tmp_path / "runs.txt"
    env = {
        "BOT_PUBLIC_KEY": DEVELOPMENT_KEYS.public_key,
        "RUNS_FILE": str(runs_file),
        "REDIS_URL": redis_server.url + PATIENT if shared else "",
    }
    close = {"connection": "close"}  # a new connection per request: either worker may take it
    sent: list[dict[str, Any]] = []
    statuses: list[int] = []
    # The events app served alone: uvicorn imports the attribute path bot.webhook_events.
    serving = uvicorn_workers(tmp_path, "eventbot", BOT_MODULE, "bot.webhook_events", env)
    async with (
        asyncio.timeout(90),
        serving as url,
        InteractionTestClient(url, DEVELOPMENT_KEYS) as client,
    ):
        while True:
            try:
                if (await client.webhook_ping()).status == 204:
                    break
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.1)
        # Distinct events until both workers have run a handler (so both serve).
        while len({pid for pid, _ in read_runs(runs_file)}) < 2 and len(sent) < 300:
            payload = webhook_event_payload("ENTITLEMENT_CREATE")
            assert (await client.send(payload, headers=close)).status == 204
            sent.append(payload)
            await asyncio.sleep(0.02)  # the handler runs after the 204
        assert len({pid for pid, _ in read_runs(runs_file)}) == 2, "one worker served everything"
        # Discord's retries: each a new signature (a later timestamp), same event.
        base = int(time.time())
        for attempt in range(1, 41):
            ts = str(base + attempt)
            response = await client.send(sent[0], timestamp=ts, headers=close)
            statuses.append(response.status)
        await asyncio.sleep(0.5)  # handlers that should not run would have by now
    first = sent[0]["event"]["data"]["id"]
    ids = [entitlement for _, entitlement in read_runs(runs_file)]
    assert set(statuses) == {204}  # every retry acknowledged, whoever answered
    if shared:
        assert ids.count(first) == 1  # run once, whichever worker each retry reached
        assert sorted(ids) == sorted(p["event"]["data"]["id"] for p in sent)
    else:  # the control: per process, a retry that reaches the other worker runs again
        assert ids.count(first) == 2


async def test_two_apps_on_one_redis_share_what_they_have_seen(redis_server: RedisServer) -> None:
    runs: list[str] = []

    def make() -> InteractionApp:
        bot = InteractionApp(
            public_key=DEVELOPMENT_KEYS.public_key,
            token=None,
            freeze_gc=False,
            redis_url=redis_server.url + PATIENT,
        )
        bot.event("ENTITLEMENT_CREATE")(lambda event: runs.append(str(event.data.id)))
        return bot

    one, two = make(), make()
    payload = webhook_event_payload("ENTITLEMENT_CREATE")
    async with (
        InteractionTestClient(one.webhook_events, DEVELOPMENT_KEYS) as first,
        InteractionTestClient(two.webhook_events, DEVELOPMENT_KEYS) as second,
    ):
        assert (await first.send(payload)).status == 204
        assert (await second.send(payload, timestamp=str(int(time.time()) + 1))).status == 204
        async with asyncio.timeout(10):
            while not runs:  # noqa: ASYNC110 (the handler runs in a thread)
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
    assert runs == [payload["event"]["data"]["id"]]


async def test_while_redis_is_away_each_process_still_remembers_its_own(
    redis_server: RedisServer,
) -> None:
    from asgi_interactions.shared_state import SharedState

    shared = SharedState(redis_server.url, timeout=0.5, retry_interval=0.05)
    dedup = EventDedup(shared, window=60)
    other = EventDedup(SharedState(redis_server.url, timeout=0.5, retry_interval=0.05), window=60)
    event = webhook_event_payload("ENTITLEMENT_CREATE")["event"]
    key = event_key("1", event)
    try:
        assert await dedup.seen(key) is False
        assert await other.seen(key) is True  # through Redis
        redis_server.stop()
        late = event_key("1", webhook_event_payload("ENTITLEMENT_CREATE")["event"])
        assert await dedup.seen(late) is False
        assert await dedup.seen(late) is True  # this process's memory stands in
        assert not shared.available
        redis_server.start()
        async with asyncio.timeout(10):  # each client notices the restart on a call of its own
            for n in range(1000):
                await dedup.seen(n.to_bytes(32))
                await other.seen(n.to_bytes(32))
                assert other.shared is not None
                if shared.available and other.shared.available:
                    break
                await asyncio.sleep(0.06)
        fresh = event_key("1", webhook_event_payload("ENTITLEMENT_CREATE")["event"])
        assert await dedup.seen(fresh) is False
        assert shared.available
        assert await other.seen(fresh) is True  # shared again
    finally:
        await shared.aclose()
        assert other.shared is not None
        await other.shared.aclose()


async def test_redis_keys_live_for_the_window(redis_server: RedisServer) -> None:
    import redis.asyncio as redis_asyncio

    from asgi_interactions.shared_state import SharedState

    shared = SharedState(redis_server.url + PATIENT)
    dedup = EventDedup(shared, window=900)
    key = event_key("1", {"type": "ENTITLEMENT_CREATE", "timestamp": "t", "data": {"id": "1"}})
    client = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        assert await dedup.seen(key) is False
        ttl = await client.pttl(b"asgi_interactions:ev:" + key[:16])
        assert 899_000 <= ttl <= 901_000
    finally:
        await client.aclose()
        await shared.aclose()


def test_the_identity_ignores_serialisation_and_sees_every_field() -> None:
    event = {"type": "ENTITLEMENT_CREATE", "timestamp": "2024-10-18T18:41:21.109604"}
    event["data"] = {"id": "1", "sku_id": "2", "nested": {"a": 1, "b": [1, 2]}}
    same = json.loads(json.dumps({"data": {"nested": {"b": [1, 2], "a": 1}, "sku_id": "2",
                                           "id": "1"}, "timestamp": event["timestamp"],
                                  "type": event["type"]}))  # fmt: skip
    assert event_key("9", event) == event_key("9", same)
    for change in (
        {"type": "ENTITLEMENT_UPDATE"},
        {"timestamp": "2024-10-18T18:41:21.109605"},
        {"data": {"id": "1", "sku_id": "3", "nested": {"a": 1, "b": [1, 2]}}},
    ):
        assert event_key("9", event) != event_key("9", event | change)
    assert event_key("9", event) != event_key("8", event)


async def test_the_local_memory_forgets_after_the_window_and_warns_once_when_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    dedup = EventDedup(None, window=900, size=3, clock=lambda: now[0])
    keys = [bytes([i]) * 32 for i in range(5)]
    assert [await dedup.seen(k) for k in keys[:3]] == [False] * 3
    now[0] += 899.9
    assert await dedup.seen(keys[0]) is True  # still inside the window
    now[0] += 0.2
    assert await dedup.seen(keys[0]) is False  # 900.1 s later: a new event
    assert len(dedup.local) == 1  # the other two expired with it
    caplog.set_level(logging.WARNING, "asgi_interactions.webhook_events")
    for k in keys[1:]:
        await dedup.seen(k)
    assert await dedup.seen(keys[0]) is False  # pushed out by the fourth
    warnings = [r for r in caplog.records if "dedup store is full" in r.getMessage()]
    assert len(warnings) == 1
