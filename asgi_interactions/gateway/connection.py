"""The websocket connection of one shard: websockets' client, with messages pushed as they arrive.

``websockets``' ``ClientConnection`` queues every frame and hands messages out one ``recv()``
at a time (a future and a task switch per message), and parses each frame through a general
generator-based parser. A gateway shard needs neither: this subclass passes each complete
message to a callback on the I/O loop the moment it has arrived, and reports the end of the
connection the same way.

The gateway's common frame, a whole unmasked text or binary message with no reserved bits, is
cut out of the byte stream here; every other frame (control frames, fragments, anything
malformed) is handed to websockets whole, so its parser always starts at a frame boundary and
keeps handling pings, the close handshake and protocol errors. The handshake, TLS and proxies
stay websockets' own. Once the connection leaves the OPEN state, every byte goes to websockets.

``connect_options`` gives every ``wss://`` connection of the process one TLS context, the one
asyncio would otherwise build for each (loading the CA bundle: about 20 ms of CPU on the I/O
loop per connection, paid again in every IDENTIFY window).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

__all__ = ["GatewayConnection", "OnBatch", "OnLost", "OnMessage", "connect_options", "tls_context"]

#: Called with each complete message: its bytes, and True for a text message.
OnMessage = Callable[[bytes, bool], None]
#: Called once when the connection is gone, with the exception ``recv()`` would have raised.
OnLost = Callable[[ConnectionClosed], None]
#: Called after each read from the socket that delivered messages (to hand them on in one go).
OnBatch = Callable[[], None]

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
_HEAD_END = b"\r\n\r\n"  # the end of the HTTP response head (a 101 has no body)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context for the gateway: ``ssl.create_default_context()``, exactly
    what asyncio makes for ``ssl=True`` (the system's CAs, host names checked), made once."""
    return ssl.create_default_context()


def connect_options(url: str) -> dict[str, Any]:
    """Extra ``connect`` arguments for ``url``: the shared TLS context for ``wss://``."""
    return {"ssl": tls_context()} if url.startswith("wss://") else {}


class GatewayConnection(ClientConnection):
    """A ``ClientConnection`` that pushes messages to ``attach``'s callbacks instead of queueing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_message: OnMessage | None = None
        self._on_lost: OnLost | None = None
        self._on_batch: OnBatch | None = None
        self._early: list[tuple[bytes, bool]] = []  # messages before attach(), replayed by it
        self._parts: list[bytes] = []  # the fragments of an unfinished message
        self._text = False
        self._lost = False
        self._head_done = False  # the HTTP response head has been handed to websockets
        self._head_tail = b""  # its last bytes so far, to find a CRLFCRLF split across reads
        self._rest = b""  # the start of a frame not complete yet
        self._websockets_only = False  # not OPEN any more (or a failed handshake)

    def attach(self, on_message: OnMessage, on_lost: OnLost, on_batch: OnBatch) -> None:
        """Start pushing: messages that came before are delivered now, in order."""
        self._on_message, self._on_lost, self._on_batch = on_message, on_lost, on_batch
        early, self._early = self._early, []
        for message, text in early:
            on_message(message, text)
        on_batch()
        if self._lost:
            on_lost(self.protocol.close_exc)

    # -- bytes in ----------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._head_done:
            data = self._handshake_bytes(data)
        if self._websockets_only:
            if data:
                super().data_received(data)
        else:
            self._frames(self._rest + data if self._rest else data)
        if self._on_batch is not None:
            self._on_batch()

    def _handshake_bytes(self, data: bytes) -> bytes:
        """Hand websockets the response head exactly; return the bytes after it (frames)."""
        window = self._head_tail + data
        end = window.find(_HEAD_END)
        if end < 0:
            self._head_tail = window[-3:]
            super().data_received(data)
            return b""
        cut = end + len(_HEAD_END) - len(self._head_tail)
        self._head_done = True
        super().data_received(data[:cut])
        if self.protocol.state is not State.OPEN:  # a refused handshake: websockets decides
            self._websockets_only = True
        return data[cut:]

    def _frames(self, data: bytes) -> None:
        """Deliver each complete frame of ``data``; keep an incomplete last one for later."""
        emit = self._on_message if self._on_message is not None else self._emit
        pos, size = 0, len(data)
        while size - pos >= 2:
            first, second = data[pos], data[pos + 1]
            if second < 126:  # unmasked, short
                start, end = pos + 2, pos + 2 + second
            elif second == 126:  # unmasked, 16-bit length
                start = pos + 4
                end = start + int.from_bytes(data[pos + 2 : start])
            else:
                length, start = second & 0x7F, pos + 2
                if length == 126:
                    length, start = int.from_bytes(data[pos + 2 : pos + 4]), pos + 4
                elif length == 127:
                    length, start = int.from_bytes(data[pos + 2 : pos + 10]), pos + 10
                if second & 0x80:  # masked (a server must not): websockets fails the connection
                    start += 4
                end = start + length
            if end > size:  # also a length field cut short: end is then past size
                break
            # FIN, no RSV, text (0x81) or binary (0x82), unmasked, and no fragments pending.
            if (first == 0x82 or first == 0x81) and second < 128 and not self._parts:
                emit(data[start:end], first == 0x81)
            else:
                super().data_received(data[pos:end])  # one whole frame: websockets' parser
                if self.protocol.state is not State.OPEN:
                    self._websockets_only = True
                    pos = end
                    if pos < size:
                        super().data_received(data[pos:])
                    self._rest = b""
                    return
            pos = end
        self._rest = data[pos:]

    # -- frames from websockets' parser (fragments) ----------------------------------------------

    def process_event(self, event: Any) -> None:
        if self.response is None or not isinstance(event, Frame) or event.opcode not in _DATA:
            super().process_event(event)  # the handshake response, pings, pongs, close
            return
        data = event.data if isinstance(event.data, bytes) else bytes(event.data)
        if event.opcode is not Opcode.CONT:
            self._text = event.opcode is Opcode.TEXT
            if event.fin:
                self._emit(data, self._text)
                return
            self._parts = [data]
            return
        self._parts.append(data)
        if event.fin:
            message, self._parts = b"".join(self._parts), []
            self._emit(message, self._text)

    def _emit(self, message: bytes, text: bool) -> None:
        if self._on_message is None:
            self._early.append((message, text))
        else:
            self._on_message(message, text)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost = True
        if self._on_lost is not None:
            self._on_lost(self.protocol.close_exc)
