"""hikari's ``GatewayShardImpl`` driven against the fake gateway, for bench/gateway.py.

Two ways to receive the events:

- ``hikari``: hikari's own ``EventManagerImpl`` with a listener subscribed to
  ``ShardPayloadEvent`` (hikari's raw-payload event), i.e. what a hikari user writes to get every
  dispatch's payload: the same contract as ours (a ``"*"`` listener on the raw dict), and hikari
  runs each listener call in a task of its own, as we did before our inline start.
- ``hikari-raw``: a minimal event manager whose ``consume_raw_event`` hands the raw dict to the
  counter from inside the shard's read loop: the shard alone, with no listener machinery at all
  (no event object, no task): a lower bound on hikari's cost, not what a listener sees.

bench-only: hikari is in bench/requirements.txt, not a dependency.
"""

from __future__ import annotations

from typing import Any

import hikari
from hikari.api.shard import GatewayCompression
from hikari.events.shard_events import ShardPayloadEvent
from hikari.impl import config
from hikari.impl.event_factory import EventFactoryImpl
from hikari.impl.event_manager import EventManagerImpl
from hikari.impl.shard import GatewayShardImpl

COMPRESSION = {
    "zlib-stream": GatewayCompression.TRANSPORT_ZLIB_STREAM,
    "zstd-stream": GatewayCompression.TRANSPORT_ZSTD_STREAM,
}


class _Events:
    """The two calls the shard makes on an event manager."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    def consume_raw_event(self, name: str, shard: Any, data: Any) -> None:
        self.counter.seen(name, data)

    async def dispatch(self, event: Any, **options: Any) -> list[Any]:
        return []


class _Factory:
    def deserialize_connected_event(self, shard: Any) -> None:
        return None

    def deserialize_disconnected_event(self, shard: Any) -> None:
        return None


class HikariRaw:
    name = "hikari-raw"

    def __init__(self, fake: Any, compress: str, counter: Any) -> None:
        self.shard = GatewayShardImpl(
            compression=COMPRESSION[compress],
            intents=hikari.Intents.ALL_UNPRIVILEGED,
            http_settings=config.HTTPSettings(),
            proxy_settings=config.ProxySettings(),
            event_manager=_Events(counter),  # type: ignore[arg-type]
            event_factory=_Factory(),  # type: ignore[arg-type]
            token=fake.token,
            url=fake.url,
        )

    async def start(self) -> None:
        await self.shard.start()

    async def close(self) -> None:
        await self.shard.close()


class Hikari:
    name = "hikari"

    def __init__(self, fake: Any, compress: str, counter: Any) -> None:
        intents = hikari.Intents.ALL_UNPRIVILEGED
        factory = EventFactoryImpl(None)  # type: ignore[arg-type]  # no app: no REST calls here
        manager = EventManagerImpl(None, factory, intents)  # type: ignore[arg-type]

        async def count(event: ShardPayloadEvent) -> None:
            counter.seen(event.name, event.payload)

        manager.subscribe(ShardPayloadEvent, count)
        self.shard = GatewayShardImpl(
            compression=COMPRESSION[compress],
            intents=intents,
            http_settings=config.HTTPSettings(),
            proxy_settings=config.ProxySettings(),
            event_manager=manager,
            event_factory=factory,
            token=fake.token,
            url=fake.url,
        )

    async def start(self) -> None:
        await self.shard.start()

    async def close(self) -> None:
        await self.shard.close()
