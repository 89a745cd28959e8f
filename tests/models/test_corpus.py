"""Every real interaction payload in the shared corpus parses and reaches its handler.

The corpus (``../shared/corpus/interactions/``, beside the repository) holds bodies Discord sent or
documents, with their sources. Each one is parsed on its own, then sent signed through the app in
process and routed: PINGs to the PONG, components and modals by their ``custom_id`` through the
command layer, commands and autocomplete to a handler that checks what it was given.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from asgi_interactions import Context, InteractionApp, Message
from asgi_interactions.models import Interaction, InteractionType
from asgi_interactions.testing import InteractionTestClient, KeyPair

_ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(
    os.environ.get("ASGI_INTERACTIONS_CORPUS", _ROOT.parent / "shared/corpus/interactions")
)
FILES = sorted(CORPUS.glob("*.json"))
BODIES = {path.stem: path.read_bytes() for path in FILES}


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return KeyPair.generate()


def test_the_corpus_is_there() -> None:
    """A missing corpus must fail, not silently run nothing."""
    assert len(FILES) >= 40, f"no interaction corpus at {CORPUS}"


@pytest.mark.parametrize("name", sorted(BODIES))
def test_payload_parses(name: str) -> None:
    raw = BODIES[name]
    source = json.loads(raw)
    interaction = Interaction.model_validate_json(raw)
    assert interaction.type == source["type"]
    assert interaction.id == (int(source["id"]) if "id" in source else None)
    assert repr(interaction)  # never raises, whatever is missing
    data = source.get("data") or {}
    if interaction.type in (InteractionType.APPLICATION_COMMAND, 4) and "name" in data:
        assert interaction.command_name == data["name"]
    if interaction.type in (InteractionType.MESSAGE_COMPONENT, InteractionType.MODAL_SUBMIT):
        assert interaction.custom_id == data["custom_id"]
    if interaction.invoker is not None:
        source_user = (source.get("member") or {}).get("user") or source.get("user")
        assert interaction.invoker.id == int(source_user["id"])


def _bot(keys: KeyPair, source: dict[str, Any], seen: list[dict[str, Any]]) -> InteractionApp:
    """A bot with exactly the handler this payload should reach, recording what it saw."""
    bot = InteractionApp(public_key=keys.public_key, token=None, freeze_gc=False)
    data = source.get("data") or {}

    def record(ctx: Context, **extra: Any) -> Message:
        seen.append(
            {
                "id": ctx.interaction.id,
                "user": ctx.user.id if ctx.user else None,
                "guild_id": ctx.guild_id,
                "channel_id": ctx.channel_id,
                "values": ctx.values,
                **extra,
            }
        )
        return Message(content="ok", ephemeral=True)

    kind = source["type"]
    if kind == InteractionType.MESSAGE_COMPONENT:

        @bot.component(data["custom_id"])
        async def on_component(ctx: Context) -> Message:
            return record(ctx, custom_id=ctx.interaction.custom_id)

    elif kind == InteractionType.MODAL_SUBMIT:

        @bot.modal(data["custom_id"])
        async def on_modal(ctx: Context, **fields: Any) -> Message:
            return record(ctx, custom_id=ctx.interaction.custom_id, fields=fields)

    elif kind in (InteractionType.APPLICATION_COMMAND, 4):

        @bot.on(kind)
        async def on_command(ctx: Context) -> Any:
            record(ctx, name=ctx.interaction.command_name)
            if kind == 4:
                return []
            return Message(content="ok", ephemeral=True)

    return bot


@pytest.mark.parametrize("name", sorted(BODIES))
async def test_payload_routes_through_the_endpoint(name: str, keys: KeyPair) -> None:
    raw = BODIES[name]
    source = json.loads(raw)
    seen: list[dict[str, Any]] = []
    bot = _bot(keys, source, seen)
    async with InteractionTestClient(bot, keys) as client:
        response = await client.send(raw)
    assert response.status == 200, response.body
    if source["type"] == InteractionType.PING:
        assert response.json == {"type": 1}
        assert seen == []
        return
    assert len(seen) == 1, response.json
    got = seen[0]
    assert got["id"] == (int(source["id"]) if "id" in source else None)
    data = source.get("data") or {}
    if source["type"] == 4:
        assert response.json == {"type": 8, "data": {"choices": []}}
    else:
        assert response.json == {"type": 4, "data": {"content": "ok", "flags": 64}}
    if "custom_id" in got:
        assert got["custom_id"] == data["custom_id"]
    if "name" in got:
        assert got["name"] == data.get("name")
    if source.get("guild_id"):
        assert got["guild_id"] == int(source["guild_id"])
    if "values" in data:
        assert got["values"] == data["values"]
