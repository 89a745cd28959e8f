"""GatewayConnection against a real websockets server on 127.0.0.1, over ws:// and wss://.

The connection cuts whole text/binary frames out of the byte stream itself and hands every other
frame to websockets: each message must arrive once, whole and in order, whatever the frame
lengths (7-bit, 16-bit, 64-bit), fragments, pings, reads split anywhere, and the close must be
reported with its code. TLS uses a self-signed certificate made for the test.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from asgi_interactions.gateway.connection import GatewayConnection
from tests.fakes.tls import tls  # noqa: F401 - fixture

MESSAGES: list[str | bytes] = [
    "hello",  # sent at once after the handshake: may share a read with the 101 response
    b"",
    b"x" * 125,
    b"y" * 126,  # 16-bit length
    b"z" * 70_000,  # 64-bit length
    "text \u00e9\u4e16",
]
FRAGMENTED = [b"part-1|", b"part-2|", b"part-3"]


async def handler(ws: ServerConnection) -> None:
    for message in MESSAGES:
        await ws.send(message)
    await ws.send(FRAGMENTED)  # one message over three frames (binary, cont, cont)
    pong = await ws.ping(b"are you there")
    await asyncio.wait_for(pong, 10)  # the client's websockets answered the ping
    await ws.send("after ping")
    await ws.close(4000, "bye")


@pytest.fixture(params=["ws", "wss"])
async def server_url(
    request: pytest.FixtureRequest,
    tls: tuple[Path, Path],  # noqa: F811
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    server_ssl = client_ssl = None
    if request.param == "wss":
        cert, key = tls
        server_ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ssl.load_cert_chain(cert, key)
        client_ssl = ssl.create_default_context(cafile=str(cert))
    async with serve(handler, "127.0.0.1", 0, ssl=server_ssl, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        options = {"ssl": client_ssl} if client_ssl else {}
        yield f"{request.param}://127.0.0.1:{port}/", options


async def receive_all(url: str, options: dict[str, Any]) -> tuple[list[Any], ConnectionClosed]:
    got: list[Any] = []
    lost: asyncio.Future[ConnectionClosed] = asyncio.get_running_loop().create_future()
    ws = await connect(url, create_connection=GatewayConnection, compression=None,
                       max_size=None, **options)  # fmt: skip
    assert isinstance(ws, GatewayConnection)
    await asyncio.sleep(0.05)  # let messages arrive before attach(): they must be kept

    def on_message(data: bytes, text: bool) -> None:
        got.append(data.decode() if text else data)

    ws.attach(on_message, lost.set_result, lambda: None)
    closed = await asyncio.wait_for(lost, 10)
    return got, closed


async def test_every_message_arrives_whole_and_in_order(
    server_url: tuple[str, dict[str, Any]],
) -> None:
    got, closed = await receive_all(*server_url)
    assert got == [*MESSAGES, b"".join(FRAGMENTED), "after ping"]
    assert closed.rcvd is not None and closed.rcvd.code == 4000


class SplitConnection(GatewayConnection):
    """Feeds every read to the parser in pieces of a few bytes: frames split anywhere."""

    step = 3

    def data_received(self, data: bytes) -> None:
        for i in range(0, len(data), self.step):
            super().data_received(data[i : i + self.step])


async def test_reads_split_anywhere(server_url: tuple[str, dict[str, Any]]) -> None:
    url, options = server_url
    got: list[Any] = []
    lost: asyncio.Future[ConnectionClosed] = asyncio.get_running_loop().create_future()
    ws = await connect(url, create_connection=SplitConnection, compression=None,
                       max_size=None, **options)  # fmt: skip
    assert isinstance(ws, SplitConnection)
    ws.attach(lambda data, text: got.append(data.decode() if text else data),
              lost.set_result, lambda: None)  # fmt: skip
    closed = await asyncio.wait_for(lost, 30)
    assert got == [*MESSAGES, b"".join(FRAGMENTED), "after ping"]
    assert closed.rcvd is not None and closed.rcvd.code == 4000


async def test_a_malformed_frame_fails_the_connection() -> None:
    """A masked frame from the server (forbidden) goes to websockets, which closes with 1002;
    nothing of it is delivered."""

    async def bad(ws: ServerConnection) -> None:
        await ws.send("ok")
        ws.transport.write(b"\x82\x85" + b"\x00" * 4 + b"hello")  # masked binary frame
        await asyncio.sleep(5)

    async with serve(bad, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        got: list[Any] = []
        lost: asyncio.Future[ConnectionClosed] = asyncio.get_running_loop().create_future()
        ws = await connect(f"ws://127.0.0.1:{port}/", create_connection=GatewayConnection,
                           compression=None, close_timeout=1)  # fmt: skip
        assert isinstance(ws, GatewayConnection)
        ws.attach(lambda data, text: got.append(data), lost.set_result, lambda: None)
        closed = await asyncio.wait_for(lost, 10)
    assert got == [b"ok"]
    assert closed.sent is not None and closed.sent.code == 1002
