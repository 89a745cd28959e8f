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


@lru_cache(maxsize=512)
def _fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class Route:
    """A request's method, route template and path parameters.

    ``Route("GET", "/channels/{channel_id}/messages/{message_id}", channel_id=1, message_id=2)``.
    The template (not the filled path) identifies the route for bucketing; the major parameters
    (channel, guild, webhook id + token, interaction id + token) split it into independent buckets.
    """

    __slots__ = ("method", "params", "template")

    def __init__(self, method: str, template: str, /, **params: Any) -> None:
        if not template.startswith("/"):
            raise ValueError(f"route template must start with '/': {template!r}")
        self.method = method.upper()
        self.template = template
        missing = [name for name in _fields(template) if name not in params]
        if missing:
            raise TypeError(f"missing path parameter(s) for {template}: {', '.join(missing)}")
        self.params: Mapping[str, Any] = params

    @property
    def path(self) -> str:
        """The filled path, each parameter percent-encoded (emoji included)."""
        return self.template.format_map(
            {name: quote(str(self.params[name]), safe="") for name in _fields(self.template)}
        )

    @property
    def bucket_route(self) -> str:
        """The key a bucket is known by until Discord names its hash.

        Adding and removing reactions share one bucket per channel whatever the message or emoji,
        so those routes collapse to one key: a burst over several messages is not let through
        while that bucket is still unknown.
        """
        if self.method in ("PUT", "DELETE") and "/reactions/" in self.template:
            return "REACTIONS /channels/{channel_id}"
        return f"{self.method} {self.template}"

    @property
    def major(self) -> str:
        """The major parameter values (secrets hashed), e.g. ``"channel_id=1"``."""
        parts = []
        for name in MAJOR_PARAMETERS:
            if name in self.params:
                value = str(self.params[name])
                parts.append(f"{name}={_digest(value) if name in SECRET_PARAMETERS else value}")
        return ",".join(parts)

    @property
    def exempt_from_global(self) -> bool:
        """Interaction callbacks and webhook-token routes are not under the global limit."""
        return self.template.startswith("/interactions/") or (
            self.template.startswith("/webhooks/") and "{webhook_token}" in self.template
        )

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
