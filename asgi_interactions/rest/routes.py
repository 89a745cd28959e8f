"""Route templates: the unit of rate-limit bucketing, with their major parameters."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote

__all__ = ["MAJOR_PARAMETERS", "Route"]

#: Path parameters that are Discord's "top-level resources": limits are kept per value.
MAJOR_PARAMETERS = (
    "channel_id",
    "guild_id",
    "webhook_id",
    "webhook_token",
    "interaction_id",
    "interaction_token",
)
#: Parameters that are secrets: hashed in bucket keys and masked in reprs and logs.
SECRET_PARAMETERS = frozenset({"webhook_token", "interaction_token", "token"})


@lru_cache(maxsize=4096)
def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class _Template:
    """A route template parsed once: literal pieces, fields, major parameters, bucket route."""

    __slots__ = ("bucket_route", "exempt", "fields", "majors", "pieces", "token_webhook")

    def __init__(self, method: str, template: str) -> None:
        parsed = list(string.Formatter().parse(template))
        self.pieces = tuple((literal, name) for literal, name, _, _ in parsed)
        self.fields = tuple(name for _, name in self.pieces if name)
        self.majors = tuple(
            (name, name in SECRET_PARAMETERS) for name in MAJOR_PARAMETERS if name in self.fields
        )
        # Adding and removing reactions share one bucket per channel whatever the message or
        # emoji, so those routes collapse to one key: a burst over several messages is not let
        # through while that bucket is still unknown.
        if method in ("PUT", "DELETE") and "/reactions/" in template:
            self.bucket_route = "REACTIONS /channels/{channel_id}"
        else:
            self.bucket_route = f"{method} {template}"
        # Only interaction endpoints are exempt from the global limit: the callback, and the
        # interaction webhook (written with ``{interaction_token}``). A ``{webhook_token}``
        # route is exempt only if its webhook id is the application's (the client decides).
        self.exempt = template.startswith("/interactions/") or (
            template.startswith("/webhooks/") and "{interaction_token}" in template
        )
        self.token_webhook = template.startswith("/webhooks/{webhook_id}/{webhook_token}")


@lru_cache(maxsize=1024)
def _compile(method: str, template: str) -> _Template:
    return _Template(method, template)


def _fields(template: str) -> tuple[str, ...]:
    return _compile("GET", template).fields


def _segment(value: Any) -> str:
    if type(value) is int:
        return str(value)  # digits need no encoding
    return quote(str(value), safe="")


class Route:
    """A request's method, route template and path parameters.

    ``Route("GET", "/channels/{channel_id}/messages/{message_id}", channel_id=1, message_id=2)``.
    The template (not the filled path) identifies the route for bucketing; the major parameters
    (channel, guild, webhook id + token, interaction id + token) split it into independent buckets.
    Templates are parsed once and cached, so building a route costs a few string joins.
    """

    __slots__ = ("_compiled", "_major", "method", "params", "template")

    def __init__(self, method: str, template: str, /, **params: Any) -> None:
        if not template.startswith("/"):
            raise ValueError(f"route template must start with '/': {template!r}")
        self.method = method = method.upper()
        self.template = template
        compiled = self._compiled = _compile(method, template)
        for name in compiled.fields:
            if name not in params:
                missing = [n for n in compiled.fields if n not in params]
                raise TypeError(f"missing path parameter(s) for {template}: {', '.join(missing)}")
        self.params: Mapping[str, Any] = params
        self._major: str | None = None

    @property
    def path(self) -> str:
        """The filled path, each parameter percent-encoded (emoji included)."""
        params = self.params
        return "".join(
            literal + _segment(params[name]) if name else literal
            for literal, name in self._compiled.pieces
        )

    @property
    def bucket_route(self) -> str:
        """The key a bucket is known by until Discord names its hash (reaction routes share one
        key per channel, as they share one bucket)."""
        return self._compiled.bucket_route

    @property
    def major(self) -> str:
        """The major parameter values (secrets hashed), e.g. ``"channel_id=1"``."""
        major = self._major
        if major is None:
            params = self.params
            major = self._major = ",".join(
                f"{name}={_digest(str(params[name])) if secret else params[name]}"
                for name, secret in self._compiled.majors
            )
        return major

    @property
    def exempt_from_global(self) -> bool:
        """Whether the template alone makes this an interaction endpoint (exempt from the global
        limit): the callback, or ``/webhooks/{application_id}/{interaction_token}...``."""
        return self._compiled.exempt

    @property
    def webhook_id(self) -> str | None:
        """The id of a ``/webhooks/{webhook_id}/{webhook_token}...`` route (``None`` for other
        routes): the route is an interaction endpoint if it is the application's id."""
        if not self._compiled.token_webhook:
            return None
        return str(self.params["webhook_id"])

    @property
    def display(self) -> str:
        """``METHOD /template`` with non-secret parameters, safe for logs and exception text."""
        shown = {
            name: "***" if name in SECRET_PARAMETERS else str(value)
            for name, value in self.params.items()
            if name in _fields(self.template)
        }
        return f"{self.method} {self.template.format_map(shown)}"

    def __repr__(self) -> str:
        return f"Route({self.display!r})"
