"""Shared pieces of the gateway tests: a recording listener and a Gateway with short timings."""

from __future__ import annotations

import threading
from typing import Any

from asgi_interactions import Gateway, GatewayEvent, Intents
from tests.fakes.discord_gateway import FakeGateway


class Recorder:
    """A ``"*"`` listener that records every event it is given, and checks the order."""

    def __init__(self) -> None:
        self.events: list[GatewayEvent] = []
        self._lock = threading.Lock()

    async def __call__(self, event: GatewayEvent) -> None:
        with self._lock:
            self.events.append(event)

    def seqs(self, shard_id: int = 0) -> list[int | None]:
        return [e.seq for e in self.events if e.shard_id == shard_id]

    def named(self, name: str) -> list[GatewayEvent]:
        return [e for e in self.events if e.name == name]

    def markers(self, shard_id: int = 0) -> list[Any]:
        """The ``n`` markers of the test's own dispatches, in the order received."""
        return [
            e.data["n"]
            for e in self.events
            if e.shard_id == shard_id and isinstance(e.data, dict) and "n" in e.data
        ]


def exactly_once_in_order(rec: Recorder, fake: FakeGateway, shard_id: int = 0) -> None:
    """Listeners saw every dispatch of every session of the shard once, in the fake's order."""
    expected = [p for s in fake.sessions.values() if s.shard[0] == shard_id for p in s.log]
    got = [e for e in rec.events if e.shard_id == shard_id]
    assert [(e.name, e.seq) for e in got] == [(p["t"], p["s"]) for p in expected]


def make_gateway(fake: FakeGateway, **options: Any) -> Gateway:
    options.setdefault("intents", Intents.GUILDS | Intents.GUILD_MESSAGES)
    options.setdefault("compress", False)
    options.setdefault("backoff_base", 0.05)
    options.setdefault("backoff_max", 0.5)
    options.setdefault("identify_interval", 0.0)
    options.setdefault("close_timeout", 0.5)
    options.setdefault("hello_timeout", 5.0)
    return Gateway(fake.token, url=fake.url, **options)
