"""Shards over ``wss://``: one TLS context for the process, certificates still verified."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from asgi_interactions.gateway.connection import tls_context
from tests.fakes.discord_gateway import serve_fake_gateway, wait_until
from tests.fakes.tls import tls  # noqa: F401 - fixture
from tests.gateway.helpers import Recorder, make_gateway

INTERVAL = 400  # ms


@pytest.fixture
def server_tls(tls: tuple[Path, Path]) -> ssl.SSLContext:  # noqa: F811
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls)
    return context


@pytest.fixture
def contexts_made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many default TLS contexts get made (the process's one is made afresh here)."""
    made: list[int] = []
    original: Callable[..., Any] = ssl.SSLContext.load_default_certs

    def load_default_certs(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", load_default_certs)
    tls_context.cache_clear()
    yield made
    tls_context.cache_clear()  # later tests get one without this test's trust settings


async def test_every_wss_connection_shares_one_verified_context(
    server_tls: ssl.SSLContext,
    tls: tuple[Path, Path],  # noqa: F811
    contexts_made: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls[0]))  # the default context trusts our CA
    with serve_fake_gateway(tls=server_tls, heartbeat_interval=INTERVAL) as fake:
        assert fake.url.startswith("wss://")
        gw = make_gateway(fake, shard_ids=[0, 1, 2], shard_count=3)
        rec = Recorder()
        gw.listen("*")(rec)
        try:
            await asyncio.wait_for(gw.start(), 15)
            await fake.run(fake.drop(1))  # a reconnection (RESUME, to the wss resume URL)
            await wait_until(lambda: rec.named("RESUMED"), 10, "RESUMED")
            assert len(fake.connections) == 4 and fake.connections[-1].path == "/resume"
            assert len(contexts_made) == 1, "one TLS context for every connection"
            context = tls_context()
            assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        finally:
            await gw.close()


async def test_an_untrusted_certificate_is_refused(
    server_tls: ssl.SSLContext, contexts_made: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    with serve_fake_gateway(tls=server_tls, heartbeat_interval=INTERVAL) as fake:
        gw = make_gateway(fake)
        starting = asyncio.ensure_future(gw.start())
        try:
            done, _ = await asyncio.wait({starting}, timeout=1.5)
            assert not done, "it retries, backing off, and never connects"
            assert fake.connections == []
            refused = [m for r in caplog.records if "could not connect" in (m := r.getMessage())]
            assert len(refused) >= 2 and all("CERTIFICATE_VERIFY_FAILED" in m for m in refused)
            assert len(contexts_made) == 1, "every retry reuses the context"
        finally:
            starting.cancel()
            await asyncio.wait({starting}, timeout=10)
            await gw.close()
