"""The partial channel object sent with interactions and in resolved data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import DiscordModel, Permissions, Snowflake

__all__ = ["Channel"]


class Channel(DiscordModel):
    """A partial channel (the fields Discord sends in ``channel`` and ``resolved.channels``)."""

    id: Snowflake
    type: int = 0
    name: str | None = None
    guild_id: Snowflake | None = None
    parent_id: Snowflake | None = None
    position: int | None = None
    topic: str | None = None
    nsfw: bool | None = None
    last_message_id: Snowflake | None = None
    last_pin_timestamp: datetime | None = None
    rate_limit_per_user: int | None = None
    flags: int | None = None
    permissions: Permissions | None = None
    app_permissions: Permissions | None = None
    thread_metadata: dict[str, Any] | None = None

    @property
    def mention(self) -> str:
        """A ``<#id>`` mention string."""
        return f"<#{self.id}>"
