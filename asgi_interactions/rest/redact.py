"""Keep tokens out of the logs of the HTTP stack under the REST client.

HTTPX2 logs every URL at INFO (an interaction's follow-up URL holds its token); at DEBUG, hpack
logs each header it encodes or decodes (the ``:path`` with that token, ``authorization`` when a
server echoes it) and whole header blocks, whose Huffman coding anyone can undo. A filter on each
of those loggers masks the secrets; it costs nothing while their level is off (no record is made).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

__all__ = ["LOGGERS", "RedactSecrets", "install", "redact"]

#: The loggers the REST client's HTTP stack writes through (a filter on a logger sees only the
#: records made on that very logger, so each one is named, not their parents).
LOGGERS = (
    "httpx2",
    "httpx",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "hpack.hpack",
    "hpack.table",
    "h2.connection",
    "h2.stream",
)

_PATTERNS = (
    # /webhooks/{application id}/{token} and /interactions/{id}/{token}
    (re.compile(r"/(webhooks|interactions)/(\d+)/([^/?#\s\"']+)"), r"/\1/\2/***"),
    # Authorization values: "Bot <token>", "Bearer <token>"
    (re.compile(r"\b(Bot|Bearer)(\s+)[\w.~+/=-]{8,}"), r"\1\2***"),
    # an interaction token anywhere: base64url of "interaction:..."
    (re.compile(r"aW50ZXJhY3Rpb246[\w-]+"), "***"),
    # a bot token anywhere: three base64url parts, the middle one a timestamp
    (re.compile(r"\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,}"), "***"),
)

#: hpack messages whose argument is a whole header block (Huffman-coded, so undoable).
_HEADER_BLOCKS = frozenset({"Encoded header block to %s", "Decoding %s"})


def redact(text: str) -> str:
    """``text`` with interaction tokens, webhook tokens and Authorization values masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks tokens in a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            if record.msg in _HEADER_BLOCKS and isinstance(record.args, tuple) and record.args:
                block = record.args[0]
                size = len(block) if isinstance(block, bytes | bytearray | memoryview) else "?"
                record.args = (f"<header block, {size} bytes>",)
                return True
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _clean(value) for key, value in record.args.items()}
        return True


def _clean(value: object) -> object:
    if value is None or isinstance(value, int | float):
        return value  # keeps %d and %f working
    text = str(value)
    cleaned = redact(text)
    return cleaned if cleaned != text else value


_FILTER = RedactSecrets()


def install() -> None:
    """Put the filter on every logger in ``LOGGERS`` (once; idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
