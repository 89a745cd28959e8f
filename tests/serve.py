"""Run an ASGI app under a real uvicorn server on a free loopback port, inside the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn

_ROOT = Path(__file__).resolve().parents[1]  # this checkout, for subprocesses' PYTHONPATH


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


@contextlib.asynccontextmanager
async def uvicorn_workers(
    directory: Path, module: str, source: str, app: str, env: dict[str, str], workers: int = 2
) -> AsyncIterator[str]:
    """``uvicorn module:app --workers N`` in OS processes on a free loopback port; yields its URL.

    ``source`` is written to ``directory/module.py`` (dedented); ``env`` is added to this
    process's environment, with this checkout and ``directory`` on PYTHONPATH. The server gets
    SIGTERM on exit, and 30 s to stop.
    """
    (directory / f"{module}.py").write_text(textwrap.dedent(source))
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "uvicorn", f"{module}:{app}", "--workers", str(workers)),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        cwd=directory,
        env=os.environ | env | {"PYTHONPATH": os.pathsep.join([str(_ROOT), str(directory)])},
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


def read_runs(path: Path) -> list[tuple[str, str]]:
    """The ``pid id`` lines a test bot appends to its runs file, one tuple per handler run."""
    if not path.exists():
        return []
    return [(pid, ident) for pid, ident in (line.split() for line in path.read_text().splitlines())]
