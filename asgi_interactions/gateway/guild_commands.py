"""The guild commands of ``Gateway`` (ops 4, 8, 31, 43), each sent on the shard owning the guild.

Payloads and their limits live in ``commands``; this mixin only routes them: to the shard of this
process that owns the guild, or a ``GatewayError`` when another process holds that shard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any, Protocol, TypeVar

from . import commands
from .errors import GatewayError
from .shard import Shard, ShardConfig

__all__ = ["GuildCommands"]

T = TypeVar("T")


class _Gateway(Protocol):
    """What the mixin uses of ``Gateway``."""

    config: ShardConfig
    _io_loop: asyncio.AbstractEventLoop | None
    _shards: dict[int, Shard]

    def shard_for_guild(self, guild_id: int | str) -> int: ...
    def _on_io(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]: ...
    def _shard_for_command(self, guild_id: int | str) -> Shard: ...


class GuildCommands:
    """Voice state, member, soundboard and channel-info requests (mixed into ``Gateway``)."""

    def _shard_for_command(self: _Gateway, guild_id: int | str) -> Shard:
        """The shard of this process that owns ``guild_id``; a clear error when another does."""
        if self._io_loop is None:
            raise GatewayError("the gateway is not running; call start() first")
        sid = self.shard_for_guild(guild_id)
        shard = self._shards.get(sid)
        if shard is None:
            raise GatewayError(
                f"guild {guild_id} is on shard {sid}, which this process does not run (it runs "
                f"{sorted(self._shards)}); only the process that holds shard {sid} can send "
                "commands for this guild",
                shard_id=sid,
            )
        return shard

    async def update_voice_state(
        self: _Gateway,
        guild_id: int | str,
        channel_id: int | str | None,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
    ) -> None:
        """Join, move to, or (``channel_id=None``) leave a voice channel of the guild (op 4).

        Sent on the shard that owns the guild; Discord answers with ``VOICE_STATE_UPDATE`` (and,
        when joining, ``VOICE_SERVER_UPDATE``) dispatches.
        """
        payload = commands.voice_state(
            guild_id, channel_id, self_mute=self_mute, self_deaf=self_deaf
        )
        await self._on_io(self._shard_for_command(guild_id).send(payload))

    async def request_soundboard_sounds(self: _Gateway, guild_ids: Iterable[int | str]) -> None:
        """Ask for the guilds' soundboard sounds (op 31): one ``SOUNDBOARD_SOUNDS`` per guild.

        Each guild's request goes to the shard that owns it; every one of those shards must run
        in this process (checked before anything is sent).
        """
        ids = list(guild_ids)
        commands.soundboard_sounds(ids)  # validate all of them first
        by_shard: dict[Shard, list[int | str]] = {}
        for guild in ids:
            by_shard.setdefault(self._shard_for_command(guild), []).append(guild)
        sends = [
            (shard, payload)
            for shard, guilds in by_shard.items()
            for payload in commands.soundboard_sounds(guilds)
        ]

        async def send_all() -> None:
            await asyncio.gather(*(shard.send(payload) for shard, payload in sends))

        await self._on_io(send_all())

    async def request_channel_info(
        self: _Gateway, guild_id: int | str, fields: Iterable[str] = commands.CHANNEL_INFO_FIELDS
    ) -> None:
        """Ask for ephemeral data of the guild's channels (op 43): ``"status"`` and/or
        ``"voice_start_time"``; the answer is a ``CHANNEL_INFO`` dispatch."""
        payload = commands.channel_info(guild_id, fields)
        await self._on_io(self._shard_for_command(guild_id).send(payload))

    async def request_guild_members(
        self: _Gateway,
        guild_id: int | str,
        *,
        query: str | None = "",
        limit: int = 0,
        presences: bool = False,
        user_ids: Iterable[int | str] | None = None,
        nonce: str | None = None,
    ) -> str:
        """Ask for a guild's members (op 8); they arrive as GUILD_MEMBERS_CHUNK events.

        Returns the request's nonce (the chunks' ``nonce``). ``fetch_guild_members`` also
        collects them. All-member requests are kept to one per guild per 30 s, and a
        RATE_LIMITED answer is retried after its ``retry_after``.
        """
        payload = commands.member_request(
            guild_id, query=query, limit=limit, presences=presences, user_ids=user_ids,
            nonce=nonce, intents=self.config.intents,
        )  # fmt: skip
        return await self._on_io(self._shard_for_command(guild_id).members.request(payload))

    async def fetch_guild_members(
        self: _Gateway,
        guild_id: int | str,
        *,
        query: str | None = "",
        limit: int = 0,
        presences: bool = False,
        user_ids: Iterable[int | str] | None = None,
        nonce: str | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109 - it bounds the request on the shard's own loop
    ) -> commands.GuildMembers:
        """Request members as ``request_guild_members`` does and wait for every chunk.

        Returns one ``GuildMembers`` (members, presences, not_found, merged in chunk order).
        Raises ``TimeoutError`` if the chunks have not all come within ``timeout`` seconds
        (waiting for the send limit and a RATE_LIMITED retry included).
        """
        payload = commands.member_request(
            guild_id, query=query, limit=limit, presences=presences, user_ids=user_ids,
            nonce=nonce, intents=self.config.intents,
        )  # fmt: skip
        shard = self._shard_for_command(guild_id)
        return await self._on_io(shard.members.fetch(payload, timeout))
