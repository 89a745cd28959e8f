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
    python bench/gateway_fleet.py --concurrency 4 --no-restart --runs 5 --trace

``--runs N`` repeats the start (median, min, max at the end); ``--no-restart`` skips (b);
``--trace`` prints each process's start step by step (seconds after its spawn, and its CPU
seconds by then, which other load moves less) and each IDENTIFY window broken down.

Needs ``redis-server`` on PATH. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

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
    return worker.marks().get("imported", math.inf)


def timeline(worker: Worker) -> str:
    """The worker's start, step by step: seconds after its spawn, and (in brackets) the
    process's CPU seconds by then (``--trace``)."""
    marks = sorted(worker.marks().items(), key=lambda item: item[1])
    cpu = worker.marks("C")
    return ", ".join(
        f"{label} {at - worker.spawned:.3f}" + (f" [{cpu[label]:.3f}]" if label in cpu else "")
        for label, at in marks
    )


def identify_steps(workers: list[Worker], concurrency: int) -> list[str]:
    """Per key, each gap between two IDENTIFYs broken down (``--trace``): after the earlier
    one was sent, when its slot was released (READY), when Redis had freed it, when the next
    shard was granted the slot, and when it sent its IDENTIFY (ms)."""
    steps: dict[tuple[int, str], float] = {}
    freed: dict[str, list[float]] = {}
    for w in workers:
        for line in w.lines():
            if line.startswith("P "):
                _, sid, what, at = line.split()
                if what == "granted" or (int(sid), what) not in steps:
                    steps[int(sid), what] = float(at)  # the last grant: the one that sent
            elif line.startswith("R "):
                _, key, at = line.split()
                freed.setdefault(key.rsplit(":", 1)[0], []).append(float(at))
    frees = sorted(t for ts in freed.values() for t in ts)
    first = sorted((at, sid) for (sid, what), at in steps.items() if what == "sent")[:concurrency]
    t0 = first[0][0] if first else 0.0
    out = [
        "first window (ms after its first IDENTIFY): "
        + "; ".join(
            f"shard {sid} queued {(steps[sid, 'waits'] - t0) * 1000:.0f}, granted "
            f"{(steps[sid, 'granted'] - t0) * 1000:.0f}, sent {(at - t0) * 1000:.0f}"
            for at, sid in first
        )
    ]
    for key in range(concurrency):
        order = sorted(
            (at, sid)
            for (sid, what), at in steps.items()
            if what == "sent" and sid % concurrency == key
        )
        parts = []
        for (t0, a), (t1, b) in itertools.pairwise(order):
            rel = steps.get((a, "release"), math.nan) - t0
            free = next((t for t in frees if t >= t0 + rel), math.nan) - t0
            granted = steps.get((b, "granted"), math.nan) - t0
            parts.append(
                f"{a}->{b}: release {rel * 1000:.0f}, freed {free * 1000:.0f}, "
                f"granted {granted * 1000:.0f}, sent {(t1 - t0) * 1000:.0f}"
            )
        out.append(f"key {key}: " + "; ".join(parts))
    return out


def window_gaps(fake: FakeGateway, concurrency: int) -> list[list[float]]:
    """Per rate-limit key, the seconds between its IDENTIFYs as the fake read them."""
    gaps = []
    for key in range(concurrency):
        times = sorted(t for t, sid, _ in fake.identifies if sid % concurrency == key)
        gaps.append([round(b - a, 3) for a, b in itertools.pairwise(times)])
    return gaps


def first_ready(fake: FakeGateway) -> list[float]:
    return [
        at for conn in fake.connections for at, payload in conn.sent if payload.get("t") == "READY"
    ]


async def run(
    concurrency: int, processes: int, shards: int, lease: float, trace: bool, restart: bool
) -> dict[str, Any]:
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
                if trace:
                    env["FLEET_TRACE"] = "1"

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
                    timelines = [timeline(w) for w in workers]
                    steps = identify_steps(workers, concurrency) if trace else []
                    gaps = window_gaps(fake, concurrency)
                    cpu_to_identify = sorted(
                        round(w.marks("C").get("IDENTIFY sent", math.inf), 3) for w in workers
                    )
                    first_identify_by_process = sorted(
                        round(w.marks().get("IDENTIFY sent", math.inf) - w.spawned, 3)
                        for w in workers
                    )
                    began = time.monotonic()
                    for i in range(processes if restart else 0):
                        old = workers[i]
                        await asyncio.to_thread(old.stop)
                        retired.append(old)
                        workers[i] = spawn(f"r{i}")
                        await asyncio.to_thread(  # the successor runs its share
                            wait_for, lambda: balanced(workers, shards, True), 120, "the restart"
                        )
                    restarted = time.monotonic() - began
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
                    "timelines": timelines,
                    "identify_steps": steps,
                    "window_gaps": gaps,
                    "first_identify_by_process": first_identify_by_process,
                    "cpu_to_identify": cpu_to_identify,
                    "restart": restarted,
                    "restart_identifies": len(fake.identifies) - start_identifies,
                    "restart_resumes": len(fake.resumes),
                }
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(mc: int, r: dict[str, Any], trace: bool) -> None:
    over = (r["start"] / r["floor"] - 1) * 100 if r["floor"] else float("nan")
    restart = (
        f"; rolling restart {r['restart']:.2f}s, {r['restart_identifies']:.0f} IDENTIFYs, "
        f"{r['restart_resumes']:.0f} RESUMEs"
        if r["restart"]
        else ""
    )
    print(
        f"max_concurrency {mc}: floor {r['floor']:.1f}s, all READY after {r['start']:.2f}s "
        f"({over:+.1f}% over the floor; first IDENTIFY to last READY "
        f"{r['first_identify_to_last_ready']:.2f}s), {r['start_identifies']:.0f} IDENTIFYs"
        + restart
    )
    print(
        f"  spawn to the first process's imports done {r['spawn_to_imported']:.2f}s, "
        f"to first connection {r['spawn_to_first_connection']:.2f}s, to first "
        f"IDENTIFY {r['spawn_to_first_identify']:.2f}s; IDENTIFYs at (s after the first): "
        f"{r['identifies_at']}"
    )
    print(f"  window gaps per key (s): {r['window_gaps']}")
    if trace:
        print(
            f"  each process, spawn to its first IDENTIFY (s): {r['first_identify_by_process']}"
            f"; its CPU by then (s): {r['cpu_to_identify']}"
        )
        for i, line in enumerate(r["timelines"]):
            print(f"  process {i} (s after its spawn): {line}")
        print("  each window, after the key's previous IDENTIFY was sent (ms):")
        for line in r["identify_steps"]:
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrency", default="4,1", help="max_concurrency values, comma-separated"
    )
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--lease", type=float, default=5.0, help="lease period (the default: 5)")
    parser.add_argument("--runs", type=int, default=1, help="starts per max_concurrency")
    parser.add_argument("--trace", action="store_true", help="each process's start, step by step")
    parser.add_argument("--no-restart", action="store_true", help="measure the start only")
    args = parser.parse_args()
    print(
        f"{args.processes} processes, {args.shards} shards, lease {args.lease}s, window {WINDOW}s"
    )
    for mc in (int(c) for c in args.concurrency.split(",")):
        starts = []
        for _ in range(args.runs):
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]
            print(f"(load average {load})")
            r = asyncio.run(
                run(mc, args.processes, args.shards, args.lease, args.trace, not args.no_restart)
            )
            report(mc, r, args.trace)
            starts.append(r["start"])
        if args.runs > 1:
            floor = (math.ceil(args.shards / mc) - 1) * WINDOW
            pct = sorted(f"{(s / floor - 1) * 100:+.1f}%" for s in starts)
            print(
                f"max_concurrency {mc}, {args.runs} starts: median {median(starts):.2f}s, "
                f"min {min(starts):.2f}s, max {max(starts):.2f}s ({', '.join(pct)})"
            )


if __name__ == "__main__":
    main()
