"""Webhook events over HTTP: the app for Discord's Webhook Events URL, and its dedup store."""

from ..models.webhook_events import (
    ApplicationAuthorized,
    ApplicationDeauthorized,
    GameDirectMessage,
    LobbyMessage,
    LobbyMessageDelete,
    WebhookEvent,
    WebhookEventType,
    WebhookGuild,
    WebhookType,
)
from .app import WebhookEventsApp
from .dedup import DEFAULT_DEDUP_SIZE, DEFAULT_DEDUP_WINDOW, EventDedup, event_key

__all__ = [
    "DEFAULT_DEDUP_SIZE",
    "DEFAULT_DEDUP_WINDOW",
    "ApplicationAuthorized",
    "ApplicationDeauthorized",
    "EventDedup",
    "GameDirectMessage",
    "LobbyMessage",
    "LobbyMessageDelete",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookEventsApp",
    "WebhookGuild",
    "WebhookType",
    "event_key",
]
