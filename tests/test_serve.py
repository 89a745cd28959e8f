"""The test servers' sockets: accepted connections send small writes at once (TCP_NODELAY)."""

from __future__ import annotations

import asyncio
import socket

from tests.serve import listening_socket


async def test_accepted_connections_have_tcp_nodelay() -> None:
    """uvicorn serves on ``listening_socket()`` through ``loop.create_server(sock=...)``; the
    connections it accepts must have TCP_NODELAY (else every response written in two parts
    waits for the client's delayed ACK, which made the fake Discord ~40 ms slower than its
    declared latency). A plain ``socket.socket()`` would leave it off."""
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[int] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    for make, expected in ((listening_socket, True), (_plain_socket, False)):
        seen = loop.create_future()
        sock = make()
        server = await loop.create_server(Probe, sock=sock)
        try:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            assert bool(await asyncio.wait_for(seen, 5)) is expected
            writer.close()
        finally:
            server.close()
            await server.wait_closed()


def _plain_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock
