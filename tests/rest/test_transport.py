"""The REST client's transport: TLS set up only for https, with httpx2's own verification."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from asgi_interactions import RestClient
from tests.fakes.discord_rest import FakeDiscord
from tests.fakes.tls import tls  # noqa: F401 - fixture

BODY = b'{"url": "wss://gateway.example", "shards": 1}'


@pytest.fixture
async def https_url(tls: tuple[Path, Path]) -> AsyncIterator[str]:  # noqa: F811
    """An HTTPS server on 127.0.0.1 (self-signed) that answers every request with BODY."""
    cert, key = tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            writer.write(f"{head}content-length: {len(BODY)}\r\n\r\n".encode() + BODY)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass  # a client that refused our certificate
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://127.0.0.1:{port}/api/v10"


@pytest.fixture
def ca_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a TLS context loads certificates (the ~20 ms the transport avoids)."""
    loads: list[str] = []

    def counting(name: str) -> Callable[..., Any]:
        original = getattr(ssl.SSLContext, name)

        def load(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> Any:
            loads.append(name)
            return original(self, *args, **kwargs)

        return load

    for name in ("load_verify_locations", "load_default_certs"):
        monkeypatch.setattr(ssl.SSLContext, name, counting(name))
    return loads


def client(base_url: str) -> RestClient:
    return RestClient("tok", base_url=base_url, max_retries=0, edge_retries=0)


async def refused(rest: RestClient) -> None:
    """The request fails on our self-signed certificate: it was verified."""
    with pytest.raises(Exception) as caught:
        await rest.get_gateway_bot()
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, httpx2.ConnectError) for e in chain), chain
    assert any("CERTIFICATE_VERIFY_FAILED" in str(e) for e in chain), chain


async def test_plain_http_loads_no_certificates(fake: FakeDiscord, ca_loads: list[str]) -> None:
    async with client(fake.base_url) as rest:
        for _ in range(2):
            assert "url" in await rest.get_gateway_bot()
    assert ca_loads == []


async def test_https_loads_the_bundle_at_open_and_verifies(
    https_url: str, ca_loads: list[str]
) -> None:
    rest = client(https_url)
    await rest.open()  # before any request, as before: not on a request's path
    try:
        assert len(ca_loads) == 1
        await refused(rest)
    finally:
        await rest.close()
    assert len(ca_loads) == 1


async def test_https_honours_ssl_cert_file_like_httpx2(
    https_url: str,
    tls: tuple[Path, Path],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls[0]))  # httpx2's default context trusts it
    async with client(https_url) as rest:
        assert await rest.get_gateway_bot() == {"url": "wss://gateway.example", "shards": 1}


async def test_a_scheme_other_than_the_base_urls_gets_its_own_transport(
    fake: FakeDiscord, https_url: str, ca_loads: list[str]
) -> None:
    """The base URL may change after open (it is a plain attribute): https still verifies."""
    async with client(fake.base_url) as rest:
        await rest.get_gateway_bot()
        rest.base_url = https_url
        await refused(rest)
        assert len(ca_loads) == 1
        rest.base_url = fake.base_url
        assert "url" in await rest.get_gateway_bot()  # the plain transport is still there
