"""The websocket connection of one shard: websockets' client, with messages pushed as they arrive.

``websockets``' ``ClientConnection`` queues every frame and hands messages out one ``recv()``
at a time (a future and a task switch per message). A gateway shard needs neither: this
subclass passes each complete message to a callback on the I/O loop the moment its last frame
is parsed, and reports the end of the connection the same way. Handshake, TLS, proxies,
control frames and the close handshake stay websockets' own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

__all__ = ["GatewayConnection", "OnLost", "OnMessage"]

#: Called with each complete message: its bytes, and True for a text message.
OnMessage = Callable[[bytes, bool], None]
#: Called once when the connection is gone, with the exception ``recv()`` would have raised.
OnLost = Callable[[ConnectionClosed], None]

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class GatewayConnection(ClientConnection):
    """A ``ClientConnection`` that pushes messages to ``attach``'s callbacks instead of queueing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_message: OnMessage | None = None
        self._on_lost: OnLost | None = None
        self._early: list[Frame] = []  # frames before attach(), replayed by it
        self._parts: list[bytes] = []  # the fragments of an unfinished message
        self._text = False
        self._lost = False

    def attach(self, on_message: OnMessage, on_lost: OnLost) -> None:
        """Start pushing: frames that came before are delivered now, in order."""
        self._on_message, self._on_lost = on_message, on_lost
        early, self._early = self._early, []
        for frame in early:
            self._frame(frame)
        if self._lost:
            on_lost(self.protocol.close_exc)

    def process_event(self, event: Any) -> None:
        if self.response is None or not isinstance(event, Frame) or event.opcode not in _DATA:
            super().process_event(event)  # the handshake response, pings, pongs, close
        elif self._on_message is None:
            self._early.append(event)
        else:
            self._frame(event)

    def _frame(self, frame: Frame) -> None:
        assert self._on_message is not None
        data = frame.data if isinstance(frame.data, bytes) else bytes(frame.data)
        if frame.opcode is not Opcode.CONT:
            self._text = frame.opcode is Opcode.TEXT
            if frame.fin:  # the usual case: a whole message in one frame
                self._on_message(data, self._text)
                return
            self._parts = [data]
            return
        self._parts.append(data)
        if frame.fin:
            message, self._parts = b"".join(self._parts), []
            self._on_message(message, self._text)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost = True
        if self._on_lost is not None:
            self._on_lost(self.protocol.close_exc)
