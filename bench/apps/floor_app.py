"""Reference floor: a raw ASGI callable that reads the body and answers PONG without verifying.

Not a usable endpoint (it checks nothing); it shows what uvicorn + httptools cost per request on
their own, so the other rows can be read as "server floor + app". Run: `uvicorn floor_app:app`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"10")]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Drain the request body, answer `{"type":1}`."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b'{"type":1}'})
