"""One shard: a gateway session over successive websocket connections (notes §7.4–§7.9).

Each connection: HELLO (or an early op 7), heartbeats from ``interval × random()`` on, zombie
detection, IDENTIFY or RESUME, then dispatches in sequence order. Between connections the shard
decides from the close code, op 7 or op 9 whether to resume at ``resume_gateway_url`` or start a
new session, and how long to back off. What each payload does is in ``payloads.py``. Runs on
the gateway's I/O loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Container
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .commands import MemberRequests
from .connection import GatewayConnection, connect_options
from .errors import FATAL_CLOSE_CODES, GatewayError
from .events import GatewayEvent
from .payloads import Conn, Reason, ShardPayloads
from .ratelimit import READY_TIMEOUT, IdentifyQueue, SendLimiter
from .settings import ShardConfig, ShardStatus
from .transport import encode, make_decoder

__all__ = ["Shard", "ShardConfig", "ShardStatus"]

log = logging.getLogger("asgi_interactions.gateway")

#: Close codes after which the session cannot be resumed (new IDENTIFY on the cached URL).
NEW_SESSION_CODES = frozenset({4003, 4007, 4009})
#: The code we close with to reconnect: anything but 1000/1001 keeps the session resumable.
RECONNECT_CODE = 4000


class Shard(ShardPayloads):
    """Keeps one shard's session alive until ``close()`` or a fatal close code."""

    def __init__(
        self,
        shard_id: int,
        shard_count: int,
        url: str,
        config: ShardConfig,
        queue: IdentifyQueue,
        deliver: Callable[[GatewayEvent], None],
        flush: Callable[[], None],
    ) -> None:
        self.id = shard_id
        self.count = shard_count
        self.url = url
        self.config = config
        self.queue = queue
        self.deliver = deliver  # called with each dispatch, in order
        self.flush = flush  # called after each read that may have delivered some
        #: The dispatch names listeners want (``"*"``: all; None: deliver all): the others only
        #: advance the sequence. INTERACTION_CREATE, READY and RESUMED are always delivered.
        self.wanted: Container[str] | None = None
        #: Called with the shard id on READY and RESUMED, before the event is delivered (shared
        #: shards save their session then, so a takeover from then on resumes).
        self.on_session: Callable[[int], None] | None = None
        self.state = "idle"
        self.session_id: str | None = None
        self.resume_url: str | None = None
        self.seq: int | None = None
        self.latency: float | None = None
        self.session_started: float | None = None
        self.reconnects: Counter[str] = Counter()
        self.resumes = 0
        self.identifies = 0
        self.error: GatewayError | None = None
        self.first_ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._conn: Conn | None = None
        self._live = asyncio.Event()
        self._closing = False
        #: Shared shards: True while this process's lease on the shard is sure to be valid; no
        #: IDENTIFY or RESUME goes out otherwise (a process that woke from a pause).
        self.lease_ok: Callable[[], bool] | None = None
        self._close_code = 1000
        self._holding_slot = False
        self._slot_sent = False  # the held IDENTIFY slot's IDENTIFY went out: READY is awaited
        self._background: set[asyncio.Task[Any]] = set()
        #: Op 8 requests in flight: chunks collected by nonce, RATE_LIMITED retried (commands.py).
        self.members = MemberRequests(shard_id, self.send, self._spawn)

    # -- public (called on the I/O loop) -------------------------------------------------------

    def status(self) -> ShardStatus:
        """A snapshot of the shard's state and counters."""
        age = time.monotonic() - self.session_started if self.session_started else None
        return ShardStatus(
            self.id, self.state, self.latency, age, self.seq,
            dict(self.reconnects), self.resumes, self.identifies,
        )  # fmt: skip

    async def run(self) -> None:
        """Connect, and reconnect after every fault, until closed or stopped for good."""
        failures = 0
        while not self._closing:
            self._conn = None
            try:
                reason = await self._connection(resume=self._resumable())
            except GatewayError as exc:  # the identify queue refused (session budget)
                reason = Reason("no identify", resume=False, fatal=exc)
            except Exception:  # a bug or a malformed payload must not end the shard
                log.exception("shard %d: connection failed unexpectedly", self.id)
                reason = Reason("error", resume=self._resumable())
            if self._closing:
                break
            if reason.fatal is not None:
                self.error = reason.fatal
                self._set_state("failed")
                log.error("%s", reason.fatal)
                if not self.first_ready.done():
                    self.first_ready.set_exception(reason.fatal)
                return
            self.reconnects[reason.cause] += 1
            if not reason.resume:
                self._forget_session()
            healthy = self._conn_healthy
            failures = 0 if healthy else failures + 1
            delay = 0.0
            if not (reason.immediate or healthy):
                cap = min(self.config.backoff_max, self.config.backoff_base * 2 ** (failures - 1))
                delay = cap * random.uniform(0.5, 1.0)
            log.info(
                "shard %d: disconnected (%s); %s in %.2fs",
                self.id,
                reason.cause,
                "resuming" if self._resumable() else "identifying",
                delay,
            )
            if delay:
                self._set_state("backoff")
                await asyncio.sleep(delay)
        self._set_state("stopped")

    def restore(self, session_id: str, resume_url: str, seq: int | None) -> None:
        """Start by resuming a session another process ran (a handover)."""
        self.session_id, self.resume_url, self.seq = session_id, resume_url, seq

    async def close(self, code: int = 1000) -> None:
        """Stop reconnecting and close (bounded): 1000 ends the session, another code keeps
        it resumable for the next holder."""
        self._closing = True
        self._close_code = code
        self.members.close()
        for task in self._background:  # old connections' closes and retries: abort them now
            task.cancel()
        conn = self._conn
        if conn is not None:
            await self._close_ws(conn.ws, code)
        if self._background:
            await asyncio.wait(set(self._background), timeout=1.0)
        if self.state != "failed":
            self._set_state("stopped")

    async def send(self, payload: dict[str, Any]) -> None:
        """Send a payload on the live connection (waiting for one), within the send limit."""
        encode(payload)  # refuse an oversized payload at once
        while True:
            await self._live.wait()
            conn = self._conn
            if conn is None or not conn.live:
                self._live.clear()
                continue
            await conn.limiter.acquire()
            if conn is self._conn:
                await conn.ws.send(encode(payload))
                return

    # -- one connection --------------------------------------------------------------------------

    def _resumable(self) -> bool:
        return self.session_id is not None and self.resume_url is not None

    def _forget_session(self) -> None:
        self.session_id = self.resume_url = None
        self.seq = None
        self.session_started = None

    @property
    def _conn_healthy(self) -> bool:
        return self._conn is not None and self._conn.healthy

    def _query_url(self, base: str) -> str:
        parts = urlsplit(base)
        query: dict[str, str] = {"v": "10", "encoding": "json"}
        if self.config.compression:
            query["compress"] = self.config.compression
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))

    async def _connection(self, *, resume: bool) -> Reason:
        while self.lease_ok is not None and not self.lease_ok() and not self._closing:
            self._set_state("waiting for its lease")  # renewed soon, or the shard is stopped
            await asyncio.sleep(0.05)
        if not resume:
            self._set_state("waiting to identify")
            await self.queue.acquire(self.id)
            self._holding_slot = True
        try:
            self._set_state("connecting")
            url = self._query_url(self.resume_url if resume and self.resume_url else self.url)
            try:
                ws = await connect(
                    url,
                    create_connection=GatewayConnection,
                    compression=None,
                    max_size=None,
                    ping_interval=None,
                    open_timeout=self.config.open_timeout,
                    close_timeout=self.config.close_timeout,
                    user_agent_header="DiscordBot (asgi-interactions, 0.1)",
                    **connect_options(url),
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                log.warning("shard %d: could not connect: %s", self.id, exc)
                # A failed resume falls back to a new session on the cached URL.
                return Reason("connect failed", resume=False)
            assert isinstance(ws, GatewayConnection)
            if self._closing:  # closed while connecting: this socket must not start a session
                await self._close_ws(ws, self._close_code)
                return Reason("closed", resume=self._resumable())
            limiter = SendLimiter(*self.config.send_limit)
            loop = asyncio.get_running_loop()
            decoder = make_decoder(self.config.compression)
            conn = Conn(ws, decoder, limiter, loop.create_future(), loop.create_future())
            self._conn = conn
            ws.attach(self._reader(conn), functools.partial(self._lost, conn), self.flush)
            try:
                reason = await self._drive(conn, resume=resume)
            finally:
                conn.live = False
                self._live.clear()
                if not self._closing:
                    self._spawn(self._close_ws(ws, RECONNECT_CODE))
            return reason
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        """Free the IDENTIFY slot: at READY, after ``READY_TIMEOUT``, or when the connection
        ends (the key's next IDENTIFY then waits its interval from this one's send)."""
        if self._holding_slot:
            self._holding_slot = False
            self.queue.release(self.id, sent=self._slot_sent)
            self._slot_sent = False

    async def _drive(self, conn: Conn, *, resume: bool) -> Reason:
        hello = await self._first_payload(conn)
        if isinstance(hello, Reason):
            return hello
        conn.interval = float(hello["d"]["heartbeat_interval"]) / 1000.0
        conn.limiter.reserve_for(conn.interval)
        beats = asyncio.ensure_future(self._heartbeat(conn))
        reader = asyncio.ensure_future(asyncio.shield(conn.ended))
        timer: asyncio.TimerHandle | None = None
        try:
            if self.lease_ok is not None and not self.lease_ok():
                return Reason("lease not renewed", resume=self._resumable())
            if resume:
                self._set_state("resuming")
                payload = {"token": self.config.token, "session_id": self.session_id}
                await self._send_now(conn, {"op": 6, "d": {**payload, "seq": self.seq}})
            else:
                self._forget_session()
                self._set_state("identifying")
                await self._send_now(conn, self._identify_payload())
                self.identifies += 1
                self.queue.sent(self.id)
                self._slot_sent = True
                timer = asyncio.get_running_loop().call_later(READY_TIMEOUT, self._release_slot)
            done, _ = await asyncio.wait({beats, reader}, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()
        except ConnectionClosed as exc:
            return self._closed(exc)
        finally:
            if timer is not None:
                timer.cancel()
            for task in (beats, reader):
                task.cancel()
            await asyncio.wait({beats, reader})

    async def _first_payload(self, conn: Conn) -> dict[str, Any] | Reason:
        """HELLO, or the reason there is none (op 7 before HELLO, close, timeout)."""
        try:
            async with asyncio.timeout(self.config.hello_timeout):
                first: set[asyncio.Future[Any]] = {conn.hello, conn.ended}
                await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            return Reason("no hello", resume=self._resumable())
        if not conn.hello.done():
            return conn.ended.result()
        payload = conn.hello.result()
        if payload.get("op") == 7:
            return Reason("op 7", resume=self._resumable(), immediate=True)
        if payload.get("op") != 10:
            return Reason(f"op {payload.get('op')} before hello", resume=self._resumable())
        return payload

    def _identify_payload(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "token": self.config.token,
            "intents": int(self.config.intents),
            "properties": {
                "os": platform.system().lower() or "unknown",
                "browser": "asgi-interactions",
                "device": "asgi-interactions",
            },
            "shard": [self.id, self.count],
            "large_threshold": self.config.large_threshold,
        }
        if self.config.presence is not None:
            d["presence"] = self.config.presence
        return {"op": 2, "d": d}

    async def _send_now(self, conn: Conn, payload: dict[str, Any]) -> None:
        await conn.limiter.acquire()
        await conn.ws.send(encode(payload))

    async def _beat(self, conn: Conn) -> None:
        conn.limiter.take_heartbeat()
        now = time.monotonic()
        if conn.unacked_since is None:
            conn.unacked_since = now
        conn.last_beat = now
        await conn.ws.send(encode({"op": 1, "d": self.seq}))

    async def _heartbeat(self, conn: Conn) -> Reason:
        """Beat every interval (the first after ``interval × random()``); stop on a zombie."""
        await asyncio.sleep(conn.interval * random.random())
        while True:
            since = conn.unacked_since
            if since is not None and time.monotonic() - since >= conn.interval / 2:
                log.warning(
                    "shard %d: no heartbeat ACK for %.2fs: zombie connection, reconnecting",
                    self.id,
                    time.monotonic() - since,
                )
                return Reason("zombie", resume=self._resumable(), immediate=conn.healthy)
            try:
                async with asyncio.timeout(conn.interval):
                    await self._beat(conn)
            except TimeoutError:
                return Reason("zombie", resume=self._resumable(), immediate=conn.healthy)
            except ConnectionClosed as exc:
                return self._closed(exc)
            await asyncio.sleep(conn.interval)

    def _lost(self, conn: Conn, exc: ConnectionClosed) -> None:
        if not conn.ended.done():
            conn.ended.set_result(self._closed(exc))

    def _closed(self, exc: ConnectionClosed) -> Reason:
        code = exc.rcvd.code if exc.rcvd is not None else None
        if code is None:
            return Reason("dropped", resume=self._resumable())
        if code in FATAL_CLOSE_CODES:
            fatal = GatewayError.from_close(code, self.id)
            return Reason(f"close {code}", resume=False, fatal=fatal)
        return Reason(f"close {code}", resume=code not in NEW_SESSION_CODES and self._resumable())

    # -- helpers ---------------------------------------------------------------------------------

    async def _close_ws(self, ws: GatewayConnection, code: int) -> None:
        """Close without ever waiting on a dead peer: the handshake is bounded, then aborted."""
        try:
            async with asyncio.timeout(self.config.close_timeout):
                await ws.close(code)
        except Exception:
            pass
        finally:
            ws.transport.abort()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            log.info("shard %d: %s -> %s", self.id, self.state, state)
            self.state = state
