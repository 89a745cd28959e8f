"""Two worker processes share limits through a real redis-server that is paused (SIGSTOP /
SIGCONT) and then killed and restarted under load: nothing is lost, nothing stays stuck."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
BUCKET = (10, 0.5)  # GET /channels/{id}: 20 per second per channel, shared by both workers
GLOBAL = (40, 0.5)
RUN = 90.0  # at most; a worker keeps issuing requests until its stdin closes (the test says when)
#: Seconds after Redis is back before the bucket's rate is judged (it was 1.5 s; on a machine
#: busy with other suites the workers may need longer to reconnect and apply what they kept)
RECOVER = 2.0

WORKER = """
import asyncio, json, random, sys, time
from asgi_interactions.rest import RequestDeadlineError, RestClient
from asgi_interactions.rest.ratelimit.redis import RedisRateLimiter

async def main(base, url, run):
    limiter = RedisRateLimiter(url, prefix="outage:", global_limit=40, global_window=0.5,
                               poll_interval=0.01, retry_interval=0.3, socket_timeout=0.3)
    outcomes = {}
    async with RestClient("tok", base_url=base, rate_limiter=limiter, request_deadline=6.0,
                          max_retries=20) as rest:
        stop = time.monotonic() + run
        stopped = asyncio.Event()

        async def watch_stdin():
            await asyncio.to_thread(sys.stdin.read)  # returns at EOF: the test closed it
            stopped.set()

        async def one(channel):
            try:
                await rest.get_channel(channel)
                kind = "ok"
            except RequestDeadlineError:
                kind = "deadline"
            except Exception as exc:
                kind = type(exc).__name__
                if kind not in outcomes:  # the first of each kind, for the test's message
                    print(repr(exc)[:300], file=sys.stderr, flush=True)
            outcomes[kind] = outcomes.get(kind, 0) + 1

        async def loop(channel):
            while not stopped.is_set() and time.monotonic() < stop:
                await one(channel if channel else random.randrange(100, 10_000))

        # 16 callers on the shared bucket (more than it allows) and 8 on buckets of their own
        # (the global limit binds them)
        await rest.get_channel(1)
        watcher = asyncio.create_task(watch_stdin())
        print("ready", flush=True)
        tasks = [asyncio.create_task(loop(1)) for _ in range(16)]
        tasks += [asyncio.create_task(loop(0)) for _ in range(8)]
        done, pending = await asyncio.wait(tasks, timeout=run + 20)
        await watcher
        outcomes["hung"] = len(pending)
    print(json.dumps(outcomes), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


def _rate(times: list[float], start: float, end: float) -> float:
    return sum(start <= t < end for t in times) / (end - start)


async def test_redis_paused_then_killed_under_load(redis_server: RedisServer) -> None:
    async with serve_fake_discord(
        token="tok", limits={"channels.get": BUCKET}, global_limit=GLOBAL, latency=(0.002, 0.01)
    ) as fake:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WORKER,
                fake.base_url,
                redis_server.url,
                str(RUN),
                cwd=ROOT,
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for p in procs:  # started (imports take seconds on a busy machine)
            assert p.stdout is not None
            line = await asyncio.wait_for(p.stdout.readline(), 60)
            assert line.strip() == b"ready", line
        # read their output as it comes (communicate() would close stdin, the stop signal)
        results = asyncio.gather(
            *(asyncio.gather(p.stdout.read(), p.stderr.read()) for p in procs)  # type: ignore[union-attr]
        )
        assert redis_server.process is not None
        await asyncio.sleep(3.0)
        paused = time.monotonic()
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        await asyncio.sleep(3.0)
        os.kill(redis_server.process.pid, signal.SIGCONT)
        resumed = time.monotonic()
        await asyncio.sleep(RECOVER + 3.0)
        redis_server.stop()
        killed = time.monotonic()
        await asyncio.sleep(1.5)
        await asyncio.to_thread(redis_server.start)
        restarted = time.monotonic()
        await asyncio.sleep(RECOVER + 4.5)  # however long the restart took, load after it
        end = time.monotonic()
        for p in procs:
            p.stdin.close()  # type: ignore[union-attr]  # the workers stop issuing requests
        outputs = await asyncio.wait_for(results, 60)
        for p in procs:
            await asyncio.wait_for(p.wait(), 30)
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()[-3000:]
    outcomes = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    for o, (_, err) in zip(outcomes, outputs, strict=True):
        # every request was answered or failed with the deadline error: none lost or stuck
        assert set(o) <= {"ok", "deadline", "hung"}, (o, err.decode()[-3000:])
        assert o["hung"] == 0 and o["ok"] > 0, o
    shared = [r.time for r in fake.requests if r.route_path == "/channels/1" and r.status == 200]
    full = BUCKET[0] / BUCKET[1]
    rates = (
        _rate(shared, shared[0] + 0.5, paused),
        _rate(shared, resumed + RECOVER, killed),
        _rate(shared, restarted + RECOVER, end),
    )
    global_429 = [round(r.time - paused, 2) for r in fake.requests if r.scope == "global"]
    seen = (
        f"rates before, after the pause, after the restart: {rates} (bucket: {full}/s); "
        f"global 429s at {global_429} s after the pause (resumed at {resumed - paused:.2f}, "
        f"killed at {killed - paused:.2f}, restarted at {restarted - paused:.2f}); "
        f"user 429s {fake.count(429, 'user')}; outcomes {outcomes}"
    )
    print(seen)
    assert shared[0] < paused - 2.5, seen  # the workers were up before the pause
    assert rates[0] >= 0.5 * full, seen
    # capacity comes back within seconds of each recovery (what the bucket gave before, give
    # or take this busy machine's noise), and stays: nothing is counted in flight for good
    # (the bug this guards against left 1/s of 20/s for good: half the earlier rate is a wide
    # margin for a machine busy with other work, and still far from that)
    assert rates[1] >= 0.5 * rates[0], seen
    assert rates[2] >= 0.5 * rates[0], seen
    # while Redis was down each worker took its share of the global limit; a handful of global
    # 429s can come as the workers switch back to Redis at different moments (0-6 seen; the
    # bug, each worker taking the whole limit, gave dozens a second of outage)
    assert len(global_429) <= 10, seen
