"""The user object as received in interactions (invoker, resolved users, message authors)."""

from __future__ import annotations

from typing import Any

from .base import DiscordModel, Snowflake

__all__ = ["User"]


class User(DiscordModel):
    """A Discord user; ``global_name`` is the display name, ``username`` the unique handle."""

    id: Snowflake
    username: str = ""
    discriminator: str | None = None
    global_name: str | None = None
    avatar: str | None = None
    bot: bool | None = None
    system: bool | None = None
    banner: str | None = None
    accent_color: int | None = None
    public_flags: int | None = None
    flags: int | None = None
    avatar_decoration_data: dict[str, Any] | None = None
    primary_guild: dict[str, Any] | None = None

    @property
    def display_name(self) -> str:
        """The name the client shows: ``global_name`` when set, else ``username``."""
        return self.global_name or self.username

    @property
    def mention(self) -> str:
        """A ``<@id>`` mention string."""
        return f"<@{self.id}>"
