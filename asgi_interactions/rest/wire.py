"""What ``RestClient`` sends and reads on the wire: query strings, the send trace hook, and
decoding answers (bodies, errors, rate-limit headers)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx2
import pydantic_core

from .ratelimit.base import BucketInfo


def _quiet(task: asyncio.Future[Any]) -> None:
    """Retrieve a background task's outcome so it is never reported as unhandled."""
    if not task.cancelled():
        task.exception()


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_string(params: Mapping[str, Any]) -> str:
    """``params`` as a query string: booleans as ``true``/``false``, sequences as repeated keys
    (Discord's array form), ``None`` values left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs += [(key, _query_value(v)) for v in value if v is not None]
        else:
            pairs.append((key, _query_value(value)))
    return urlencode(pairs)


class _Started:
    """HTTPX2 trace hook that notes when the request's first byte is about to leave, and
    resolves ``on_wire`` once its headers are written."""

    __slots__ = ("on_wire", "started")

    def __init__(self, on_wire: asyncio.Future[None]) -> None:
        self.started = False
        self.on_wire = on_wire

    async def __call__(self, event: str, info: Any) -> None:
        if not self.started and event.endswith("send_request_headers.started"):
            self.started = True
        elif event.endswith("send_request_headers.complete") and not self.on_wire.done():
            self.on_wire.set_result(None)


#: Longest a request waits for the one granted before it in its bucket to be on the wire.
WIRE_WAIT = 0.25


def _rate_headers(response: httpx2.Response) -> dict[bytes, bytes]:
    """The ``X-RateLimit-*`` headers (lower-cased names), in one pass over the raw headers."""
    found: dict[bytes, bytes] = {}
    for name, value in response.headers.raw:
        if len(name) > 12 and name[:12].lower() == b"x-ratelimit-":
            found[name[12:].lower()] = value
    return found


def _bucket_info(
    response: httpx2.Response, *, limited: bool, retry_after: float = 0.0
) -> BucketInfo | None:
    h = _rate_headers(response)
    limit = h.get(b"limit")
    remaining = h.get(b"remaining")
    reset_after = _float(h.get(b"reset-after"))
    if limit is None or remaining is None or reset_after is None:
        return None if limited else _NO_HEADERS
    bucket = h.get(b"bucket")
    try:
        return BucketInfo(
            int(limit),
            0 if limited else int(remaining),
            max(reset_after, retry_after),
            None if bucket is None else bucket.decode("ascii", "replace"),
            limited=limited,
            reset=None if limited else _float(h.get(b"reset")),
        )
    except ValueError:
        return None if limited else _NO_HEADERS


_NO_HEADERS = BucketInfo(None)


def _decode(response: httpx2.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return pydantic_core.from_json(response.content)
    except ValueError:
        return response.text


def _decode_error(response: httpx2.Response) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return pydantic_core.from_json(response.content)
    except ValueError:
        return None


def _code_message(body: Any) -> tuple[int, str]:
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else 0), str(body.get("message", ""))
    return 0, ""
