"""Messages as received: the message a component sits on, message-command targets, attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .base import DiscordModel, Snowflake
from .user import User

__all__ = ["Attachment", "MessageEmbed", "PartialMessage"]


class Attachment(DiscordModel):
    """An uploaded file (ATTACHMENT options, File Upload values, message attachments)."""

    id: Snowflake
    filename: str = ""
    title: str | None = None
    description: str | None = None
    content_type: str | None = None
    size: int = 0
    url: str = ""
    proxy_url: str | None = None
    height: int | None = None
    width: int | None = None
    ephemeral: bool | None = None
    duration_secs: float | None = None
    waveform: str | None = None
    flags: int | None = None


class MessageEmbed(DiscordModel):
    """An embed as received on a message (nested parts kept as plain dicts)."""

    type: str | None = None
    title: str | None = None
    description: str | None = None
    url: str | None = None
    timestamp: datetime | None = None
    color: int | None = None
    footer: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    thumbnail: dict[str, Any] | None = None
    video: dict[str, Any] | None = None
    provider: dict[str, Any] | None = None
    author: dict[str, Any] | None = None
    fields: list[dict[str, Any]] = Field(default_factory=list)


class PartialMessage(DiscordModel):
    """A message as received: the one a component sits on, or a MESSAGE command's target.

    ``components`` stay plain dicts so any component type, present or future, parses.
    """

    id: Snowflake
    channel_id: Snowflake | None = None
    guild_id: Snowflake | None = None
    type: int = 0
    author: User | None = None
    content: str = ""
    timestamp: datetime | None = None
    edited_timestamp: datetime | None = None
    tts: bool | None = None
    mention_everyone: bool | None = None
    mentions: list[User] = Field(default_factory=list)
    mention_roles: list[Snowflake] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    embeds: list[MessageEmbed] = Field(default_factory=list)
    components: list[dict[str, Any]] = Field(default_factory=list)
    pinned: bool | None = None
    webhook_id: Snowflake | None = None
    application_id: Snowflake | None = None
    flags: int = 0
    message_reference: dict[str, Any] | None = None
    interaction_metadata: dict[str, Any] | None = None
    reactions: list[dict[str, Any]] | None = None
    sticker_items: list[dict[str, Any]] | None = None
    poll: dict[str, Any] | None = None
