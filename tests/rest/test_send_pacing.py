"""When rate-limit windows open together, the requests they release are written a few per
loop iteration (by the CPU their writes cost), in grant order, with either limiter."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest

from asgi_interactions.rest import MemoryRateLimiter, RestClient
from asgi_interactions.rest.pacing import BUDGET, send_pacer
from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer

CHANNELS = 24
PER_CHANNEL = 3
WRITE_COST = 0.0005  # CPU seconds each write is made to cost (a pool with many idle connections)


class Iterations:
    """Counts event-loop iterations: a task that runs once in each."""

    def __init__(self) -> None:
        self.count = 0
        self._stop = False

    async def _run(self) -> None:
        while not self._stop:
            self.count += 1
            await asyncio.sleep(0)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Iterations]:
        task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._stop = True
            await task


class CostlyTransport(httpx2.AsyncHTTPTransport):
    """Notes the loop iteration each request is written in, and makes each write cost
    ``WRITE_COST`` of CPU in the step that writes it (as HTTPX2's pool bookkeeping does)."""

    def __init__(self, iterations: Iterations) -> None:
        super().__init__()
        self.iterations = iterations
        self.written: list[tuple[int, str]] = []  # (iteration, content)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        end = time.thread_time() + WRITE_COST
        while time.thread_time() < end:
            pass
        content = request.content.decode()
        self.written.append((self.iterations.count, content))
        return await super().handle_async_request(request)


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_requests_released_together_are_written_a_few_per_iteration_in_order(
    store: str, request: pytest.FixtureRequest
) -> None:
    """24 channels' buckets (1 per 0.3 s) open at about the same moment, three times: each
    opening releases up to 24 requests at once. They are written at most a budget's worth of
    CPU per iteration (without the send pacer, the iteration after an opening wrote 16-24),
    every channel's messages land in issue order, and none is refused."""
    limits = {"messages.create": (1, 0.3)}
    async with serve_fake_discord(limits=limits, latency=(0.001, 0.002)) as fake:
        if store == "redis":
            server: RedisServer = request.getfixturevalue("redis_server")
            limiter = RedisRateLimiter(server.url, prefix="pace:", poll_interval=0.01)
        else:
            limiter = MemoryRateLimiter()
        iterations = Iterations()
        transport = CostlyTransport(iterations)
        async with (
            RestClient(
                "tok", base_url=fake.base_url, transport=transport, rate_limiter=limiter
            ) as rest,
            iterations.running(),
        ):
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        rest.create_message(ch, f"{ch}-{i}")
                        for i in range(PER_CHANNEL)
                        for ch in range(1, CHANNELS + 1)
                    )
                ),
                60,
            )
    assert fake.count(429) == 0 and fake.count(200) == CHANNELS * PER_CHANNEL
    per_iteration = Counter(it for it, _ in transport.written)
    # the budget's worth by the slice's clock, plus the write that crosses it
    assert max(per_iteration.values()) <= BUDGET / WRITE_COST + 2, per_iteration.most_common(3)
    for ch in range(1, CHANNELS + 1):
        sent = [int(c.split("-")[1].rstrip('"}')) for _, c in transport.written if f'"{ch}-' in c]
        assert sent == list(range(PER_CHANNEL)), (ch, sent)
        landed = [
            r.json["content"]
            for r in fake.requests
            if r.route_path == f"/channels/{ch}/messages" and r.status == 200
        ]
        assert landed == [f"{ch}-{i}" for i in range(PER_CHANNEL)]


async def test_the_send_pacer_holds_nothing_back_in_a_quiet_loop() -> None:
    """A lone send goes at once (no extra iteration), and a queue of sends drains at several
    per iteration, in order: pacing costs throughput nothing."""
    gate = send_pacer()
    await asyncio.sleep(0.1)  # a fresh slice
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    turn = asyncio.ensure_future(gate.turn())
    loop.call_soon(fut.set_result, None)
    await fut
    assert turn.done()  # it never waited: the first step completed it

    order: list[int] = []
    iterations = Iterations()

    async def send(i: int) -> None:
        await gate.turn()
        order.append(i)
        end = time.thread_time() + 0.0001  # a cheap write
        while time.thread_time() < end:
            pass

    await asyncio.sleep(0.1)
    async with iterations.running():
        await asyncio.wait_for(asyncio.gather(*(send(i) for i in range(200))), 30)
        used = iterations.count
    assert order == list(range(200))
    assert used <= 200 // 4 + 10, used  # 20 ms of writes: at least a few per iteration
