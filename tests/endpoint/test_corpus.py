"""Every real interaction body of the shared corpus reaches its handler as a full parse sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asgi_interactions import Context, InteractionApp
from asgi_interactions.models import Interaction
from asgi_interactions.testing import InteractionTestClient, KeyPair
from tests.models import payloads as p

# `../shared/corpus/interactions` of the checkout when there is one; the sample payloads always.
_CORPORA = [d / "shared" / "corpus" / "interactions" for d in Path(__file__).resolve().parents]
_FILES = next((sorted(d.glob("*.json")) for d in _CORPORA if d.is_dir()), [])
BODIES = {f.name: f.read_bytes() for f in _FILES} | {
    name: json.dumps(payload).encode() for name, payload in p.ALL.items()
}


@pytest.mark.parametrize("name", sorted(BODIES))
async def test_body_reaches_its_handler_unchanged(keys: KeyPair, name: str) -> None:
    body = BODIES[name]
    seen: list[Interaction] = []
    bot = InteractionApp(public_key=keys.public_key, token=None)

    async def record(ctx: Context) -> None:
        seen.append(ctx.interaction)
        await ctx.defer()  # a valid answer for every type but autocomplete, which gets choices

    async def choices(ctx: Context) -> list[str]:
        seen.append(ctx.interaction)
        return []

    for itype in (2, 3, 5):
        bot.on(itype)(record)
    bot.on(4)(choices)
    full = Interaction.model_validate_json(body)  # every one parses (tests/models/test_corpus.py)
    async with InteractionTestClient(bot, keys, lifespan=False) as client:
        response = await client.send(body)
    assert response.status == 200, response.body
    if full.type == 1:
        assert response.json == {"type": 1}
        return
    if full.type not in (2, 3, 4, 5):
        return
    assert len(seen) == 1
    assert type(seen[0]) is type(full)
    assert seen[0] == full  # every field, deferred ones included, as the full validation has it
