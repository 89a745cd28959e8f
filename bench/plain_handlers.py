"""How long 20 concurrent async interactions take while a plain ``def`` handler sleeps 1 s.

The server runs under uvicorn in its own thread and event loop, so a blocked server loop shows
in the client's clock. Run from the repository root:

    PYTHONPATH=$PWD python bench/plain_handlers.py
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

from asgi_interactions import Context, InteractionApp
from asgi_interactions.testing import InteractionTestClient, KeyPair
from tests.endpoint.test_sync_handlers import serve_in_own_thread


async def main(rounds: int = 3) -> None:
    keys = KeyPair.generate()
    bot = InteractionApp(public_key=keys.public_key, token=None)
    sleeping = threading.Event()

    @bot.command()
    def slow(ctx: Context) -> str:
        sleeping.set()
        time.sleep(1.0)
        return "slept"

    @bot.command()
    async def fast(ctx: Context) -> str:
        return "fast"

    async def timed(client: InteractionTestClient) -> float:
        started = time.monotonic()
        await client.command("fast")
        return time.monotonic() - started

    async with serve_in_own_thread(bot) as url, InteractionTestClient(url, keys) as client:
        for _ in range(rounds):
            sleeping.clear()
            slow_call = asyncio.ensure_future(client.command("slow"))
            async with asyncio.timeout(10):
                while not sleeping.is_set():  # noqa: ASYNC110 - set from the handler's thread
                    await asyncio.sleep(0.005)
            took = await asyncio.gather(*(timed(client) for _ in range(20)))
            await slow_call
            print(
                f"20 async interactions during a 1 s plain-def sleep: median "
                f"{statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms"
            )


if __name__ == "__main__":
    asyncio.run(main())
