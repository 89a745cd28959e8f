"""Fleet benchmark: 4 processes sharing 16 shards through Redis, against tests/fakes.

(a) Start: the time from spawning the processes to every shard READY, against the floor of
``ceil(16 / max_concurrency) - 1`` IDENTIFY windows of 5 s (Discord's spacing, enforced by the
fake: a too-early IDENTIFY gets op 9, which would show as extra IDENTIFYs). Also from the first
IDENTIFY the fake read to the last READY it sent, which leaves out Python's start-up.
(b) Rolling restart: each process in turn gets SIGTERM and a successor is spawned; the time until
every shard runs again, spread evenly over the new fleet, and the IDENTIFYs it cost (the target
is 0: RESUMEs).

    python bench/gateway_fleet.py                        # max_concurrency 4 and 1, ~2.5 min
    python bench/gateway_fleet.py --concurrency 4 --lease 5

Needs ``redis-server`` on PATH. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.discord_gateway import FakeGateway, serve_fake_gateway
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer
from tests.gateway.fleet import Worker, assert_one_holder_at_a_time, wait_for

WINDOW = 5.0


def balanced(workers: list[Worker], shards: int, even: bool = False) -> bool:
    """Every shard READY in one worker (and with ``even``, spread within one of each other)."""
    sets = [w.running() for w in workers]
    counts = [len(s) for s in sets]
    spread = not even or max(counts) - min(counts) <= 1
    return sum(counts) == shards and set().union(*sets) == set(range(shards)) and spread


def imported(worker: Worker) -> float:
    """When the worker's imports were done (``time.monotonic()``, system-wide)."""
    for line in worker.lines():
        if line.startswith("T imported "):
            return float(line.split()[2])
    return math.inf


def first_ready(fake: FakeGateway) -> list[float]:
    return [
        at for conn in fake.connections for at, payload in conn.sent if payload.get("t") == "READY"
    ]


async def run(concurrency: int, processes: int, shards: int, lease: float) -> dict[str, float]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH")
    redis = RedisServer(binary)
    redis.start()
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    try:
        with serve_fake_gateway(
            heartbeat_interval=41_250, max_concurrency=concurrency, identify_interval=WINDOW - 0.1
        ) as fake:
            async with serve_fake_discord(
                gateway_url=fake.url, shards=shards, max_concurrency=concurrency
            ) as discord:
                env = {"FLEET_REST_URL": discord.base_url, "FLEET_IDENTIFY_INTERVAL": str(WINDOW)}

                def spawn(name: str) -> Worker:
                    return Worker(fake, shards, redis.url, lease, tmp / f"{name}.log", env=env)

                began = spawned = time.monotonic()
                workers = [spawn(f"w{i}") for i in range(processes)]
                retired: list[Worker] = []
                try:
                    await asyncio.to_thread(
                        wait_for, lambda: balanced(workers, shards), 300, "every shard READY"
                    )
                    readies = first_ready(fake)
                    started = max(readies) - began
                    first_identify = min(t for t, _, _ in fake.identifies)
                    from_first = max(readies) - first_identify
                    windows = sorted(round(t - first_identify, 2) for t, _, _ in fake.identifies)
                    first_conn = min(c.opened_at for c in fake.connections) - spawned
                    first_imported = min(imported(w) for w in workers) - spawned
                    start_identifies = len(fake.identifies)
                    began = time.monotonic()
                    for i in range(processes):
                        old = workers[i]
                        await asyncio.to_thread(old.stop)
                        retired.append(old)
                        workers[i] = spawn(f"r{i}")
                        await asyncio.to_thread(  # the successor runs its share
                            wait_for, lambda: balanced(workers, shards, True), 120, "the restart"
                        )
                    restart = time.monotonic() - began
                    assert_one_holder_at_a_time(fake)
                finally:  # off the loop: the fake REST server answers a late starter
                    for w in workers:
                        if w.process.poll() is None:
                            w.process.terminate()
                    for w in workers:
                        await asyncio.to_thread(w.process.wait, 30)
                return {
                    "floor": (math.ceil(shards / concurrency) - 1) * WINDOW,
                    "start": started,
                    "first_identify_to_last_ready": from_first,
                    "spawn_to_first_identify": first_identify - spawned,
                    "spawn_to_first_connection": first_conn,
                    "spawn_to_imported": first_imported,
                    "identifies_at": windows,
                    "start_identifies": start_identifies,
                    "restart": restart,
                    "restart_identifies": len(fake.identifies) - start_identifies,
                    "restart_resumes": len(fake.resumes),
                }
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrency", default="4,1", help="max_concurrency values, comma-separated"
    )
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--lease", type=float, default=5.0, help="lease period (the default: 5)")
    args = parser.parse_args()
    print(
        f"{args.processes} processes, {args.shards} shards, lease {args.lease}s, window {WINDOW}s"
    )
    for mc in (int(c) for c in args.concurrency.split(",")):
        r = asyncio.run(run(mc, args.processes, args.shards, args.lease))
        over = (r["start"] / r["floor"] - 1) * 100 if r["floor"] else float("nan")
        print(
            f"max_concurrency {mc}: floor {r['floor']:.1f}s, all READY after {r['start']:.2f}s "
            f"({over:+.1f}% over the floor; first IDENTIFY to last READY "
            f"{r['first_identify_to_last_ready']:.2f}s), {r['start_identifies']:.0f} IDENTIFYs; "
            f"rolling restart {r['restart']:.2f}s, {r['restart_identifies']:.0f} IDENTIFYs, "
            f"{r['restart_resumes']:.0f} RESUMEs"
        )
        print(
            f"  spawn to the first process's imports done {r['spawn_to_imported']:.2f}s, "
            f"to first connection {r['spawn_to_first_connection']:.2f}s, to first "
            f"IDENTIFY {r['spawn_to_first_identify']:.2f}s; IDENTIFYs at (s after the first): "
            f"{r['identifies_at']}"
        )


if __name__ == "__main__":
    main()
