"""Guild-scoped objects: members, roles and the partial guild sent with interactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .base import DiscordModel, Permissions, Snowflake
from .user import User

__all__ = ["Member", "PartialGuild", "Role"]


class Role(DiscordModel):
    """A guild role (``permissions`` is an int bitset)."""

    id: Snowflake
    name: str = ""
    color: int = 0
    colors: dict[str, Any] | None = None
    hoist: bool = False
    icon: str | None = None
    unicode_emoji: str | None = None
    position: int = 0
    permissions: Permissions = 0
    managed: bool = False
    mentionable: bool = False
    tags: dict[str, Any] | None = None
    flags: int = 0

    @property
    def mention(self) -> str:
        """A ``<@&id>`` mention string."""
        return f"<@&{self.id}>"


class Member(DiscordModel):
    """A guild member; ``user`` is absent on resolved members (see ``ResolvedData.member``)."""

    user: User | None = None
    nick: str | None = None
    avatar: str | None = None
    banner: str | None = None
    roles: list[Snowflake] = Field(default_factory=list)
    joined_at: datetime | None = None
    premium_since: datetime | None = None
    deaf: bool | None = None
    mute: bool | None = None
    flags: int | None = None
    pending: bool | None = None
    permissions: Permissions | None = None
    communication_disabled_until: datetime | None = None
    avatar_decoration_data: dict[str, Any] | None = None

    @property
    def id(self) -> int | None:
        """The member's user id, when the user object is present."""
        return self.user.id if self.user is not None else None

    @property
    def display_name(self) -> str:
        """Nickname, else the user's display name, else an empty string."""
        if self.nick:
            return self.nick
        return self.user.display_name if self.user is not None else ""

    @property
    def mention(self) -> str:
        """A ``<@id>`` mention string (empty when the user is unknown)."""
        return f"<@{self.user.id}>" if self.user is not None else ""


class PartialGuild(DiscordModel):
    """The partial guild object sent with interactions invoked in a server."""

    id: Snowflake
    locale: str | None = None
    features: list[str] = Field(default_factory=list)
