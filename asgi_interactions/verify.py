"""Request authentication: Ed25519 signature over timestamp + body, freshness and replay checks.

Discord signs ``timestamp_header + raw_body`` with the application's key (notes §1.3) and
probes endpoints with bad signatures on purpose, so every failure must be cheap and quiet.
A captured request stays fresh for the whole timestamp window, so each accepted signature is
remembered until its signed timestamp + tolerance: in this process (`ReplayCache`), and with a
Redis URL in Redis too (`SharedReplayStore`), shared by every worker and host. `authenticate`
checks signature and freshness; the caller runs `refuse_replay` (or the store) once it knows the
request has an effect (a PING has none).
"""

from __future__ import annotations

import binascii
import logging
import math
import time
from collections.abc import Callable
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .shared_state import SharedState

__all__ = [
    "ReplayCache",
    "SharedReplayStore",
    "SignatureVerifier",
    "VerificationError",
    "load_public_key",
]

security_log = logging.getLogger("asgi_interactions.security")

_SIGNATURE_HEX_LEN = 128
_TIMESTAMP_MAX_LEN = 32
_REPLAYED = "request was already received"

# Default size of the local replay store. Every verified request stays in it for up to 600 s
# (a timestamp up to 300 s ahead, plus the 300 s window), but at a steady rate it holds about
# rate × 300 s entries: 100,000 covers the whole window at 330 interactions/s per process (more
# than one Python worker sustains with the handler work on top) in about 13 MB once full.
DEFAULT_REPLAY_CACHE_SIZE = 100_000


def _open_public(m: Any, mlen: Any, signed: bytes, length: int, key: bytes) -> int:
    """``crypto_sign_open`` through PyNaCl's public binding: 0 if the signature is valid."""
    try:
        crypto_sign_open(signed, key)
    except BadSignatureError:
        return -1
    return 0


_sign_open: Callable[[Any, Any, bytes, int, bytes], int] = _open_public
_NULL: Any = None
try:
    # The same libsodium call through PyNaCl's own cffi module, with NULL for the message and
    # its length (libsodium then only checks): the public binding first allocates both and
    # copies the whole body out (~4k instructions a request).
    import nacl._sodium as _sodium  # type: ignore[import-not-found]

    _sign_open, _NULL = _sodium.lib.crypto_sign_open, _sodium.ffi.NULL
except (ImportError, AttributeError):  # pragma: no cover - a PyNaCl without that module
    pass


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
    """This process's memory of accepted signatures: O(1) per request, bounded by ``maxsize``.

    An entry lives while ``now <= stamp + ttl`` (its signed timestamp plus the tolerance: the
    last instant the freshness check still accepts that request). Entries are grouped by signed
    timestamp, and a replay carries the very same timestamp, so a lookup reads one group; expired
    groups are dropped from a heap's top. When full, an entry of the group that expires first
    goes (the most recently added one of that group). If that entry was still live, replays
    older than its age are no longer refused: that is logged once, as a warning.
    ``ttl=None`` keeps entries until they are pushed out (for ``timestamp_tolerance=None``).
    """

    __slots__ = ("_groups", "_order", "_size", "_ttl", "maxsize", "warn_turnover", "warned")

    def __init__(self, maxsize: int = DEFAULT_REPLAY_CACHE_SIZE, ttl: float | None = 300.0) -> None:
        if maxsize <= 0:
            raise ConfigurationError("replay_cache_size must be positive (0 turns replays off)")
        self.maxsize = maxsize
        self._ttl = math.inf if ttl is None else float(ttl)
        self._groups: dict[float, dict[bytes, None]] = {}
        self._order: list[float] = []  # heap of the groups' timestamps
        self._size = 0
        self.warn_turnover = True
        self.warned = False

    @property
    def ttl(self) -> float | None:
        """Seconds an entry lives after its signed timestamp (None: until pushed out)."""
        return None if self._ttl == math.inf else self._ttl

    def seen(self, key: bytes, stamp: float, now: float) -> bool:
        """Record ``key`` signed at ``stamp``; True if it was recorded and is live at ``now``."""
        order = self._order
        if order and order[0] + self._ttl < now:
            self._expire(now)
        groups = self._groups
        group = groups.get(stamp)
        if group is not None and key in group:
            return True
        if self._size >= self.maxsize:
            self._evict_one(now)
            group = groups.get(stamp)
        if group is None:
            group = groups[stamp] = {}
            heappush(order, stamp)
        group[key] = None
        self._size += 1
        return False

    def _expire(self, now: float) -> None:
        order, groups, ttl = self._order, self._groups, self._ttl
        while order and order[0] + ttl < now:
            self._size -= len(groups.pop(heappop(order)))

    def _evict_one(self, now: float) -> None:
        stamp = self._order[0]
        group = self._groups[stamp]
        group.popitem()
        self._size -= 1
        if not group:
            del self._groups[stamp]
            heappop(self._order)
        if not self.warned and self.warn_turnover and stamp + self._ttl >= now:
            self.warned = True
            security_log.warning(
                "the replay cache is full (%d entries): replays older than %d s are no longer "
                "refused: raise replay_cache_size or configure Redis (redis_url)",
                self.maxsize,
                max(0, math.floor(now - stamp)),
            )

    def __len__(self) -> int:
        return self._size


class SharedReplayStore:
    """Seen signatures in Redis (``SET key NX PX``, one round trip), shared by every worker
    and host, on top of this process's `ReplayCache`.

    The local cache is asked first (a replay to the same process costs no round trip) and
    records every request, so while Redis is unreachable each process still refuses replays of
    what it has seen itself, before and during the outage.
    """

    __slots__ = ("local", "prefix", "shared", "ttl")

    def __init__(
        self,
        shared: SharedState,
        local: ReplayCache,
        *,
        ttl: float | None = 300.0,
        prefix: bytes = b"asgi_interactions:rp:",
    ) -> None:
        self.shared = shared
        self.local = local
        self.ttl = ttl
        self.prefix = prefix

    async def seen(self, key: bytes, stamp: float, now: float) -> bool:
        """Record ``key`` here and in Redis; True if either already had it."""
        local = self.local
        local.warn_turnover = not self.shared.available  # with Redis up, turnover is harmless
        if local.seen(key, stamp, now):
            return True
        life = (300.0 if self.ttl is None else stamp + self.ttl - now) * 1000
        # One millisecond past the last instant the request is fresh; Redis wants >= 1.
        px = max(1, math.ceil(life) + 1)
        name = self.prefix + key[:16]  # 128 bits of R: unique per signed message

        # False: the key existed (a replay); None: Redis is down, the local answer stands.
        return await self.shared.set_if_absent(name, px) is False


class SignatureVerifier:
    """Checks the two signature headers of a request against the application's public key."""

    __slots__ = (
        "_clock",
        "_key",
        "_key_bytes",
        "replay_cache",
        "shared_replay",
        "timestamp_tolerance",
    )

    def __init__(
        self,
        public_key: str | bytes,
        *,
        timestamp_tolerance: float | None = 300.0,
        replay_cache: ReplayCache | None = None,
        shared_replay: SharedReplayStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_public_key(public_key)
        self._key_bytes = bytes(self._key)
        self.timestamp_tolerance = timestamp_tolerance
        self.replay_cache = replay_cache
        self.shared_replay = shared_replay
        self._clock = clock

    def authenticate(
        self, signature: bytes | None, timestamp: bytes | None, body: bytes
    ) -> tuple[bytes, float, float]:
        """Raise VerificationError unless the request is authentic and fresh (no replay check).

        Returns the raw signature, the signed timestamp (0.0 if it is no finite number, which
        only ``timestamp_tolerance=None`` lets through) and the clock's ``now``: what
        `refuse_replay` takes.
        """
        if not signature or not timestamp:
            raise VerificationError("missing signature headers")
        if len(signature) != _SIGNATURE_HEX_LEN or len(timestamp) > _TIMESTAMP_MAX_LEN:
            raise VerificationError("malformed signature headers")
        try:
            sig = binascii.unhexlify(signature)  # hex digits only (no spaces, no non-ASCII)
        except ValueError:  # binascii.Error
            raise VerificationError("malformed signature headers") from None
        now = self._clock()
        if self.timestamp_tolerance is not None:
            try:
                sent = float(timestamp)
            except ValueError:
                raise VerificationError("malformed signature headers") from None
            if not abs(now - sent) <= self.timestamp_tolerance:  # also catches NaN
                raise VerificationError("request timestamp outside the allowed window")
        else:
            sent = _stamp(timestamp)
        # Ed25519 over timestamp + body: libsodium's crypto_sign_open on signature || message.
        signed = b"".join((sig, timestamp, body))
        if _sign_open(_NULL, _NULL, signed, len(signed), self._key_bytes) != 0:
            raise VerificationError("invalid request signature")
        return sig, sent, now

    def verify(self, signature: bytes | None, timestamp: bytes | None, body: bytes) -> None:
        """Raise VerificationError unless the request is authentic, fresh and not a replay.

        Checks this process's replay cache only; with a `SharedReplayStore` use `verify_shared`.
        """
        sig, sent, now = self.authenticate(signature, timestamp, body)
        cache = self.replay_cache
        if cache is not None and cache.seen(sig, sent, now):
            raise VerificationError(_REPLAYED)

    async def verify_shared(
        self, signature: bytes | None, timestamp: bytes | None, body: bytes
    ) -> None:
        """`verify`, with the replay check in Redis (and locally while it is unreachable)."""
        await self.refuse_replay(*self.authenticate(signature, timestamp, body))

    async def refuse_replay(self, sig: bytes, sent: float, now: float) -> None:
        """The replay check alone, for what `authenticate` returned: raise VerificationError if
        this signature was accepted before (here, or in Redis with a shared store)."""
        if self.shared_replay is not None:
            seen = await self.shared_replay.seen(sig, sent, now)
        elif self.replay_cache is not None:
            seen = self.replay_cache.seen(sig, sent, now)
        else:
            return
        if seen:
            raise VerificationError(_REPLAYED)


def _stamp(timestamp: bytes) -> float:
    """The timestamp as a finite number for grouping replay entries, else 0.0."""
    try:
        sent = float(timestamp)
    except ValueError:
        return 0.0
    return sent if math.isfinite(sent) else 0.0
