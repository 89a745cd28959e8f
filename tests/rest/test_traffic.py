"""RestClient under real traffic: regular webhooks and the global pools, every 429 waited by
its scope, edge errors, FIFO order per bucket, request deadlines, and a stall ticker."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from asgi_interactions.rest import MemoryRateLimiter, RequestDeadlineError, RestClient
from tests.fakes.discord_rest import RecordedRequest, serve_fake_discord

APP_ID = 1000
# a bot token's first segment is the bot's id in base64 (the rest is made up)
TOKEN = base64.b64encode(str(APP_ID).encode()).decode().rstrip("=") + ".GxYz.secret-part"


class Ticker:
    """A 1 ms periodic task in the test's loop: its worst lateness is the loop's worst stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += 0.001
            await asyncio.sleep(max(0.0, due - loop.time()))
            late = loop.time() - due
            self.worst = max(self.worst, late)
            if late > 0.001:
                due = loop.time()  # one stall counts once

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Ticker]:
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()


def issue_orders_ok(records: list[RecordedRequest]) -> list[str]:
    """For one serial bucket: the requests' successes must come in their issue order."""
    done = [r.json["content"] for r in records if 200 <= r.status < 300]
    return [
        a
        for a, b in zip(done, sorted(done, key=lambda c: int(c.split("-")[1])), strict=True)
        if a != b
    ]


def test_application_id_comes_from_the_token_or_the_argument() -> None:
    assert RestClient(TOKEN).application_id == str(APP_ID)
    assert RestClient(TOKEN, application_id=5).application_id == "5"
    assert RestClient("not-base64-digits").application_id is None
    assert RestClient(None).application_id is None


async def test_regular_webhooks_count_in_their_pools_interactions_do_not() -> None:
    """Bot requests, regular webhooks without and with Authorization, and interaction
    follow-ups, all at once against small global pools: nothing fails, no global 429."""
    glob = (8, 0.4)
    async with serve_fake_discord(global_limit=glob, application_id=APP_ID) as fake:
        limiter = MemoryRateLimiter(global_limit=glob[0], global_window=glob[1])
        async with RestClient(TOKEN, base_url=fake.base_url, rate_limiter=limiter) as rest:
            calls = [rest.get_channel(c) for c in range(12)]
            calls += [rest.execute_webhook(77, f"wt{i}", {"content": f"w-{i}"}) for i in range(12)]
            calls += [
                rest.execute_webhook(78, "wt", {"content": f"a-{i}"}, auth=True) for i in range(6)
            ]
            calls += [rest.create_followup(APP_ID, f"it{i}", {"content": "f"}) for i in range(12)]
            results = await asyncio.wait_for(asyncio.gather(*calls), 60)
            m = results[12]
            assert m["content"] == "w-0"
            got = await rest.get_webhook_message(77, "wt0", m["id"])
            assert got["id"] == m["id"]
            edited = await rest.edit_webhook_message(77, "wt0", m["id"], {"content": "w2"})
            assert edited["content"] == "w2"
            await rest.delete_webhook_message(77, "wt0", m["id"])
            assert await rest.execute_webhook(77, "wt0", {"content": "x"}, wait=False) is None
    assert [(r.route_path, r.scope) for r in fake.requests if r.status == 429] == []
    webhook = [r for r in fake.requests if r.route_path.startswith("/webhooks/77/")]
    assert webhook and all("authorization" not in r.headers for r in webhook)
    assert all("authorization" in r.headers for r in fake.requests if "/webhooks/78/" in r.path)
    assert webhook[0].query["wait"] == "true"


async def test_a_global_429_on_a_route_believed_exempt_is_waited() -> None:
    """The client is told a wrong application id, so it believes webhook 77 exempt; Discord
    (the fake) counts it. Every global 429 is waited out before that request is resent, and
    the webhook is counted from then on. The client knows the pool's size, as a real one knows
    Discord's 50/s (believing it 50/s here, every retry went at once after each 429 and a
    request could lose four races in a row, depending on how the first sends were spread)."""
    limiter = MemoryRateLimiter(global_limit=4, global_window=0.5)
    async with (
        serve_fake_discord(global_limit=(4, 0.5), application_id=APP_ID) as fake,
        RestClient(None, base_url=fake.base_url, application_id=77, rate_limiter=limiter) as rest,
    ):
        await asyncio.wait_for(
            asyncio.gather(
                *(rest.execute_webhook(77, "t", {"content": f"w-{i}"}) for i in range(12))
            ),
            60,
        )
    limited = [r for r in fake.requests if r.status == 429]
    assert limited and {r.scope for r in limited} == {"global"}
    assert len(limited) < 24  # learned after the first round: not 429 after 429
    for r in limited:
        retry = next(
            x for x in fake.requests if x.time > r.time and x.json == r.json and x is not r
        )
        assert r.retry_after is not None
        assert retry.time >= r.answered + r.retry_after - 0.005  # waited, never resent at once
    assert fake.count(200) == 12


async def test_edge_errors_are_retried_fast_in_order() -> None:
    """20 % of creates answered by the edge (HTML 502/503, no rate-limit headers): every call
    succeeds, each channel's messages land in issue order, and no bucket slot is lost."""
    limits = {"messages.create": (1, 0.02)}
    async with serve_fake_discord(limits=limits, seed=3, latency=(0.001, 0.004)) as fake:
        fake.faults(edge=0.2)
        async with (
            RestClient(TOKEN, base_url=fake.base_url) as rest,
            Ticker().running() as ticker,
        ):
            await asyncio.wait_for(
                asyncio.gather(
                    *(rest.create_message(ch, f"{ch}-{i}") for i in range(15) for ch in (1, 2, 3))
                ),
                60,
            )
    assert fake.count(502) + fake.count(503) >= 3
    assert fake.count(429) == 0
    for ch in (1, 2, 3):
        records = [r for r in fake.requests if r.route_path == f"/channels/{ch}/messages"]
        assert issue_orders_ok(records) == []
        assert sum(r.status == 200 for r in records) == 15
    for r in fake.requests:
        if r.status in (502, 503):  # fast: the retry goes within a second
            retry = next(x for x in fake.requests if x.time > r.time and x.json == r.json)
            assert retry.time - r.answered < 1.0
    assert ticker.worst < 1.0  # recorded, not a speed assertion: bench/rest.py measures it


async def test_shared_429s_are_waited_in_order() -> None:
    """20 % of creates get a shared-scope 429 (a bucket slot used): each is waited out before
    its retry, and each channel's messages still land in issue order."""
    limits = {"messages.create": (1, 0.03)}
    async with serve_fake_discord(limits=limits, seed=5) as fake:
        fake.faults(shared=0.2, shared_retry_after=0.05)
        async with RestClient(TOKEN, base_url=fake.base_url) as rest:
            await asyncio.wait_for(
                asyncio.gather(
                    *(rest.create_message(ch, f"{ch}-{i}") for i in range(12) for ch in (1, 2))
                ),
                60,
            )
    shared = [r for r in fake.requests if r.status == 429]
    assert shared and {r.scope for r in shared} == {"shared"}
    for r in shared:
        retry = next(x for x in fake.requests if x.time > r.time and x.json == r.json)
        assert retry.time >= r.answered + 0.045  # retry_after waited, never resent at once
    for ch in (1, 2):
        records = [r for r in fake.requests if r.route_path == f"/channels/{ch}/messages"]
        assert issue_orders_ok(records) == []
    assert sum(r.status == 429 and r.scope != "shared" for r in fake.requests) == 0
    assert fake.count(200) == 24


async def test_a_request_that_cannot_be_sent_in_time_fails_with_the_deadline_error() -> None:
    async with (
        serve_fake_discord(limits={"messages.create": (1, 5.0)}) as fake,
        RestClient(TOKEN, base_url=fake.base_url, request_deadline=0.5) as rest,
    ):
        await rest.create_message(1, "1-0")
        t = time.monotonic()
        with pytest.raises(RequestDeadlineError, match="request_deadline") as info:
            await rest.create_message(1, "1-1")
        assert time.monotonic() - t < 4.0
        assert info.value.sent_attempts == 0
        assert rest.rate_limiter._queues == {}
    assert len(fake.requests) == 1


async def test_a_burst_starts_over_many_loop_iterations_in_order() -> None:
    """300 request starts of 0.5 ms of work each, issued at once: other tasks get the loop
    between batches (without pacing all 300 run in one iteration), and starts keep their
    order."""
    from asgi_interactions.rest.pacing import pacer

    started: list[int] = []
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(0)
            ticks += 1

    async def start(i: int) -> None:
        await pacer().turn()
        started.append(i)
        end = time.perf_counter() + 0.0005
        while time.perf_counter() < end:  # the work a request does before its first await
            pass

    await asyncio.sleep(0.1)  # a fresh slice
    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    await asyncio.wait_for(asyncio.gather(*(start(i) for i in range(300))), 30)
    done = True
    await tick
    assert started == list(range(300))
    assert ticks >= 20  # 150 ms of work in slices of about BUDGET (1 ms)


async def test_a_burst_is_not_throttled_by_other_work_in_the_loop() -> None:
    """While another task burns 3 ms of CPU in every loop iteration (answers being processed,
    other handlers), a burst of 200 cheap request starts still goes through several per
    iteration: the pacer's cost estimate is bounded by what a start can cost (it used to charge
    the starts with everything in the iteration and let one through every second iteration)."""
    from asgi_interactions.rest.pacing import pacer

    iterations = 0
    done = False

    async def busy() -> None:
        nonlocal iterations
        while not done:
            end = time.thread_time() + 0.003
            while time.thread_time() < end:
                pass
            iterations += 1
            await asyncio.sleep(0)

    started: list[int] = []

    async def start(i: int) -> None:
        await pacer().turn()
        started.append(i)
        end = time.thread_time() + 0.00005
        while time.thread_time() < end:  # the work a request does before its first await
            pass

    await asyncio.sleep(0.1)  # a fresh slice
    task = asyncio.create_task(busy())
    await asyncio.sleep(0)
    iterations = 0
    await asyncio.wait_for(asyncio.gather(*(start(i) for i in range(200))), 60)
    used = iterations
    done = True
    await task
    assert started == list(range(200))
    assert used <= 200 // 4 + 10, used  # before: ~400 iterations, one start per two
