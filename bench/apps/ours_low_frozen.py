"""What-if variant of ours_low: `gc.collect(); gc.freeze()` once the lifespan has started.

Not a default configuration: it shows what freezing the startup heap does to p99 (full GC passes
then skip the ~48k objects that imports leave behind). Run: `uvicorn ours_low_frozen:app`.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any

from ours_low import app as _inner

Message = dict[str, Any]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Pass everything through; freeze the GC heap when startup completes."""
    if scope["type"] != "lifespan":
        await _inner(scope, receive, send)
        return

    async def send_and_freeze(message: Message) -> None:
        if message["type"] == "lifespan.startup.complete":
            gc.collect()
            gc.freeze()
        await send(message)

    await _inner(scope, receive, send_and_freeze)
