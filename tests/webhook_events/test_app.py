"""bot.webhook_events in process and under uvicorn: PING, signatures, typed handlers, unknown
types, redeliveries, slow handlers and shutdown, mounting next to the bot."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from asgi_interactions import InteractionApp
from asgi_interactions.errors import ConfigurationError
from asgi_interactions.models import Entitlement
from asgi_interactions.testing import (
    InteractionTestClient,
    KeyPair,
    webhook_event_payload,
)
from asgi_interactions.webhook_events import (
    ApplicationAuthorized,
    ApplicationDeauthorized,
    GameDirectMessage,
    LobbyMessage,
    LobbyMessageDelete,
    WebhookEvent,
    WebhookEventType,
)
from asgi_interactions.webhook_events.samples import SAMPLE_DATA
from tests.serve import serve

KEYS = KeyPair.generate()
LOG = "asgi_interactions.webhook_events"


def make_bot(**kwargs: Any) -> InteractionApp:
    kwargs.setdefault("token", None)
    kwargs.setdefault("freeze_gc", False)
    return InteractionApp(public_key=KEYS.public_key, **kwargs)


@pytest.fixture(params=["in-process", "uvicorn"])
def connect(request: pytest.FixtureRequest) -> Callable[[InteractionApp], Any]:
    """``async with connect(bot) as client``: a client of bot.webhook_events, served alone."""

    @asynccontextmanager
    async def open_client(bot: InteractionApp) -> AsyncIterator[InteractionTestClient]:
        if request.param == "in-process":
            async with InteractionTestClient(bot.webhook_events, KEYS) as client:
                yield client
        else:
            async with (
                serve(bot.webhook_events, lifespan="on") as url,
                InteractionTestClient(url, KEYS) as client,
            ):
                yield client

    return open_client


def later(seconds: int = 1) -> str:
    """A signature timestamp other than now's: a new signature for the same body."""
    return str(int(time.time()) + seconds)


async def settle(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (a condition on plain data, polled)
            await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- PING and auth


async def test_ping_is_answered_204_with_an_empty_body(connect: Any) -> None:
    async with connect(make_bot()) as client:
        response = await client.webhook_ping()
    assert response.status == 204
    assert response.body == b""
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-signature-ed25519": "00" * 64, "x-signature-timestamp": "1"},
        {"x-signature-ed25519": "zz", "x-signature-timestamp": "1"},
    ],
    ids=["missing", "stale-and-wrong", "malformed"],
)
async def test_bad_signatures_get_401_and_run_nothing(connect: Any, headers: Any) -> None:
    bot = make_bot()
    runs: list[Any] = []
    bot.event("ENTITLEMENT_CREATE")(runs.append)
    body = json.dumps(webhook_event_payload("ENTITLEMENT_CREATE")).encode()
    async with connect(bot) as client:
        response = await client.send(body, sign=False, headers=headers)
        wrong_key = InteractionTestClient(bot.webhook_events, KeyPair.generate(), lifespan=False)
        async with wrong_key:
            assert (await wrong_key.send(body)).status == 401
    assert response.status == 401
    assert json.loads(response.body)["error"]
    assert runs == []


async def test_a_replayed_signed_request_is_refused(connect: Any) -> None:
    bot = make_bot()
    body = json.dumps(webhook_event_payload("ENTITLEMENT_CREATE")).encode()
    async with connect(bot) as client:
        ts = str(int(time.time()))
        assert (await client.send(body, timestamp=ts)).status == 204
        assert (await client.send(body, timestamp=ts)).status == 401


async def test_identical_pings_are_all_answered(connect: Any) -> None:
    """A PING has no id: two in one second are the same signed bytes, and both get 204."""
    body = json.dumps({"version": 1, "application_id": "1", "type": 0}).encode()
    async with connect(make_bot()) as client:
        ts = str(int(time.time()))
        for _ in range(3):
            assert (await client.send(body, timestamp=ts)).status == 204


async def test_other_methods_and_paths(connect: Any) -> None:
    async with connect(make_bot()) as client:
        assert client._http is not None
        url = client._url
        got = await client._http.get(url)
        assert (got.status_code, got.headers["allow"]) == (405, "POST")
        other = await client._http.post(url.rstrip("/") + "/elsewhere", content=b"{}")
        assert other.status_code == 404


# --------------------------------------------------------------------------- typed handlers

MODELS: dict[str, type] = {
    "APPLICATION_AUTHORIZED": ApplicationAuthorized,
    "APPLICATION_DEAUTHORIZED": ApplicationDeauthorized,
    "ENTITLEMENT_CREATE": Entitlement,
    "ENTITLEMENT_UPDATE": Entitlement,
    "ENTITLEMENT_DELETE": Entitlement,
    "QUEST_USER_ENROLLMENT": dict,
    "LOBBY_MESSAGE_CREATE": LobbyMessage,
    "LOBBY_MESSAGE_UPDATE": LobbyMessage,
    "LOBBY_MESSAGE_DELETE": LobbyMessageDelete,
    "GAME_DIRECT_MESSAGE_CREATE": GameDirectMessage,
    "GAME_DIRECT_MESSAGE_UPDATE": GameDirectMessage,
    "GAME_DIRECT_MESSAGE_DELETE": GameDirectMessage,
}


def test_every_documented_type_has_a_model_and_a_sample() -> None:
    assert set(MODELS) == {t.value for t in WebhookEventType} == set(SAMPLE_DATA)


async def test_each_documented_event_reaches_its_typed_handler(connect: Any) -> None:
    bot = make_bot()
    seen: dict[str, WebhookEvent[Any]] = {}

    for name in MODELS:

        @bot.event(name)
        async def handler(event: WebhookEvent[Any]) -> None:
            seen[event.type] = event

    async with connect(bot) as client:
        for name in MODELS:
            response = await client.webhook_event(name)
            assert (response.status, response.body) == (204, b""), name
        await settle(lambda: len(seen) == len(MODELS))
    for name, model in MODELS.items():
        assert isinstance(seen[name].data, model), name
        assert seen[name].application_id == 1100000000000000001
        assert seen[name].version == 1


async def test_the_documented_examples_parse_as_documented(connect: Any) -> None:
    bot = make_bot()
    got: list[WebhookEvent[Any]] = []
    bot.event("APPLICATION_AUTHORIZED")(got.append)  # a plain function: runs in a thread
    bot.event(WebhookEventType.ENTITLEMENT_CREATE)(got.append)
    authorized = {
        "version": 1,
        "application_id": "1234560123453231555",
        "type": 1,
        "event": {
            "type": "APPLICATION_AUTHORIZED",
            "timestamp": "2024-10-18T14:42:53.064834",
            "data": {
                "integration_type": 0,
                "scopes": ["applications.commands", "bot"],
                "user": {"id": "111178765189277770", "username": "someone", "new_field": 1},
                "guild": {"id": "1100000000000000002", "name": "A server", "features": []},
            },
        },
    }
    entitlement = webhook_event_payload(
        "ENTITLEMENT_CREATE",
        {
            "application_id": "1234560123453231555",
            "consumed": False,
            "deleted": False,
            "gift_code_flags": 0,
            "id": "1234505980407808808",
            "promotion_id": None,
            "sku_id": "123489045643835123",
            "type": 4,
            "user_id": "111178765189277770",
        },
    )
    async with connect(bot) as client:
        assert (await client.send(authorized)).status == 204
        assert (await client.send(entitlement)).status == 204
        await settle(lambda: len(got) == 2)
    by_type = {event.type: event for event in got}
    auth = by_type["APPLICATION_AUTHORIZED"].data
    assert isinstance(auth, ApplicationAuthorized)
    assert auth.user.id == 111178765189277770 and auth.user.model_extra == {"new_field": 1}
    assert auth.scopes == ["applications.commands", "bot"]
    assert auth.integration_type == 0 and auth.guild is not None and auth.guild.name == "A server"
    ent = by_type["ENTITLEMENT_CREATE"].data
    assert isinstance(ent, Entitlement)
    assert (ent.id, ent.sku_id, ent.user_id, ent.type) == (
        1234505980407808808,
        123489045643835123,
        111178765189277770,
        4,
    )
    assert ent.model_extra == {"gift_code_flags": 0, "promotion_id": None}
    assert by_type["APPLICATION_AUTHORIZED"].timestamp.microsecond == 64834


async def test_unknown_types_are_answered_204_and_logged_once(
    connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()
    caplog.set_level(logging.WARNING, LOG)
    async with connect(bot) as client:
        for i in range(3):
            assert (await client.webhook_event("SOMETHING_NEW", {"x": 1})).status == 204
            assert (await client.webhook_event("ENTITLEMENT_CREATE")).status == 204  # no handler
            unknown = {"type": 7, "application_id": "1"}
            assert (await client.send(unknown, timestamp=later(i))).status == 204
            no_type = {"type": 1, "event": {"data": {}}}
            assert (await client.send(no_type, timestamp=later(i))).status == 204
    lines = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert sum("SOMETHING_NEW" in line for line in lines) == 1
    assert sum("ENTITLEMENT_CREATE" in line for line in lines) == 1
    assert sum("webhook type 7" in line for line in lines) == 1
    assert sum("without event.type" in line for line in lines) == 1


async def test_a_catch_all_handler_gets_the_types_left_over(connect: Any) -> None:
    bot = make_bot()
    specific: list[Any] = []
    rest: list[Any] = []
    bot.event("ENTITLEMENT_CREATE")(specific.append)
    bot.event("*")(rest.append)
    async with connect(bot) as client:
        await client.webhook_event("ENTITLEMENT_CREATE")
        await client.webhook_event("SOMETHING_NEW", {"x": 1})
        await client.webhook_event("APPLICATION_DEAUTHORIZED")
        await settle(lambda: len(specific) + len(rest) == 3)
    assert [type(e.data) for e in specific] == [Entitlement]
    assert {type(e.data) for e in rest} == {dict, ApplicationDeauthorized}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"type": "1"}', "webhook type must be an integer"),
        (b'{"type": true}', "webhook type must be an integer"),
    ],
)
async def test_a_signed_body_that_is_no_webhook_payload_gets_400(
    connect: Any, body: bytes, message: str
) -> None:
    async with connect(make_bot()) as client:
        response = await client.send(body)
    assert (response.status, json.loads(response.body)) == (400, {"error": message})


async def test_data_that_does_not_fit_its_model_is_logged_and_answered_204(
    connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()
    runs: list[Any] = []
    bot.event("APPLICATION_DEAUTHORIZED")(runs.append)
    caplog.set_level(logging.WARNING, LOG)
    secret = "do-not-log-this-value"
    async with connect(bot) as client:
        bad = {"user": {"id": secret}}
        assert (await client.webhook_event("APPLICATION_DEAUTHORIZED", bad)).status == 204
        assert (await client.webhook_event("APPLICATION_DEAUTHORIZED")).status == 204
        await settle(lambda: len(runs) == 1)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "APPLICATION_DEAUTHORIZED could not be read (data.user.id" in text
    assert secret not in text


def test_registration_errors_are_clear() -> None:
    bot = make_bot()
    bot.event("ENTITLEMENT_CREATE")(print)
    with pytest.raises(ConfigurationError, match="already exists"):
        bot.event("ENTITLEMENT_CREATE")(print)
    with pytest.raises(ConfigurationError, match="event type"):
        bot.event("")
    bot.event("*", idempotent=False)(print)
    assert [tuple(row) for row in bot.routes()] == [
        ("webhook event", "ENTITLEMENT_CREATE", "builtins.print", ""),
        ("webhook event", "*", "builtins.print", "every delivery"),
    ]


# --------------------------------------------------------------------------- redelivery


async def test_a_redelivered_event_runs_its_handler_once(connect: Any) -> None:
    bot = make_bot()
    once: list[int] = []
    every: list[int] = []
    bot.event("ENTITLEMENT_CREATE")(lambda event: once.append(event.data.id))
    bot.event("ENTITLEMENT_DELETE", idempotent=False)(lambda event: every.append(event.data.id))
    created = webhook_event_payload("ENTITLEMENT_CREATE")
    deleted = webhook_event_payload("ENTITLEMENT_DELETE")
    async with connect(bot) as client:
        for attempt in range(3):  # Discord signs every attempt anew
            assert (await client.send(created, timestamp=later(attempt))).status == 204
            assert (await client.send(deleted, timestamp=later(attempt))).status == 204
        # The same event serialised differently (key order, spacing) is still the same event.
        reordered = json.dumps(dict(reversed(list(created.items()))), indent=2).encode()
        assert (await client.send(reordered, timestamp=later(5))).status == 204
        # Another event (a new timestamp of occurrence) is not a redelivery.
        other = webhook_event_payload("ENTITLEMENT_CREATE", created["event"]["data"])
        assert (await client.send(other)).status == 204
        await settle(lambda: len(once) == 2 and len(every) == 3)
        await asyncio.sleep(0.1)
    assert once == [int(created["event"]["data"]["id"])] * 2
    assert len(every) == 3


async def test_a_redelivery_while_the_first_is_still_running_does_not_run_it_again() -> None:
    bot = make_bot()
    runs = 0
    release = asyncio.Event()

    @bot.event("ENTITLEMENT_CREATE")
    async def slow(event: WebhookEvent[Entitlement]) -> None:
        nonlocal runs
        runs += 1
        await release.wait()

    payload = webhook_event_payload("ENTITLEMENT_CREATE")
    async with InteractionTestClient(bot.webhook_events, KEYS) as client:
        statuses = await asyncio.gather(
            *(client.send(payload, timestamp=later(i)) for i in range(5))
        )
        release.set()
    assert [r.status for r in statuses] == [204] * 5
    assert runs == 1


# --------------------------------------------------------------------------- slow handlers


async def test_a_slow_handler_is_answered_at_once_and_finished_before_shutdown() -> None:
    bot = make_bot(shutdown_timeout=20.0)
    done: list[str] = []
    started = asyncio.Event()

    @bot.event("APPLICATION_AUTHORIZED")
    async def slow(event: WebhookEvent[ApplicationAuthorized]) -> None:
        started.set()
        await asyncio.sleep(1.0)
        done.append(event.data.user.username)

    async with (
        serve(bot.webhook_events, lifespan="on") as url,
        InteractionTestClient(url, KEYS) as client,
    ):
        response = await client.webhook_event("APPLICATION_AUTHORIZED")
        assert response.status == 204
        assert done == []  # answered before the handler finished
        await asyncio.wait_for(started.wait(), 10)
    # Leaving serve() ran the lifespan's shutdown: it waited for the handler.
    assert done == ["tester"]


async def test_a_handler_past_handler_timeout_is_stopped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = make_bot(handler_timeout=0.3)
    finished: list[bool] = []

    @bot.event("ENTITLEMENT_CREATE")
    async def stuck(event: WebhookEvent[Entitlement]) -> None:
        await asyncio.sleep(30)
        finished.append(True)

    caplog.set_level(logging.ERROR, "asgi_interactions.runner")
    async with InteractionTestClient(bot.webhook_events, KEYS) as client:
        assert (await client.webhook_event("ENTITLEMENT_CREATE")).status == 204
        await settle(lambda: not bot._runner.tasks)
    assert finished == []
    assert any("webhook event ENTITLEMENT_CREATE" in r.getMessage() for r in caplog.records)


async def test_a_handler_that_raises_is_logged_and_the_app_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = make_bot()
    ok: list[Any] = []

    @bot.event("ENTITLEMENT_CREATE")
    async def broken(event: WebhookEvent[Entitlement]) -> None:
        raise RuntimeError("boom")

    bot.event("ENTITLEMENT_DELETE")(ok.append)
    caplog.set_level(logging.ERROR, "asgi_interactions.runner")
    async with InteractionTestClient(bot.webhook_events, KEYS) as client:
        assert (await client.webhook_event("ENTITLEMENT_CREATE")).status == 204
        assert (await client.webhook_event("ENTITLEMENT_DELETE")).status == 204
        await settle(lambda: len(ok) == 1 and not bot._runner.tasks)
    assert any(
        "webhook event ENTITLEMENT_CREATE raised" in r.getMessage() and r.exc_info
        for r in caplog.records
    )


async def test_at_max_concurrency_an_event_gets_503_and_is_not_remembered() -> None:
    bot = make_bot(max_concurrency=1)
    release = asyncio.Event()
    runs: list[int] = []

    @bot.event("ENTITLEMENT_CREATE")
    async def hold(event: WebhookEvent[Entitlement]) -> None:
        runs.append(event.data.id)
        await release.wait()

    first = webhook_event_payload("ENTITLEMENT_CREATE")
    second = webhook_event_payload("ENTITLEMENT_CREATE")
    async with InteractionTestClient(bot.webhook_events, KEYS) as client:
        assert (await client.send(first)).status == 204
        await settle(lambda: len(runs) == 1)
        busy = await client.send(second)
        assert busy.status == 503
        release.set()
        await settle(lambda: not bot._runner.tasks)
        # Discord's retry of the refused event runs it: it was not remembered.
        assert (await client.send(second, timestamp=later())).status == 204
        await settle(lambda: len(runs) == 2)


# --------------------------------------------------------------------------- mounting


@pytest.mark.parametrize("path", ["/discord/events", "/discord/events/"])
async def test_mounted_next_to_the_bot_with_and_without_the_trailing_slash(path: str) -> None:
    bot = make_bot()
    got: list[Any] = []
    bot.event("ENTITLEMENT_CREATE")(got.append)
    parent = Starlette(
        routes=[Mount("/interactions", bot), Mount("/discord/events", bot.webhook_events)],
        lifespan=bot.lifespan,
    )
    async with serve(parent, lifespan="on") as base:
        async with InteractionTestClient(base + path, KEYS) as client:
            assert (await client.webhook_ping()).status == 204
            assert (await client.webhook_event("ENTITLEMENT_CREATE")).status == 204
        async with InteractionTestClient(base + "/interactions", KEYS) as client:
            assert (await client.ping()).json == {"type": 1}
        async with httpx2.AsyncClient() as plain:
            assert (await plain.get(base + "/elsewhere")).status_code == 404
        await settle(lambda: len(got) == 1)


async def test_without_a_lifespan_the_first_event_starts_the_bot() -> None:
    bot = make_bot()
    got: list[Any] = []
    bot.event("ENTITLEMENT_CREATE")(got.append)
    async with InteractionTestClient(bot.webhook_events, KEYS, lifespan=False) as client:
        assert (await client.webhook_ping()).status == 204
        assert not bot.is_running  # a PING needs nothing started
        assert (await client.webhook_event("ENTITLEMENT_CREATE")).status == 204
        assert bot.is_running
        await settle(lambda: len(got) == 1)
    await bot.shutdown()


async def test_a_handler_still_running_at_the_end_of_shutdown_is_stopped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = make_bot(shutdown_timeout=1.0)
    finished: list[bool] = []

    @bot.event("ENTITLEMENT_CREATE")
    async def stuck(event: WebhookEvent[Entitlement]) -> None:
        await asyncio.sleep(60)
        finished.append(True)

    caplog.set_level(logging.ERROR, "asgi_interactions.runner")
    loop = asyncio.get_running_loop()
    async with InteractionTestClient(bot.webhook_events, KEYS) as client:
        assert (await client.webhook_event("ENTITLEMENT_CREATE")).status == 204
        began = loop.time()
    assert loop.time() - began < 30  # bounded by shutdown_timeout (1 s), never the 60 s handler
    assert finished == [] and not bot._runner.tasks
    assert any(
        "webhook event ENTITLEMENT_CREATE" in r.getMessage() and "shutdown" in r.getMessage()
        for r in caplog.records
    )
