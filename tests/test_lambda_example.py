"""examples/lambda/handler.py in process, with the event dicts API Gateway (REST API v1, HTTP API
v2) and a Lambda function URL send, against the fake Discord over a real socket."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from asgi_interactions.rest import RestClient
from asgi_interactions.testing import KeyPair, command_payload, interaction_payload
from tests.fakes.discord_rest import FakeDiscord, serve_fake_discord

pytest.importorskip("mangum")

HANDLER = Path(__file__).resolve().parents[1] / "examples" / "lambda" / "handler.py"
KEYS = KeyPair.generate()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    """The fake Discord on its own thread and loop (Mangum runs loops of its own)."""
    ready = threading.Event()
    holder: list[Any] = []
    loop = asyncio.new_event_loop()

    async def run() -> None:
        stop = asyncio.Event()
        async with serve_fake_discord() as served:
            holder.extend([served, stop])
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(holder[1].set)
        thread.join(30)
        loop.close()


@pytest.fixture
def lambda_module(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A cold start: the handler module imported afresh, with the function's environment."""
    monkeypatch.setenv("DISCORD_PUBLIC_KEY", KEYS.public_key)
    monkeypatch.setenv("DISCORD_TOKEN", "lambda-token")
    monkeypatch.setitem(RestClient.__init__.__kwdefaults__, "base_url", fake.base_url)
    spec = importlib.util.spec_from_file_location("lambda_handler", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _headers(body: bytes) -> dict[str, str]:
    return KEYS.headers(body) | {
        "host": "abc.example.invalid",
        "user-agent": "Discord-Interactions",
    }


def v1_event(body: bytes) -> dict[str, Any]:
    """API Gateway REST API (payload format 1.0)."""
    headers = _headers(body)
    return {
        "resource": "/",
        "path": "/",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/",
            "httpMethod": "POST",
            "path": "/prod/",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "Discord-Interactions"},
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def v2_event(body: bytes, *, function_url: bool = False) -> dict[str, Any]:
    """API Gateway HTTP API (payload format 2.0), or a function URL (the same format)."""
    domain = "abc.lambda-url.us-east-1.on.aws" if function_url else "abc.execute-api.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default" if function_url else "POST /",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": _headers(body),
        "requestContext": {
            "accountId": "anonymous" if function_url else "123456789012",
            "apiId": "abc",
            "domainName": domain,
            "domainPrefix": "abc",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Discord-Interactions",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "30/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1795996800000,
        },
        "body": base64.b64encode(body).decode(),  # function URLs encode JSON bodies too
        "isBase64Encoded": True,
    }


EVENTS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "api-gateway-v1": v1_event,
    "api-gateway-v2": v2_event,
    "function-url": lambda body: v2_event(body, function_url=True),
}


def invoke(module: ModuleType, make: Callable[[bytes], dict[str, Any]], payload: Any) -> Any:
    response = module.handler(make(json.dumps(payload).encode()), {})
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], json.loads(body) if body else None


@pytest.fixture
def fresh_loop() -> Iterator[None]:
    """Each test invokes on a new event loop of its own, as a new Lambda process would."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    yield
    asyncio.get_event_loop().close()
    asyncio.set_event_loop(None)


@pytest.mark.parametrize("kind", EVENTS)
def test_ping_fast_and_slow_commands(
    kind: str, lambda_module: ModuleType, fake: FakeDiscord, fresh_loop: None
) -> None:
    make = EVENTS[kind]
    assert invoke(lambda_module, make, interaction_payload(1)) == (200, {"type": 1})
    status, body = invoke(lambda_module, make, command_payload("hello"))
    assert (status, body["data"]["content"]) == (200, "hello from Lambda")

    slow = command_payload("slow", {"seconds": 0.2})
    token = slow["token"]
    assert invoke(lambda_module, make, slow) == (202, None)
    # Inside the invocation: the deferral was posted first, then the result edited it.
    mine = [r for r in fake.requests if token in r.path]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in mine] == [
        ("POST", "callback"),
        ("PATCH", "@original"),
    ]
    assert [c["payload"]["type"] for c in fake.callbacks if c["token"] == token] == [5]
    assert fake.originals[token]["content"] == "done after 0.2 s"


def test_two_invocations_on_two_loops_reuse_nothing_stale(
    lambda_module: ModuleType, fake: FakeDiscord
) -> None:
    """A warm function whose next invocation runs on another event loop still reaches Discord."""
    for _ in range(2):
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            slow = command_payload("slow", {"seconds": 0.05})
            assert invoke(lambda_module, v2_event, slow) == (202, None)
            assert fake.originals[slow["token"]]["content"] == "done after 0.05 s"
        finally:
            asyncio.get_event_loop().close()
            asyncio.set_event_loop(None)
