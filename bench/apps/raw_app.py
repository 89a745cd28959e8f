"""Floor for the instruction counts: a hand-written raw-ASGI endpoint that verifies and parses.

PyNaCl verify, `json.loads`, PING -> PONG and `/echo` -> its text, answered with `json.dumps`:
the least a correct endpoint does (no freshness or replay check, no models). Run:
`uvicorn raw_app:app`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fixtures import PUBLIC_KEY_HEX
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

verify_key = VerifyKey(bytes.fromhex(PUBLIC_KEY_HEX))
_PONG = b'{"type":1}'


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Verify, parse, answer one interaction."""
    if scope["type"] != "http":
        return
    signature = timestamp = b""
    for name, value in scope["headers"]:
        if name == b"x-signature-ed25519":
            signature = value
        elif name == b"x-signature-timestamp":
            timestamp = value
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    status, out = 200, _PONG
    try:
        verify_key.verify(timestamp + body, bytes.fromhex(signature.decode()))
    except (BadSignatureError, ValueError):
        status, out = 401, b'{"error":"invalid request signature"}'
    else:
        interaction = json.loads(body)
        if interaction["type"] == 2:
            text = interaction["data"]["options"][0]["value"]
            out = json.dumps({"type": 4, "data": {"content": text}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})
