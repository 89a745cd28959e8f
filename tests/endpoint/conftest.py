"""Fixtures for endpoint tests: a key pair, a bot factory, and clients in process or via uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asgi_interactions import InteractionApp, RestClient
from asgi_interactions.testing import InteractionTestClient, KeyPair
from tests.fakes.discord_rest import FakeDiscord, serve_fake_discord
from tests.serve import serve


@pytest.fixture(scope="session")
def keys() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def make_bot(keys: KeyPair) -> Callable[..., InteractionApp]:
    def factory(**kwargs: Any) -> InteractionApp:
        kwargs.setdefault("token", None)
        return InteractionApp(public_key=keys.public_key, **kwargs)

    return factory


@pytest.fixture(params=["in-process", "uvicorn"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(transport: str, keys: KeyPair) -> Callable[[InteractionApp], Any]:
    """``async with connect(bot) as client``: the same test in process and under uvicorn."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def open_client(bot: InteractionApp) -> AsyncIterator[InteractionTestClient]:
        if transport == "in-process":
            async with InteractionTestClient(bot, keys) as client:
                yield client
        else:
            async with serve(bot, lifespan="on") as url, InteractionTestClient(url, keys) as client:
                yield client

    return open_client


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fake Discord REST server on a loopback port."""
    async with serve_fake_discord() as server:
        yield server


@pytest.fixture
def bot_with_fake(keys: KeyPair, fake: FakeDiscord) -> Callable[..., InteractionApp]:
    """A bot whose REST client talks to ``fake``; auto-defer after 0.15 s unless told."""

    def factory(**kwargs: Any) -> InteractionApp:
        kwargs.setdefault("defer_after", 0.15)
        rest = RestClient(None, base_url=fake.base_url)
        return InteractionApp(public_key=keys.public_key, rest=rest, **kwargs)

    return factory
