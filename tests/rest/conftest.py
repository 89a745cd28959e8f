"""Fixtures for the REST client tests: the fake Discord and a throwaway redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord_rest import FakeDiscord, serve_fake_discord
from tests.fakes.redis_server import redis_server

__all__ = ["fake", "redis_server"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """The fake Discord with generous limits, token ``"tok"``."""
    async with serve_fake_discord(token="tok") as server:
        yield server
