"""Transport compression and JSON decoding for one gateway connection (notes §7.12).

A decoder lives exactly as long as its connection: zlib-stream keeps one inflate context and
buffers binary messages until the ``00 00 ff ff`` flush marker; zstd-stream keeps one
decompression stream and each binary message holds one payload.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, Literal, Protocol

import pydantic_core

__all__ = [
    "Compression",
    "Decoder",
    "encode",
    "make_decoder",
    "resolve_compression",
    "zstd_available",
]

Compression = Literal["zstd-stream", "zlib-stream"] | None
ZLIB_SUFFIX = b"\x00\x00\xff\xff"
MAX_PAYLOAD = 4096  # bytes a payload we send may have (else Discord closes with 4002)


def _zstd_module() -> Any:
    """``compression.zstd`` (Python 3.14+) or the ``backports.zstd`` package, else None."""
    for name in ("compression.zstd", "backports.zstd"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def zstd_available() -> bool:
    """True if zstd-stream can be decoded here (Python 3.14+, or the ``zstd`` extra)."""
    return _zstd_module() is not None


def resolve_compression(compress: bool | str) -> Compression:
    """Map ``Gateway(compress=...)`` to a transport: True picks zstd when available, else zlib."""
    if compress is True:
        return "zstd-stream" if zstd_available() else "zlib-stream"
    if compress is False or compress is None:
        return None
    if compress == "zlib-stream":
        return "zlib-stream"
    if compress == "zstd-stream":
        if not zstd_available():
            raise ValueError(
                'compress="zstd-stream" needs Python 3.14+ or the zstd extra '
                "(pip install 'asgi-interactions[zstd]'); use compress=True to fall back"
            )
        return "zstd-stream"
    raise ValueError(
        f'compress must be True, False, "zstd-stream" or "zlib-stream", not {compress!r}'
    )


class Decoder(Protocol):
    """Turns the websocket messages of one connection into gateway payloads."""

    def feed(self, message: str | bytes) -> dict[str, Any] | None:
        """The payload this message completes, or None while a zlib message is incomplete."""
        ...


_from_json = pydantic_core.from_json


def _loads(raw: str | bytes | bytearray) -> dict[str, Any]:
    payload = _from_json(raw)
    if type(payload) is not dict:
        raise ValueError("gateway payload is not a JSON object")
    return payload


class PlainDecoder:
    """Uncompressed JSON text (or binary) messages."""

    def feed(self, message: str | bytes) -> dict[str, Any] | None:
        return _loads(message)


class ZlibStreamDecoder:
    """zlib-stream: one inflate context; a payload may span several messages.

    The context inflates raw deflate data: the stream's 2-byte zlib header is checked and cut
    off here, so no Adler-32 checksum is computed over every byte inflated (a zlib-stream never
    ends, so its checksum is never compared; it cost ~4 % of a dispatch). The common message, a
    whole payload (ending with the flush marker) after the first, costs two C calls (inflate,
    JSON) and no copy.
    """

    def __init__(self) -> None:
        self._decompress = zlib.decompressobj(-zlib.MAX_WBITS).decompress
        self._buffer = bytearray()
        self._header = True  # the zlib header is still to be read (it starts the first message)

    def feed(self, message: str | bytes) -> dict[str, Any] | None:
        if type(message) is not bytes:
            return _loads(message)
        try:
            if not self._buffer and message[-4:] == ZLIB_SUFFIX and not self._header:
                data = self._decompress(message)
            else:
                self._buffer += message
                if self._buffer[-4:] != ZLIB_SUFFIX:
                    return None
                if self._header:
                    _cut_zlib_header(self._buffer)
                    self._header = False
                data = self._decompress(self._buffer)
                self._buffer.clear()
        except zlib.error as exc:
            raise ValueError(f"zlib-stream: {exc}") from exc
        payload = _from_json(data)
        if type(payload) is not dict:
            raise ValueError("gateway payload is not a JSON object")
        return payload


def _cut_zlib_header(buffer: bytearray) -> None:
    """Check and remove the zlib header (RFC 1950: CMF, FLG) from the start of the stream."""
    if len(buffer) < 2:
        raise zlib.error("incomplete zlib header")
    cmf, flg = buffer[0], buffer[1]
    if cmf & 0x0F != 8 or cmf >> 4 > 7 or (cmf << 8 | flg) % 31 or flg & 0x20:
        raise zlib.error("incorrect header check")  # not deflate, or a preset dictionary
    del buffer[:2]


class ZstdStreamDecoder:
    """zstd-stream: one decompression stream for the connection, one payload per message."""

    def __init__(self) -> None:
        module = _zstd_module()
        if module is None:  # resolve_compression checked this already
            raise RuntimeError("zstd is not available")
        self._decompress = module.ZstdDecompressor().decompress

    def feed(self, message: str | bytes) -> dict[str, Any] | None:
        if type(message) is not bytes:
            return _loads(message)
        try:
            data: bytes = self._decompress(message)
        except Exception as exc:  # the module's ZstdError
            raise ValueError(f"zstd-stream: {exc}") from exc
        payload = _from_json(data)
        if type(payload) is not dict:
            raise ValueError("gateway payload is not a JSON object")
        return payload


def make_decoder(compression: Compression) -> Decoder:
    """A fresh decoder for a new connection."""
    if compression == "zlib-stream":
        return ZlibStreamDecoder()
    if compression == "zstd-stream":
        return ZstdStreamDecoder()
    return PlainDecoder()


def encode(payload: dict[str, Any]) -> str:
    """JSON text of a payload we send; refuses one over Discord's 4096-byte limit."""
    raw = pydantic_core.to_json(payload)
    if len(raw) > MAX_PAYLOAD:
        raise ValueError(
            f"gateway payload (op {payload.get('op')}) is {len(raw)} bytes; Discord accepts "
            f"at most {MAX_PAYLOAD}"
        )
    return raw.decode()
