"""Models of webhook events: the payloads Discord POSTs to the Webhook Events URL (notes §1.7).

The outer payload is ``{version, application_id, type, event?}`` (``type`` 0 PING, 1 an event);
``event`` is ``{type, timestamp, data?}``, and ``data``'s shape depends on ``event.type``. Every
model keeps fields Discord adds later (``model_extra``); an event type this module does not know
gets its ``data`` as a plain dict.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any, Generic, TypeVar

from pydantic import Field

from .base import DiscordModel, Snowflake
from .guild import PartialGuild
from .interaction import Entitlement
from .user import User

__all__ = [
    "EVENT_DATA",
    "ApplicationAuthorized",
    "ApplicationDeauthorized",
    "GameDirectMessage",
    "LobbyMessage",
    "LobbyMessageDelete",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookGuild",
    "WebhookType",
]

D = TypeVar("D")


class WebhookType(IntEnum):
    """The outer payload's ``type``."""

    PING = 0
    EVENT = 1


class WebhookEventType(StrEnum):
    """The documented values of ``event.type`` (a ``str``: compare with plain strings)."""

    APPLICATION_AUTHORIZED = "APPLICATION_AUTHORIZED"
    APPLICATION_DEAUTHORIZED = "APPLICATION_DEAUTHORIZED"
    ENTITLEMENT_CREATE = "ENTITLEMENT_CREATE"
    ENTITLEMENT_UPDATE = "ENTITLEMENT_UPDATE"
    ENTITLEMENT_DELETE = "ENTITLEMENT_DELETE"
    QUEST_USER_ENROLLMENT = "QUEST_USER_ENROLLMENT"
    LOBBY_MESSAGE_CREATE = "LOBBY_MESSAGE_CREATE"
    LOBBY_MESSAGE_UPDATE = "LOBBY_MESSAGE_UPDATE"
    LOBBY_MESSAGE_DELETE = "LOBBY_MESSAGE_DELETE"
    GAME_DIRECT_MESSAGE_CREATE = "GAME_DIRECT_MESSAGE_CREATE"
    GAME_DIRECT_MESSAGE_UPDATE = "GAME_DIRECT_MESSAGE_UPDATE"
    GAME_DIRECT_MESSAGE_DELETE = "GAME_DIRECT_MESSAGE_DELETE"


class WebhookGuild(PartialGuild):
    """The server an app was installed to (a full guild object; the usual fields typed)."""

    name: str = ""
    icon: str | None = None
    owner_id: Snowflake | None = None


class ApplicationAuthorized(DiscordModel):
    """``APPLICATION_AUTHORIZED``: a user added the app to a server (0) or their account (1)."""

    user: User
    scopes: list[str] = Field(default_factory=list)
    integration_type: int | None = None
    guild: WebhookGuild | None = None  # when integration_type is 0


class ApplicationDeauthorized(DiscordModel):
    """``APPLICATION_DEAUTHORIZED``: a user removed the app."""

    user: User


class LobbyMessage(DiscordModel):
    """``LOBBY_MESSAGE_CREATE``/``UPDATE``: a message in a Social SDK lobby or linked channel."""

    id: Snowflake
    type: int = 0
    content: str = ""
    lobby_id: Snowflake | None = None
    channel_id: Snowflake | None = None
    author: User | None = None
    metadata: dict[str, Any] | None = None
    flags: int = 0
    application_id: Snowflake | None = None
    timestamp: datetime | None = None  # updates carry it, with edited_timestamp
    edited_timestamp: datetime | None = None


class LobbyMessageDelete(DiscordModel):
    """``LOBBY_MESSAGE_DELETE``: which message left which lobby."""

    id: Snowflake
    lobby_id: Snowflake


class GameDirectMessage(DiscordModel):
    """``GAME_DIRECT_MESSAGE_*``: a direct message during a Social SDK session.

    Either a message object (with ``channel`` and maybe ``lobby_id``) or, between two
    provisional accounts, a passthrough message (with ``recipient_id``): one model for both.
    """

    id: Snowflake
    type: int | None = None
    content: str = ""
    channel_id: Snowflake | None = None
    author: User | None = None
    recipient_id: Snowflake | None = None
    lobby_id: Snowflake | None = None
    flags: int = 0
    application_id: Snowflake | None = None
    channel: dict[str, Any] | None = None
    timestamp: datetime | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    components: list[dict[str, Any]] = Field(default_factory=list)


EVENT_DATA: dict[str, type[DiscordModel]] = {
    WebhookEventType.APPLICATION_AUTHORIZED: ApplicationAuthorized,
    WebhookEventType.APPLICATION_DEAUTHORIZED: ApplicationDeauthorized,
    WebhookEventType.ENTITLEMENT_CREATE: Entitlement,
    WebhookEventType.ENTITLEMENT_UPDATE: Entitlement,
    WebhookEventType.ENTITLEMENT_DELETE: Entitlement,
    WebhookEventType.LOBBY_MESSAGE_CREATE: LobbyMessage,
    WebhookEventType.LOBBY_MESSAGE_UPDATE: LobbyMessage,
    WebhookEventType.LOBBY_MESSAGE_DELETE: LobbyMessageDelete,
    WebhookEventType.GAME_DIRECT_MESSAGE_CREATE: GameDirectMessage,
    WebhookEventType.GAME_DIRECT_MESSAGE_UPDATE: GameDirectMessage,
    WebhookEventType.GAME_DIRECT_MESSAGE_DELETE: GameDirectMessage,
}
"""``event.type`` -> the model of its ``data``. ``QUEST_USER_ENROLLMENT`` has no documented
shape (apps cannot receive it yet): its ``data``, like an unknown type's, stays a dict."""


class WebhookEvent(DiscordModel, Generic[D]):
    """One webhook event, as a handler receives it: ``WebhookEvent[Entitlement]`` and so on.

    ``type`` is ``event.type`` (a string such as ``"ENTITLEMENT_CREATE"``), ``timestamp`` when
    the event occurred, ``data`` its typed payload (a dict for undocumented types), and
    ``application_id``/``version`` come from the outer payload.
    """

    type: str
    timestamp: datetime
    data: D
    application_id: Snowflake | None = None
    version: int = 1


def data_model(event_type: str) -> type[DiscordModel] | None:
    """The model of ``data`` for an event type, or None (kept as a dict)."""
    return EVENT_DATA.get(event_type)
