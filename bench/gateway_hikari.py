"""hikari's ``GatewayShardImpl`` driven against the fake gateway, for bench/gateway.py.

Events go to a minimal event manager whose ``consume_raw_event`` hands the raw dict to the
counter: the shard's own decode-and-deliver path, without hikari's event objects (ours also
delivers the raw dict). bench-only: hikari is in bench/requirements.txt, not a dependency.
"""

from __future__ import annotations

from typing import Any

import hikari
from hikari.api.shard import GatewayCompression
from hikari.impl import config
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


class Hikari:
    name = "hikari"

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
