"""Who runs which shard: leases shared by every process that runs the same bot.

Two backends with one interface. ``RedisLeases`` (``redis_url`` given) works across hosts: a
member is a sorted-set entry that expires unless refreshed, a shard lease is a key with a TTL
holding ``member|token``, where the token is a fencing number that only grows (so a holder that
lost its lease cannot write the shard's session state any more). ``FileLeases`` serves the
workers of one host without Redis: ``flock`` on one file per member and per shard, released by
the kernel when a process dies, with each shard's session beside its lock. Shards are spread
by ``assign``: the same answer in every process that sees the same members.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Protocol

__all__ = [
    "FileLeases",
    "LeaseBackend",
    "LeasesUnavailable",
    "RedisLeases",
    "SavedSession",
    "assign",
]

log = logging.getLogger("asgi_interactions.gateway.leases")

SavedSession = dict[str, Any]  # {"session_id", "resume_url", "seq"}

#: How long a saved session stays in Redis: Discord forgets an idle session long before.
SESSION_TTL = 3600


class LeasesUnavailable(Exception):
    """The lease store cannot be reached right now (nobody can take a lease either)."""


def assign(
    members: list[str], shard_count: int, me: str, holders: dict[int, str] | None = None
) -> set[int]:
    """The shards ``me`` should run: an even spread that moves as few shards as it can.

    Members (in id order) get ``shard_count // n`` shards each, the first ``shard_count % n`` one
    more. A shard stays with its live holder while that holder is within its quota; the rest go,
    in shard order, to the members with room, in member order. Every process that sees the same
    members and holders computes the same answer.
    """
    ordered = sorted(set(members))
    if me not in ordered:
        return set()
    n = len(ordered)
    quota = {m: shard_count // n + (1 if i < shard_count % n else 0) for i, m in enumerate(ordered)}
    owner: dict[int, str] = {}
    for sid, holder in sorted((holders or {}).items()):
        if sid < shard_count and quota.get(holder, 0) > 0:
            owner[sid] = holder
            quota[holder] -= 1
    spare = iter([m for m in ordered for _ in range(quota[m])])
    for sid in range(shard_count):
        if sid not in owner:
            owner[sid] = next(spare)
    return {sid for sid, m in owner.items() if m == me}


def namespace(token: str, url: str | None, shard_count: int) -> str:
    """A name for one bot's shard set: the token's hash (never the token), URL and count."""
    digest = hashlib.sha256(f"{token}\0{url or 'discord'}".encode()).hexdigest()[:16]
    return f"{digest}-{shard_count}"


class LeaseBackend(Protocol):
    """The operations the coordinator needs; tokens are fencing numbers (0: not held)."""

    member: str
    shared_sessions: bool  # True when sessions survive this process (a RESUME can follow)

    async def join(self) -> None: ...
    async def heartbeat(self) -> list[str]: ...
    async def holders(self, shard_count: int) -> dict[int, str]: ...
    async def claim(self, shard_id: int, token: int) -> int: ...
    async def release(self, shard_id: int, token: int) -> None: ...
    async def load_session(self, shard_id: int) -> SavedSession | None: ...
    async def save_session(self, shard_id: int, token: int, session: SavedSession) -> bool: ...
    async def save_delivered(self, entries: list[tuple[int, int, str, int]]) -> None: ...
    async def drop_session(self, shard_id: int, token: int) -> None: ...
    async def leave(self) -> None: ...


# Claim (or renew) a shard lease: returns the holder's token, or 0 if another member holds it.
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, '|', 1, true)
  if string.sub(v, 1, sep - 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(string.sub(v, sep + 1))
  end
  return 0
end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. t, 'PX', ARGV[2])
return t
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Write a shard's session only while the writer still holds the lease with this token.
_SAVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""
# Record (shard, token, session, seq) entries' delivered sequence, each only under its lease
# and never lower than what is recorded for the same session. KEYS: lease, delivered pairs.
# ARGV: ttl, then holder and session|seq pairs.
_DELIVERED = """
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    local session, seq = string.match(ARGV[i + 2], '^(.*)|(%d+)$')
    local old_session, old_seq = string.match(redis.call('GET', KEYS[i + 1]) or '', '^(.*)|(%d+)$')
    if old_session ~= session or tonumber(old_seq) < tonumber(seq) then
      redis.call('SET', KEYS[i + 1], ARGV[i + 2], 'EX', ARGV[1])
    end
  end
end
return 0
"""
# Forget a shard's session (it was ended) while holding its lease. KEYS: lease, session, delivered.
_DROP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[2], KEYS[3]) end
return 0
"""
# Refresh this member and return the live ones (expiry by Redis's own clock).
_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class RedisLeases:
    """Leases, members and saved sessions in Redis, for every process and host of a bot."""

    shared_sessions = True

    def __init__(self, url: str, name: str, lease: float, timeout: float) -> None:
        from ..shared_state import _redis_module

        self.member = f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(4)}"
        self.prefix = f"asgi_interactions:gateway:{name}"
        self.ttl_ms = max(1, int(lease * 1000))
        self._client: Any = _redis_module().Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._claim = self._client.register_script(_CLAIM)
        self._release = self._client.register_script(_RELEASE)
        self._save = self._client.register_script(_SAVE)
        self._heartbeat = self._client.register_script(_HEARTBEAT)
        self._delivered = self._client.register_script(_DELIVERED)
        self._drop = self._client.register_script(_DROP)

    def _key(self, kind: str, shard_id: int | None = None) -> str:
        return f"{self.prefix}:{kind}" if shard_id is None else f"{self.prefix}:{kind}:{shard_id}"

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        from redis.exceptions import ConnectionError, TimeoutError

        try:
            return await script(keys=keys, args=args)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise LeasesUnavailable(str(exc)) from exc

    async def join(self) -> None:
        await self.heartbeat()

    async def heartbeat(self) -> list[str]:
        found = await self._call(
            self._heartbeat, [self._key("members")], [self.member, self.ttl_ms]
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def holders(self, shard_count: int) -> dict[int, str]:
        """Shard -> the member holding its lease now."""
        from redis.exceptions import ConnectionError, TimeoutError

        keys = [self._key("lease", sid) for sid in range(shard_count)]
        try:
            values = await self._client.mget(keys)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise LeasesUnavailable(str(exc)) from exc
        found = {}
        for sid, value in enumerate(values):
            if value is not None:
                found[sid] = value.decode().rpartition("|")[0]
        return found

    async def claim(self, shard_id: int, token: int) -> int:
        keys = [self._key("lease", shard_id), self._key("fence", shard_id)]
        return int(await self._call(self._claim, keys, [self.member, self.ttl_ms]))

    async def release(self, shard_id: int, token: int) -> None:
        await self._call(self._release, [self._key("lease", shard_id)], [f"{self.member}|{token}"])

    async def load_session(self, shard_id: int) -> SavedSession | None:
        from redis.exceptions import ConnectionError, TimeoutError

        keys = [self._key("session", shard_id), self._key("delivered", shard_id)]
        try:
            raw, mark = await self._client.mget(keys)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise LeasesUnavailable(str(exc)) from exc
        return _merge(shard_id, raw, mark)

    async def save_delivered(self, entries: list[tuple[int, int, str, int]]) -> None:
        """Record each entry's delivered sequence (one round trip), fenced by its lease."""
        keys: list[str] = []
        args: list[Any] = [SESSION_TTL]
        for sid, token, session, seq in entries:
            keys += [self._key("lease", sid), self._key("delivered", sid)]
            args += [f"{self.member}|{token}", f"{session}|{seq}"]
        await self._call(self._delivered, keys, args)

    async def save_session(self, shard_id: int, token: int, session: SavedSession) -> bool:
        keys = [self._key("lease", shard_id), self._key("session", shard_id)]
        args = [f"{self.member}|{token}", json.dumps(session), SESSION_TTL]
        return bool(await self._call(self._save, keys, args))

    async def drop_session(self, shard_id: int, token: int) -> None:
        keys = [self._key(kind, shard_id) for kind in ("lease", "session", "delivered")]
        await self._call(self._drop, keys, [f"{self.member}|{token}"])

    async def leave(self) -> None:
        with contextlib.suppress(Exception):  # unreachable: the entry expires on its own
            await self._client.zrem(self._key("members"), self.member)
        await self._client.aclose()


def _merge(shard_id: int, raw: bytes | str | None, mark: bytes | str | None) -> SavedSession | None:
    """A saved session, resuming from the recorded delivered sequence when it is further on."""
    if raw is None:
        return None
    try:
        saved = json.loads(raw)
    except ValueError:
        log.warning("shard %d: unreadable saved session ignored", shard_id)
        return None
    if not (isinstance(saved, dict) and saved.get("session_id")):
        return None
    if mark is not None:
        text = mark.decode() if isinstance(mark, bytes) else mark
        session, _, seq = text.rpartition("|")
        if session == saved["session_id"] and seq.isdigit():
            saved["seq"] = max(int(seq), saved.get("seq") or 0)
    return saved


class FileLeases:
    """``flock`` leases for the processes of one host (no Redis): a dead process's locks go
    with it, so takeover needs no expiry. A shard's session is kept in a file beside its lock,
    written (write, then rename) only by the lock's holder, so the next holder resumes."""

    shared_sessions = True

    def __init__(self, name: str, directory: str | None = None) -> None:
        base = Path(directory or tempfile.gettempdir()) / "asgi-interactions-gateway" / name
        base.mkdir(parents=True, exist_ok=True)
        self.dir = base
        self.member = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._me: IO[bytes] | None = None
        self._held: dict[int, IO[bytes]] = {}
        self._members: set[str] = set()

    async def join(self) -> None:
        self._join()

    def _join(self) -> None:
        # Lock under a temporary name, then rename: a member file is never seen unlocked.
        tmp = self.dir / f".joining-{self.member}"
        handle = open(tmp, "wb")  # noqa: SIM115 - held open for the process's membership
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(tmp, self.dir / f"member-{self.member}.lock")
        self._me = handle

    async def heartbeat(self) -> list[str]:
        live = await asyncio.to_thread(self._live_members)
        self._members = set(live)
        return live

    def _live_members(self) -> list[str]:
        live = []
        for path in self.dir.glob("member-*.lock"):
            member = path.name[len("member-") : -len(".lock")]
            if member == self.member:
                live.append(member)
                continue
            try:
                with open(path, "rb") as handle:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        live.append(member)
                        continue
                    path.unlink(missing_ok=True)  # its process died: nobody holds the lock
            except FileNotFoundError:
                continue
        return live

    async def holders(self, shard_count: int) -> dict[int, str]:
        """Shard -> live holder: a holder writes its id in the lock file and clears it before
        letting go; a dead one's id is ignored (it is no live member)."""
        found = dict.fromkeys(self._held, self.member)
        for sid in range(shard_count):
            if sid not in found:
                try:
                    holder = (self.dir / f"shard-{sid}.lock").read_text()
                except OSError:
                    continue
                if holder in self._members:
                    found[sid] = holder
        return found

    async def claim(self, shard_id: int, token: int) -> int:
        return self._claim(shard_id)

    def _claim(self, shard_id: int) -> int:
        """Non-blocking: a lock held elsewhere answers at once."""
        if shard_id in self._held:
            return 1
        handle = open(self.dir / f"shard-{shard_id}.lock", "ab")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return 0
        os.ftruncate(handle.fileno(), 0)  # whose it is, for the others' spread
        os.write(handle.fileno(), self.member.encode())
        self._held[shard_id] = handle
        return 1

    async def release(self, shard_id: int, token: int) -> None:
        handle = self._held.pop(shard_id, None)
        if handle is not None:
            os.ftruncate(handle.fileno(), 0)  # no longer ours, before the lock goes
            handle.close()  # closing the only descriptor drops the lock

    async def load_session(self, shard_id: int) -> SavedSession | None:
        raw, mark = (self._read(shard_id, kind) for kind in ("session", "delivered"))
        return _merge(shard_id, raw, mark)

    def _read(self, shard_id: int, kind: str) -> str | None:
        path = self.dir / f"shard-{shard_id}.{kind}"
        try:
            if time.time() - path.stat().st_mtime > SESSION_TTL:
                return None  # Discord forgot that session long ago
            return path.read_text()
        except OSError:
            return None

    def _write(self, shard_id: int, kind: str, text: str) -> bool:
        """Only while holding the shard's lock (the fence); atomic: write, then rename."""
        if shard_id not in self._held:
            return False
        tmp = self.dir / f".shard-{shard_id}.{kind}.{self.member}"
        tmp.write_text(text)
        os.replace(tmp, self.dir / f"shard-{shard_id}.{kind}")
        return True

    async def save_session(self, shard_id: int, token: int, session: SavedSession) -> bool:
        return self._write(shard_id, "session", json.dumps(session))

    async def save_delivered(self, entries: list[tuple[int, int, str, int]]) -> None:
        for sid, _, session, seq in entries:
            self._write(sid, "delivered", f"{session}|{seq}")

    async def drop_session(self, shard_id: int, token: int) -> None:
        if shard_id in self._held:
            for kind in ("session", "delivered"):
                (self.dir / f"shard-{shard_id}.{kind}").unlink(missing_ok=True)

    async def leave(self) -> None:
        for sid in list(self._held):
            await self.release(sid, 1)
        if self._me is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.dir / f"member-{self.member}.lock").unlink()
            self._me.close()
            self._me = None
