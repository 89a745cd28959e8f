"""Websocket shards: sessions, heartbeats, resume, compression, listeners (discord-api-notes §7)."""

from .commands import GuildMembers
from .errors import GatewayError
from .events import GatewayEvent
from .gateway import Gateway
from .intents import Intents
from .shard import ShardStatus

__all__ = ["Gateway", "GatewayError", "GatewayEvent", "GuildMembers", "Intents", "ShardStatus"]
