"""Run-once locks for the startup sync: one winner per deployment, every other worker skips.

`FileOnceLock` uses ``fcntl.flock`` on a file in the temp dir (all workers on one host);
`RedisOnceLock` uses ``SET NX`` with an expiry (workers on every host sharing a Redis). Both
remember a finished run for ``ttl`` seconds so that a worker starting a little later does not sync
again.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

__all__ = ["FileOnceLock", "OnceLock", "RedisOnceLock", "run_once"]

log = logging.getLogger("asgi_interactions.commands.sync")

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX (Windows): no per-host coordination
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

# How long a claimed but unfinished run blocks others (a crashed winner frees it after this).
CLAIM_SECONDS = 120


class OnceLock(Protocol):
    """Claim the run (False: someone else has it or has done it), then mark it done or failed."""

    async def acquire(self) -> bool: ...
    async def done(self) -> None: ...
    async def failed(self) -> None: ...


class FileOnceLock:
    """A per-host run-once lock: ``flock`` held while syncing, a timestamp written when done."""

    def __init__(self, path: str | os.PathLike[str], ttl: float) -> None:
        self.path = Path(path)
        self.ttl = ttl
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if fcntl is None:  # pragma: no cover - not POSIX
            log.warning("no fcntl on this platform: every worker syncs (pass a redis URL)")
            return True
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            # e.g. a file or symlink of that name owned by another user of a shared temp dir
            log.warning("cannot open the sync lock file %s (%s); skipping", self.path, exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        try:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            finished = float(text.split()[1]) if text.startswith("done ") else None
        except (ValueError, IndexError):
            finished = None
        if finished is not None and time.time() - finished < self.ttl:
            self._release(fd)
            return False
        self._fd = fd
        return True

    def _release(self, fd: int) -> None:
        assert fcntl is not None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    async def done(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"done {time.time()!r}\n".encode(), 0)
        finally:
            self._release(fd)

    async def failed(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            self._release(fd)


class RedisOnceLock:
    """A cross-host run-once lock on one Redis key (``SET NX EX``)."""

    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
        "return 0"
    )

    def __init__(self, url: str, key: str, ttl: float) -> None:
        self.url = url
        self.key = key
        self.ttl = ttl
        self._token = secrets.token_hex(8)
        self._client: Any = None

    async def _redis(self) -> Any:
        if self._client is None:
            try:
                import redis.asyncio as redis_asyncio
            except ImportError as exc:  # pragma: no cover - depends on the extra
                raise RuntimeError(
                    "a redis URL was given but the redis package is missing: "
                    "pip install 'asgi-interactions[redis]'"
                ) from exc
            self._client = redis_asyncio.Redis.from_url(self.url)
        return self._client

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def acquire(self) -> bool:
        client = await self._redis()
        try:
            claimed = await client.set(
                self.key, self._token, nx=True, ex=max(1, int(min(self.ttl, CLAIM_SECONDS)))
            )
        except BaseException:
            await self._close()
            raise
        if not claimed:
            await self._close()
        return bool(claimed)

    async def done(self) -> None:
        try:
            client = await self._redis()
            await client.set(self.key, "done", ex=max(1, int(self.ttl)))
        finally:
            await self._close()

    async def failed(self) -> None:
        try:
            client = await self._redis()
            await client.eval(self._RELEASE, 1, self.key, self._token)
        except Exception:
            log.warning("could not release the sync lock %s in Redis", self.key)
        finally:
            await self._close()


async def run_once(
    key: str,
    work: Callable[[], Awaitable[T]],
    *,
    redis_url: str | None = None,
    ttl: float = 3600.0,
    lock_dir: str | os.PathLike[str] | None = None,
) -> T | None:
    """Run `work` in one worker per `key` within `ttl` seconds; the others get None at once.

    Without `redis_url` the workers of one host coordinate through a file lock in `lock_dir`
    (default: the temp dir); with it, workers on every host sharing that Redis do (and the file
    lock again if Redis cannot be reached). If `work`
    raises, the lock is freed (so a later start retries) and the exception propagates.
    """
    directory = Path(lock_dir) if lock_dir is not None else Path(tempfile.gettempdir())
    lock: OnceLock = FileOnceLock(directory / f"{key}.lock", ttl)
    if redis_url:
        redis_lock = RedisOnceLock(redis_url, key, ttl)
        try:
            acquired = await redis_lock.acquire()
        except Exception as exc:  # unreachable: this host's workers still sync only once
            log.warning(
                "Redis unreachable for the sync lock (%s); using this host's file lock",
                type(exc).__name__,
            )
            acquired = await lock.acquire()
        else:
            lock = redis_lock
    else:
        acquired = await lock.acquire()
    if not acquired:
        return None
    try:
        result = await work()
    except BaseException:
        await lock.failed()
        raise
    await lock.done()
    return result
