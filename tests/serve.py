"""Run an ASGI app under a real uvicorn server on a free loopback port, inside the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port, for uvicorn to listen on.

    ``IPPROTO_TCP`` is named explicitly: accepted sockets inherit the listening socket's proto,
    and asyncio sets ``TCP_NODELAY`` only on sockets whose proto says TCP. Without it each
    response written in two parts (headers, then body) waited for the client's delayed ACK,
    adding ~40 ms to every exchange on a kept-alive connection.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serve(
    app: Any, *, lifespan: str = "auto", stop_timeout: float = 40.0, **config: Any
) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``http://127.0.0.1:PORT``).

    The socket is bound before uvicorn starts, so no other process can take the port between.
    A server still not stopped ``stop_timeout`` seconds after the block is cancelled.
    """
    sock = listening_socket()
    port = sock.getsockname()[1]
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, lifespan=lifespan, **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(TimeoutError):  # wait_for cancels the server task
            await asyncio.wait_for(task, stop_timeout)
        sock.close()
