"""A minimal HTTP/2 (h2c, prior knowledge) server for an ASGI app, on a loopback port.

uvicorn speaks only HTTP/1.1; this lets tests drive a client's real HTTP/2 stack (h2, hpack)
against the fake Discord. It serves whole requests and whole answers, one task per stream:
enough for a REST client, not a general server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import h2.config
import h2.connection
import h2.events

__all__ = ["serve_h2"]


class _Connection:
    def __init__(self, app: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.app = app
        self.reader = reader
        self.writer = writer
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.requests: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)

    async def run(self) -> None:
        self.h2.initiate_connection()
        self.flush()
        while data := await self.reader.read(65536):
            for event in self.h2.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    headers = [(bytes(k), bytes(v)) for k, v in event.headers or []]
                    self.requests[event.stream_id] = (headers, bytearray())
                elif isinstance(event, h2.events.DataReceived):
                    self.requests[event.stream_id][1].extend(event.data or b"")
                    self.h2.acknowledge_received_data(
                        event.flow_controlled_length or 0, event.stream_id
                    )
                elif isinstance(event, h2.events.StreamEnded):
                    headers, body = self.requests.pop(event.stream_id)
                    task = asyncio.create_task(self.answer(event.stream_id, headers, bytes(body)))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            self.flush()
            await self.writer.drain()

    async def answer(self, stream_id: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        pseudo = {k: v for k, v in headers if k.startswith(b":")}
        path, _, query = pseudo[b":path"].partition(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "2",
            "method": pseudo[b":method"].decode(),
            "scheme": "http",
            "path": path.decode(),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": [(k, v) for k, v in headers if not k.startswith(b":")],
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", 0),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = [(bytes(k).lower(), bytes(v)) for k, v in message["headers"]]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        payload = b"".join(chunks)
        self.h2.send_headers(
            stream_id,
            [(b":status", str(status).encode())]
            + [
                (k, v)
                for k, v in response_headers
                if k not in (b"connection", b"transfer-encoding")
            ],
        )
        size = self.h2.max_outbound_frame_size
        for start in range(0, len(payload), size):
            self.h2.send_data(stream_id, payload[start : start + size])
        self.h2.end_stream(stream_id)
        self.flush()
        await self.writer.drain()


@contextlib.asynccontextmanager
async def serve_h2(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` over h2c on 127.0.0.1:<free port>; yields the base URL."""
    connections: set[asyncio.Task[None]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await _Connection(app, reader, writer).run()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            connections.discard(task)
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.wait_for(server.wait_closed(), 5)
