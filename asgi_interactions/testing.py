"""Signed test client and payload builders for testing bots without Discord.

``InteractionTestClient`` signs realistic interactions with a key pair you control and sends them
to an app in process (running its lifespan) or to a URL (e.g. a uvicorn server), returning the
parsed answer. ``python -m asgi_interactions.testing URL ping`` does the same from a shell.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx2
from nacl.signing import SigningKey

from .webhook_events.samples import webhook_event_payload, webhook_ping_payload

__all__ = [
    "DEVELOPMENT_KEYS",
    "InteractionTestClient",
    "KeyPair",
    "Resolvable",
    "TestResponse",
    "attachment",
    "autocomplete_payload",
    "channel",
    "command_payload",
    "component_payload",
    "interaction_payload",
    "member",
    "message",
    "modal_payload",
    "role",
    "user",
    "webhook_event_payload",
    "webhook_ping_payload",
]

APPLICATION_ID = "1100000000000000001"
GUILD_ID = "1100000000000000002"
CHANNEL_ID = "1100000000000000003"
USER_ID = "1100000000000000004"
_ids = itertools.count(1)


class KeyPair:
    """An Ed25519 key pair: give ``public_key`` to the app, sign requests with the rest."""

    def __init__(self, signing_key: SigningKey) -> None:
        self.signing_key = signing_key

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh random key pair."""
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed_hex: str) -> KeyPair:
        """A key pair from a 32-byte hex seed (reproducible keys for examples)."""
        return cls(SigningKey(bytes.fromhex(seed_hex)))

    @property
    def public_key(self) -> str:
        """The hex public key, as the developer portal shows it."""
        return bytes(self.signing_key.verify_key).hex()

    def sign(self, timestamp: str, body: bytes) -> str:
        """The hex signature Discord would send for this timestamp and body."""
        return self.signing_key.sign(timestamp.encode() + body).signature.hex()

    def headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """The two signature headers (and content type) for ``body``."""
        ts = timestamp if timestamp is not None else str(int(time.time()))
        return {
            "content-type": "application/json",
            "x-signature-ed25519": self.sign(ts, body),
            "x-signature-timestamp": ts,
        }


DEVELOPMENT_KEYS = KeyPair.from_seed("a5" * 32)
"""A fixed, public key pair for local development only; never use it for a real application.

The example app trusts it when ``DISCORD_PUBLIC_KEY`` is unset, and ``asgi-interactions send``
signs with it unless given ``--seed``."""


# -- payload builders -------------------------------------------------------------------------


def _snowflake() -> str:
    return str((int(time.time() * 1000) - 1420070400000) << 22 | next(_ids) % 4096)


def user(id: int | str = USER_ID, username: str = "tester", **extra: Any) -> Resolvable:
    """A user option value / target (resolved into ``data.resolved.users``)."""
    data = {"id": str(id), "username": username, "discriminator": "0", "global_name": username}
    return Resolvable("users", data | extra, 6)


def member(id: int | str = USER_ID, username: str = "tester", **extra: Any) -> Resolvable:
    """A guild member option value: resolves into ``users`` and ``members``."""
    data = {"id": str(id), "username": username, "discriminator": "0", "global_name": username}
    member_data = {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "permissions": "0"}
    return Resolvable("users", data, 6, member=member_data | extra)


def role(id: int | str = "1100000000000000010", name: str = "role", **extra: Any) -> Resolvable:
    """A role option value (resolved into ``data.resolved.roles``)."""
    data = {"id": str(id), "name": name, "color": 0, "hoist": False, "position": 1}
    return Resolvable("roles", data | {"permissions": "0", "managed": False} | extra, 8)


def channel(
    id: int | str = CHANNEL_ID, name: str = "general", type: int = 0, **extra: Any
) -> Resolvable:
    """A channel option value (resolved into ``data.resolved.channels``)."""
    return Resolvable("channels", {"id": str(id), "name": name, "type": type} | extra, 7)


def attachment(
    id: int | str = "1100000000000000020", filename: str = "file.txt", size: int = 5, **extra: Any
) -> Resolvable:
    """An attachment option value (resolved into ``data.resolved.attachments``)."""
    url = f"https://cdn.example.invalid/{filename}"
    data = {"id": str(id), "filename": filename, "size": size, "url": url, "proxy_url": url}
    return Resolvable("attachments", data | extra, 11)


def message(
    id: int | str = "1100000000000000030", content: str = "hello", **extra: Any
) -> dict[str, Any]:
    """A message object (a message command's target, or the message a component sits on)."""
    author = {"id": USER_ID, "username": "tester", "discriminator": "0"}
    data = {
        "id": str(id),
        "channel_id": CHANNEL_ID,
        "content": content,
        "author": author,
        "timestamp": "2024-01-01T00:00:00+00:00",
        "type": 0,
        "embeds": [],
        "attachments": [],
        "components": [],
    }
    return data | extra


_message_object = message


@dataclass
class Resolvable:
    """An object an option refers to by id; the builder puts it into ``data.resolved``."""

    kind: str
    data: dict[str, Any]
    option_type: int
    member: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def add_to(self, resolved: dict[str, dict[str, Any]]) -> None:
        """Insert this object (and its member part) into a resolved-data dict."""
        resolved.setdefault(self.kind, {})[self.id] = self.data
        if self.member is not None:
            resolved.setdefault("members", {})[self.id] = self.member


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _options(
    values: Mapping[str, Any], resolved: dict[str, dict[str, Any]], focused: str | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, value in values.items():
        if isinstance(value, Resolvable):
            value.add_to(resolved)
            option: dict[str, Any] = {"name": name, "type": value.option_type, "value": value.id}
        else:
            option = {"name": name, "type": _option_type(value), "value": value}
        if name == focused:
            option["focused"] = True
        out.append(option)
    return out


def _nest(path: Sequence[str], leaves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wrap leaf options in subcommand (and group) options for ``path`` below the command."""
    if not path:
        return leaves
    if len(path) == 1:
        return [{"name": path[0], "type": 1, "options": leaves}]
    return [{"name": path[0], "type": 2, "options": _nest(path[1:], leaves)}]


def interaction_payload(
    type: int,
    data: dict[str, Any] | None = None,
    *,
    guild: bool = True,
    invoker: Resolvable | None = None,
    locale: str = "en-US",
    message: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A complete interaction object of ``type`` as Discord sends it (guild or DM)."""
    who = invoker or user()
    payload: dict[str, Any] = {
        "id": _snowflake(),
        "application_id": APPLICATION_ID,
        "type": type,
        "token": "test-token-" + _snowflake(),
        "version": 1,
        "channel_id": CHANNEL_ID,
        "channel": {"id": CHANNEL_ID, "type": 0 if guild else 1},
        "app_permissions": "2248473465835073",
        "locale": locale,
        "entitlements": [],
        "attachment_size_limit": 10485760,
        "authorizing_integration_owners": {"0": GUILD_ID if guild else "0"},
        "context": 0 if guild else 1,
    }
    if data is not None:
        payload["data"] = data
    if guild:
        payload["guild_id"] = GUILD_ID
        payload["guild"] = {"id": GUILD_ID, "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = {
            "user": who.data,
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "permissions": "2248473465835073",
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
    else:
        payload["user"] = who.data
    if message is not None:
        payload["message"] = message
    return payload | extra


def command_payload(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    subcommand: str | Sequence[str] | None = None,
    command_type: int = 1,
    target: Resolvable | dict[str, Any] | None = None,
    focused: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A slash command (or, with ``command_type`` 2/3 and ``target``, a context command).

    ``subcommand`` is ``"sub"`` or ``"group sub"`` (or a sequence); option values of type
    ``Resolvable`` (``user()``, ``member()``, ``role()``, ``channel()``, ``attachment()``) are
    sent by id and resolved like Discord does.
    """
    resolved: dict[str, dict[str, Any]] = {}
    path = subcommand.split() if isinstance(subcommand, str) else list(subcommand or ())
    data: dict[str, Any] = {"id": _snowflake(), "name": name, "type": command_type}
    leaves = _options(options or {}, resolved, focused)
    nested = _nest(path, leaves)
    if nested:
        data["options"] = nested
    if target is not None:
        if isinstance(target, Resolvable):
            target.add_to(resolved)
            data["target_id"] = target.id
        else:
            resolved.setdefault("messages", {})[str(target["id"])] = target
            data["target_id"] = str(target["id"])
    if resolved:
        data["resolved"] = resolved
    interaction_type = 4 if focused is not None else 2
    return interaction_payload(interaction_type, data, **extra)


def autocomplete_payload(
    name: str,
    focused: str,
    value: Any,
    options: Mapping[str, Any] | None = None,
    *,
    subcommand: str | Sequence[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An autocomplete interaction with ``focused`` being typed as ``value``."""
    values = dict(options or {})
    values[focused] = value
    return command_payload(name, values, subcommand=subcommand, focused=focused, **extra)


def component_payload(
    custom_id: str,
    *,
    component_type: int = 2,
    values: Sequence[str] | None = None,
    resolved: Sequence[Resolvable] = (),
    message: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A button press (``component_type`` 2) or a select (3, 5–8) with ``values``."""
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type, "id": 1}
    if values is not None:
        data["values"] = list(values)
    if resolved:
        res: dict[str, dict[str, Any]] = {}
        for item in resolved:
            item.add_to(res)
        data["resolved"] = res
    msg = message if message is not None else _message_object()
    return interaction_payload(3, data, message=msg, **extra)


def modal_payload(custom_id: str, values: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    """A modal submit whose text inputs (by custom id) hold ``values`` (Label-wrapped, 2025+)."""
    components = [
        {
            "type": 18,
            "id": index * 2 + 1,
            "component": {"type": 4, "id": index * 2 + 2, "custom_id": key, "value": value},
        }
        for index, (key, value) in enumerate(values.items())
    ]
    return interaction_payload(5, {"custom_id": custom_id, "components": components}, **extra)


# -- client -----------------------------------------------------------------------------------


@dataclass
class TestResponse:
    """The endpoint's answer, parsed: HTTP status plus the interaction callback if any."""

    __test__ = False  # not a pytest test class

    status: int
    headers: httpx2.Headers
    body: bytes
    json: Any = field(default=None)

    @property
    def type(self) -> int | None:
        """The callback type (1 PONG, 4 message, 5/6 deferred, 7 update, 8 choices, 9 modal)."""
        return self.json.get("type") if isinstance(self.json, dict) else None

    @property
    def data(self) -> dict[str, Any]:
        """The callback's ``data`` (empty if none)."""
        if isinstance(self.json, dict) and isinstance(self.json.get("data"), dict):
            return dict(self.json["data"])
        return {}

    @property
    def content(self) -> str | None:
        """The message content of the answer, if it is a message."""
        return self.data.get("content")

    @property
    def ephemeral(self) -> bool:
        """True if the answer's flags include EPHEMERAL (64)."""
        return bool(int(self.data.get("flags", 0)) & 64)

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices of a type 8 answer."""
        return list(self.data.get("choices", []))


class InteractionTestClient:
    """Sends signed interactions to an ASGI app (in process) or to a URL, and parses answers.

    In process, it runs the app's lifespan (unless ``lifespan=False``) so REST clients open
    and in-flight work is awaited at exit.
    """

    __test__ = False

    def __init__(
        self,
        target: Any,
        keys: KeyPair | None = None,
        *,
        lifespan: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.keys = keys or DEVELOPMENT_KEYS
        self._lifespan = lifespan
        self._timeout = timeout
        self._stack: AsyncExitStack | None = None
        self._http: httpx2.AsyncClient | None = None
        self._url = "/"

    async def __aenter__(self) -> InteractionTestClient:
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            if isinstance(self.target, str):
                self._url = self.target
                client = httpx2.AsyncClient(timeout=self._timeout)
            else:
                if self._lifespan and hasattr(self.target, "lifespan"):
                    await stack.enter_async_context(self.target.lifespan(None))
                transport = httpx2.ASGITransport(app=self.target)
                client = httpx2.AsyncClient(
                    transport=transport, base_url="http://testserver", timeout=self._timeout
                )
            self._http = await stack.enter_async_context(client)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    async def send(
        self,
        payload: Mapping[str, Any] | bytes,
        *,
        timestamp: str | None = None,
        headers: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> TestResponse:
        """POST ``payload`` signed (or raw, with ``sign=False``) and parse the answer."""
        if self._http is None:
            raise RuntimeError("use 'async with InteractionTestClient(...)' first")
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = self.keys.headers(body, timestamp) if sign else {}
        all_headers.update(headers or {})
        response = await self._http.post(self._url, content=body, headers=all_headers)
        parsed: Any = None
        if response.content and "json" in response.headers.get("content-type", ""):
            parsed = response.json()
        return TestResponse(response.status_code, response.headers, response.content, parsed)

    async def ping(self) -> TestResponse:
        """A PING, as Discord sends when the endpoint URL is saved."""
        return await self.send(interaction_payload(1))

    async def command(
        self, name: str, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> TestResponse:
        """Invoke a slash command (see ``command_payload`` for subcommands and resolved values)."""
        return await self.send(command_payload(name, options, **kwargs))

    async def user_command(self, name: str, target: Resolvable, **kwargs: Any) -> TestResponse:
        """Invoke a user context-menu command on ``target`` (``user()`` or ``member()``)."""
        return await self.send(command_payload(name, command_type=2, target=target, **kwargs))

    async def message_command(
        self, name: str, target: dict[str, Any], **kwargs: Any
    ) -> TestResponse:
        """Invoke a message context-menu command on ``target`` (``message()``)."""
        return await self.send(command_payload(name, command_type=3, target=target, **kwargs))

    async def autocomplete(
        self,
        name: str,
        focused: str,
        value: Any,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        """Type ``value`` into option ``focused`` of command ``name``."""
        return await self.send(autocomplete_payload(name, focused, value, options, **kwargs))

    async def button(self, custom_id: str, **kwargs: Any) -> TestResponse:
        """Press the button ``custom_id``."""
        return await self.send(component_payload(custom_id, **kwargs))

    async def select(
        self, custom_id: str, values: Sequence[str], component_type: int = 3, **kwargs: Any
    ) -> TestResponse:
        """Choose ``values`` in the select menu ``custom_id``."""
        return await self.send(
            component_payload(custom_id, component_type=component_type, values=values, **kwargs)
        )

    async def modal_submit(
        self, custom_id: str, values: Mapping[str, str], **kwargs: Any
    ) -> TestResponse:
        """Submit the modal ``custom_id`` with text input ``values`` by custom id."""
        return await self.send(modal_payload(custom_id, values, **kwargs))

    async def webhook_ping(self) -> TestResponse:
        """A webhook events PING (``type`` 0): send to ``bot.webhook_events``; 204 expected."""
        return await self.send(webhook_ping_payload())

    async def webhook_event(
        self, event_type: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> TestResponse:
        """A webhook event of ``event_type`` (sample ``data`` for documented types; see
        ``webhook_event_payload``). To play a redelivery, build the payload once and ``send`` it
        twice with different ``timestamp=`` (Discord signs each attempt anew)."""
        return await self.send(webhook_event_payload(event_type, data, **kwargs))


# -- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m asgi_interactions.testing URL KIND ...``: ``asgi-interactions send``."""
    from .cli import main as cli_main

    return cli_main(["send", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
