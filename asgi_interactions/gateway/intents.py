"""Gateway intents: which event groups a shard subscribes to (discord-api-notes §7.11)."""

from __future__ import annotations

import enum

__all__ = ["DEFAULT_INTENTS", "PRIVILEGED_INTENTS", "Intents"]


class Intents(enum.IntFlag):
    """Bits of IDENTIFY's ``intents``, combined with ``|``; privileged ones need the portal."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1  # privileged
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8  # privileged
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15  # privileged
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25

    @classmethod
    def all(cls) -> Intents:
        """Every documented intent, privileged ones included."""
        value = cls(0)
        for member in cls:
            value |= member
        return value

    @classmethod
    def default(cls) -> Intents:
        """Every documented intent except the privileged ones."""
        return cls.all() & ~PRIVILEGED_INTENTS


PRIVILEGED_INTENTS = Intents.GUILD_MEMBERS | Intents.GUILD_PRESENCES | Intents.MESSAGE_CONTENT
#: Every non-privileged intent: the default of ``Gateway(intents=...)``.
DEFAULT_INTENTS = Intents.default()
