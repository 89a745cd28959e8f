"""Discord's REST API: ``RestClient``, its rate limiters and its errors."""

from typing import TYPE_CHECKING

from .client import RestClient
from .errors import (
    BadRequestError,
    DiscordHTTPError,
    ForbiddenError,
    InvalidRequestLimitError,
    NotFoundError,
    RateLimitedError,
    RequestDeadlineError,
    RestError,
    ServerError,
    UnauthorizedError,
)
from .ratelimit import BucketInfo, MemoryRateLimiter, RateLimiter, RateLimitStore
from .routes import Route

if TYPE_CHECKING:
    from .ratelimit.redis import RedisRateLimiter

__all__ = [
    "BadRequestError",
    "BucketInfo",
    "DiscordHTTPError",
    "ForbiddenError",
    "InvalidRequestLimitError",
    "MemoryRateLimiter",
    "NotFoundError",
    "RateLimitStore",
    "RateLimitedError",
    "RateLimiter",
    "RedisRateLimiter",
    "RequestDeadlineError",
    "RestClient",
    "RestError",
    "Route",
    "ServerError",
    "UnauthorizedError",
]


def __getattr__(name: str) -> object:
    if name == "RedisRateLimiter":  # redis is an optional extra: import it on first use
        from .ratelimit.redis import RedisRateLimiter

        return RedisRateLimiter
    raise AttributeError(name)
