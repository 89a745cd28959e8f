"""Competitor (a): a hand-written Starlette endpoint, the way a competent user would write it.

Verifies the signature with PyNaCl, parses with the standard json module and answers PING and
`/echo` through Starlette's Request/Route/JSONResponse. Run: `uvicorn starlette_app:app`.
"""

from __future__ import annotations

import json

from fixtures import PUBLIC_KEY_HEX
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

verify_key = VerifyKey(bytes.fromhex(PUBLIC_KEY_HEX))


async def interactions(request: Request) -> JSONResponse:
    """Verify, parse, and answer one interaction."""
    signature = request.headers.get("x-signature-ed25519")
    timestamp = request.headers.get("x-signature-timestamp")
    body = await request.body()
    if signature is None or timestamp is None:
        return JSONResponse({"error": "missing signature"}, status_code=401)
    try:
        verify_key.verify(timestamp.encode() + body, bytes.fromhex(signature))
    except (BadSignatureError, ValueError):
        return JSONResponse({"error": "invalid request signature"}, status_code=401)

    interaction = json.loads(body)
    if interaction["type"] == 1:
        return JSONResponse({"type": 1})
    if interaction["type"] == 2 and interaction["data"]["name"] == "echo":
        text = interaction["data"]["options"][0]["value"]
        return JSONResponse({"type": 4, "data": {"content": text}})
    return JSONResponse({"error": "unknown interaction"}, status_code=400)


app = Starlette(routes=[Route("/interactions", interactions, methods=["POST"])])
