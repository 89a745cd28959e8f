"""Request authentication: Ed25519 signature over timestamp + body, freshness and replay checks.

Discord signs ``timestamp_header + raw_body`` with the application's key (notes §1.3) and
probes endpoints with bad signatures on purpose, so every failure must be cheap and quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .errors import ConfigurationError

__all__ = ["ReplayCache", "SignatureVerifier", "VerificationError", "load_public_key"]

_SIGNATURE_HEX_LEN = 128
_TIMESTAMP_MAX_LEN = 32


class VerificationError(Exception):
    """A request failed authentication; ``str(exc)`` is safe to send back to the client."""


def load_public_key(key: str | bytes) -> VerifyKey:
    """Build a verify key from 64 hex characters or 32 raw bytes, with a clear error otherwise."""
    if isinstance(key, str):
        try:
            raw = bytes.fromhex(key.strip())
        except ValueError:
            raise ConfigurationError("public_key is not valid hex") from None
    else:
        raw = bytes(key)
    if len(raw) != 32:
        raise ConfigurationError(
            f"public_key must be 32 bytes (64 hex characters), got {len(raw)} bytes"
        )
    return VerifyKey(raw)


class ReplayCache:
    """Remembers recently accepted signatures so that a captured request cannot be replayed.

    Keys are signatures (unique per timestamp + body); entries expire after ``ttl`` seconds, which
    matches the timestamp tolerance: older replays are refused by the freshness check anyway.
    """

    __slots__ = ("_clock", "_entries", "maxsize", "ttl")

    def __init__(
        self, maxsize: int = 10_000, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[bytes, float] = {}

    def seen(self, key: bytes) -> bool:
        """Record ``key``; return True if it was already recorded and has not expired."""
        now = self._clock()
        entries = self._entries
        expires = entries.get(key)
        if expires is not None and expires > now:
            return True
        # Entries are inserted in time order, so expired ones sit at the front.
        while entries:
            first = next(iter(entries))
            if entries[first] > now and len(entries) < self.maxsize:
                break
            del entries[first]
        entries[key] = now + self.ttl
        return False

    def __len__(self) -> int:
        return len(self._entries)


class SignatureVerifier:
    """Checks the two signature headers of a request against the application's public key."""

    __slots__ = ("_clock", "_key", "replay_cache", "timestamp_tolerance")

    def __init__(
        self,
        public_key: str | bytes,
        *,
        timestamp_tolerance: float | None = 300.0,
        replay_cache: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_public_key(public_key)
        self.timestamp_tolerance = timestamp_tolerance
        self.replay_cache = replay_cache
        self._clock = clock

    def verify(self, signature: bytes | None, timestamp: bytes | None, body: bytes) -> None:
        """Raise VerificationError unless the request is authentic, fresh and not a replay."""
        if not signature or not timestamp:
            raise VerificationError("missing signature headers")
        if len(signature) != _SIGNATURE_HEX_LEN or len(timestamp) > _TIMESTAMP_MAX_LEN:
            raise VerificationError("malformed signature headers")
        try:
            sig = bytes.fromhex(signature.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise VerificationError("malformed signature headers") from None
        if self.timestamp_tolerance is not None:
            try:
                sent = float(timestamp)
            except ValueError:
                raise VerificationError("malformed signature headers") from None
            if not abs(self._clock() - sent) <= self.timestamp_tolerance:  # also catches NaN
                raise VerificationError("request timestamp outside the allowed window")
        try:
            self._key.verify(timestamp + body, sig)
        except BadSignatureError:
            raise VerificationError("invalid request signature") from None
        if self.replay_cache is not None and self.replay_cache.seen(sig):
            raise VerificationError("request was already received")
