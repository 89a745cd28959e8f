"""Timeline of a fleet worker's start (``FLEET_TRACE=1``): when each step first happened.

Wraps a few library methods so that the first call's return (or, for ``begin``, its start)
writes ``T <label> <monotonic>`` and ``C <label> <process CPU seconds>`` to the worker's
output, beside ``T imported``; the benchmark prints the steps relative to the spawn, and the
CPU time they took (which other load on the machine moves less than the wall clock). Only
for measuring: nothing here changes behaviour.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from typing import IO, Any


def install(sink: IO[str]) -> None:
    """Wrap the start's steps, in the order they run."""
    from asgi_interactions.gateway import gateway, identify_queue, leases, shard, sharing
    from asgi_interactions.rest import client

    seen: set[str] = set()
    lock = threading.Lock()

    def mark(label: str) -> None:
        with lock:
            if label not in seen:
                seen.add(label)
                sink.write(f"T {label} {time.monotonic()}\nC {label} {time.process_time()}\n")

    def wrap(owner: Any, name: str, label: str, begin: bool = False) -> None:
        fn = getattr(owner, name, None)
        if fn is None:  # an older version of the library (the benchmark compares them)
            return
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def traced(*args: Any, **kwargs: Any) -> Any:
                if begin:
                    mark(label + " begins")
                result = await fn(*args, **kwargs)
                mark(label)
                return result
        else:

            @functools.wraps(fn)
            def traced(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                if begin:
                    mark(label + " begins")
                result = fn(*args, **kwargs)
                mark(label)
                return result

        setattr(owner, name, traced)

    wrap(client.RestClient, "open", "rest opened", begin=True)
    wrap(client.RestClient, "get_gateway_bot", "GET /gateway/bot", begin=True)
    wrap(gateway, "fleet_gateway_bot", "gateway/bot known", begin=True)  # shared or fetched
    wrap(sharing.SharedShards, "_io_start_shared", "io loop", begin=True)
    wrap(leases.RedisLeases, "__init__", "redis client")
    wrap(leases.RedisLeases, "join", "joined", begin=True)
    wrap(identify_queue.FleetIdentifyQueue, "set_budget", "budget shared")
    wrap(leases.RedisLeases, "claim", "first claim")
    wrap(sharing.SharedShards, "_start_shard", "first shard started")
    wrap(identify_queue.FleetIdentifyQueue, "acquire", "identify slot")
    connect = shard.connect

    async def traced_connect(*args: Any, **kwargs: Any) -> Any:  # an awaitable class
        mark("connected begins")
        ws = await connect(*args, **kwargs)
        mark("connected")
        return ws

    shard.connect = traced_connect  # type: ignore[assignment]
    wrap(identify_queue.FleetIdentifyQueue, "sent", "IDENTIFY sent")
    wrap(gateway.Gateway, "_deliver", "first event (READY)")

    # Per shard (``P <shard> <step> <monotonic>``): the identify queue's steps, for the gaps.
    def step(sid: int, what: str) -> None:
        with lock:
            sink.write(f"P {sid} {what} {time.monotonic()}\n")

    queue = identify_queue.FleetIdentifyQueue
    acquire, sent, release, init = queue.acquire, queue.sent, queue.release, queue.__init__

    async def traced_acquire(self: Any, shard_id: int) -> None:
        step(shard_id, "waits")
        await acquire(self, shard_id)
        step(shard_id, "granted")

    def traced_sent(self: Any, shard_id: int) -> None:
        step(shard_id, "sent")
        sent(self, shard_id)

    def traced_release(self: Any, shard_id: int, *, sent: bool) -> None:
        step(shard_id, "release")
        release(self, shard_id, sent=sent)

    def traced_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        script = self._release

        async def released(*, keys: list[str], args: list[Any]) -> Any:
            result = await script(keys=keys, args=args)
            with lock:
                sink.write(f"R {keys[0]} {time.monotonic()}\n")
            return result

        self._release = released

    queue.acquire, queue.sent, queue.release = traced_acquire, traced_sent, traced_release
    queue.__init__ = traced_init
