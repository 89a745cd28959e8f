"""One process of a test fleet: runs a sharing Gateway against the fake until SIGTERM.

Writes every event it receives (``E shard seq name``) and, every 0.1 s, the shards it runs
(``S 0,2``) to its output file, one line each, flushed, so the test reads them even after a
kill -9. Usage: ``python -m tests.gateway.fleet_worker URL SHARDS REDIS_URL|- LEASE OUT [DIR]``.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from asgi_interactions import Gateway, GatewayEvent, Intents


async def main(
    url: str, shards: int, redis_url: str, lease: float, out: str, lease_dir: str
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    gw = Gateway(
        "token",
        intents=Intents.GUILDS,
        url=url,
        shard_count=shards,
        compress=False,
        redis_url=redis_url if redis_url != "-" else None,
        lease_period=lease,
        lease_dir=lease_dir or None,
        backoff_base=0.05,
        backoff_max=0.5,
        identify_interval=0.0,
        close_timeout=0.5,
    )
    with open(out, "a", buffering=1) as sink:  # noqa: ASYNC230 - line-buffered log

        @gw.listen("*")
        async def record(event: GatewayEvent) -> None:
            sink.write(f"E {event.shard_id} {event.seq} {event.name}\n")

        async def report() -> None:
            while True:
                running = [sid for sid, s in gw.shards.items() if s.state == "ready"]
                sink.write("S " + ",".join(map(str, running)) + "\n")
                await asyncio.sleep(0.1)

        await gw.start()
        reporter = asyncio.ensure_future(report())
        await stop.wait()
        reporter.cancel()
        await gw.close()
        sink.write("S \nCLOSED\n")


if __name__ == "__main__":
    url, shards, redis_url, lease, out = sys.argv[1:6]
    lease_dir = sys.argv[6] if len(sys.argv) > 6 else ""
    asyncio.run(main(url, int(shards), redis_url, float(lease), out, lease_dir))
