"""Sample webhook event payloads, shaped like the examples in Discord's docs (notes §1.7).

Used by the signed test client (``InteractionTestClient.webhook_event``) and the command line
(``asgi-interactions send URL event TYPE``); every documented type has one.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

from ..models.webhook_events import WebhookEventType

__all__ = ["SAMPLE_DATA", "webhook_event_payload", "webhook_ping_payload"]

APPLICATION_ID = "1100000000000000001"  # the test client's application (testing.APPLICATION_ID)
GUILD_ID = "1100000000000000002"
USER_ID = "1100000000000000004"
LOBBY_ID = "1100000000000000040"
_ids = itertools.count(1)


def _snowflake() -> str:
    return str((int(time.time() * 1000) - 1420070400000) << 22 | next(_ids) % 4096)


def _user() -> dict[str, Any]:
    return {"id": USER_ID, "username": "tester", "discriminator": "0", "global_name": "tester"}


def _entitlement(deleted: bool = False) -> dict[str, Any]:
    return {
        "id": _snowflake(),
        "sku_id": "1100000000000000050",
        "application_id": APPLICATION_ID,
        "user_id": USER_ID,
        "type": 4,
        "deleted": deleted,
        "consumed": False,
        "gift_code_flags": 0,
        "promotion_id": None,
    }


def _lobby_message() -> dict[str, Any]:
    return {
        "id": _snowflake(),
        "type": 0,
        "content": "welcome to the party!",
        "lobby_id": LOBBY_ID,
        "channel_id": LOBBY_ID,
        "author": _user(),
        "flags": 65536,
        "application_id": APPLICATION_ID,
    }


def _direct_message() -> dict[str, Any]:
    return {
        "id": _snowflake(),
        "type": 0,
        "content": "get in friend, we're going raiding",
        "channel_id": "1100000000000000060",
        "author": _user(),
        "timestamp": datetime.now(UTC).isoformat(),
        "application_id": APPLICATION_ID,
        "attachments": [],
    }


SAMPLE_DATA: dict[str, Any] = {
    WebhookEventType.APPLICATION_AUTHORIZED: lambda: {
        "integration_type": 0,
        "scopes": ["applications.commands", "bot"],
        "user": _user(),
        "guild": {"id": GUILD_ID, "name": "Test server", "features": []},
    },
    WebhookEventType.APPLICATION_DEAUTHORIZED: lambda: {"user": _user()},
    WebhookEventType.ENTITLEMENT_CREATE: _entitlement,
    WebhookEventType.ENTITLEMENT_UPDATE: _entitlement,
    WebhookEventType.ENTITLEMENT_DELETE: lambda: _entitlement(deleted=True),
    WebhookEventType.QUEST_USER_ENROLLMENT: dict,  # no documented shape
    WebhookEventType.LOBBY_MESSAGE_CREATE: _lobby_message,
    WebhookEventType.LOBBY_MESSAGE_UPDATE: lambda: (
        _lobby_message() | {"edited_timestamp": datetime.now(UTC).isoformat()}
    ),
    WebhookEventType.LOBBY_MESSAGE_DELETE: lambda: {"id": _snowflake(), "lobby_id": LOBBY_ID},
    WebhookEventType.GAME_DIRECT_MESSAGE_CREATE: _direct_message,
    WebhookEventType.GAME_DIRECT_MESSAGE_UPDATE: _direct_message,
    WebhookEventType.GAME_DIRECT_MESSAGE_DELETE: _direct_message,
}
"""Documented event type -> a function making a fresh sample ``data`` for it."""


def webhook_ping_payload() -> dict[str, Any]:
    """The PING Discord sends when the Webhook Events URL is saved."""
    return {"version": 1, "application_id": APPLICATION_ID, "type": 0}


def webhook_event_payload(
    event_type: str,
    data: dict[str, Any] | None = None,
    *,
    timestamp: str | None = None,
    application_id: str = APPLICATION_ID,
) -> dict[str, Any]:
    """A webhook event of ``event_type``: ``data`` given, else a fresh sample for a documented
    type (an empty object for others); ``timestamp`` defaults to now, as Discord writes it."""
    if data is None:
        make = SAMPLE_DATA.get(event_type)
        data = make() if make is not None else {}
    when = timestamp or datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return {
        "version": 1,
        "application_id": application_id,
        "type": 1,
        "event": {"type": str(event_type), "timestamp": when, "data": data},
    }
