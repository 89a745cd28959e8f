"""Resolved data: the full objects behind ids in command options, selects and file uploads."""

from __future__ import annotations

from pydantic import Field

from .base import DiscordModel, Snowflake
from .channel import Channel
from .enums import OptionType
from .guild import Member, Role
from .message import Attachment, PartialMessage
from .user import User

__all__ = ["Mentionable", "ResolvedData"]

Mentionable = User | Member | Role
"""What a MENTIONABLE option resolves to."""

ResolvedObject = User | Member | Role | Channel | Attachment | PartialMessage


def _as_id(value: object) -> int | None:
    """Turn an option value (a snowflake string or int) into an int id, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class ResolvedData(DiscordModel):
    """Maps of id -> object for users, members, roles, channels, messages and attachments."""

    users: dict[Snowflake, User] = Field(default_factory=dict)
    members: dict[Snowflake, Member] = Field(default_factory=dict)
    roles: dict[Snowflake, Role] = Field(default_factory=dict)
    channels: dict[Snowflake, Channel] = Field(default_factory=dict)
    messages: dict[Snowflake, PartialMessage] = Field(default_factory=dict)
    attachments: dict[Snowflake, Attachment] = Field(default_factory=dict)

    def member(self, member_id: int) -> Member | None:
        """The member with that id, ``user`` filled in from ``users`` (resolved members lack it)."""
        member = self.members.get(member_id)
        if member is None:
            return None
        if member.user is None:
            user = self.users.get(member_id)
            if user is not None:
                member = member.model_copy(update={"user": user})
        return member

    def user_or_member(self, user_id: int) -> User | Member | None:
        """The member (in guilds) or else the user with that id."""
        return self.member(user_id) or self.users.get(user_id)

    def mentionable(self, object_id: int) -> Mentionable | None:
        """A MENTIONABLE value: member, user or role with that id."""
        return self.user_or_member(object_id) or self.roles.get(object_id)

    def resolve(self, option_type: int, value: object) -> ResolvedObject | None:
        """The object an option value of ``option_type`` refers to, or None if not resolved."""
        object_id = _as_id(value)
        if object_id is None:
            return None
        if option_type == OptionType.USER:
            return self.user_or_member(object_id)
        if option_type == OptionType.CHANNEL:
            return self.channels.get(object_id)
        if option_type == OptionType.ROLE:
            return self.roles.get(object_id)
        if option_type == OptionType.MENTIONABLE:
            return self.mentionable(object_id)
        if option_type == OptionType.ATTACHMENT:
            return self.attachments.get(object_id)
        return None
