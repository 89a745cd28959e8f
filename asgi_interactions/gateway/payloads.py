"""What a shard does with each payload of a live connection (mixed into ``Shard``).

The common message, a dispatch after HELLO, takes one callback: decoded, checked against the
last sequence (repeats dropped), and handed over only if a listener wants it. HELLO, heartbeat
ACKs, server heartbeats, op 7, op 9 and the dispatches the shard acts on itself (READY, RESUMED,
RATE_LIMITED, GUILD_MEMBERS_CHUNK) go the general way. Runs on the gateway's I/O loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from .commands import MemberRequests
from .connection import GatewayConnection
from .errors import GatewayError
from .events import GatewayEvent, event_setters, new_event
from .ratelimit import SendLimiter
from .transport import Decoder

__all__ = ["Conn", "Reason", "ShardPayloads"]

log = logging.getLogger("asgi_interactions.gateway")

#: Dispatches the shard acts on itself before delivering them.
_SESSION_EVENTS = frozenset({"READY", "RESUMED", "RATE_LIMITED", "GUILD_MEMBERS_CHUNK"})
_INTERACTION = "INTERACTION_CREATE"
_ALWAYS_DELIVERED = frozenset({_INTERACTION, "READY", "RESUMED"})


@dataclass
class Reason:
    """Why a connection ended, and what the next one should do."""

    cause: str
    resume: bool
    immediate: bool = False
    fatal: GatewayError | None = None


@dataclass
class Conn:
    """One websocket connection of a shard and its session state."""

    ws: GatewayConnection
    decoder: Decoder
    limiter: SendLimiter
    hello: asyncio.Future[dict[str, Any]]  # the first payload
    ended: asyncio.Future[Reason]  # why the connection ended (set by the message callbacks)
    interval: float = 0.0
    unacked_since: float | None = None
    last_beat: float = 0.0
    healthy: bool = False  # READY/RESUMED seen, then a heartbeat ACK
    live: bool = False  # READY/RESUMED seen
    acked: asyncio.Event = field(default_factory=asyncio.Event)


class ShardPayloads:
    """The payload half of ``Shard``: the per-message callback and what each op does."""

    id: int
    seq: int | None
    session_id: str | None
    resume_url: str | None
    session_started: float | None
    latency: float | None
    resumes: int
    deliver: Callable[[GatewayEvent], None]
    wanted: Container[str] | None
    on_session: Callable[[int], None] | None
    members: MemberRequests
    first_ready: asyncio.Future[None]
    _live: asyncio.Event

    if TYPE_CHECKING:  # Shard's own

        def _resumable(self) -> bool: ...
        def _set_state(self, state: str) -> None: ...
        def _spawn(self, coro: Any) -> None: ...
        def _release_slot(self) -> None: ...
        async def _beat(self, conn: Conn) -> None: ...

    def _reader(self, conn: Conn) -> Callable[[bytes, bool], None]:
        """The callback for each complete websocket message of ``conn`` (on the I/O loop).

        The common message, a dispatch after HELLO with its sequence number, is handled inline:
        decoded, checked against the last sequence, and its event built (slots set directly,
        see ``events.new_event``) and delivered, with no further Python call; every other
        payload goes through ``_on_other``.
        """
        feed, ended, ended_done, hello_done = (
            conn.decoder.feed,
            conn.ended,
            conn.ended.done,
            conn.hello.done,
        )
        deliver, wanted, sid = self.deliver, self.wanted, self.id
        session_events = _SESSION_EVENTS
        new, set_name, set_shard, set_seq, set_data = event_setters()

        def on_message(message: bytes, text: bool) -> None:
            if ended_done():
                return
            try:
                payload = feed(message.decode() if text else message)
            except ValueError as exc:  # zlib.error, bad UTF-8 and bad JSON are ValueErrors
                log.warning("shard %d: undecodable payload: %s", sid, exc)
                ended.set_result(Reason("decode error", resume=self._resumable()))
                return
            if payload is None:
                return
            if payload.get("op") == 0 and hello_done():
                seq, name = payload.get("s"), payload.get("t")
                if type(seq) is int and type(name) is str and name not in session_events:
                    last = self.seq
                    if last is not None and seq <= last:
                        log.debug("shard %d: dropped repeated %s (seq %d)", sid, name, seq)
                        return
                    self.seq = seq
                    if wanted is None or "*" in wanted or name in wanted or name == _INTERACTION:
                        event = new(GatewayEvent)
                        set_name(event, name)
                        set_shard(event, sid)
                        set_seq(event, seq)
                        set_data(event, payload.get("d"))
                        try:
                            deliver(event)
                        except Exception:  # a bug must not end the shard: resume, replayed
                            log.exception("shard %d: failed to hand over %s", sid, name)
                            self.seq = last
                            ended.set_result(Reason("error", resume=self._resumable()))
                    return
            self._on_other(conn, payload)

        return on_message

    def _on_other(self, conn: Conn, payload: dict[str, Any]) -> None:
        """HELLO, and every payload after it but the common dispatch."""
        if not conn.hello.done():
            conn.hello.set_result(payload)
            return
        try:
            reason = self._on_payload(conn, payload)
        except Exception:  # a bug or a malformed payload must not end the shard
            log.exception("shard %d: failed to handle op %s", self.id, payload.get("op"))
            reason = Reason("error", resume=self._resumable())
        if reason is not None:
            conn.ended.set_result(reason)

    def _on_payload(self, conn: Conn, payload: dict[str, Any]) -> Reason | None:
        """Act on one payload after HELLO; a reason ends the connection."""
        op = payload.get("op")
        if op == 0:
            self._on_dispatch(conn, payload)
        elif op == 11:
            if conn.unacked_since is not None:
                self.latency = time.monotonic() - conn.last_beat
            conn.unacked_since = None
            if conn.live:
                conn.healthy = True
        elif op == 1:
            self._spawn(self._beat_answer(conn))
        elif op == 7:
            return Reason("op 7", resume=self._resumable(), immediate=True)
        elif op == 9:
            resumable = bool(payload.get("d")) and self._resumable()
            return Reason("op 9 true" if payload.get("d") else "op 9 false", resume=resumable)
        return None

    async def _beat_answer(self, conn: Conn) -> None:
        """A server's op 1, answered at once (a closed connection is reported by ``_lost``)."""
        with contextlib.suppress(ConnectionClosed):
            await self._beat(conn)

    def _on_dispatch(self, conn: Conn, payload: dict[str, Any]) -> None:
        seq = payload.get("s")
        name = str(payload.get("t"))
        data = payload.get("d")
        if isinstance(seq, int):
            if self.seq is not None and seq <= self.seq:
                log.debug("shard %d: dropped repeated %s (seq %d)", self.id, name, seq)
                return
            self.seq = seq
        else:
            seq = None
        if name in _SESSION_EVENTS:
            self._on_session_event(conn, name, data)
        wanted = self.wanted
        if wanted is None or "*" in wanted or name in wanted or name in _ALWAYS_DELIVERED:
            self.deliver(new_event(name, self.id, seq, data))

    def _on_session_event(self, conn: Conn, name: str, data: Any) -> None:
        """READY, RESUMED, RATE_LIMITED and GUILD_MEMBERS_CHUNK: what the shard itself uses."""
        if name == "READY" and isinstance(data, dict):
            self.session_id = data.get("session_id")
            self.resume_url = data.get("resume_gateway_url")
            self.session_started = time.monotonic()
            self._release_slot()
            self._went_live(conn, "ready")
            self.members.on_new_session()
            if self.on_session is not None:
                self.on_session(self.id)
        elif name == "RESUMED":
            self.resumes += 1
            self._went_live(conn, "ready")
            if self.on_session is not None:
                self.on_session(self.id)
        elif name in ("GUILD_MEMBERS_CHUNK", "RATE_LIMITED"):
            self.members.on_dispatch(name, data)

    def _went_live(self, conn: Conn, state: str) -> None:
        conn.live = True
        self._live.set()
        self._set_state(state)
        if not self.first_ready.done():
            self.first_ready.set_result(None)
