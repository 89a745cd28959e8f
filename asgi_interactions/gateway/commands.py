"""The commands a shard sends besides its session's own (ops 4, 8, 31, 43), and member requests.

The builders check Discord's documented limits before anything is sent (notes §7.9, the gateway
send events), so a mistake is a clear ``ValueError`` here instead of a close code or a silent
non-answer later. ``MemberRequests`` keeps one shard's member requests in flight: one all-members
request per guild per 30 s, a ``RATE_LIMITED`` answer retried after its ``retry_after``, and the
``GUILD_MEMBERS_CHUNK``\\ s of a nonce collected into one ``GuildMembers``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from .errors import GatewayError
from .intents import Intents
from .transport import MAX_PAYLOAD

__all__ = [
    "CHANNEL_INFO_FIELDS",
    "GuildMembers",
    "MemberRequests",
    "channel_info",
    "check_size",
    "member_request",
    "snowflake",
    "soundboard_sounds",
    "voice_state",
]

log = logging.getLogger("asgi_interactions.gateway")

#: Fields op 43 may ask for (Discord's docs: "the current available fields").
CHANNEL_INFO_FIELDS = ("status", "voice_start_time")
#: At most this many user ids per member request, and members per query (Discord's docs).
MAX_MEMBERS = 100
#: Bytes a member request's nonce may have (a longer one is ignored by Discord).
MAX_NONCE_BYTES = 32
#: Guild ids per op 31 payload: 150 quoted 20-digit snowflakes stay well under 4096 bytes.
SOUNDBOARD_IDS_PER_PAYLOAD = 150
#: Seconds between all-member requests for one guild (notes §7.9).
ALL_MEMBERS_INTERVAL = 30.0
#: RATE_LIMITED answers after which a member request is given up.
MAX_RETRIES = 5
#: Seconds after which a member request nobody waits for is forgotten (its chunks never came).
FORGET_AFTER = 300.0


def snowflake(value: int | str, what: str = "id") -> str:
    """``value`` as Discord's snowflake string; a clear error for anything else."""
    text = str(value)
    if isinstance(value, bool) or not text.isascii() or not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{what} must be a snowflake (a positive integer), not {value!r}")
    if int(text) >= 1 << 64:
        raise ValueError(f"{what} {value!r} is larger than a snowflake (64 bits)")
    return str(int(text))


def check_size(payload: dict[str, Any]) -> dict[str, Any]:
    """Refuse a payload over 4096 encoded bytes, which Discord answers by closing with 4002."""
    size = len(pydantic_core.to_json(payload))
    if size > MAX_PAYLOAD:
        raise ValueError(
            f"gateway payload (op {payload.get('op')}) is {size} bytes; Discord accepts at most "
            f"{MAX_PAYLOAD} and would close the connection with 4002, so it was not sent"
        )
    return payload


def voice_state(
    guild_id: int | str, channel_id: int | str | None, *, self_mute: bool, self_deaf: bool
) -> dict[str, Any]:
    """Op 4 Update Voice State: join or move to ``channel_id``, or leave with None."""
    d = {
        "guild_id": snowflake(guild_id, "guild_id"),
        "channel_id": None if channel_id is None else snowflake(channel_id, "channel_id"),
        "self_mute": bool(self_mute),
        "self_deaf": bool(self_deaf),
    }
    return check_size({"op": 4, "d": d})


def soundboard_sounds(guild_ids: Iterable[int | str]) -> list[dict[str, Any]]:
    """Op 31 Request Soundboard Sounds, split so that each payload stays under 4096 bytes."""
    ids = list(dict.fromkeys(snowflake(g, "guild id") for g in guild_ids))
    if not ids:
        raise ValueError("request_soundboard_sounds needs at least one guild id")
    step = SOUNDBOARD_IDS_PER_PAYLOAD
    return [
        check_size({"op": 31, "d": {"guild_ids": ids[i : i + step]}})
        for i in range(0, len(ids), step)
    ]


def channel_info(guild_id: int | str, fields: Iterable[str]) -> dict[str, Any]:
    """Op 43 Request Channel Info; answered by a ``CHANNEL_INFO`` dispatch."""
    if isinstance(fields, str):
        fields = [fields]
    wanted = list(dict.fromkeys(fields))
    unknown = [f for f in wanted if f not in CHANNEL_INFO_FIELDS]
    if unknown or not wanted:
        raise ValueError(
            f"fields must be a non-empty selection of {list(CHANNEL_INFO_FIELDS)}, not {wanted!r}"
        )
    d = {"guild_id": snowflake(guild_id, "guild_id"), "fields": wanted}
    return check_size({"op": 43, "d": d})


def member_request(
    guild_id: int | str,
    *,
    query: str | None = "",
    limit: int = 0,
    presences: bool = False,
    user_ids: Iterable[int | str] | None = None,
    nonce: str | None = None,
    intents: int | None = None,
) -> dict[str, Any]:
    """Op 8 Request Guild Members, with the nonce set (a random one unless given).

    Either ``user_ids`` (1–100) or ``query`` + ``limit`` (0–100; ``""`` with 0 asks for every
    member, which needs ``GUILD_MEMBERS``); ``presences`` needs ``GUILD_PRESENCES``. With
    ``intents`` given, a request those intents cannot be answered for is refused here.
    """
    d: dict[str, Any] = {"guild_id": snowflake(guild_id, "guild_id")}
    if user_ids is not None:
        if query or limit:
            raise ValueError("pass either user_ids or query/limit, not both")
        ids = list(dict.fromkeys(snowflake(u, "user id") for u in user_ids))
        if not 1 <= len(ids) <= MAX_MEMBERS:
            raise ValueError(f"user_ids must hold 1 to {MAX_MEMBERS} ids, not {len(ids)}")
        d["user_ids"] = ids
    else:
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_MEMBERS:
            raise ValueError(
                f"limit must be 0 to {MAX_MEMBERS} (a query returns at most {MAX_MEMBERS} "
                'members; query="" with limit=0 asks for all of them)'
            )
        d["query"], d["limit"] = query or "", limit
        everyone = not d["query"] and not limit
        if everyone and intents is not None and not intents & Intents.GUILD_MEMBERS:
            raise ValueError(
                "asking for every member (query='', limit=0) needs Intents.GUILD_MEMBERS "
                "(privileged: also switch it on in the developer portal)"
            )
    d["presences"] = bool(presences)
    if presences and intents is not None and not intents & Intents.GUILD_PRESENCES:
        raise ValueError(
            "presences=True needs Intents.GUILD_PRESENCES (without it Discord sends none)"
        )
    if nonce is None:
        nonce = secrets.token_hex(8)
    if not isinstance(nonce, str) or not nonce or len(nonce.encode()) > MAX_NONCE_BYTES:
        raise ValueError(f"nonce must be a string of 1 to {MAX_NONCE_BYTES} bytes (UTF-8)")
    d["nonce"] = nonce
    return check_size({"op": 8, "d": d})


def is_all_members(d: dict[str, Any]) -> bool:
    """True for a request of a guild's whole member list (the one Discord limits per 30 s)."""
    return d.get("query") == "" and d.get("limit") == 0 and not d.get("user_ids")


@dataclass(frozen=True)
class GuildMembers:
    """Every ``GUILD_MEMBERS_CHUNK`` of one member request, merged in chunk order.

    ``members`` and ``presences`` are Discord's guild member and presence objects (dicts);
    ``not_found`` the requested user ids Discord did not find.
    """

    guild_id: str
    nonce: str
    members: list[dict[str, Any]]
    presences: list[dict[str, Any]]
    not_found: list[str]
    chunk_count: int


@dataclass
class _Pending:
    payload: dict[str, Any]
    collect: bool
    created: float = field(default_factory=time.monotonic)
    chunks: dict[int, dict[str, Any]] = field(default_factory=dict)
    chunk_count: int | None = None
    retries: int = 0
    done: asyncio.Future[GuildMembers] | None = None

    def result(self) -> GuildMembers:
        d = self.payload["d"]
        ordered = [self.chunks[i] for i in sorted(self.chunks)]
        return GuildMembers(
            guild_id=str(d["guild_id"]),
            nonce=str(d["nonce"]),
            members=[m for c in ordered for m in c.get("members") or []],
            presences=[p for c in ordered for p in c.get("presences") or []],
            not_found=[str(u) for c in ordered for u in c.get("not_found") or []],
            chunk_count=self.chunk_count or len(ordered),
        )


class MemberRequests:
    """One shard's member requests in flight, by nonce (runs on the gateway's I/O loop)."""

    def __init__(
        self,
        shard_id: int,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.shard_id = shard_id
        self._send = send
        self._spawn = spawn
        self._pending: dict[str, _Pending] = {}
        self._all_members_at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._pending)

    async def request(self, payload: dict[str, Any]) -> str:
        """Send op 8 (its chunks arrive as events only); returns the nonce."""
        await self._start(payload, collect=False)
        return str(payload["d"]["nonce"])

    async def fetch(self, payload: dict[str, Any], timeout: float) -> GuildMembers:  # noqa: ASYNC109
        """Send op 8 and wait (at most ``timeout`` s, sending included) for all its chunks."""
        nonce = str(payload["d"]["nonce"])
        try:
            async with asyncio.timeout(timeout):
                pending = await self._start(payload, collect=True)
                assert pending.done is not None
                return await pending.done
        except TimeoutError:
            pending_now = self._pending.get(nonce)
            got = len(pending_now.chunks) if pending_now else 0
            count = pending_now.chunk_count if pending_now else None
            raise TimeoutError(
                f"guild {payload['d']['guild_id']} members (nonce {nonce!r}): {got} of "
                f"{count if count is not None else '?'} chunk(s) arrived in {timeout}s"
            ) from None
        finally:
            self._pending.pop(nonce, None)

    async def _start(self, payload: dict[str, Any], *, collect: bool) -> _Pending:
        d = payload["d"]
        nonce = str(d["nonce"])
        self._forget_stale()
        if nonce in self._pending:
            raise ValueError(f"a member request with nonce {nonce!r} is already in flight")
        pending = self._pending[nonce] = _Pending(payload, collect)
        if collect:
            pending.done = asyncio.get_running_loop().create_future()
        try:
            if is_all_members(d):  # ours to keep: one per guild per ALL_MEMBERS_INTERVAL
                guild = str(d["guild_id"])
                at = self._all_members_at.get(guild, -1e9) + ALL_MEMBERS_INTERVAL
                if at > time.monotonic():
                    await asyncio.sleep(at - time.monotonic())
                self._all_members_at[guild] = time.monotonic()
            await self._send(payload)
        except BaseException:
            self._pending.pop(nonce, None)
            raise
        return pending

    def _forget_stale(self) -> None:
        cutoff = time.monotonic() - FORGET_AFTER
        for nonce in [n for n, p in self._pending.items() if not p.collect and p.created < cutoff]:
            del self._pending[nonce]

    def on_new_session(self) -> None:
        """A new session never answers the old one's requests: send those in flight again."""
        for nonce, pending in list(self._pending.items()):
            pending.chunks.clear()
            pending.chunk_count = None
            log.info("shard %d: new session; member request %r sent again", self.shard_id, nonce)
            self._spawn(self._retry(nonce, pending, 0.0))

    def close(self) -> None:
        """The shard is closing: whoever waits for a request's chunks gets a GatewayError."""
        for pending in self._pending.values():
            if pending.done is not None and not pending.done.done():
                pending.done.set_exception(
                    GatewayError(
                        "the gateway closed before every member chunk arrived",
                        shard_id=self.shard_id,
                    )
                )
        self._pending.clear()

    def on_dispatch(self, name: str, data: Any) -> None:
        """Take a ``GUILD_MEMBERS_CHUNK`` or ``RATE_LIMITED`` dispatch (others are ignored)."""
        if not isinstance(data, dict):
            return
        if name == "GUILD_MEMBERS_CHUNK":
            self._on_chunk(data)
        elif name == "RATE_LIMITED" and data.get("opcode") == 8:
            self._on_rate_limited(data)

    def _on_chunk(self, data: dict[str, Any]) -> None:
        pending = self._pending.get(str(data.get("nonce")))
        index, count = data.get("chunk_index"), data.get("chunk_count")
        if pending is None or not isinstance(index, int) or not isinstance(count, int):
            return
        pending.chunk_count = count
        pending.chunks[index] = data if pending.collect else {}
        if len(pending.chunks) >= count:
            self._pending.pop(str(data["nonce"]), None)
            if pending.done is not None and not pending.done.done():
                pending.done.set_result(pending.result())

    def _on_rate_limited(self, data: dict[str, Any]) -> None:
        meta = data.get("meta")
        nonce = str(meta.get("nonce")) if isinstance(meta, dict) else ""
        pending = self._pending.get(nonce)
        if pending is None:
            return
        pending.retries += 1
        if pending.retries > MAX_RETRIES:
            self._pending.pop(nonce, None)
            error = GatewayError(
                f"member request {nonce!r} was rate limited {MAX_RETRIES} times; gave up",
                shard_id=self.shard_id,
            )
            log.warning("shard %d: %s", self.shard_id, error)
            if pending.done is not None and not pending.done.done():
                pending.done.set_exception(error)
            return
        try:
            retry_after = max(0.0, float(data.get("retry_after") or 1.0))
        except (TypeError, ValueError):
            retry_after = 1.0
        log.info(
            "shard %d: member request rate limited; retrying in %.2fs", self.shard_id, retry_after
        )
        self._spawn(self._retry(nonce, pending, retry_after))

    async def _retry(self, nonce: str, pending: _Pending, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._pending.get(nonce) is pending:  # not answered, timed out or given up meanwhile
            await self._send(pending.payload)
