"""A fake Discord gateway: a real websocket server on 127.0.0.1, on its own thread and loop.

It follows ../shared/discord-api-notes.md §7: HELLO, heartbeat ACKs, IDENTIFY -> READY with
``session_id`` and ``resume_gateway_url`` (this server's ``/resume`` path), RESUME -> replay of the
missed dispatches + RESUMED, op 7, op 9, the close codes of §7.8 for what a client does wrong,
zlib-stream / zstd-stream / plain JSON, the 120-per-60 s send limit (closing with 4008),
IDENTIFY concurrency per ``shard_id % max_concurrency`` (op 9 on a violation), all-member
requests limited per guild (a ``RATE_LIMITED`` dispatch), and answers to the guild commands:
op 4 (VOICE_STATE_UPDATE, VOICE_SERVER_UPDATE), op 8 (GUILD_MEMBERS_CHUNKs of ``member_chunk_size``
from ``guild_members``), op 31 (SOUNDBOARD_SOUNDS per guild), op 43 (CHANNEL_INFO). Faults are
scripted by the test: drop, close with a code, op 7 (also instead of HELLO), op 9, no ACKs, a
half-open socket.

It runs on its own thread so a test may block its own loop (the app's) without silencing the
fake. Every frame in either direction is recorded, with ``time.monotonic()`` stamps::

    with serve_fake_gateway(heartbeat_interval=200) as fake:
        gw = Gateway("token", url=fake.url, ...)
        ...
        fake.run(fake.dispatch(0, "MESSAGE_CREATE", {...}))
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import ssl
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

try:  # Python 3.14+, else the zstd extra
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    try:
        from backports import zstd  # type: ignore[no-redef]
    except ImportError:
        zstd = None

T = TypeVar("T")
VALID_INTENTS = sum(1 << b for b in (*range(17), 20, 21, 24, 25))
PRIVILEGED = (1 << 1) | (1 << 8) | (1 << 15)


def frame_header(first: int, size: int) -> bytes:
    """A server's (unmasked) websocket frame header: FIN + opcode byte, then the length."""
    if size < 126:
        return bytes((first, size))
    if size < 1 << 16:
        return bytes((first, 126)) + size.to_bytes(2, "big")
    return bytes((first, 127)) + size.to_bytes(8, "big")


@dataclass
class FakeSession:
    """A gateway session: its dispatch log (for replay) and the connection that holds it."""

    session_id: str
    shard: tuple[int, int]
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    conn: FakeConn | None = None
    valid: bool = True


@dataclass
class FakeConn:
    """One websocket connection as the server saw it."""

    id: int
    path: str
    query: dict[str, str]
    ws: ServerConnection
    opened_at: float
    compression: str | None
    session: FakeSession | None = None
    ack: bool = True
    half_open: bool = False
    identified: bool = False
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    sent: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    heartbeats: list[float] = field(default_factory=list)
    recent: deque[float] = field(default_factory=deque)
    client_close_code: int | None = None
    server_close_code: int | None = None
    closed_at: float | None = None
    compressor: Any = None

    @property
    def shard_id(self) -> int | None:
        return self.session.shard[0] if self.session else None

    def ops(self) -> list[int]:
        """The opcodes the client sent, in order."""
        return [p["op"] for _, p in self.received]


class FakeGateway:
    """The server's state and the test's controls (call them through ``run``)."""

    def __init__(
        self,
        *,
        token: str = "token",
        heartbeat_interval: int = 1000,
        max_concurrency: int = 1,
        identify_interval: float = 0.0,  # Discord: 5.0; multi-shard tests set a short one
        send_limit: tuple[int, float] = (120, 60.0),
        privileged_allowed: int = PRIVILEGED,
        shard_count: int | None = None,
        split_messages: int = 0,
        fragment_frames: int = 0,
        member_window: float = 30.0,
        member_chunk_size: int = 1000,
        ready_delay: float = 0.0,
    ) -> None:
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.max_concurrency = max_concurrency
        self.identify_interval = identify_interval
        self.send_limit = send_limit
        self.privileged_allowed = privileged_allowed
        self.shard_count = shard_count
        self.split_messages = split_messages  # zlib: split each payload over N-byte WS messages
        self.fragment_frames = fragment_frames  # send each message as N-byte WS frames
        self.member_window = member_window  # one all-members request per guild per window
        self.member_chunk_size = member_chunk_size  # Discord: up to 1000 members per chunk
        self.ready_delay = ready_delay  # seconds from IDENTIFY to READY (heartbeats go on)
        self._later: set[asyncio.Task[None]] = set()
        self.guild_members: dict[str, list[dict[str, Any]]] = {}  # guild id -> member objects
        self.unanswered_member_requests = 0  # the next N op 8 get no answer at all
        self.soundboard: dict[str, list[dict[str, Any]]] = {}  # guild id -> soundboard sounds
        self.channel_info: dict[str, list[dict[str, Any]]] = {}  # guild id -> channel info objects
        self.op7_instead_of_hello = 0  # the next N connections get op 7 instead of HELLO
        self.ack_new_connections = True
        self.drop_after_ready = 0  # the next N sessions are dropped right after READY/RESUMED
        self.reject_next = 0  # the next N websocket handshakes are refused with HTTP 503
        self.rejected: list[tuple[float, str]] = []  # (time, path) of refused handshakes
        self.connections: list[FakeConn] = []
        self.sessions: dict[str, FakeSession] = {}
        self.identifies: list[tuple[float, int, dict[str, Any]]] = []
        self.resumes: list[tuple[float, str, int | None]] = []
        self.member_requests: list[dict[str, Any]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self.scheme = "ws"  # "wss" when served with TLS
        self._ids = itertools.count(1)
        self._last_identify: dict[int, float] = {}
        self._all_members_at: dict[str, float] = {}

    # -- addresses and helpers for tests -------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/"

    @property
    def resume_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/resume"

    def run(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run a control coroutine on the fake's loop; await the result from any loop."""
        assert self.loop is not None
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def live(self, shard_id: int = 0) -> FakeConn | None:
        """The open connection holding shard ``shard_id``'s current session, if any."""
        for conn in reversed(self.connections):
            if conn.shard_id == shard_id and conn.closed_at is None and conn.identified:
                return conn
        return None

    def session_for(self, shard_id: int = 0) -> FakeSession | None:
        """The newest session of the shard."""
        found = [s for s in self.sessions.values() if s.shard[0] == shard_id]
        return found[-1] if found else None

    def logged(self, shard_id: int = 0) -> list[tuple[str, int]]:
        """Every dispatch of every session of the shard, in order: (session_id, seq)."""
        return [
            (s.session_id, p["s"])
            for s in self.sessions.values()
            if s.shard[0] == shard_id
            for p in s.log
        ]

    # -- test controls (coroutines: pass them to ``run``) ---------------------------------------

    async def dispatch(self, shard_id: int, name: str, data: Any) -> int:
        """Append a dispatch to the shard's session and send it if a connection holds it."""
        session = self.session_for(shard_id)
        assert session is not None, f"shard {shard_id} has no session"
        session.seq += 1
        payload = {"op": 0, "t": name, "s": session.seq, "d": data}
        session.log.append(payload)
        conn = session.conn
        if conn is not None and conn.closed_at is None and not conn.half_open:
            await self._send(conn, payload)
        return session.seq

    async def blast(
        self, shard_id: int, events: list[tuple[str, Any]], *, per_message: bool = False
    ) -> float:
        """Log ``events`` in the shard's session, encode, compress and frame them all, then hand
        the bytes to the socket in one write; returns when sending began (for throughput
        benchmarks: from then on the fake's thread only moves bytes, as a remote server would,
        instead of spending ~10 µs of the shared GIL per message in websockets' ``send``).
        ``per_message``: send each message through websockets' ``send`` instead (the way
        before 2026-11-30 05:17, to compare with the figures measured so)."""
        session = self.session_for(shard_id)
        assert session is not None and session.conn is not None
        conn = session.conn
        blob = bytearray()
        messages: list[bytes] = []
        for name, data in events:
            session.seq += 1
            payload = {"op": 0, "t": name, "s": session.seq, "d": data}
            session.log.append(payload)
            raw = json.dumps(payload, separators=(",", ":")).encode()
            if conn.compression == "zlib-stream":
                body = conn.compressor.compress(raw) + conn.compressor.flush(zlib.Z_SYNC_FLUSH)
            elif conn.compression == "zstd-stream":
                body = conn.compressor.compress(raw, zstd.ZstdCompressor.FLUSH_BLOCK)
            else:
                body = raw
            if per_message:
                messages.append(body)
                continue
            blob += frame_header(0x81 if conn.compression is None else 0x82, len(body)) + body
        began = time.monotonic()
        for message in messages:
            await conn.ws.send(message if conn.compression else message.decode())
        if per_message:
            return began
        conn.ws.transport.write(bytes(blob))  # whole unmasked frames: websockets' own writes
        return began  # (ACKs) can only come before or after them

    async def send_raw(self, shard_id: int, payload: dict[str, Any]) -> None:
        """Send any payload (a repeated dispatch, op 1, ...) on the shard's connection."""
        conn = self.live(shard_id)
        assert conn is not None
        await self._send(conn, payload)

    async def send_garbage(self, shard_id: int = 0) -> None:
        """A binary message that no decoder can read (corrupt compressed data)."""
        conn = self.live(shard_id)
        assert conn is not None
        await conn.ws.send(b"\x00garbage\x00\x00\xff\xff")

    async def drop(self, shard_id: int = 0, missed: int = 0) -> None:
        """Abrupt drop: the TCP connection goes away with no close frame; then ``missed``
        MESSAGE_CREATEs happen that only a RESUME's replay can deliver."""
        conn = self.live(shard_id)
        assert conn is not None
        conn.ws.transport.abort()
        session = conn.session
        if session is not None:
            session.conn = None
            for _ in range(missed):
                await self.dispatch(shard_id, "MESSAGE_CREATE", {"n": f"missed-{session.seq}"})

    async def close(self, shard_id: int, code: int) -> None:
        """Close with ``code``; 4007 and 4009 also end the session."""
        conn = self.live(shard_id)
        assert conn is not None
        if code in (4007, 4009) and conn.session:
            conn.session.valid = False
        await self._close(conn, code)

    async def reconnect(self, shard_id: int = 0) -> None:
        """Op 7: the client should reconnect and resume."""
        conn = self.live(shard_id)
        assert conn is not None
        await self._send(conn, {"op": 7, "d": None})

    async def invalidate(self, shard_id: int, resumable: bool) -> None:
        """Op 9 with ``d`` = resumable (False also ends the session)."""
        conn = self.live(shard_id)
        assert conn is not None
        if not resumable and conn.session:
            conn.session.valid = False
        await self._send(conn, {"op": 9, "d": resumable})

    async def stop_acks(self, shard_id: int = 0) -> None:
        """The connection stays open but heartbeats get no ACK (a zombie)."""
        conn = self.live(shard_id)
        assert conn is not None
        conn.ack = False

    async def half_open(self, shard_id: int = 0) -> None:
        """Both directions go silent: nothing read (not even a close frame), nothing sent."""
        conn = self.live(shard_id)
        assert conn is not None
        conn.half_open = True
        conn.ws.transport.pause_reading()

    # -- the server ------------------------------------------------------------------------------

    async def _send(self, conn: FakeConn, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        conn.sent.append((time.monotonic(), payload))
        try:
            if conn.compression == "zlib-stream":
                data = conn.compressor.compress(raw) + conn.compressor.flush(zlib.Z_SYNC_FLUSH)
                step = self.split_messages or len(data)
                for i in range(0, len(data), step):
                    await self._send_message(conn, data[i : i + step])
            elif conn.compression == "zstd-stream":
                data = conn.compressor.compress(raw, zstd.ZstdCompressor.FLUSH_BLOCK)
                await self._send_message(conn, data)
            else:
                await self._send_message(conn, raw.decode())
        except ConnectionClosed:
            pass

    async def _send_message(self, conn: FakeConn, message: str | bytes) -> None:
        step = self.fragment_frames
        if step and len(message) > step:
            await conn.ws.send([message[i : i + step] for i in range(0, len(message), step)])
        else:
            await conn.ws.send(message)

    async def _close(self, conn: FakeConn, code: int) -> None:
        conn.server_close_code = code
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(code), 2.0)
        conn.ws.transport.abort()

    def process_request(self, ws: ServerConnection, request: Any) -> Any:
        """Refuse the handshake while ``reject_next`` says so (a gateway node that is down)."""
        if self.reject_next <= 0:
            return None
        self.reject_next -= 1
        self.rejected.append((time.monotonic(), urlsplit(request.path).path))
        return ws.respond(503, "gateway unavailable\n")

    async def handler(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path if ws.request else "/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        compression = query.get("compress")
        conn = FakeConn(
            next(self._ids), parts.path, query, ws, time.monotonic(), compression,
            ack=self.ack_new_connections,
        )  # fmt: skip
        if compression == "zlib-stream":
            conn.compressor = zlib.compressobj()
        elif compression == "zstd-stream":
            conn.compressor = zstd.ZstdCompressor()
        self.connections.append(conn)
        try:
            if self.op7_instead_of_hello > 0:
                self.op7_instead_of_hello -= 1
                await self._send(conn, {"op": 7, "d": None})
                await asyncio.wait_for(ws.wait_closed(), 5.0)
                return
            await self._send(conn, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval}})
            while True:
                if conn.half_open:
                    await asyncio.sleep(3600)  # silent until the client (or the fake) gives up
                raw = await ws.recv()
                if conn.half_open:
                    continue
                await self._on_message(conn, raw)
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            conn.closed_at = time.monotonic()
            if ws.protocol.close_rcvd is not None:
                conn.client_close_code = ws.protocol.close_rcvd.code
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None

    async def _on_message(self, conn: FakeConn, raw: str | bytes) -> None:
        now = time.monotonic()
        limit, window = self.send_limit
        conn.recent.append(now)
        while conn.recent and conn.recent[0] <= now - window:
            conn.recent.popleft()
        if len(raw) > 4096:
            return await self._close(conn, 4002)
        try:
            payload = json.loads(raw)
            op = payload["op"]
        except (ValueError, KeyError, TypeError):
            return await self._close(conn, 4002)
        conn.received.append((now, payload))
        if len(conn.recent) > limit:
            return await self._close(conn, 4008)
        d = payload.get("d")
        if op == 1:
            conn.heartbeats.append(now)
            if conn.ack:
                await self._send(conn, {"op": 11})
        elif op == 2:
            await self._identify(conn, d)
        elif op == 6:
            await self._resume(conn, d)
        elif op in (3, 4, 8, 31, 43):
            if not conn.identified:
                return await self._close(conn, 4003)
            answers = {
                4: self._voice_state, 8: self._members, 31: self._soundboard, 43: self._channel_info
            }  # fmt: skip
            answer = answers.get(op)
            if answer is not None:
                await answer(conn, d)
        else:
            await self._close(conn, 4001)

    async def _identify(self, conn: FakeConn, d: dict[str, Any]) -> None:
        now = time.monotonic()
        if conn.identified:
            return await self._close(conn, 4005)
        if d.get("token") != self.token:
            return await self._close(conn, 4004)
        intents = d.get("intents")
        if not isinstance(intents, int) or intents & ~VALID_INTENTS:
            return await self._close(conn, 4013)
        if intents & PRIVILEGED & ~self.privileged_allowed:
            return await self._close(conn, 4014)
        shard_id, count = d.get("shard") or (0, 1)
        if not 0 <= shard_id < count:
            return await self._close(conn, 4010)
        if self.shard_count is not None and count < self.shard_count:
            return await self._close(conn, 4011)
        self.identifies.append((now, shard_id, d))
        key = shard_id % self.max_concurrency
        last = self._last_identify.get(key)
        self._last_identify[key] = now
        if last is not None and now - last < self.identify_interval:
            return await self._send(conn, {"op": 9, "d": False})
        session = FakeSession(secrets.token_hex(8), (shard_id, count))
        self.sessions[session.session_id] = session
        conn.session, session.conn, conn.identified = session, conn, True
        ready = {
            "v": 10,
            "user": {"id": "1000", "username": "bot", "discriminator": "0", "bot": True},
            "guilds": [],
            "session_id": session.session_id,
            "resume_gateway_url": self.resume_url,
            "shard": [shard_id, count],
            "application": {"id": "1000", "flags": 0},
        }
        if self.ready_delay:  # in the background: the connection's heartbeats are answered
            task = asyncio.ensure_future(self._ready_later(conn, session, ready))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
            return
        await self.dispatch_to(session, "READY", ready)
        await self._maybe_drop(conn)

    async def _ready_later(self, conn: FakeConn, session: FakeSession, ready: Any) -> None:
        await asyncio.sleep(self.ready_delay)
        if conn.closed_at is None:
            await self.dispatch_to(session, "READY", ready)
            await self._maybe_drop(conn)

    async def dispatch_to(self, session: FakeSession, name: str, data: Any) -> None:
        session.seq += 1
        payload = {"op": 0, "t": name, "s": session.seq, "d": data}
        session.log.append(payload)
        if session.conn is not None:
            await self._send(session.conn, payload)

    async def _resume(self, conn: FakeConn, d: dict[str, Any]) -> None:
        session = self.sessions.get(d.get("session_id", ""))
        self.resumes.append((time.monotonic(), d.get("session_id", ""), d.get("seq")))
        if d.get("token") != self.token:
            return await self._close(conn, 4004)
        if session is None or not session.valid:
            return await self._send(conn, {"op": 9, "d": False})
        seq = d.get("seq") or 0
        if seq > session.seq:
            session.valid = False
            return await self._close(conn, 4007)
        old = session.conn
        session.conn, conn.session, conn.identified = conn, session, True
        if old is not None and old is not conn:
            old.session = None
        for payload in session.log:
            if payload["s"] > seq:
                await self._send(conn, payload)
        await self.dispatch_to(session, "RESUMED", {})  # a dispatch with its own sequence
        await self._maybe_drop(conn)

    async def _maybe_drop(self, conn: FakeConn) -> None:
        if self.drop_after_ready > 0:
            self.drop_after_ready -= 1
            conn.ws.transport.abort()

    async def _members(self, conn: FakeConn, d: dict[str, Any]) -> None:
        self.member_requests.append(d)
        assert conn.session is not None
        if self.unanswered_member_requests > 0:
            self.unanswered_member_requests -= 1
            return
        guild = str(d.get("guild_id"))
        nonce = d.get("nonce")
        if d.get("query") == "" and d.get("limit") == 0:
            last = self._all_members_at.get(guild)
            now = time.monotonic()
            if last is not None and now - last < self.member_window:
                meta = {"guild_id": guild, "nonce": nonce}
                wait = round(self.member_window - (now - last), 3)
                data = {"opcode": 8, "retry_after": wait, "meta": meta}
                return await self.dispatch_to(conn.session, "RATE_LIMITED", data)
            self._all_members_at[guild] = now
        everyone = self.guild_members.get(guild, [])
        not_found: list[str] = []
        if d.get("user_ids") is not None:
            wanted = d["user_ids"] if isinstance(d["user_ids"], list) else [d["user_ids"]]
            found = {m["user"]["id"]: m for m in everyone}
            members = [found[u] for u in wanted if u in found]
            not_found = [u for u in wanted if u not in found]
        else:
            query = str(d.get("query", "")).lower()
            members = [m for m in everyone if m["user"]["username"].lower().startswith(query)]
            if d.get("limit"):
                members = members[: d["limit"]]
        size = self.member_chunk_size
        parts = [members[i : i + size] for i in range(0, len(members), size)] or [[]]
        for index, part in enumerate(parts):
            chunk: dict[str, Any] = {
                "guild_id": guild,
                "members": part,
                "chunk_index": index,
                "chunk_count": len(parts),
            }
            if nonce is not None:
                chunk["nonce"] = nonce
            if not_found and index == len(parts) - 1:
                chunk["not_found"] = not_found
            if d.get("presences"):
                chunk["presences"] = [
                    {"user": {"id": m["user"]["id"]}, "status": "online", "activities": []}
                    for m in part
                ]
            await self.dispatch_to(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _voice_state(self, conn: FakeConn, d: dict[str, Any]) -> None:
        """The bot's own voice state, then (when it joins a channel) its voice server."""
        assert conn.session is not None
        state = {
            "guild_id": d["guild_id"],
            "channel_id": d["channel_id"],
            "user_id": "1000",
            "session_id": conn.session.session_id,
            "deaf": False,
            "mute": False,
            "self_deaf": d["self_deaf"],
            "self_mute": d["self_mute"],
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }
        await self.dispatch_to(conn.session, "VOICE_STATE_UPDATE", state)
        if d["channel_id"] is not None:
            server = {"token": "voice-token", "guild_id": d["guild_id"], "endpoint": "127.0.0.1"}
            await self.dispatch_to(conn.session, "VOICE_SERVER_UPDATE", server)

    async def _soundboard(self, conn: FakeConn, d: dict[str, Any]) -> None:
        assert conn.session is not None
        for guild in d["guild_ids"]:
            sounds = {"soundboard_sounds": self.soundboard.get(guild, []), "guild_id": guild}
            await self.dispatch_to(conn.session, "SOUNDBOARD_SOUNDS", sounds)

    async def _channel_info(self, conn: FakeConn, d: dict[str, Any]) -> None:
        assert conn.session is not None
        fields = set(d["fields"])
        channels = [
            {k: v for k, v in c.items() if k == "id" or k in fields}
            for c in self.channel_info.get(str(d["guild_id"]), [])
        ]
        info = {"guild_id": d["guild_id"], "channels": channels}
        await self.dispatch_to(conn.session, "CHANNEL_INFO", info)


@contextlib.contextmanager
def serve_fake_gateway(
    *, tls: ssl.SSLContext | None = None, **options: Any
) -> Iterator[FakeGateway]:
    """Run a ``FakeGateway(**options)`` on 127.0.0.1:<free port>, on its own thread (with
    ``tls``, a server-side context, over ``wss://``)."""
    fake = FakeGateway(**options)
    if tls is not None:
        fake.scheme = "wss"
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Future[None] | None = None
    failure: list[BaseException] = []

    async def main() -> None:
        nonlocal stop
        stop = loop.create_future()
        try:
            async with serve(
                fake.handler,
                "127.0.0.1",
                0,
                process_request=fake.process_request,
                compression=None,
                max_size=None,
                ping_interval=None,
                close_timeout=0.5,
                ssl=tls,
            ) as server:
                fake.port = next(iter(server.sockets)).getsockname()[1]
                fake.loop = loop
                started.set()
                await stop
                for conn in fake.connections:
                    conn.ws.transport.abort()
        except BaseException as exc:  # surface start-up failures to the test
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(10) or failure:
        raise RuntimeError(f"fake gateway did not start: {failure}")
    try:
        yield fake
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(_settle, stop)
        thread.join(10)
        loop.close()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_until(check: Callable[[], Any], limit: float = 10.0, what: str = "") -> Any:
    """Poll ``check`` every 10 ms until it returns something truthy; fail after ``limit`` s."""
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what or check}")
        await asyncio.sleep(0.01)
