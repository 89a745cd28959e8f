"""The raw-ASGI request path: read the body (bounded), verify, parse, run, reply.

Written against raw ASGI (no Request/Response objects) because it is hot: Starlette's layer costs
more per request than the signature check. Every error answer is a one-line JSON body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from .body import BUSY, TIMED_OUT, TOO_LARGE, BodyReader, BodyRejected, current_task
from .context import InitialResponse
from .models import Interaction
from .models.lazy import parse_request
from .runner import FAILED_TEXT, FAILURE_EDIT_RESERVE, Runner, notice
from .verify import SignatureVerifier, VerificationError

__all__ = ["Endpoint"]

log = logging.getLogger("asgi_interactions.endpoint")
security_log = logging.getLogger("asgi_interactions.security")

# Precomputed answers: the hot path should not rebuild constant bytes.
_JSON = (b"content-type", b"application/json")
_PONG = b'{"type":1}'
_PONG_LENGTH = (b"content-length", b"%d" % len(_PONG))
_CLOSE = ((b"connection", b"close"),)
_READ = frozenset((b"x-signature-ed25519", b"x-signature-timestamp", b"content-length"))


def error_body(message: str) -> bytes:
    """``{"error": message}`` as JSON bytes."""
    return to_json({"error": message})


class RateLimitedLog:
    """Logs at most one line per ``interval`` seconds and counts what it held back."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._next = 0.0
        self._held = 0

    def info(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next:
            self._held += 1
            return
        held, self._held, self._next = self._held, 0, now + self._interval
        suffix = f" ({held} similar lines suppressed)" if held else ""
        self._logger.info(message + suffix, *args)


class Endpoint:
    """Answers the POSTs Discord sends to the interactions URL."""

    def __init__(
        self,
        verifier: SignatureVerifier,
        runner: Runner,
        *,
        reader: BodyReader,
        serverless: bool,
        shutdown_timeout: float,
        is_running: Callable[[], bool],
        ensure_started: Callable[[], Awaitable[None]],
    ) -> None:
        self.verifier = verifier
        self.runner = runner
        self.reader = reader
        self.serverless = serverless
        self.shutdown_timeout = shutdown_timeout
        self._is_running = is_running
        self._ensure_started = ensure_started
        self._bad_request_log = RateLimitedLog(security_log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authentic = await self.receive_authentic(scope, receive, send)
        if authentic is None:
            return  # answered already (an error), or the client went away
        body, sig, sent, now = authentic

        try:
            interaction = parse_request(body)
        except ValidationError as exc:
            await reply(send, 400, error_body(_describe_invalid(exc)))
            return

        if interaction is None:  # a PING: only its type was read
            # No replay check: answering a replayed PING has no effect but the same PONG.
            # Fresh messages: middleware may edit a message's headers in place.
            await send(
                {"type": "http.response.start", "status": 200, "headers": [_JSON, _PONG_LENGTH]}
            )
            await send({"type": "http.response.body", "body": _PONG})
            return

        try:  # every other type runs a handler: refuse a replay
            await self.verifier.refuse_replay(sig, sent, now)
        except VerificationError as exc:
            self._rejected(scope, str(exc))
            await reply(send, 401, error_body(str(exc)))
            return

        if not self._is_running():
            await self._ensure_started()

        initial, task = await self.runner.begin(interaction)
        try:
            if self.serverless and task is not None and not task.done():
                await self._reply_serverless(interaction, initial, task, send)
            elif initial.files:
                await self._reply_with_files(interaction, initial, send)
            else:  # reply(), inline: the commonest answer
                body = to_json(initial.payload)
                headers = [_JSON, (b"content-length", b"%d" % len(body))]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
        finally:
            initial.mark_sent()

    async def receive_authentic(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[bytes, bytes, float, float] | None:
        """The request's body once it is read within bounds and authentic; None once answered.

        Shared by every endpoint the app serves (interactions, webhook events): the path and
        method checks, the body bounds, the signature and freshness checks, and their error
        answers (404, 405, 400, 408, 413, 503, 401) all live here. The replay check is the
        caller's, once it knows whether the request has any effect: it gets the body with what
        ``verifier.refuse_replay`` takes (the raw signature, the signed timestamp, now).
        """
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path not in ("", "/"):
            await reply(send, 404, error_body("not found"))
            return None
        if scope["method"] != "POST":
            await reply(send, 405, error_body("method not allowed"), ((b"allow", b"POST"),))
            return None

        signature = timestamp = None
        length = -1
        for name, value in scope["headers"]:
            if name not in _READ:
                continue  # most headers: one set lookup
            if name == b"x-signature-ed25519":
                signature = value
            elif name == b"x-signature-timestamp":
                timestamp = value
            else:  # content-length
                # Digits only (bytes.isdigit is ASCII-only), at most 18 of them so int() stays
                # cheap, and only one header: anything else is not a length we can trust.
                if length != -1 or not value.isdigit() or len(value) > 18:
                    await reply(send, 400, error_body("invalid content-length"), _CLOSE)
                    return None
                length = int(value)

        # Read the body, inline: this is the hot path. The declared length is checked first; this
        # task is registered for the reader's deadline sweep; bodies in several pieces (and the
        # shared budget they count against) are the reader's job.
        reader = self.reader
        try:
            if length > reader.max_body_size:
                raise BodyRejected(*TOO_LARGE)
            if reader.buffered and not reader.fits(length):
                raise BodyRejected(*BUSY)
            loop = asyncio.get_running_loop()
            me = current_task(loop)
            assert me is not None
            reader.reading[me] = reader.sweeps
            if reader.timer_loop is not loop:
                reader.arm(loop)
            try:
                message = await receive()
                if message.get("more_body", False) or message["type"] != "http.request":
                    body = await reader.read_rest(receive, message)
                    if body is None:
                        return None  # the client went away before sending the whole body
                else:
                    body = message.get("body", b"")
                    if len(body) > reader.max_body_size:
                        raise BodyRejected(*TOO_LARGE)
            except asyncio.CancelledError:
                if not reader.timed_out(me):
                    raise
                raise BodyRejected(*TIMED_OUT) from None
            finally:
                del reader.reading[me]
                if reader.expired:
                    reader.expired.pop(me, None)
        except BodyRejected as exc:
            client = scope.get("client")
            self._bad_request_log.info(
                "refused request from %s: %s", client[0] if client else "?", exc.message
            )
            await reply(send, exc.status, error_body(exc.message), _CLOSE)
            return None

        try:
            sig, sent, now = self.verifier.authenticate(signature, timestamp, body)
        except VerificationError as exc:
            self._rejected(scope, str(exc))
            await reply(send, 401, error_body(str(exc)))
            return None
        return body, sig, sent, now

    def _rejected(self, scope: Scope, reason: str) -> None:
        client = scope.get("client")
        self._bad_request_log.info(
            "rejected request from %s: %s", client[0] if client else "?", reason
        )

    async def _reply_serverless(
        self,
        interaction: Interaction,
        initial: InitialResponse,
        task: asyncio.Task[None],
        send: Send,
    ) -> None:
        """Serverless platforms freeze the process once the HTTP answer is out, and Mangum sends
        it only when the app returns: so the initial response goes through the callback endpoint,
        the work finishes inside the invocation, and the POST is answered 202 at the end."""
        await self.runner.post_initial(interaction, initial)
        _, pending = await asyncio.wait({task}, timeout=self.shutdown_timeout)
        if pending:
            log.error(
                "interaction %s still running after %.1fs: stopped, its user gets a failure notice",
                interaction.id,
                self.shutdown_timeout,
            )
            self.runner.expire(task)
            _, pending = await asyncio.wait({task}, timeout=FAILURE_EDIT_RESERVE)
            if pending:
                task.cancel()
        await reply_empty(send, 202)

    async def _reply_with_files(
        self, interaction: Interaction, initial: InitialResponse, send: Send
    ) -> None:
        """Files go through the callback endpoint (notes §1.5), then the POST gets 202."""
        if await self.runner.post_initial(interaction, initial):
            await reply_empty(send, 202)
        else:
            await reply(send, 200, to_json(notice(FAILED_TEXT, interaction.type)))


def _describe_invalid(exc: ValidationError) -> str:
    """A short reason for a 400: never echo the body back."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0] if errors else {"type": "", "loc": ()}
    if first["type"] in ("json_invalid", "json_type"):
        return "body is not valid JSON"
    if not first["loc"]:
        return "body must be a JSON object"
    if first["loc"][0] == "type":
        return "interaction type must be an integer"
    return f"invalid interaction field: {'.'.join(str(p) for p in first['loc'])}"


async def reply_empty(send: Send, status: int) -> None:
    """An answer with no body (202 after a callback, 204)."""
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def reply(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """A JSON answer with its length and any extra headers."""
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
