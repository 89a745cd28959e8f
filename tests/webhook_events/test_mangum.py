"""bot.webhook_events under Mangum (AWS Lambda): the handler is done inside the invocation."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from asgi_interactions import InteractionApp
from asgi_interactions.testing import KeyPair, webhook_event_payload, webhook_ping_payload
from asgi_interactions.webhook_events import ApplicationAuthorized, WebhookEvent

mangum = pytest.importorskip("mangum")

KEYS = KeyPair.generate()


def lambda_event(payload: Any, timestamp: str | None = None) -> dict[str, Any]:
    """A function URL / HTTP API (payload format 2.0) request carrying a signed body."""
    body = json.dumps(payload).encode()
    headers = KEYS.headers(body, timestamp) | {"host": "abc.lambda-url.us-east-1.on.aws"}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Discord-Webhook",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "30/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1795996800000,
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


@pytest.fixture
def fresh_loop() -> Iterator[None]:
    """Each test invokes on a new event loop of its own, as a new Lambda process would."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    yield
    asyncio.get_event_loop().close()
    asyncio.set_event_loop(None)


def make(lifespan: str) -> tuple[Any, list[str], InteractionApp]:
    bot = InteractionApp(public_key=KEYS.public_key, token=None, serverless=True, freeze_gc=False)
    done: list[str] = []

    @bot.event("APPLICATION_AUTHORIZED")
    async def welcome(event: WebhookEvent[ApplicationAuthorized]) -> None:
        await asyncio.sleep(0.3)  # slow: the invocation still waits for it
        done.append(event.data.user.username)

    return mangum.Mangum(bot.webhook_events, lifespan=lifespan), done, bot


@pytest.mark.parametrize("lifespan", ["auto", "off"])
def test_ping_and_a_slow_event_finish_inside_the_invocation(
    lifespan: str, fresh_loop: None
) -> None:
    handler, done, bot = make(lifespan)
    ping = handler(lambda_event(webhook_ping_payload()), {})
    assert (ping["statusCode"], ping.get("body") or "") == (204, "")
    payload = webhook_event_payload("APPLICATION_AUTHORIZED")
    response = handler(lambda_event(payload), {})
    assert (response["statusCode"], response.get("body") or "") == (204, "")
    assert done == ["tester"]  # finished before the invocation returned
    assert not bot._runner.tasks


def test_a_retry_in_a_warm_function_does_not_run_the_handler_again(fresh_loop: None) -> None:
    handler, done, _ = make("auto")
    payload = webhook_event_payload("APPLICATION_AUTHORIZED")
    first = handler(lambda_event(payload), {})

    retry = handler(lambda_event(payload, str(int(time.time()) + 1)), {})
    assert (first["statusCode"], retry["statusCode"]) == (204, 204)
    assert done == ["tester"]


def test_a_bad_signature_is_refused_under_mangum(fresh_loop: None) -> None:
    handler, done, _ = make("auto")
    event = lambda_event(webhook_event_payload("APPLICATION_AUTHORIZED"))
    event["headers"]["x-signature-ed25519"] = "00" * 64
    response = handler(event, {})
    assert response["statusCode"] == 401
    assert done == []
