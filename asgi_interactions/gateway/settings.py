"""What all shards of a Gateway share (``ShardConfig``) and what each reports (``ShardStatus``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .transport import Compression

__all__ = ["ShardConfig", "ShardStatus"]


@dataclass
class ShardConfig:
    """What every shard of one Gateway shares."""

    token: str
    intents: int
    compression: Compression
    presence: dict[str, Any] | None = None
    large_threshold: int = 50
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    send_limit: tuple[int, float] = (120, 60.0)
    hello_timeout: float = 20.0
    open_timeout: float = 10.0
    close_timeout: float = 1.0


@dataclass(frozen=True)
class ShardStatus:
    """A snapshot of one shard, as ``Gateway.shards`` shows it."""

    shard_id: int
    state: str
    latency: float | None
    session_age: float | None
    seq: int | None
    reconnects: dict[str, int]
    resumes: int
    identifies: int
