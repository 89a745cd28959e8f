"""``GET /gateway/bot`` once for a fleet starting together: the answer is shared in Redis.

Processes of one bot that start at the same time (``uvicorn --workers N``, a deploy) all need
the gateway URL, the shard count, ``max_concurrency`` and the session budget. The first to ask
takes a short lock and fetches; the others wait for its answer (stored for ``TTL`` seconds)
instead of sending the same request, so they neither load the HTTP stack nor use the REST
rate limit, and the one that fetches gets the CPU to itself. Nothing here is needed for
correctness: if Redis cannot be reached, the lock holder fails or is slow (``WAIT`` seconds),
a process asks Discord itself. The cached budget may be ``TTL`` seconds old; the fleet's own
count (``identify_queue.py``) only ever goes down, and every IDENTIFY counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pydantic_core

__all__ = ["fleet_gateway_bot"]

log = logging.getLogger("asgi_interactions.gateway")

#: Seconds the fleet reuses an answer: processes that start together, not a day's budget.
TTL = 10.0
#: Seconds the fetching process holds its lock (then another may fetch).
LOCK = 10.0
#: Seconds a process waits for another's answer before asking Discord itself.
WAIT = 5.0
#: Seconds between two looks for the answer.
POLL = 0.01


def _key(token: str, base_url: str) -> str:
    """Per bot and REST base URL; the token's hash, never the token."""
    digest = hashlib.sha256(f"{token}\0{base_url}".encode()).hexdigest()[:16]
    return f"asgi_interactions:gateway:{digest}:gateway-bot"


async def fleet_gateway_bot(
    redis_url: str,
    token: str,
    base_url: str,
    fetch: Callable[[], Awaitable[Any]],
    *,
    socket_timeout: float = 0.5,
) -> Any:
    """``fetch()``'s answer (``GET /gateway/bot``), shared with the fleet through Redis."""
    from redis.exceptions import RedisError

    from ..shared_state import _redis_module

    key, lock = _key(token, base_url), _key(token, base_url) + ":lock"
    client: Any = _redis_module().Redis.from_url(
        redis_url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
    )
    held = False
    try:
        try:
            held, found = await _shared_or_turn(client, key, lock)
            if found is not None:
                return found
        except (RedisError, OSError, ValueError) as exc:  # ValueError: not our JSON
            log.warning("GET /gateway/bot not shared: %s", exc)
            return await fetch()
        info = await fetch()
        with contextlib.suppress(RedisError, OSError):  # else the others ask Discord
            await client.set(key, pydantic_core.to_json(info), px=int(TTL * 1000))
        return info
    finally:
        if held:  # answered or failed: either way the others stop waiting on this process
            with contextlib.suppress(RedisError, OSError):  # else it expires
                await client.delete(lock)
        await client.aclose()


async def _shared_or_turn(client: Any, key: str, lock: str) -> tuple[bool, Any]:
    """``(False, answer)`` once another process's answer is there, ``(True, None)`` when this
    process took the lock, ``(False, None)`` when it should fetch without it (waited enough)."""
    deadline = time.monotonic() + WAIT
    while True:
        found, locked = await client.mget(key, lock)
        if found is not None:
            return False, pydantic_core.from_json(found)
        if locked is None and await client.set(lock, b"1", nx=True, px=int(LOCK * 1000)):
            return True, None
        if time.monotonic() > deadline:
            log.warning("no shared GET /gateway/bot answer after %.0fs; asking Discord", WAIT)
            return False, None
        await asyncio.sleep(POLL)
