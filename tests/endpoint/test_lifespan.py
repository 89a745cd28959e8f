"""The lifespan: composed into a parent app, run alone under uvicorn, lazy start, draining work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from asgi_interactions import Context, InteractionApp, RestClient
from asgi_interactions.testing import InteractionTestClient, KeyPair
from tests.serve import serve


class CountingRest(RestClient):
    """A real RestClient that counts how often the app opens and closes it."""

    def __init__(self) -> None:
        super().__init__(None)
        self.opened = 0
        self.closed = 0

    async def open(self) -> None:
        self.opened += 1
        await super().open()

    async def close(self) -> None:
        self.closed += 1
        await super().close()


class CountingService:
    """A stand-in gateway that records start/close."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("start")

    async def close(self) -> None:
        self.events.append("close")


async def test_fastapi_lifespan_starts_and_stops_once(keys: KeyPair) -> None:
    rest, gateway = CountingRest(), CountingService()
    bot = InteractionApp(public_key=keys.public_key, rest=rest, gateway=gateway)
    app = FastAPI(lifespan=bot.lifespan)
    app.mount("/interactions", bot)
    async with (
        serve(app, lifespan="on") as url,
        InteractionTestClient(url + "/interactions", keys) as client,
    ):
        assert (await client.ping()).status == 200
        assert bot.is_running
        assert (rest.opened, rest.closed) == (1, 0)
    assert (rest.opened, rest.closed) == (1, 1)
    assert gateway.events == ["start", "close"]
    assert not bot.is_running


async def test_lifespan_composes_inside_a_user_lifespan(keys: KeyPair) -> None:
    rest = CountingRest()
    bot = InteractionApp(public_key=keys.public_key, rest=rest)
    order: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        order.append("user start")
        async with bot.lifespan(app):
            order.append("bot running")
            yield
        order.append("user stop")

    app = Starlette(routes=[Mount("/bot", bot)], lifespan=lifespan)
    async with (
        serve(app, lifespan="on") as url,
        InteractionTestClient(url + "/bot", keys) as client,
    ):
        assert (await client.ping()).status == 200
        # The lifespan also fixed the no-slash path of the Mount.
        assert (await client.ping()).status == 200
    assert order == ["user start", "bot running", "user stop"]
    assert (rest.opened, rest.closed) == (1, 1)


async def test_nested_startup_calls_open_once(keys: KeyPair) -> None:
    rest = CountingRest()
    bot = InteractionApp(public_key=keys.public_key, rest=rest)
    async with bot.lifespan(None), bot.lifespan(None):
        assert rest.opened == 1
    assert (rest.opened, rest.closed) == (1, 1)


async def test_alone_under_uvicorn_runs_asgi_lifespan(keys: KeyPair) -> None:
    rest = CountingRest()
    bot = InteractionApp(public_key=keys.public_key, rest=rest)
    async with serve(bot, lifespan="on") as url:
        assert bot.is_running
        async with InteractionTestClient(url, keys) as client:
            assert (await client.ping()).status == 200
    assert (rest.opened, rest.closed) == (1, 1)


async def test_startup_failure_is_reported_to_the_server(keys: KeyPair) -> None:
    class Broken(CountingService):
        async def start(self) -> None:
            raise RuntimeError("cannot start")

    bot = InteractionApp(public_key=keys.public_key, gateway=Broken())
    messages: list[MutableMapping[str, Any]] = []
    inbox: list[MutableMapping[str, Any]] = [{"type": "lifespan.startup"}]

    async def receive() -> MutableMapping[str, Any]:
        return inbox.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    await bot({"type": "lifespan"}, receive, send)
    assert messages[0]["type"] == "lifespan.startup.failed"
    assert "cannot start" in messages[0]["message"]
    assert not bot.is_running


async def test_lazy_start_warns_once_when_no_lifespan_ran(
    keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    class SlowStart(CountingService):
        async def start(self) -> None:
            await asyncio.sleep(0.2)  # concurrent first requests arrive while startup runs
            await super().start()

    rest, gateway = CountingRest(), SlowStart()
    bot = InteractionApp(public_key=keys.public_key, rest=rest, gateway=gateway)

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        return "ok"

    app = Starlette(routes=[Mount("/bot", bot)])  # Mount never forwards lifespan events
    caplog.set_level(logging.WARNING, logger="asgi_interactions")
    async with (
        serve(app, lifespan="on") as url,
        InteractionTestClient(url + "/bot/", keys) as client,
    ):
        first = await asyncio.gather(*(client.command("x") for _ in range(5)))  # concurrent
        assert [r.content for r in first] == ["ok"] * 5
        assert (await client.command("x")).content == "ok"
    warnings = [r for r in caplog.records if "lifespan did not run" in r.getMessage()]
    assert len(warnings) == 1
    assert rest.opened == 1
    assert gateway.events == ["start"]


async def test_shutdown_waits_for_in_flight_work(keys: KeyPair) -> None:
    bot = InteractionApp(public_key=keys.public_key, rest=CountingRest(), defer_after=None)
    finished: list[str] = []
    started = asyncio.Event()

    @bot.on(2)
    async def handler(ctx: Context) -> str:
        await ctx.respond("working on it")
        started.set()
        await asyncio.sleep(0.3)
        finished.append("done")
        return None  # type: ignore[return-value]

    async with InteractionTestClient(bot, keys) as client:
        response = await client.command("slow")
        assert response.content == "working on it"
        await started.wait()
        assert finished == []
    assert finished == ["done"]


async def test_shutdown_timeout_cancels_and_logs_with_interaction_id(
    keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    bot = InteractionApp(
        public_key=keys.public_key, rest=CountingRest(), defer_after=None, shutdown_timeout=0.2
    )
    cancelled = asyncio.Event()

    @bot.on(2)
    async def handler(ctx: Context) -> None:
        await ctx.respond("ok")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    caplog.set_level(logging.ERROR, logger="asgi_interactions")
    async with InteractionTestClient(bot, keys) as client:
        response = await client.command("stuck")
        interaction_id = None
        assert response.status == 200
        interaction_id = next(iter(bot._runner.tasks)).get_name()
    assert cancelled.is_set()
    assert any(interaction_id in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path", ["/interactions", "/interactions/"])
async def test_fastapi_example_with_and_without_trailing_slash(path: str) -> None:
    from asgi_interactions.testing import DEVELOPMENT_KEYS
    from examples.fastapi_app.main import app

    async with serve(app, lifespan="on") as url:
        async with InteractionTestClient(url + path, DEVELOPMENT_KEYS) as client:
            pong = await client.ping()
            echo = await client.command("echo", {"text": "hi", "times": 2})
        async with httpx2.AsyncClient(base_url=url, follow_redirects=False) as http:
            health = await http.get("/health")
    assert pong.status == 200 and pong.json == {"type": 1}
    assert echo.content == "hi hi"
    assert echo.ephemeral
    assert health.json() == {"status": "ok"}


async def test_bare_mount_without_the_lifespan_would_redirect(keys: KeyPair) -> None:
    """Documents why fix_mounts exists: Starlette alone answers POST /prefix with 307."""
    bot = InteractionApp(public_key=keys.public_key)
    app = Starlette(routes=[Mount("/interactions", bot)])

    async def status() -> int:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://x") as http:
            return (await http.post("/interactions", follow_redirects=False)).status_code

    assert await status() == 307
    assert bot.fix_mounts(app) == 1
    assert bot.fix_mounts(app) == 0  # idempotent
    assert await status() == 401


@pytest.mark.parametrize("parent", ["fastapi", "starlette"])
async def test_front_door_serves_the_mount_paths_straight(keys: KeyPair, parent: str) -> None:
    """With no middleware of the parent's own, the lifespan lets the bot's POSTs skip routing."""
    from asgi_interactions.lifespan import FrontDoor

    bot = InteractionApp(public_key=keys.public_key)

    @bot.command(description="Echo")
    async def echo(ctx: Context, text: str) -> str:
        return text

    app: Any
    if parent == "fastapi":
        app = FastAPI(lifespan=bot.lifespan)
        app.mount("/interactions", bot)

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}
    else:
        app = Starlette(routes=[Mount("/interactions", bot)], lifespan=bot.lifespan)
    async with serve(app, lifespan="on") as url:
        assert isinstance(app.middleware_stack, FrontDoor)
        assert app.middleware_stack.paths == {"/interactions": "/interactions",
                                              "/interactions/": "/interactions"}  # fmt: skip
        for path in ("/interactions", "/interactions/"):
            async with InteractionTestClient(url + path, keys) as client:
                assert (await client.ping()).json == {"type": 1}
                assert (await client.command("echo", {"text": "hi"})).content == "hi"
        async with httpx2.AsyncClient(base_url=url, follow_redirects=False) as http:
            wrong_method = await http.get("/interactions/")
            elsewhere = await http.post("/interactions/sub")
            health = await http.get("/health") if parent == "fastapi" else None
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert elsewhere.status_code == 404  # the bot answers its own unknown paths, as before
    assert health is None or health.json() == {"status": "ok"}


async def test_no_front_door_when_the_parent_has_middleware(keys: KeyPair) -> None:
    """User middleware keeps seeing every request, the bot's included."""
    from starlette.middleware import Middleware

    from asgi_interactions.lifespan import FrontDoor

    seen: list[str] = []

    class Recorder:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.app(scope, receive, send)

    bot = InteractionApp(public_key=keys.public_key)
    app = FastAPI(lifespan=bot.lifespan, middleware=[Middleware(Recorder)])
    app.mount("/interactions", bot)
    async with (
        serve(app, lifespan="on") as url,
        InteractionTestClient(url + "/interactions", keys) as client,
    ):
        assert (await client.ping()).status == 200
        assert not isinstance(app.middleware_stack, FrontDoor)
    assert seen == ["/interactions"]


async def test_no_front_door_past_a_route_declared_first(keys: KeyPair) -> None:
    """A route of the parent's that Starlette would pick first keeps its path."""
    from asgi_interactions.lifespan import FrontDoor

    bot = InteractionApp(public_key=keys.public_key)
    app = FastAPI(lifespan=bot.lifespan)

    @app.post("/interactions")
    async def mine() -> dict[str, str]:
        return {"served": "by the parent"}

    app.mount("/interactions", bot)
    async with serve(app, lifespan="on") as url:
        assert not isinstance(app.middleware_stack, FrontDoor)
        async with httpx2.AsyncClient(base_url=url) as http:
            response = await http.post("/interactions", content=b"{}")
    assert response.json() == {"served": "by the parent"}
