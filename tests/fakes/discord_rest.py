"""A fake Discord REST API: a real ASGI app served by uvicorn on a loopback port.

It follows ../shared/discord-api-notes.md §3.3, §3.5 and §6: per-route buckets with sliding
windows (``X-RateLimit-*`` headers, bucket hashes shared across routes, limits per major
parameter), the global limit per token (interaction routes exempt), 429 bodies by scope,
injected errors, latency, interaction callbacks, webhook ``@original`` / follow-ups, application
commands, channels, messages, reactions, ``/users/@me`` and ``/gateway/bot``.
Every area's tests use it::

    async with serve_fake_discord() as fake:
        rest = RestClient("token", base_url=fake.base_url)
        ...
        assert fake.requests[-1].path == "/api/v10/channels/1/messages"
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import hashlib
import itertools
import json
import math
import random
import time
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
)
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from asgi_interactions.testing import APPLICATION_ID as TESTING_APPLICATION_ID
from tests.serve import serve

API_PREFIX = "/api/v10"

#: Bucket groups: name -> (limit, window seconds). Routes naming the same group share a bucket hash
#: (as Discord does for e.g. GET message / GET messages). "Realistic" figures are for benchmarks.
#: Sliding windows: Reset-After is the time until the *oldest* counted request leaves the window.
REALISTIC_LIMITS: dict[str, tuple[int, float]] = {
    "messages.create": (5, 5.0),
    "messages.edit": (5, 5.0),
    "messages.delete": (5, 1.0),
    "messages.read": (10, 1.0),
    "reactions": (1, 0.25),
    "channels.get": (10, 1.0),
    "users.me": (10, 1.0),
    "gateway": (10, 1.0),
    "interaction.callback": (5, 1.0),
    "webhook": (5, 2.0),
    "commands.read": (5, 1.0),
    "commands.write": (2, 10.0),
}
GENEROUS_LIMIT = (1000, 1.0)


@dataclass
class RecordedRequest:
    """One request the fake received (before its latency), with the answer it got."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any
    files: dict[str, tuple[str, bytes]]
    time: float
    status: int = 0
    scope: str | None = None  # X-RateLimit-Scope of a 429
    bucket: str | None = None  # "<hash>:<major>" the request was counted in
    route: str | None = None  # the route template that matched
    answered: float = 0.0  # when the answer left (after the latency)
    retry_after: float | None = None  # the retry_after of a 429
    group: str = ""  # the bucket group of the route that matched
    major: str = ""  # its major parameters' values, ":"-joined (its bucket's other half)

    @property
    def route_path(self) -> str:
        """The path without the ``/api/v10`` prefix."""
        return self.path.removeprefix(API_PREFIX)


@dataclass
class Injection:
    """A canned answer returned instead of processing matching requests (an edge error)."""

    status: int
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    match: Callable[[str, str], bool] | None = None  # (method, route path) -> bool
    skip: int = 0  # let this many matching requests through first


class SnowflakeKeyDict(MutableMapping[Any, Any]):
    """A dict whose keys may be given as ints or strings of digits (or tuples of them)."""

    def __init__(self) -> None:
        self._data: dict[Any, Any] = {}

    @staticmethod
    def _norm(key: Any) -> Any:
        if isinstance(key, tuple):
            return tuple(SnowflakeKeyDict._norm(k) for k in key)
        if isinstance(key, str) and key.isdigit():
            return int(key)
        return key

    def __getitem__(self, key: Any) -> Any:
        return self._data[self._norm(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[self._norm(key)] = value

    def __delitem__(self, key: Any) -> None:
        del self._data[self._norm(key)]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SnowflakeKeyDict({self._data!r})"


class _Window:
    """A sliding-window log: at most ``limit`` accepted requests in any ``window`` seconds."""

    __slots__ = ("limit", "log", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.log: deque[float] = deque()

    def prune(self, now: float) -> None:
        while self.log and self.log[0] <= now - self.window:
            self.log.popleft()

    def full(self, now: float) -> bool:
        self.prune(now)
        return len(self.log) >= self.limit

    def retry_after(self, now: float) -> float:
        return max(0.0, self.log[0] + self.window - now) if self.log else 0.0


class FakeDiscord:
    """State and behaviour of the fake; ``serve_fake_discord`` serves it."""

    def __init__(
        self,
        *,
        token: str | None = None,
        application_id: int = 1000,
        bot_user_id: int = 1000,
        realistic: bool = False,
        limits: dict[str, tuple[int, float]] | None = None,
        global_limit: tuple[int, float] | None = (50, 1.0),
        latency: float | tuple[float, float] = 0.0,
        gateway_url: str = "ws://127.0.0.1:9/",
        shards: int = 1,
        max_concurrency: int = 1,
        seed: int | None = None,
    ) -> None:
        self.token = token
        self.application_id = application_id
        #: webhooks of these ids are interaction webhooks (exempt from the global limit, their
        #: executes answer with the message): the fake's application and the one
        #: ``asgi_interactions.testing`` signs interactions for
        self.interaction_apps = {application_id, int(TESTING_APPLICATION_ID)}
        self.bot_user_id = bot_user_id
        self.global_limit = global_limit
        self.latency = latency
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.commands: MutableMapping[Any, list[dict[str, Any]]] = SnowflakeKeyDict()
        self.messages: MutableMapping[Any, dict[str, Any]] = SnowflakeKeyDict()
        self.callbacks: list[dict[str, Any]] = []  # {interaction_id, token, payload, files}
        self.originals: dict[str, dict[str, Any]] = {}  # interaction token -> message
        self.followups: dict[str, list[dict[str, Any]]] = {}  # interaction token -> messages
        self.reactions: list[tuple[int, int, str]] = []  # (channel, message, emoji)
        self.gateway_bot: dict[str, Any] = {
            "url": gateway_url,
            "shards": shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 14_400_000,
                "max_concurrency": max_concurrency,
            },
        }
        self.injections: list[Injection] = []
        #: random faults (see ``faults``): edge and shared-429 probabilities, retry_after, filter
        self._faults: tuple[float, float, float, Callable[[str, str], bool] | None] | None = None
        self.invalid_requests = 0  # 401, 403 and non-shared 429 answers, as Discord counts them
        self.in_flight = 0  # requests being handled now
        self.max_in_flight = 0  # the most ever handled at once
        self._acked: set[int] = set()
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self._epoch0 = time.time() - time.monotonic()  # one offset: a slot's Reset never jitters
        self._rng = random.Random(seed)
        self._limits = (
            dict(REALISTIC_LIMITS) if realistic else dict.fromkeys(REALISTIC_LIMITS, GENEROUS_LIMIT)
        )
        if limits:
            self._limits.update(limits)
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global_windows: dict[str, _Window] = {}
        self.app = self._build_app()

    # ----------------------------------------------------------------- test helpers

    def inject(
        self,
        status: int,
        *,
        body: Any = None,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        path: str | None = None,
        method: str | None = None,
        skip: int = 0,
    ) -> Injection:
        """Answer ``times`` matching requests (after ``skip`` of them) with ``status``.

        Injected answers come from "the edge": they are not counted in buckets or the global limit.
        """

        def match(m: str, p: str) -> bool:
            return (method is None or m == method) and (path is None or path in p)

        inj = Injection(status, body, text, dict(headers or {}), times, match, skip)
        self.injections.append(inj)
        return inj

    def inject_429(
        self,
        *,
        scope: str = "shared",
        retry_after: float = 0.1,
        times: int = 1,
        path: str | None = None,
        method: str | None = None,
        skip: int = 0,
    ) -> Injection:
        """Inject 429 answers of the given scope, shaped like Discord's."""
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": scope,
        }
        if scope == "global":
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": scope == "global",
        }
        return self.inject(
            429, body=body, headers=headers, times=times, path=path, method=method, skip=skip
        )

    def faults(
        self,
        *,
        edge: float = 0.0,
        shared: float = 0.0,
        shared_retry_after: float = 0.2,
        match: Callable[[str, str], bool] | None = None,
    ) -> None:
        """Answer a random share of matching requests (``match(method, route path)``) from the
        edge (``edge``: an HTML 502 or 503 without rate-limit headers, counted nowhere) or with
        a shared-scope 429 (``shared``: counted in the global and bucket windows first, as
        Discord's resource limits come after them). Draws use the fake's seeded generator."""
        self._faults = (edge, shared, shared_retry_after, match)

    def set_limit(self, group: str, limit: int, window: float) -> None:
        """Change a bucket group's limit (takes effect for windows created afterwards)."""
        self._limits[group] = (limit, window)

    def count(self, status: int | None = None, scope: str | None = None) -> int:
        """How many recorded requests got ``status`` (and 429 ``scope``)."""
        return sum(
            1
            for r in self.requests
            if (status is None or r.status == status) and (scope is None or r.scope == scope)
        )

    def bucket_hash(self, group: str) -> str:
        """The ``X-RateLimit-Bucket`` value the fake reports for a bucket group."""
        return hashlib.sha1(group.encode()).hexdigest()[:16]

    # ----------------------------------------------------------------- app

    def _build_app(self) -> Starlette:
        def r(method: str, template: str, handler: Any, group: str, kind: str) -> Route:
            endpoint = self._wrap(method, template, handler, group, kind)
            return Route(API_PREFIX + template, endpoint, methods=[method])

        ch = "/channels/{channel_id}"
        msg = ch + "/messages/{message_id}"
        react = msg + "/reactions/{emoji}/@me"
        wh = "/webhooks/{webhook_id}/{webhook_token}"
        cmds = "/applications/{application_id}/commands"
        gcmds = "/applications/{application_id}/guilds/{guild_id}/commands"
        routes = [
            r(
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                self._callback,
                "interaction.callback",
                "interaction",
            ),
            r("GET", wh + "/messages/@original", self._get_original, "webhook", "webhook"),
            r("PATCH", wh + "/messages/@original", self._edit_original, "webhook", "webhook"),
            r("DELETE", wh + "/messages/@original", self._delete_original, "webhook", "webhook"),
            r("POST", wh, self._create_followup, "webhook", "webhook"),
            r("GET", wh + "/messages/{message_id}", self._get_followup, "webhook", "webhook"),
            r("PATCH", wh + "/messages/{message_id}", self._edit_followup, "webhook", "webhook"),
            r("DELETE", wh + "/messages/{message_id}", self._delete_followup, "webhook", "webhook"),
            r("GET", cmds, self._get_commands, "commands.read", "bot"),
            r("PUT", cmds, self._put_commands, "commands.write", "bot"),
            r("POST", cmds, self._post_command, "commands.write", "bot"),
            r("GET", gcmds, self._get_commands, "commands.read", "bot"),
            r("PUT", gcmds, self._put_commands, "commands.write", "bot"),
            r("POST", gcmds, self._post_command, "commands.write", "bot"),
            r("GET", ch, self._get_channel, "channels.get", "bot"),
            r("POST", ch + "/messages", self._create_message, "messages.create", "bot"),
            r("GET", ch + "/messages", self._list_messages, "messages.read", "bot"),
            r("GET", msg, self._get_message, "messages.read", "bot"),
            r("PATCH", msg, self._edit_message, "messages.edit", "bot"),
            r("DELETE", msg, self._delete_message, "messages.delete", "bot"),
            r("PUT", react, self._add_reaction, "reactions", "bot"),
            r("DELETE", react, self._remove_reaction, "reactions", "bot"),
            r("GET", "/users/@me", self._get_me, "users.me", "bot"),
            r("GET", "/gateway/bot", self._get_gateway_bot, "gateway", "bot"),
            r("GET", "/gateway", self._get_gateway, "gateway", "none"),
        ]

        async def not_found(request: Request, exc: Exception) -> Response:
            status = getattr(exc, "status_code", 404)
            return _error(status, 0, f"{status}: {'Not Found' if status == 404 else 'Error'}")

        return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})

    def _wrap(
        self,
        method: str,
        template: str,
        handler: Callable[[Request, RecordedRequest], Awaitable[Response]],
        group: str,
        kind: str,
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            rec = RecordedRequest(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                json=None,
                files={},
                time=time.monotonic(),
                route=template,
                group=group,
                major=_major(request.path_params),
            )
            self.requests.append(rec)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await handle(request, rec)
            finally:
                self.in_flight -= 1

        async def handle(request: Request, rec: RecordedRequest) -> Response:
            body = await request.body()
            lat = self._latency()
            if lat:
                await asyncio.sleep(lat / 2)
            bad_body: str | None = None
            try:
                rec.json, rec.files = _parse_body(request.headers.get("content-type"), body)
            except ValueError as exc:
                bad_body = str(exc)
            response = self._gate(request, rec, group, kind)
            if response is None:
                if bad_body is not None:
                    response = _error(
                        400, 50109, f"The request body contains invalid JSON ({bad_body})"
                    )
                else:
                    response = await handler(request, rec)
                self._add_bucket_headers(response, rec)
            rec.status = response.status_code
            if rec.status == 429 and response.body:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    rec.retry_after = float(json.loads(bytes(response.body))["retry_after"])
            if response.status_code in (401, 403) or (
                response.status_code == 429 and rec.scope != "shared"
            ):
                self.invalid_requests += 1
            if lat:
                await asyncio.sleep(lat / 2)
            rec.answered = time.monotonic()
            return response

        return endpoint

    def _latency(self) -> float:
        if isinstance(self.latency, tuple):
            return self._rng.uniform(*self.latency)
        return self.latency

    def _gate(
        self, request: Request, rec: RecordedRequest, group: str, kind: str
    ) -> Response | None:
        """Injections, auth, global and bucket limits; ``None`` lets the request through."""
        path = rec.route_path
        for inj in self.injections:
            if inj.times > 0 and (inj.match is None or inj.match(rec.method, path)):
                if inj.skip > 0:
                    inj.skip -= 1
                    continue
                inj.times -= 1
                rec.scope = inj.headers.get("X-RateLimit-Scope")
                if inj.text is not None:
                    return Response(inj.text, inj.status, inj.headers, media_type="text/html")
                if inj.body is None:
                    return Response(b"", inj.status, inj.headers)
                return JSONResponse(inj.body, inj.status, inj.headers)
        shared_fault: float | None = None
        if self._faults is not None:
            edge, shared, shared_after, fmatch = self._faults
            if fmatch is None or fmatch(rec.method, path):
                draw = self._rng.random()
                if draw < edge:
                    status = 502 if self._rng.random() < 0.5 else 503
                    return Response(_EDGE_PAGE % status, status, media_type="text/html")
                if draw < edge + shared:
                    shared_fault = shared_after
        auth = request.headers.get("authorization")
        if (
            kind == "webhook"
            and int(request.path_params["webhook_id"]) not in self.interaction_apps
        ):
            kind = "regular-webhook"  # only the application's own webhook is exempt
        if kind == "bot" and (
            auth is None
            or not auth.startswith("Bot ")
            or (self.token is not None and auth != f"Bot {self.token}")
        ):
            return _error(401, 0, "401: Unauthorized")
        now = time.monotonic()
        if self.global_limit is not None and kind not in ("interaction", "webhook"):
            key = auth or (request.client.host if request.client else "?")
            gw = self._global_windows.get(key)
            if gw is None:
                gw = self._global_windows[key] = _Window(*self.global_limit)
            if gw.full(now):
                retry = gw.retry_after(now)
                rec.scope = "global"
                return JSONResponse(
                    {
                        "message": "You are being rate limited.",
                        "retry_after": round(retry, 3),
                        "global": True,
                    },
                    429,
                    {
                        "Retry-After": str(math.ceil(retry)),
                        "X-RateLimit-Global": "true",
                        "X-RateLimit-Scope": "global",
                    },
                )
            gw.log.append(now)
        major = rec.major
        bucket_hash = self.bucket_hash(group)
        key2 = (bucket_hash, major)
        win = self._windows.get(key2)
        if win is None:
            win = self._windows[key2] = _Window(*self._limits[group])
        rec.bucket = f"{bucket_hash}:{major}"
        if win.full(now):
            retry = win.retry_after(now)
            rec.scope = "user"
            headers = self._headers(win, bucket_hash, now)
            headers.update({"Retry-After": str(math.ceil(retry)), "X-RateLimit-Scope": "user"})
            return JSONResponse(
                {
                    "message": "You are being rate limited.",
                    "retry_after": round(retry, 3),
                    "global": False,
                },
                429,
                headers,
            )
        win.log.append(now)
        if shared_fault is not None:  # a resource limit: the slot above is used all the same
            rec.scope = "shared"
            headers = self._headers(win, bucket_hash, now)
            headers.update(
                {"Retry-After": str(math.ceil(shared_fault)), "X-RateLimit-Scope": "shared"}
            )
            return JSONResponse(
                {
                    "message": "The resource is being rate limited.",
                    "retry_after": shared_fault,
                    "global": False,
                    "code": 40062,
                },
                429,
                headers,
            )
        return None

    def _headers(self, win: _Window, bucket_hash: str, now: float) -> dict[str, str]:
        reset_after = win.retry_after(now) if win.log else win.window
        return {
            "X-RateLimit-Limit": str(win.limit),
            "X-RateLimit-Remaining": str(max(0, win.limit - len(win.log))),
            "X-RateLimit-Reset": f"{self._epoch0 + now + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }

    def _add_bucket_headers(self, response: Response, rec: RecordedRequest) -> None:
        if rec.bucket is None:
            return
        bucket_hash, _, major = rec.bucket.partition(":")
        win = self._windows[(bucket_hash, major)]
        for k, v in self._headers(win, bucket_hash, time.monotonic()).items():
            response.headers[k] = v

    # ----------------------------------------------------------------- messages

    def _new_id(self) -> int:
        return next(self._ids)

    def _message(
        self, body: Any, files: dict[str, tuple[str, bytes]], *, channel_id: int, **extra: Any
    ) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        mid = self._new_id()
        attachments = [
            {
                "id": str(self._new_id()),
                "filename": fn,
                "size": len(data),
                "url": f"https://cdn.invalid/{mid}/{fn}",
            }
            for fn, data in files.values()
        ]
        message: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": 0,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": attachments,
            "flags": body.get("flags") or 0,
            "tts": bool(body.get("tts")),
            "author": self._bot_user(),
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "edited_timestamp": None,
            "pinned": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
        }
        message.update(extra)
        self.messages[mid] = message
        return message

    def _edit(
        self, message: dict[str, Any], body: Any, files: dict[str, tuple[str, bytes]]
    ) -> None:
        if isinstance(body, dict):
            for key in ("content", "embeds", "components", "flags", "allowed_mentions"):
                if key in body:
                    message[key] = (
                        body[key]
                        if body[key] is not None
                        else ("" if key == "content" else 0 if key == "flags" else [])
                    )
            if "attachments" in body and body["attachments"] is not None:
                keep = {str(a.get("id")) for a in body["attachments"]}
                message["attachments"] = [a for a in message["attachments"] if a["id"] in keep]
        for fn, data in files.values():
            message["attachments"].append(
                {"id": str(self._new_id()), "filename": fn, "size": len(data)}
            )
        message["edited_timestamp"] = "2026-01-01T00:00:01.000000+00:00"

    def _channel_message(self, request: Request) -> dict[str, Any] | None:
        cid = int(request.path_params["channel_id"])
        m = self.messages.get(int(request.path_params["message_id"]))
        return m if m is not None and m["channel_id"] == str(cid) else None

    async def _create_message(self, request: Request, rec: RecordedRequest) -> Response:
        body = rec.json if isinstance(rec.json, dict) else {}
        if (
            not body.get("content")
            and not body.get("embeds")
            and not rec.files
            and not body.get("components")
            and not body.get("sticker_ids")
        ):
            return _error(400, 50006, "Cannot send an empty message")
        cid = int(request.path_params["channel_id"])
        return JSONResponse(self._message(rec.json, rec.files, channel_id=cid))

    async def _list_messages(self, request: Request, rec: RecordedRequest) -> Response:
        cid = str(request.path_params["channel_id"])
        found = [m for m in self.messages.values() if m["channel_id"] == cid]
        limit = int(rec.query.get("limit", "50"))
        return JSONResponse(list(reversed(found))[:limit])

    async def _get_message(self, request: Request, rec: RecordedRequest) -> Response:
        m = self._channel_message(request)
        return JSONResponse(m) if m else _error(404, 10008, "Unknown Message")

    async def _edit_message(self, request: Request, rec: RecordedRequest) -> Response:
        m = self._channel_message(request)
        if m is None:
            return _error(404, 10008, "Unknown Message")
        self._edit(m, rec.json, rec.files)
        return JSONResponse(m)

    async def _delete_message(self, request: Request, rec: RecordedRequest) -> Response:
        m = self._channel_message(request)
        if m is None:
            return _error(404, 10008, "Unknown Message")
        del self.messages[int(m["id"])]
        return Response(status_code=204)

    async def _add_reaction(self, request: Request, rec: RecordedRequest) -> Response:
        m = self._channel_message(request)
        if m is None:
            return _error(404, 10008, "Unknown Message")
        emoji = unquote(request.path_params["emoji"])
        self.reactions.append((int(request.path_params["channel_id"]), int(m["id"]), emoji))
        return Response(status_code=204)

    async def _remove_reaction(self, request: Request, rec: RecordedRequest) -> Response:
        emoji = unquote(request.path_params["emoji"])
        key = (
            int(request.path_params["channel_id"]),
            int(request.path_params["message_id"]),
            emoji,
        )
        if key in self.reactions:
            self.reactions.remove(key)
        return Response(status_code=204)

    async def _get_channel(self, request: Request, rec: RecordedRequest) -> Response:
        cid = request.path_params["channel_id"]
        return JSONResponse(
            {"id": str(cid), "type": 0, "name": f"channel-{cid}", "guild_id": "1", "position": 0}
        )

    def _bot_user(self) -> dict[str, Any]:
        """The fake bot's user object, as messages and ``/users/@me`` show it."""
        return {
            "id": str(self.bot_user_id),
            "username": "fakebot",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
        }

    async def _get_me(self, request: Request, rec: RecordedRequest) -> Response:
        return JSONResponse(self._bot_user())

    async def _get_gateway_bot(self, request: Request, rec: RecordedRequest) -> Response:
        return JSONResponse(self.gateway_bot)

    async def _get_gateway(self, request: Request, rec: RecordedRequest) -> Response:
        return JSONResponse({"url": self.gateway_bot["url"]})

    # ----------------------------------------------------------------- interactions

    async def _callback(self, request: Request, rec: RecordedRequest) -> Response:
        iid = int(request.path_params["interaction_id"])
        token = str(request.path_params["interaction_token"])
        payload = rec.json if isinstance(rec.json, dict) else {}
        if iid in self._acked:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if not isinstance(payload.get("type"), int) or payload["type"] not in (
            4,
            5,
            6,
            7,
            8,
            9,
            12,
        ):
            return _error(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_CHOICES",
                                "message": "Value must be one of (4, 5, 6, 7, 8, 9, 12).",
                            }
                        ]
                    }
                },
            )
        self._acked.add(iid)
        self.callbacks.append(
            {"interaction_id": iid, "token": token, "payload": payload, "files": rec.files}
        )
        data = payload.get("data") or {}
        message = None
        if payload["type"] == 4:
            message = self._message(
                data,
                rec.files,
                channel_id=0,
                application_id=str(self.application_id),
                interaction_id=str(iid),
            )
        elif payload["type"] == 5:
            flags = 128 | (int(data.get("flags") or 0) & 64)
            message = self._message(
                {"flags": flags}, {}, channel_id=0, application_id=str(self.application_id)
            )
        if message is not None:
            self.originals[token] = message
        if rec.query.get("with_response") in ("true", "True", "1"):
            resource: dict[str, Any] = {"type": payload["type"]}
            if message is not None:
                resource["message"] = message
            return JSONResponse(
                {
                    "interaction": {
                        "id": str(iid),
                        "type": 2,
                        "response_message_id": message and message["id"],
                    },
                    "resource": resource,
                }
            )
        return Response(status_code=204)

    async def _get_original(self, request: Request, rec: RecordedRequest) -> Response:
        m = self.originals.get(request.path_params["webhook_token"])
        return JSONResponse(m) if m else _error(404, 10008, "Unknown Message")

    async def _edit_original(self, request: Request, rec: RecordedRequest) -> Response:
        token = request.path_params["webhook_token"]
        m = self.originals.get(token)
        if m is None:  # answered over HTTP: the fake never saw it, so create it now
            m = self.originals[token] = self._message(
                {}, {}, channel_id=0, application_id=str(self.application_id)
            )
        self._edit(m, rec.json, rec.files)
        m["flags"] = int(m.get("flags") or 0) & ~128
        return JSONResponse(m)

    async def _delete_original(self, request: Request, rec: RecordedRequest) -> Response:
        m = self.originals.pop(request.path_params["webhook_token"], None)
        if m is None:
            return _error(404, 10008, "Unknown Message")
        self.messages.pop(int(m["id"]), None)
        return Response(status_code=204)

    async def _create_followup(self, request: Request, rec: RecordedRequest) -> Response:
        token = request.path_params["webhook_token"]
        body = rec.json if isinstance(rec.json, dict) else {}
        if (
            not body.get("content")
            and not body.get("embeds")
            and not rec.files
            and not body.get("components")
        ):
            return _error(400, 50006, "Cannot send an empty message")
        regular = int(request.path_params["webhook_id"]) not in self.interaction_apps
        m = self._message(
            body,
            rec.files,
            channel_id=0,
            webhook_id=request.path_params["webhook_id"],
            application_id=None if regular else str(self.application_id),
        )
        self.followups.setdefault(token, []).append(m)
        if regular and rec.query.get("wait") not in ("true", "True", "1"):
            return Response(status_code=204)  # a regular webhook returns the message on wait
        return JSONResponse(m)

    def _followup(self, request: Request) -> dict[str, Any] | None:
        token = request.path_params["webhook_token"]
        mid = str(request.path_params["message_id"])
        return next((m for m in self.followups.get(token, []) if m["id"] == mid), None)

    async def _get_followup(self, request: Request, rec: RecordedRequest) -> Response:
        m = self._followup(request)
        return JSONResponse(m) if m else _error(404, 10008, "Unknown Message")

    async def _edit_followup(self, request: Request, rec: RecordedRequest) -> Response:
        m = self._followup(request)
        if m is None:
            return _error(404, 10008, "Unknown Message")
        self._edit(m, rec.json, rec.files)
        return JSONResponse(m)

    async def _delete_followup(self, request: Request, rec: RecordedRequest) -> Response:
        m = self._followup(request)
        if m is None:
            return _error(404, 10008, "Unknown Message")
        self.followups[request.path_params["webhook_token"]].remove(m)
        self.messages.pop(int(m["id"]), None)
        return Response(status_code=204)

    # ----------------------------------------------------------------- commands

    def _scope(self, request: Request) -> tuple[int, int | None]:
        app = int(request.path_params["application_id"])
        guild = request.path_params.get("guild_id")
        return app, (int(guild) if guild is not None else None)

    def _stored_command(self, app: int, guild: int | None, cmd: dict[str, Any]) -> dict[str, Any]:
        stored = dict(cmd)
        stored.setdefault("type", 1)
        stored.setdefault("description", "")
        stored["id"] = str(cmd.get("id") or self._new_id())
        stored["application_id"] = str(app)
        stored["version"] = str(self._new_id())
        if guild is not None:
            stored["guild_id"] = str(guild)
        return stored

    async def _get_commands(self, request: Request, rec: RecordedRequest) -> Response:
        return JSONResponse(self.commands.get(self._scope(request), []))

    async def _put_commands(self, request: Request, rec: RecordedRequest) -> Response:
        app, guild = self._scope(request)
        if not isinstance(rec.json, list):
            return _error(400, 50035, "Invalid Form Body")
        old = {(c.get("type", 1), c["name"]): c for c in self.commands.get((app, guild), [])}
        new = []
        for cmd in rec.json:
            if not isinstance(cmd, dict) or not isinstance(cmd.get("name"), str):
                return _error(400, 50035, "Invalid Form Body")
            prev = old.get((cmd.get("type", 1), cmd["name"]))
            new.append(self._stored_command(app, guild, {**cmd, "id": prev and prev["id"]}))
        self.commands[(app, guild)] = new
        return JSONResponse(new)

    async def _post_command(self, request: Request, rec: RecordedRequest) -> Response:
        app, guild = self._scope(request)
        cmd = rec.json
        if not isinstance(cmd, dict) or not isinstance(cmd.get("name"), str):
            return _error(400, 50035, "Invalid Form Body")
        existing = self.commands.setdefault((app, guild), [])
        for i, c in enumerate(existing):
            if c["name"] == cmd["name"] and c.get("type", 1) == cmd.get("type", 1):
                existing[i] = self._stored_command(app, guild, {**cmd, "id": c["id"]})
                return JSONResponse(existing[i])
        stored = self._stored_command(app, guild, cmd)
        existing.append(stored)
        return JSONResponse(stored, 201)


def _major(params: Mapping[str, Any]) -> str:
    """The values of a route's major parameters, ":"-joined: with the bucket hash, its bucket."""
    return ":".join(
        str(params[k])
        for k in ("channel_id", "guild_id", "webhook_id", "webhook_token", "interaction_id")
        if k in params
    )


_EDGE_PAGE = "<html><head><title>%d Bad Gateway</title></head><body>cloudflare</body></html>"


def _error(status: int, code: int, message: str, errors: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status)


def _parse_body(content_type: str | None, body: bytes) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """JSON or multipart (``payload_json`` + ``files[n]``) -> (json, files)."""
    if not body:
        return None, {}
    if content_type and content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if not msg.is_multipart():
            raise ValueError("malformed multipart body")
        payload: Any = None
        files: dict[str, tuple[str, bytes]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if name == "payload_json":
                payload = json.loads(data)
            elif filename is not None and isinstance(name, str):
                files[name] = (filename, data)
        return payload, files
    return json.loads(body), {}


@contextlib.asynccontextmanager
async def serve_fake_discord(**options: Any) -> AsyncIterator[FakeDiscord]:
    """Run a ``FakeDiscord(**options)`` under uvicorn on 127.0.0.1:<free port> for the block."""
    fake = FakeDiscord(**options)
    async with serve(
        fake.app,
        lifespan="off",
        access_log=False,
        http="httptools",
        timeout_keep_alive=30,
        backlog=2048,
        stop_timeout=5,
    ) as url:
        fake.base_url = url + API_PREFIX
        yield fake


def pending_injections(fake: FakeDiscord) -> Iterable[Injection]:
    """Injections that still have answers left."""
    return [i for i in fake.injections if i.times > 0]
