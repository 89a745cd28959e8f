"""Rate limiting for the REST client: the limiter, its store interface and the two stores."""

from .base import BucketInfo, RateLimitStore
from .limiter import Permit, RateLimiter
from .memory import MemoryRateLimiter, MemoryStore

__all__ = [
    "BucketInfo",
    "MemoryRateLimiter",
    "MemoryStore",
    "Permit",
    "RateLimitStore",
    "RateLimiter",
    "RedisRateLimiter",
]


def __getattr__(name: str) -> object:
    if name == "RedisRateLimiter":  # imported lazily: redis is an optional extra
        from .redis import RedisRateLimiter

        return RedisRateLimiter
    raise AttributeError(name)
