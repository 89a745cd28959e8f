"""One process of a test fleet: runs a sharing Gateway against the fake until SIGTERM.

Writes when its imports were done (``T imported <monotonic>``), every event it receives
(``E shard seq name``) and, every 0.1 s, the shards it runs (``S 0,2``) to its output file, one
line each, flushed, so the test reads them even after a kill -9.
Usage: ``python -m tests.gateway.fleet_worker URL SHARDS REDIS_URL|- LEASE OUT [DIR]``.
Optional environment: ``FLEET_REST_URL`` (ask the fake REST's ``/gateway/bot`` instead of using
URL), ``FLEET_IDENTIFY_INTERVAL`` (seconds, default 0), ``FLEET_FLOOR`` (session floor),
``FLEET_TRACE`` (write the start's timeline too: ``tests/gateway/fleet_trace.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

STARTED = time.monotonic()  # the interpreter (and asyncio) is up: the library's imports follow

from asgi_interactions import Gateway, GatewayEvent, Intents, RestClient  # noqa: E402

IMPORTED = time.monotonic()  # the clock is system-wide: the benchmark compares it with spawn
IMPORTED_CPU = time.process_time()


async def main(
    url: str, shards: int, redis_url: str, lease: float, out: str, lease_dir: str
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    rest_url = os.environ.get("FLEET_REST_URL")
    rest = RestClient("token", base_url=rest_url) if rest_url else None
    gw = Gateway(
        "token",
        intents=Intents.GUILDS,
        url=None if rest else url,
        rest=rest,
        shard_count=shards,
        compress=False,
        redis_url=redis_url if redis_url != "-" else None,
        lease_period=lease,
        lease_dir=lease_dir or None,
        backoff_base=0.05,
        backoff_max=0.5,
        identify_interval=float(os.environ.get("FLEET_IDENTIFY_INTERVAL", "0")),
        session_floor=int(os.environ.get("FLEET_FLOOR", "0")),
        close_timeout=0.5,
    )
    with open(out, "a", buffering=1) as sink:  # noqa: ASYNC230 - line-buffered log
        sink.write(f"T started {STARTED}\nT imported {IMPORTED}\nC imported {IMPORTED_CPU}\n")
        if os.environ.get("FLEET_TRACE"):
            from tests.gateway.fleet_trace import install

            install(sink)

        @gw.listen("*")
        async def record(event: GatewayEvent) -> None:
            sink.write(f"E {event.shard_id} {event.seq} {event.name}\n")

        async def report() -> None:
            while True:
                running = [sid for sid, s in gw.shards.items() if s.state == "ready"]
                sink.write("S " + ",".join(map(str, running)) + "\n")
                await asyncio.sleep(0.1)

        starting, stopping = asyncio.ensure_future(gw.start()), asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # SIGTERM while starting: stop starting
            starting.cancel()
            await asyncio.wait({starting})
            await gw.close()
            sink.write("S \nCLOSED\n")
            return
        if starting.exception() is not None:
            sink.write(f"ERROR {starting.exception()}\n")
            await gw.close()
            sys.exit(3)
        reporter = asyncio.ensure_future(report())
        failing = asyncio.ensure_future(gw.join())
        await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        reporter.cancel()
        if failing.done() and failing.exception() is not None:
            sink.write(f"ERROR {failing.exception()}\n")
            await gw.close()
            sys.exit(3)
        await gw.close()
        if rest is not None:
            await rest.close()
        sink.write("S \nCLOSED\n")


if __name__ == "__main__":
    url, shards, redis_url, lease, out = sys.argv[1:6]
    lease_dir = sys.argv[6] if len(sys.argv) > 6 else ""
    asyncio.run(main(url, int(shards), redis_url, float(lease), out, lease_dir))
