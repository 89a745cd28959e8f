"""Realistic interaction payloads (as Discord sends them) for tests in every area.

Each constant is a fresh-enough dict; use ``copy.deepcopy`` (or ``payload()``) before mutating.
Ids are consistent across payloads: one guild, channel, application, invoking member.
"""

from __future__ import annotations

import copy
import json
from typing import Any

APPLICATION_ID = "1100000000000000001"
GUILD_ID = "1100000000000000002"
CHANNEL_ID = "1100000000000000003"
USER_ID = "1100000000000000004"
OTHER_USER_ID = "1100000000000000005"
ROLE_ID = "1100000000000000006"
OTHER_CHANNEL_ID = "1100000000000000007"
ATTACHMENT_ID = "1100000000000000008"
MESSAGE_ID = "1100000000000000009"
COMMAND_ID = "1100000000000000010"
TOKEN = "aW50ZXJhY3Rpb246MTEwMDAwMDAwMDAwMDAwMDAxMTpzYW1wbGUtdG9rZW4tZm9yLXRlc3RzLW9ubHk"

INVOKER_USER: dict[str, Any] = {
    "id": USER_ID,
    "username": "alice",
    "global_name": "Alice",
    "discriminator": "0",
    "avatar": "a_1269e74af4df7417b13759eae50c83dc",
    "public_flags": 64,
    "avatar_decoration_data": None,
    "primary_guild": None,
    "collectibles": None,
    "clan": None,
}

OTHER_USER: dict[str, Any] = {
    "id": OTHER_USER_ID,
    "username": "bob",
    "global_name": None,
    "discriminator": "0",
    "avatar": None,
    "public_flags": 0,
}

INVOKER_MEMBER: dict[str, Any] = {
    "user": INVOKER_USER,
    "roles": [ROLE_ID],
    "premium_since": None,
    "permissions": "2251799813685247",
    "pending": False,
    "nick": "Ally",
    "mute": False,
    "joined_at": "2023-05-11T09:41:07.513000+00:00",
    "flags": 0,
    "deaf": False,
    "communication_disabled_until": None,
    "banner": None,
    "avatar": None,
    "unusual_dm_activity_until": None,
}

CHANNEL: dict[str, Any] = {
    "id": CHANNEL_ID,
    "type": 0,
    "name": "general",
    "guild_id": GUILD_ID,
    "parent_id": "1100000000000000011",
    "position": 3,
    "topic": "General chat",
    "nsfw": False,
    "last_message_id": "1100000000000000012",
    "rate_limit_per_user": 0,
    "flags": 0,
    "permissions": "2251799813685247",
    "icon_emoji": {"id": None, "name": "👋"},
    "theme_color": None,
}

GUILD: dict[str, Any] = {
    "id": GUILD_ID,
    "locale": "en-US",
    "features": ["COMMUNITY", "NEWS", "GUILD_ONBOARDING"],
}


def _base(interaction_type: int, interaction_id: str) -> dict[str, Any]:
    """Envelope fields shared by guild interactions."""
    return {
        "app_permissions": "2251799813685247",
        "application_id": APPLICATION_ID,
        "attachment_size_limit": 10485760,
        "authorizing_integration_owners": {"0": GUILD_ID},
        "channel": CHANNEL,
        "channel_id": CHANNEL_ID,
        "context": 0,
        "entitlement_sku_ids": [],
        "entitlements": [],
        "guild": GUILD,
        "guild_id": GUILD_ID,
        "guild_locale": "en-US",
        "id": interaction_id,
        "locale": "en-GB",
        "member": INVOKER_MEMBER,
        "token": TOKEN,
        "type": interaction_type,
        "version": 1,
    }


PING: dict[str, Any] = {
    "application_id": APPLICATION_ID,
    "id": "1200000000000000000",
    "token": TOKEN,
    "type": 1,
    "user": INVOKER_USER,
    "version": 1,
}

SLASH_COMMAND: dict[str, Any] = {
    **_base(2, "1200000000000000001"),
    "data": {
        "id": COMMAND_ID,
        "name": "report",
        "type": 1,
        "guild_id": GUILD_ID,
        "options": [
            {"name": "text", "type": 3, "value": "Something is broken in #general"},
            {"name": "count", "type": 4, "value": 3},
            {"name": "ratio", "type": 10, "value": 0.75},
            {"name": "urgent", "type": 5, "value": True},
            {"name": "target", "type": 6, "value": OTHER_USER_ID},
            {"name": "where", "type": 7, "value": OTHER_CHANNEL_ID},
            {"name": "team", "type": 8, "value": ROLE_ID},
            {"name": "who", "type": 9, "value": ROLE_ID},
            {"name": "proof", "type": 11, "value": ATTACHMENT_ID},
        ],
        "resolved": {
            "users": {OTHER_USER_ID: OTHER_USER},
            "members": {
                OTHER_USER_ID: {
                    "roles": [],
                    "premium_since": None,
                    "permissions": "1071698660929",
                    "pending": False,
                    "nick": None,
                    "joined_at": "2024-01-02T03:04:05.000000+00:00",
                    "flags": 0,
                    "communication_disabled_until": None,
                    "avatar": None,
                }
            },
            "roles": {
                ROLE_ID: {
                    "id": ROLE_ID,
                    "name": "Moderators",
                    "color": 3447003,
                    "colors": {
                        "primary_color": 3447003,
                        "secondary_color": None,
                        "tertiary_color": None,
                    },
                    "hoist": True,
                    "icon": None,
                    "unicode_emoji": None,
                    "position": 5,
                    "permissions": "1099511627775",
                    "managed": False,
                    "mentionable": True,
                    "flags": 0,
                    "description": None,
                }
            },
            "channels": {
                OTHER_CHANNEL_ID: {
                    "id": OTHER_CHANNEL_ID,
                    "type": 0,
                    "name": "bugs",
                    "guild_id": GUILD_ID,
                    "parent_id": None,
                    "position": 7,
                    "topic": None,
                    "nsfw": False,
                    "last_message_id": None,
                    "rate_limit_per_user": 0,
                    "flags": 0,
                    "permissions": "2251799813685247",
                }
            },
            "attachments": {
                ATTACHMENT_ID: {
                    "id": ATTACHMENT_ID,
                    "filename": "screenshot.png",
                    "size": 183452,
                    "url": "https://cdn.discordapp.com/ephemeral-attachments/1/2/screenshot.png?ex=1",
                    "proxy_url": "https://media.discordapp.net/ephemeral-attachments/1/2/screenshot.png",
                    "width": 1280,
                    "height": 720,
                    "content_type": "image/png",
                    "ephemeral": True,
                    "placeholder": "dfcFBwIIeHeHd4iHd3d3h3d3",
                    "placeholder_version": 1,
                }
            },
        },
    },
}

SUBCOMMAND_GROUP: dict[str, Any] = {
    **_base(2, "1200000000000000002"),
    "data": {
        "id": COMMAND_ID,
        "name": "admin",
        "type": 1,
        "guild_id": GUILD_ID,
        "options": [
            {
                "name": "members",
                "type": 2,
                "options": [
                    {
                        "name": "ban",
                        "type": 1,
                        "options": [
                            {"name": "user", "type": 6, "value": OTHER_USER_ID},
                            {"name": "reason", "type": 3, "value": "spam"},
                        ],
                    }
                ],
            }
        ],
        "resolved": {
            "users": {OTHER_USER_ID: OTHER_USER},
            "members": {
                OTHER_USER_ID: {
                    "roles": [],
                    "permissions": "1071698660929",
                    "nick": "Bobby",
                    "joined_at": "2024-01-02T03:04:05.000000+00:00",
                    "flags": 0,
                }
            },
        },
    },
}

SUBCOMMAND: dict[str, Any] = {
    **_base(2, "1200000000000000003"),
    "data": {
        "id": COMMAND_ID,
        "name": "tag",
        "type": 1,
        "options": [
            {"name": "show", "type": 1, "options": [{"name": "name", "type": 3, "value": "faq"}]}
        ],
    },
}

USER_COMMAND: dict[str, Any] = {
    **_base(2, "1200000000000000004"),
    "data": {
        "id": COMMAND_ID,
        "name": "Profile",
        "type": 2,
        "guild_id": GUILD_ID,
        "target_id": OTHER_USER_ID,
        "resolved": {
            "users": {OTHER_USER_ID: OTHER_USER},
            "members": {
                OTHER_USER_ID: {
                    "roles": [ROLE_ID],
                    "permissions": "1071698660929",
                    "nick": "Bobby",
                    "joined_at": "2024-01-02T03:04:05.000000+00:00",
                    "flags": 0,
                }
            },
        },
    },
}

TARGET_MESSAGE: dict[str, Any] = {
    "id": MESSAGE_ID,
    "type": 0,
    "channel_id": CHANNEL_ID,
    "author": OTHER_USER,
    "content": "Quote me on this",
    "timestamp": "2025-02-03T10:11:12.131000+00:00",
    "edited_timestamp": None,
    "tts": False,
    "mention_everyone": False,
    "mentions": [],
    "mention_roles": [],
    "attachments": [],
    "embeds": [],
    "components": [],
    "pinned": False,
    "flags": 0,
}

MESSAGE_COMMAND: dict[str, Any] = {
    **_base(2, "1200000000000000005"),
    "data": {
        "id": COMMAND_ID,
        "name": "Quote",
        "type": 3,
        "guild_id": GUILD_ID,
        "target_id": MESSAGE_ID,
        "resolved": {"messages": {MESSAGE_ID: TARGET_MESSAGE}},
    },
}

BOT_MESSAGE: dict[str, Any] = {
    "id": MESSAGE_ID,
    "type": 20,
    "channel_id": CHANNEL_ID,
    "application_id": APPLICATION_ID,
    "webhook_id": APPLICATION_ID,
    "author": {
        "id": APPLICATION_ID,
        "username": "Helper",
        "discriminator": "1234",
        "avatar": None,
        "bot": True,
        "public_flags": 524288,
    },
    "content": "Vote now",
    "timestamp": "2025-02-03T10:11:12.131000+00:00",
    "edited_timestamp": None,
    "flags": 0,
    "embeds": [
        {
            "type": "rich",
            "title": "Poll",
            "description": "Pick one",
            "color": 5814783,
            "fields": [{"name": "A", "value": "apples", "inline": True}],
        }
    ],
    "components": [
        {
            "type": 1,
            "id": 1,
            "components": [
                {"type": 2, "id": 2, "custom_id": "vote:yes", "style": 3, "label": "Yes"},
                {"type": 2, "id": 3, "custom_id": "vote:no", "style": 4, "label": "No"},
            ],
        },
        {
            "type": 1,
            "id": 4,
            "components": [
                {
                    "type": 3,
                    "id": 5,
                    "custom_id": "pick:fruit",
                    "options": [
                        {"label": "Apple", "value": "apple", "default": False},
                        {"label": "Pear", "value": "pear", "default": False},
                    ],
                    "min_values": 1,
                    "max_values": 2,
                }
            ],
        },
    ],
    "interaction_metadata": {
        "id": "1200000000000000001",
        "type": 2,
        "user": INVOKER_USER,
        "authorizing_integration_owners": {"0": GUILD_ID},
        "name": "poll",
        "command_type": 1,
    },
    "mentions": [],
    "mention_roles": [],
    "attachments": [],
    "pinned": False,
    "tts": False,
    "mention_everyone": False,
}

BUTTON: dict[str, Any] = {
    **_base(3, "1200000000000000006"),
    "message": BOT_MESSAGE,
    "data": {"custom_id": "vote:yes", "component_type": 2, "id": 2},
}

STRING_SELECT: dict[str, Any] = {
    **_base(3, "1200000000000000007"),
    "message": BOT_MESSAGE,
    "data": {"custom_id": "pick:fruit", "component_type": 3, "values": ["apple", "pear"], "id": 5},
}

USER_SELECT: dict[str, Any] = {
    **_base(3, "1200000000000000008"),
    "message": BOT_MESSAGE,
    "data": {
        "custom_id": "pick:user",
        "component_type": 5,
        "values": [OTHER_USER_ID],
        "id": 6,
        "resolved": {
            "users": {OTHER_USER_ID: OTHER_USER},
            "members": {
                OTHER_USER_ID: {
                    "roles": [],
                    "permissions": "1071698660929",
                    "nick": None,
                    "joined_at": "2024-01-02T03:04:05.000000+00:00",
                    "flags": 0,
                }
            },
        },
    },
}

AUTOCOMPLETE: dict[str, Any] = {
    **_base(4, "1200000000000000009"),
    "data": {
        "id": COMMAND_ID,
        "name": "echo",
        "type": 1,
        "version": "1200000000000000100",
        "options": [
            {"name": "times", "type": 4, "value": 2},
            {"name": "text", "type": 3, "value": "hel", "focused": True},
        ],
    },
}

MODAL_SUBMIT: dict[str, Any] = {
    **_base(5, "1200000000000000010"),
    "data": {
        "custom_id": "feedback:42",
        "components": [
            {"type": 10, "id": 1},
            {
                "type": 18,
                "id": 2,
                "component": {"type": 4, "id": 3, "custom_id": "subject", "value": "Great bot"},
            },
            {
                "type": 18,
                "id": 4,
                "component": {"type": 3, "id": 5, "custom_id": "rating", "values": ["5"]},
            },
            {
                "type": 18,
                "id": 6,
                "component": {"type": 5, "id": 7, "custom_id": "helper", "values": [OTHER_USER_ID]},
            },
            {
                "type": 18,
                "id": 8,
                "component": {"type": 23, "id": 9, "custom_id": "subscribe", "value": True},
            },
        ],
        "resolved": {"users": {OTHER_USER_ID: OTHER_USER}},
    },
}

MODAL_SUBMIT_ALL_FIELDS: dict[str, Any] = {
    **_base(5, "1200000000000000011"),
    "data": {
        "custom_id": "survey",
        "components": [
            {
                "type": 18,
                "id": 1,
                "component": {"type": 21, "id": 2, "custom_id": "size", "value": None},
            },
            {
                "type": 18,
                "id": 3,
                "component": {"type": 22, "id": 4, "custom_id": "tags", "values": []},
            },
            {
                "type": 18,
                "id": 5,
                "component": {
                    "type": 19,
                    "id": 6,
                    "custom_id": "upload",
                    "values": [ATTACHMENT_ID],
                },
            },
            {
                "type": 18,
                "id": 7,
                "component": {
                    "type": 8,
                    "id": 8,
                    "custom_id": "chan",
                    "values": [OTHER_CHANNEL_ID],
                },
            },
        ],
        "resolved": {
            "attachments": {
                ATTACHMENT_ID: {
                    "id": ATTACHMENT_ID,
                    "filename": "log.txt",
                    "size": 12,
                    "url": "https://cdn.discordapp.com/attachments/1/2/log.txt",
                    "proxy_url": "https://media.discordapp.net/attachments/1/2/log.txt",
                    "content_type": "text/plain; charset=utf-8",
                }
            },
            "channels": {OTHER_CHANNEL_ID: {"id": OTHER_CHANNEL_ID, "type": 0, "name": "bugs"}},
        },
    },
}

MODAL_SUBMIT_LEGACY: dict[str, Any] = {
    **_base(5, "1200000000000000012"),
    "message": BOT_MESSAGE,
    "data": {
        "custom_id": "feedback:7",
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "subject", "value": "Hi"}]},
            {"type": 1, "components": [{"type": 4, "custom_id": "body", "value": ""}]},
        ],
    },
}

DM_SLASH_COMMAND: dict[str, Any] = {
    "app_permissions": "442368",
    "application_id": APPLICATION_ID,
    "attachment_size_limit": 10485760,
    "authorizing_integration_owners": {"0": "0", "1": USER_ID},
    "channel": {"id": CHANNEL_ID, "type": 1, "flags": 0, "last_message_id": None, "recipients": []},
    "channel_id": CHANNEL_ID,
    "context": 1,
    "entitlements": [
        {
            "id": "1300000000000000001",
            "sku_id": "1300000000000000002",
            "application_id": APPLICATION_ID,
            "user_id": USER_ID,
            "type": 8,
            "deleted": False,
            "starts_at": "2025-01-01T00:00:00+00:00",
            "ends_at": None,
            "consumed": False,
            "promotion_id": None,
            "gift_code_flags": 0,
        }
    ],
    "id": "1200000000000000013",
    "locale": "de",
    "token": TOKEN,
    "type": 2,
    "user": INVOKER_USER,
    "version": 1,
    "data": {"id": COMMAND_ID, "name": "ping", "type": 1},
}

ALL: dict[str, dict[str, Any]] = {
    "ping": PING,
    "slash_command": SLASH_COMMAND,
    "subcommand_group": SUBCOMMAND_GROUP,
    "subcommand": SUBCOMMAND,
    "user_command": USER_COMMAND,
    "message_command": MESSAGE_COMMAND,
    "button": BUTTON,
    "string_select": STRING_SELECT,
    "user_select": USER_SELECT,
    "autocomplete": AUTOCOMPLETE,
    "modal_submit": MODAL_SUBMIT,
    "modal_submit_all_fields": MODAL_SUBMIT_ALL_FIELDS,
    "modal_submit_legacy": MODAL_SUBMIT_LEGACY,
    "dm_slash_command": DM_SLASH_COMMAND,
}


def payload(name: str, **overrides: Any) -> dict[str, Any]:
    """A deep copy of sample ``name`` (a key of ``ALL``) with top-level ``overrides`` applied."""
    data = copy.deepcopy(ALL[name])
    data.update(overrides)
    return data


def body(name: str, **overrides: Any) -> bytes:
    """Sample ``name`` serialised compactly, as Discord sends it on the wire."""
    return json.dumps(payload(name, **overrides), separators=(",", ":")).encode()
