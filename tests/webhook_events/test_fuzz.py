"""Generated webhook payloads: never a 5xx, a 400 only for what is no webhook payload at all, and
a handler only with data that fits its model (extra fields kept)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from asgi_interactions import InteractionApp
from asgi_interactions.models.webhook_events import EVENT_DATA, WebhookEventType
from asgi_interactions.testing import InteractionTestClient, KeyPair, webhook_event_payload
from asgi_interactions.webhook_events import WebhookEvent
from asgi_interactions.webhook_events.samples import SAMPLE_DATA

KEYS = KeyPair.generate()
received: list[WebhookEvent[Any]] = []

bot = InteractionApp(public_key=KEYS.public_key, token=None, replay_cache_size=0, freeze_gc=False)
bot.event("*", idempotent=False)(received.append)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
event_types = st.sampled_from([t.value for t in WebhookEventType]) | st.text(max_size=12)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def drained() -> None:
    async with asyncio.timeout(10):
        while bot._runner.tasks:  # noqa: ASYNC110 (the runner's own set)
            await asyncio.sleep(0.005)


@FUZZ
@given(payload=json_values)
async def test_signed_arbitrary_json_never_5xx(payload: Any) -> None:
    async with InteractionTestClient(bot.webhook_events, KEYS, lifespan=False) as client:
        response = await client.send(json.dumps(payload).encode())
    is_webhook = isinstance(payload, dict) and type(payload.get("type")) is int
    assert response.status == (204 if is_webhook else 400), response.body
    if response.status == 400:
        assert set(json.loads(response.body)) == {"error"}


@FUZZ
@given(event_type=event_types, data=json_values, timestamp=json_values)
async def test_any_event_is_acknowledged_and_typed_when_it_fits(
    event_type: str, data: Any, timestamp: Any
) -> None:
    received.clear()
    payload = webhook_event_payload(event_type, {})
    payload["event"]["data"] = data
    payload["event"]["timestamp"] = timestamp
    async with InteractionTestClient(bot.webhook_events, KEYS, lifespan=False) as client:
        response = await client.send(payload)
        await drained()
    assert (response.status, response.body) == (204, b"")
    model = EVENT_DATA.get(event_type)
    try:
        expected = WebhookEvent[model or dict[str, Any]].model_validate(  # type: ignore[misc]
            {"type": event_type, "timestamp": timestamp, "data": {} if data is None else data}
        )
    except ValidationError:
        assert received == []
    else:
        assert [e.data for e in received] == [expected.data]


@FUZZ
@given(
    event_type=st.sampled_from(sorted(SAMPLE_DATA)),
    extra=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=3),
)
async def test_documented_events_keep_fields_discord_adds_later(
    event_type: str, extra: dict[str, Any]
) -> None:
    received.clear()
    payload = webhook_event_payload(event_type)
    data = payload["event"]["data"]
    extra = {f"new_{key}": value for key, value in extra.items()}
    payload["event"]["data"] = data | extra
    payload["event"]["future_field"] = 1
    payload["future_top_level"] = {"x": 1}
    async with InteractionTestClient(bot.webhook_events, KEYS, lifespan=False) as client:
        assert (await client.send(payload)).status == 204
        await drained()
    assert len(received) == 1
    got = received[0].data
    if isinstance(got, dict):
        assert got == data | extra
    else:
        assert (got.model_extra or {}).items() >= extra.items()
