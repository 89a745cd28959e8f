"""Shared bench fixtures: a fixed test signing key and realistic Discord interaction bodies.

Every bench app imports the public key from here, and the driver signs the same bodies with the
matching private key, so all implementations verify and parse exactly the same bytes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nacl.signing import SigningKey

# Fixed 32-byte seed: a throwaway test key, never a real application's.
SEED = b"asgi-interactions-bench-seed-32b"
SIGNING_KEY = SigningKey(SEED)
PUBLIC_KEY_HEX = SIGNING_KEY.verify_key.encode().hex()

APP_ID = "1250000000000000001"
GUILD_ID = "1250000000000000002"
CHANNEL_ID = "1250000000000000003"
USER_ID = "1250000000000000004"
# Interaction tokens are long opaque strings; the length matters for parse cost.
TOKEN = "aW50ZXJhY3Rpb246MTI1MDAwMDAwMDAwMDAwMDAwNTp" + "x" * 180


def _user() -> dict[str, Any]:
    return {
        "id": USER_ID,
        "username": "benchuser",
        "avatar": "a_1269e74af4df7417b13759eae50c83dc",
        "discriminator": "0",
        "public_flags": 64,
        "flags": 64,
        "banner": None,
        "accent_color": None,
        "global_name": "Bench User",
        "avatar_decoration_data": None,
        "collectibles": None,
        "display_name_styles": None,
        "banner_color": None,
        "clan": None,
        "primary_guild": None,
    }


def _member() -> dict[str, Any]:
    return {
        "user": _user(),
        "roles": ["1250000000000000010", "1250000000000000011"],
        "premium_since": None,
        "permissions": "2251799813685247",
        "pending": False,
        "nick": None,
        "mute": False,
        "joined_at": "2024-01-15T12:34:56.789000+00:00",
        "flags": 0,
        "deaf": False,
        "communication_disabled_until": None,
        "banner": None,
        "avatar": None,
        "unusual_dm_activity_until": None,
        "collectibles": None,
    }


def _envelope(itype: int, interaction_id: str) -> dict[str, Any]:
    """The fields every guild interaction carries (sizes like a real one: ~2.5 KB in total)."""
    return {
        "app_permissions": "2248473465835073",
        "application_id": APP_ID,
        "attachment_size_limit": 10485760,
        "authorizing_integration_owners": {"0": GUILD_ID},
        "channel": {
            "flags": 0,
            "guild_id": GUILD_ID,
            "icon_emoji": {"id": None, "name": "👋"},
            "id": CHANNEL_ID,
            "last_message_id": "1250000000000000099",
            "name": "general",
            "nsfw": False,
            "parent_id": "1250000000000000098",
            "permissions": "2251799813685247",
            "position": 0,
            "rate_limit_per_user": 0,
            "theme_color": None,
            "topic": None,
            "type": 0,
        },
        "channel_id": CHANNEL_ID,
        "context": 0,
        "entitlement_sku_ids": [],
        "entitlements": [],
        "guild": {"features": ["COMMUNITY", "NEWS"], "id": GUILD_ID, "locale": "en-US"},
        "guild_id": GUILD_ID,
        "guild_locale": "en-US",
        "id": interaction_id,
        "locale": "en-GB",
        "member": _member(),
        "token": TOKEN,
        "type": itype,
        "version": 1,
    }


def ping_body() -> dict[str, Any]:
    """A PING as Discord sends it when the endpoint URL is saved (no data, no locale)."""
    return {
        "app_permissions": "562949953601536",
        "application_id": APP_ID,
        "entitlements": [],
        "id": "1250000000000001000",
        "token": TOKEN,
        "type": 1,
        "user": _user(),
        "version": 1,
    }


def echo_body(text: str = "hello") -> dict[str, Any]:
    """`/echo text:<text>` invoked in a guild."""
    body = _envelope(2, "1250000000000001001")
    body["data"] = {
        "id": "1250000000000000500",
        "name": "echo",
        "type": 1,
        "options": [{"name": "text", "type": 3, "value": text}],
    }
    return body


def calc_body(a: int = 6, b: int = 7, op: str = "mul") -> dict[str, Any]:
    """`/tools calc a:<a> b:<b> op:<op>`: a subcommand with three options."""
    body = _envelope(2, "1250000000000001002")
    body["data"] = {
        "id": "1250000000000000501",
        "name": "tools",
        "type": 1,
        "options": [
            {
                "name": "calc",
                "type": 1,
                "options": [
                    {"name": "a", "type": 4, "value": a},
                    {"name": "b", "type": 4, "value": b},
                    {"name": "op", "type": 3, "value": op},
                ],
            }
        ],
    }
    return body


def vote_body(choice: str = "yes") -> dict[str, Any]:
    """A button click with custom_id `vote:<choice>` on a message the bot sent earlier."""
    body = _envelope(3, "1250000000000001003")
    body["data"] = {"component_type": 2, "custom_id": f"vote:{choice}", "id": 2}
    body["message"] = {
        "application_id": APP_ID,
        "attachments": [],
        "author": {
            "avatar": None,
            "bot": True,
            "discriminator": "0000",
            "global_name": None,
            "id": APP_ID,
            "public_flags": 0,
            "username": "benchbot",
        },
        "channel_id": CHANNEL_ID,
        "components": [
            {
                "components": [
                    {"custom_id": "vote:yes", "id": 2, "label": "Yes", "style": 3, "type": 2},
                    {"custom_id": "vote:no", "id": 3, "label": "No", "style": 4, "type": 2},
                ],
                "id": 1,
                "type": 1,
            }
        ],
        "content": "Ship it?",
        "edited_timestamp": None,
        "embeds": [],
        "flags": 0,
        "id": "1250000000000000700",
        "mention_everyone": False,
        "mention_roles": [],
        "mentions": [],
        "pinned": False,
        "timestamp": "2025-06-01T10:00:00.000000+00:00",
        "tts": False,
        "type": 0,
    }
    return body


def command_body(
    text: str = "hello", interaction_id: str = "1250000000000001004"
) -> dict[str, Any]:
    """`/echo text:<text>` shaped like a 2025 guild capture (~2.5 KB): the guild's feature list
    and the invoker's decorations as in the corpus' `real_slash_int_2025_dsharpplus_bench.json`."""
    body = echo_body(text)
    body["id"] = interaction_id
    body["guild"]["features"] = [
        "WELCOME_SCREEN_ENABLED", "ACTIVITY_FEED_DISABLED_BY_USER", "COMMUNITY", "AUTO_MODERATION",
        "GUILD_ONBOARDING", "GUILD_ONBOARDING_EVER_ENABLED", "SOUNDBOARD",
        "GUILD_ONBOARDING_HAS_PROMPTS", "NEWS", "CHANNEL_ICON_EMOJIS_GENERATED",
    ]  # fmt: skip
    body["member"]["avatar_decoration_data"] = None
    body["member"]["user"]["avatar_decoration_data"] = {
        "asset": "a_c3c09bd122898be35093d0d59850f627",
        "expires_at": None,
        "sku_id": "1144305233707671573",
    }
    body["member"]["user"]["primary_guild"] = {
        "badge": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "identity_enabled": True,
        "identity_guild_id": GUILD_ID,
        "tag": "BNCH",
    }
    body["member"]["user"]["collectibles"] = {
        "nameplate": {
            "asset": "nameplates/nameplates/twilight/",
            "expires_at": None,
            "label": "COLLECTIBLES_NAMEPLATES_TWILIGHT_A11Y",
            "palette": "cobalt",
            "sku_id": "1349486948942745691",
        }
    }
    return body


CALC_OPS = {"add": int.__add__, "sub": int.__sub__, "mul": int.__mul__}

# scenario name -> (interaction body, expected response type, expected content or None)
SCENARIOS: dict[str, tuple[dict[str, Any], int, str | None]] = {
    "ping": (ping_body(), 1, None),
    "echo": (echo_body(), 4, "hello"),
    "calc": (calc_body(), 4, "42"),
    "vote": (vote_body(), 4, "voted yes"),
    "command": (command_body(), 4, "hello"),
}

# Bodies made distinct per request (as Discord's are): the interaction id varies.
_ID_BASE = 1250000000000100000


def distinct_requests(
    scenario: str, count: int, start: int = 0, timestamp: str | None = None
) -> list[tuple[str, str, bytes]]:
    """`count` bodies of `scenario`, each with its own interaction id, signed now (or at
    `timestamp`): ``[(signature hex, timestamp, body)]``. `start` offsets the ids so that
    successive batches against one server never repeat a body."""
    ts = timestamp if timestamp is not None else str(int(time.time()))
    template = encode(SCENARIOS[scenario][0])
    old_id = b'"id":"' + str(SCENARIOS[scenario][0]["id"]).encode() + b'"'
    assert template.count(old_id) == 1, scenario
    head, tail = template.split(old_id)
    out = []
    for i in range(start, start + count):
        body = head + b'"id":"' + str(_ID_BASE + i).encode() + b'"' + tail
        signature = SIGNING_KEY.sign(ts.encode() + body).signature.hex()
        out.append((signature, ts, body))
    return out


def encode(body: dict[str, Any]) -> bytes:
    """Compact JSON, as Discord sends it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes, timestamp: str | None = None, *, valid: bool = True) -> dict[str, str]:
    """The two signature headers for `body`; `valid=False` gives a well-formed wrong signature."""
    ts = timestamp if timestamp is not None else str(int(time.time()))
    signature = SIGNING_KEY.sign(ts.encode() + body).signature
    if not valid:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return {"X-Signature-Ed25519": signature.hex(), "X-Signature-Timestamp": ts}


def http_scope(path: str, signature: str, timestamp: str, length: int) -> dict[str, Any]:
    """An ASGI http scope for a signed interaction POST, as uvicorn builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"Discord-Interactions/1.0 (+https://discord.com)"),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
            (b"x-signature-ed25519", signature.encode()),
            (b"x-signature-timestamp", timestamp.encode()),
        ],
        "state": {},
    }
