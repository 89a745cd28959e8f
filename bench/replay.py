"""Cost of the replay check: the local store once full, and the Redis round trip.

    PYTHONPATH=$PWD python bench/replay.py                       # this checkout
    git show a367ce3:asgi_interactions/verify.py > /tmp/old_verify.py
    PYTHONPATH=$PWD python bench/replay.py --old /tmp/old_verify.py   # and the old dict-as-queue

Instructions (no machine noise): run one case under callgrind with N=0 and N=20000 calls and
divide the difference by 20,000 (`loop` is the same loop calling a no-op):

    for n in 0 20000; do PYTHONPATH=$PWD valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      python bench/replay.py --case new --size 100000 --n $n 2>&1 | grep Collected; done

Local: each store is filled past full with distinct 64-byte keys at 1,000 requests/s of signed
time, then timed over 200,000 more (best of 3, the loop's own cost subtracted). Redis: a
throwaway redis-server on a loopback port (needs `redis-server` on PATH); 19,000 checks awaited
one after another (latency), then 19,200 in groups of 64 in flight (as under load); CPU is this
process's (`time.process_time`), so it excludes redis-server's own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
import timeit
from pathlib import Path
from typing import Any

from asgi_interactions.shared_state import SharedState
from asgi_interactions.verify import ReplayCache, SharedReplayStore

N, RATE, T0 = 200_000, 1000, 1_700_000_000.0


def local(size: int, old: Any) -> None:
    keys = [os.urandom(64) for _ in range(size + 20_000 + N)]
    fill, rest = keys[: size + 20_000], keys[size + 20_000 :]
    new = ReplayCache(size)
    new.warned = True  # 1,000/s overflows it: it would warn once; keep the output clean
    for i, k in enumerate(fill):
        new.seen(k, T0 + i // RATE, T0 + i / RATE)

    def run_new() -> None:
        i = len(fill)
        for k in rest:
            new.seen(k, T0 + i // RATE, T0 + i / RATE)
            i += 1

    def loop_new() -> None:
        i = len(fill)
        for k in rest:
            (k, T0 + i // RATE, T0 + i / RATE)
            i += 1

    def best(f: Any) -> float:
        return min(timeit.repeat(f, number=1, repeat=3))

    line = f"local store, {size:>7,} entries: {(best(run_new) - best(loop_new)) / N * 1e6:.2f} us"
    if old is not None:
        cache = old(size, ttl=300.0)
        for k in fill:
            cache.seen(k)

        def run_old() -> None:
            for k in rest:
                cache.seen(k)

        def loop_old() -> None:
            for _ in rest:
                pass

        line += f" (old: {(best(run_old) - best(loop_old)) / N * 1e6:.2f} us)"
    print(line + " per request once full")


async def redis() -> None:
    from tests.fakes.redis_server import RedisServer

    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server not found: Redis part skipped")
        return
    server = RedisServer(binary)
    server.start()
    try:
        shared = SharedState(server.url)
        store = SharedReplayStore(shared, ReplayCache())
        now = time.time()
        keys = [os.urandom(64) for _ in range(20_000)]
        for k in keys[:1000]:  # connect and warm up
            await store.seen(k, now, now)
        wall, cpu = time.perf_counter(), time.process_time()
        for k in keys[1000:]:
            await store.seen(k, now, now)
        n = len(keys) - 1000
        print(
            f"Redis, one at a time: {(time.perf_counter() - wall) / n * 1e6:.0f} us wall, "
            f"{(time.process_time() - cpu) / n * 1e6:.0f} us CPU per check"
        )
        keys = [os.urandom(64) for _ in range(19_200)]
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(keys), 64):
            await asyncio.gather(*(store.seen(k, now, now) for k in keys[i : i + 64]))
        print(
            f"Redis, 64 in flight:  {(time.perf_counter() - wall) / len(keys) * 1e6:.0f} us wall, "
            f"{(time.process_time() - cpu) / len(keys) * 1e6:.0f} us CPU per check"
        )
        await shared.aclose()
    finally:
        server.stop()


def case(which: str, size: int, n: int, old: Any) -> None:
    """Fill one store past full, then make ``n`` more calls (for callgrind)."""
    keys = [os.urandom(64) for _ in range(size + 20_000 + n)]
    if which == "old":
        cache = old(size, ttl=300.0)
        for k in keys:
            cache.seen(k)
        return

    class Noop:
        def seen(self, key: bytes, stamp: float, now: float) -> bool:
            return False

    store: Any = ReplayCache(size)
    store.warned = True
    for i, k in enumerate(keys):
        if i == size + 20_000 and which == "loop":
            store = Noop()
        store.seen(k, T0 + i // RATE, T0 + i / RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="an older verify.py whose ReplayCache(size, ttl) to compare")
    parser.add_argument("--case", choices=["new", "old", "loop"], help="one case, for callgrind")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--n", type=int, default=0)
    args = parser.parse_args()
    old = None
    if args.old:
        source = Path(args.old).read_text().replace("from .errors", "from asgi_interactions.errors")
        namespace: dict[str, Any] = {}
        exec(compile(source, args.old, "exec"), namespace)
        old = namespace["ReplayCache"]
    if args.case:
        case(args.case, args.size, args.n, old)
        return
    for size in (10_000, 100_000):
        local(size, old)
    asyncio.run(redis())


if __name__ == "__main__":
    main()
