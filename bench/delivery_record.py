"""What the delivery record costs (docs/how-to/gateway-fleet.md, "Exactly once across a crash").

(a) The dispatcher's bookkeeping: 200,000 queued events through one async listener, with and
without tracking, process time per event, median of 7 alternating runs. (b) One record write to
a real ``redis-server`` (``RedisLeases.save_delivered``, one shard): CPU and wall time per write.
Process time, not wall time, so that a busy shared machine moves the figures little.

    PYTHONPATH=$PWD python bench/delivery_record.py
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asgi_interactions.gateway.events import Dispatcher, GatewayEvent
from asgi_interactions.gateway.leases import RedisLeases
from tests.fakes.redis_server import RedisServer

EVENTS = 200_000


async def dispatch(events: list[GatewayEvent], track: bool) -> float:
    """Nanoseconds of process time per event through the dispatcher."""
    dispatcher = Dispatcher()

    async def listener(event: GatewayEvent) -> None:
        return None

    dispatcher.add("*", listener)
    finished = asyncio.Event()
    dispatcher.on_idle = finished.set  # called once: when the queue has run empty
    if track:
        dispatcher.delivered = {}
    dispatcher.pending.extend(events)
    began = time.process_time()
    dispatcher.wake()
    await finished.wait()
    return (time.process_time() - began) / len(events) * 1e9


async def writes(url: str, count: int = 2000) -> tuple[float, float]:
    """Microseconds of (CPU, wall) per record write."""
    leases = RedisLeases(url, "bench-delivery", 5.0, 1.0)
    token = await leases.claim(0, 0)
    for i in range(50):
        await leases.save_delivered([(0, token, "session", i)])
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        await leases.save_delivered([(0, token, "session", 50 + i)])
    result = (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6
    await leases.leave()
    return result


async def main() -> None:
    events = [GatewayEvent("MESSAGE_CREATE", 0, i, {}) for i in range(1, EVENTS + 1)]
    plain, tracked = [], []
    for _ in range(7):
        plain.append(await dispatch(events, False))
        tracked.append(await dispatch(events, True))
    print(
        f"dispatcher: {statistics.median(plain):.0f} ns/event untracked, "
        f"{statistics.median(tracked):.0f} ns/event tracked"
    )
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH")
    redis = RedisServer(binary)
    redis.start()
    try:
        cpu, wall = await writes(redis.url)
    finally:
        redis.stop()
    print(f"record write: {cpu:.0f} us CPU, {wall:.0f} us wall")


if __name__ == "__main__":
    asyncio.run(main())
