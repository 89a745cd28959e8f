"""Several processes sharing one budget through Redis, and Redis dying mid-run."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest

from asgi_interactions.rest import RestClient
from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, sys
from asgi_interactions.rest import RestClient
from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter

async def main(base, url, tag):
    limiter = RedisRateLimiter(url, prefix="two:", global_limit=20, global_window=0.5,
                               poll_interval=0.01)
    async with RestClient("tok", base_url=base, rate_limiter=limiter) as rest:
        await asyncio.wait_for(asyncio.gather(
            *(rest.create_message(1, f"{tag}{i}") for i in range(12)),
            *(rest.get_channel(100 + i) for i in range(30)),
        ), 60)
    await limiter.aclose()

asyncio.run(main(*sys.argv[1:4]))
"""


async def test_two_processes_share_one_budget(redis_server: RedisServer) -> None:
    limits = {"messages.create": (3, 0.3)}
    async with serve_fake_discord(
        limits=limits, global_limit=(20, 0.5), latency=(0.001, 0.01)
    ) as fake:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CHILD,
                fake.base_url,
                redis_server.url,
                tag,
                cwd=ROOT,
                env=env,
                stderr=asyncio.subprocess.PIPE,
            )
            for tag in ("a", "b")
        ]
        results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 90)
        for p, (_, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err.decode()[-2000:]
    statuses = [r.status for r in fake.requests]
    assert len(statuses) == 84
    assert [(r.route, r.scope) for r in fake.requests if r.status == 429] == []
    # both processes really did contend for channel 1's bucket
    senders = {r.json["content"][0] for r in fake.requests if r.json}
    assert senders == {"a", "b"}


async def test_redis_killed_mid_run(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asgi_interactions.rest.ratelimit.redis")
    limiter = RedisRateLimiter(
        redis_server.url, prefix="kill:", retry_interval=0.2, socket_timeout=0.3
    )
    limits = {"messages.create": (3, 0.2)}
    async with serve_fake_discord(limits=limits) as fake:
        async with RestClient("tok", base_url=fake.base_url, rate_limiter=limiter) as rest:

            async def batch(tag: str) -> None:
                await asyncio.wait_for(
                    asyncio.gather(
                        *(rest.create_message(ch, f"{tag}{i}") for ch in (1, 2) for i in range(5)),
                        *(rest.get_channel(c) for c in range(10)),
                    ),
                    30,
                )

            await batch("up")
            assert limiter.redis_store.available
            redis_server.stop()
            await batch("down")
            await batch("still-down")
            assert not limiter.redis_store.available
            redis_server.start()
            await asyncio.sleep(0.3)
            await batch("back")
            assert limiter.redis_store.available
            assert await limiter.redis_store.redis.keys("kill:*")
        await limiter.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1
    assert sum("reachable again" in m for m in messages) == 1
    assert fake.count(200) == 80
