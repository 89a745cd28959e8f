"""Strict where it matters: the interaction `type` is a JSON integer; tokens stay out of reprs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_interactions import Context, InteractionApp
from asgi_interactions.models import CommandInteraction, Interaction, parse_interaction
from asgi_interactions.testing import InteractionTestClient, KeyPair, command_payload

Connect = Callable[[InteractionApp], Any]


@pytest.mark.parametrize(
    "raw_type", ["true", "false", "1.0", "2.0", "1e0", '"1"', "[1]", '{"v": 1}'], ids=str
)
async def test_type_that_is_not_an_integer_gets_400(
    make_bot: Callable[..., InteractionApp], connect: Connect, raw_type: str
) -> None:
    """Regression: ``{"type": true}`` and ``{"type": 1.0}`` were answered as PINGs."""
    async with connect(make_bot()) as client:
        response = await client.send(b'{"type": %s}' % raw_type.encode())
    assert response.status == 400
    assert response.json == {"error": "interaction type must be an integer"}


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
    | st.lists(st.integers(), max_size=2)
)
async def test_only_json_integers_are_types(
    make_bot: Callable[..., InteractionApp], keys: KeyPair, value: Any
) -> None:
    async with InteractionTestClient(make_bot(replay_cache_size=0), keys) as client:
        response = await client.send(json.dumps({"type": value}).encode())
    assert response.status == 400
    assert response.json == {"error": "interaction type must be an integer"}


def test_integer_types_still_parse_to_their_models() -> None:
    assert type(parse_interaction(b'{"type": 2}')) is CommandInteraction
    assert type(parse_interaction({"type": 2})) is CommandInteraction
    assert type(parse_interaction(b'{"type": 99}')) is Interaction
    with pytest.raises(ValueError, match="integer"):
        parse_interaction({"type": True})


def test_token_is_not_in_repr_or_str_but_is_kept() -> None:
    """Regression: ``repr()`` of an Interaction showed its token (a 15-minute credential)."""
    payload = command_payload("echo", token="tok-SECRET-0123456789")
    interaction = parse_interaction(json.dumps(payload).encode())
    assert interaction.token == "tok-SECRET-0123456789"
    for text in (repr(interaction), str(interaction), f"{interaction!r}", f"{interaction}"):
        assert "SECRET" not in text
    assert "SECRET" in interaction.model_dump_json()  # what Discord sent is still all there


async def test_context_repr_has_no_token(
    make_bot: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    seen: list[str] = []
    bot = make_bot()

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        seen.append(f"{ctx!r} {ctx} {ctx.interaction!r} {ctx.interaction}")
        return "ok"

    async with InteractionTestClient(bot, keys) as client:
        response = await client.send(command_payload("x", token="tok-SECRET-42"))
    assert response.status == 200
    assert len(seen) == 1
    assert "SECRET" not in seen[0]
