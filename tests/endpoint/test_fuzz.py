"""Generated bodies, headers and signatures: never a 500, never an unverified handler call."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_interactions import Context, InteractionApp
from asgi_interactions.testing import InteractionTestClient, KeyPair, command_payload

KEYS = KeyPair.generate()
reached: list[int] = []

bot = InteractionApp(public_key=KEYS.public_key, replay_cache_size=0)


@bot.on(2)
async def handler(ctx: Context) -> str:
    reached.append(ctx.interaction.type)
    return "ok"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=140
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(body=st.binary(max_size=300), signature=header_values, timestamp=header_values)
async def test_unsigned_garbage_is_refused_without_reaching_a_handler(
    body: bytes, signature: str, timestamp: str
) -> None:
    reached.clear()
    async with InteractionTestClient(bot, KEYS, lifespan=False) as client:
        response = await client.send(
            body,
            sign=False,
            headers={"x-signature-ed25519": signature, "x-signature-timestamp": timestamp},
        )
    assert response.status == 401
    assert reached == []
    assert set(response.json) == {"error"}


@FUZZ
@given(payload=json_values)
async def test_signed_arbitrary_json_never_500(payload: Any) -> None:
    async with InteractionTestClient(bot, KEYS, lifespan=False) as client:
        response = await client.send(json.dumps(payload).encode())
    assert response.status in (200, 400), response.body
    if response.status == 400:
        assert set(response.json) == {"error"}


@FUZZ
@given(
    type_=st.integers(min_value=-5, max_value=100),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "data",
                "member",
                "user",
                "guild_id",
                "message",
                "channel",
                "locale",
                "context",
                "id",
                "token",
            ]
        ),
        json_values,
        max_size=4,
    ),
)
async def test_signed_interaction_shapes_never_500(type_: int, extra: dict[str, Any]) -> None:
    payload = {"type": type_, **extra}
    async with InteractionTestClient(bot, KEYS, lifespan=False) as client:
        response = await client.send(payload)
    assert response.status in (200, 400), response.body


@FUZZ
@given(new_component_type=st.integers(min_value=24, max_value=10_000), field=st.text(max_size=10))
async def test_unknown_fields_and_enum_values_are_tolerated(
    new_component_type: int, field: str
) -> None:
    payload = command_payload("x")
    payload["data"]["type"] = new_component_type
    payload["brand_new_field_" + field] = {"nested": [1, 2, 3]}
    payload["member"]["user"]["new_flag"] = True
    async with InteractionTestClient(bot, KEYS, lifespan=False) as client:
        response = await client.send(payload)
    assert response.status == 200
    assert response.content == "ok"


async def test_a_valid_signature_with_a_wrong_key_never_reaches_the_handler() -> None:
    reached.clear()
    other = KeyPair.generate()
    async with InteractionTestClient(bot, other, lifespan=False) as client:
        response = await client.send(command_payload("x"), timestamp=str(int(time.time())))
    assert response.status == 401
    assert reached == []
