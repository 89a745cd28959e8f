"""Shared helpers for the command-layer tests: a stand-in Context and a dispatch shortcut."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asgi_interactions.commands import CommandTree
from asgi_interactions.models import Interaction
from asgi_interactions.rest import RestClient
from tests.fakes.discord_rest import serve_fake_discord


class StubContext:
    """The two attributes the tree reads: ``interaction`` and ``values``."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.interaction = Interaction.model_validate(payload)

    @property
    def values(self) -> list[str]:
        data = self.interaction.data
        values = getattr(data, "values", None)
        return list(values) if isinstance(values, list) else []


async def dispatch(tree: CommandTree, payload: dict[str, Any]) -> Any:
    """Parse `payload` and run the tree's handler for it."""
    return await tree.dispatch(StubContext(payload))


def command(name: str, options: list[dict[str, Any]] | None = None, **data: Any) -> dict[str, Any]:
    """A minimal APPLICATION_COMMAND interaction."""
    body: dict[str, Any] = {"name": name, "type": 1, "options": options or [], **data}
    return {"type": 2, "id": "1", "token": "t", "data": body}


@asynccontextmanager
async def fake_discord(**options: Any) -> AsyncIterator[tuple[Any, RestClient]]:
    """The fake Discord server and a RestClient pointed at it."""
    async with (
        serve_fake_discord(**options) as fake,
        RestClient("token", base_url=fake.base_url) as rest,
    ):
        yield fake, rest
