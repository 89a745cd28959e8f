"""``asgi-interactions sync module:bot``: register the app's commands with Discord."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import httpx2

from .common import EXIT_ERROR_ANSWER, CLIError, check_url, load_app

DEFAULT_BASE_URL = "https://discord.com/api/v10"


def add_parser(commands: Any) -> None:
    sync = commands.add_parser(
        "sync",
        help="register the app's commands with Discord (only what differs is written)",
        description=(
            "Compare the commands declared on APP with Discord's and overwrite the scopes that "
            "differ. The bot token comes from the app or DISCORD_TOKEN; the application id from "
            "the app, DISCORD_APPLICATION_ID, or Discord. DISCORD_PUBLIC_KEY is not needed."
        ),
    )
    sync.add_argument("app", metavar="APP", help="the bot object as module:attribute, like uvicorn")
    sync.add_argument("--guild", type=int, metavar="ID", help="sync only this guild's commands")
    sync.add_argument(
        "--dry-run", action="store_true", help="show what would change (a diff) without writing"
    )
    sync.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help=f"Discord API base URL (default {DEFAULT_BASE_URL})",
    )
    sync.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="directory to import APP from (default: the current directory)",
    )


def _payload(app: Any) -> dict[int | None, list[dict[str, Any]]]:
    if hasattr(app, "commands_payload"):
        payload = app.commands_payload()
    elif hasattr(app, "payload"):
        payload = app.payload()
    else:
        raise CLIError(f"{app!r} is not an InteractionApp or CommandTree (no commands_payload())")
    if not isinstance(payload, dict):
        raise CLIError("commands_payload() did not return a dict")
    return payload


def _token(app: Any) -> str | None:
    value = getattr(app, "token", None)
    if isinstance(value, str) and value:
        return value
    return os.environ.get("DISCORD_TOKEN") or None


def _rest_client(app: Any, base_url: str) -> Any:
    from ..rest import RestClient

    token = _token(app)
    if token is None:
        raise CLIError(
            "no bot token: set DISCORD_TOKEN (the portal's Bot page) or give the app one"
        )
    # No retries: a command line fails fast and says why; running it again is the retry.
    return RestClient(token, base_url=base_url, max_retries=0, edge_retries=0, timeout=15.0)


async def _application_id(app: Any, rest: Any) -> int:
    value = getattr(app, "application_id", None) or os.environ.get("DISCORD_APPLICATION_ID")
    if value:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise CLIError(
                f"DISCORD_APPLICATION_ID {value!r} is not a number: use the Application ID "
                "from the portal's General Information page"
            ) from None
    me = await rest.get_current_user()
    return int(me["id"])


def _discord_error(exc: Exception, base_url: str) -> CLIError:
    from ..rest import DiscordHTTPError, UnauthorizedError

    if isinstance(exc, httpx2.TransportError):
        reason = str(exc) or type(exc).__name__
        return CLIError(f"cannot reach Discord at {base_url}: {reason}")
    if isinstance(exc, UnauthorizedError):
        return CLIError(
            "Discord refused the bot token (401 Unauthorized): check DISCORD_TOKEN",
            EXIT_ERROR_ANSWER,
        )
    if isinstance(exc, DiscordHTTPError):
        hint = ""
        if exc.status == 404 and not re.search(r"/api/v\d+$", base_url.rstrip("/")):
            hint = f" (the base URL usually ends in /api/v10, like {DEFAULT_BASE_URL})"
        return CLIError(f"Discord answered {exc} at {base_url}{hint}", EXIT_ERROR_ANSWER)
    return CLIError(f"{type(exc).__name__}: {exc}")


async def run(args: argparse.Namespace) -> int:
    from ..commands.sync import sync_commands
    from ..rest import DiscordHTTPError

    base_url = check_url(args.base_url or DEFAULT_BASE_URL, "--base-url", DEFAULT_BASE_URL)
    app = load_app(args.app, args.app_dir)
    payload = _payload(app)
    rest = _rest_client(app, base_url)
    try:
        async with rest:
            application_id = await _application_id(app, rest)
            report = await sync_commands(
                rest, application_id, payload, guild_id=args.guild, dry_run=args.dry_run
            )
    except (httpx2.TransportError, DiscordHTTPError) as exc:
        raise _discord_error(exc, base_url) from exc
    print(report)
    if args.dry_run:
        diff = report.diff()
        if diff:
            print()
            print(diff, end="")
        print("dry run: nothing was written")
    return 0
