"""The gateway's exception, and what each fatal close code asks the developer to fix."""

from __future__ import annotations

__all__ = ["FATAL_CLOSE_CODES", "GatewayError"]

#: Close codes after which reconnecting cannot help (discord-api-notes §7.8): code -> what to fix.
FATAL_CLOSE_CODES: dict[int, str] = {
    4004: "authentication failed: the bot token is wrong or was reset; get a new one in the portal",
    4010: "invalid shard: shard ids must be below shard_count (and a multiple Discord assigns "
    "for large bots); leave shard_count=None to use the recommended count",
    4011: "sharding required: the bot is in too many guilds for one shard; pass a larger "
    "shard_count or leave it None",
    4012: "invalid API version",
    4013: "invalid intents: the intents value has unknown bits; build it from Intents",
    4014: "disallowed intents: a privileged intent (GUILD_MEMBERS, GUILD_PRESENCES, "
    "MESSAGE_CONTENT) is not enabled for this bot in the developer portal",
}


class GatewayError(Exception):
    """The gateway stopped for good (or cannot start); ``code`` is Discord's close code if any."""

    def __init__(self, message: str, *, code: int | None = None, shard_id: int | None = None):
        super().__init__(message)
        self.code = code
        self.shard_id = shard_id

    @classmethod
    def from_close(cls, code: int, shard_id: int) -> GatewayError:
        """The error for a fatal close code, naming the code and what to fix."""
        fix = FATAL_CLOSE_CODES.get(code, "unrecoverable close")
        return cls(
            f"shard {shard_id} closed by Discord with {code}: {fix}", code=code, shard_id=shard_id
        )
