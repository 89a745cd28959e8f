"""The ``asgi-interactions`` command line: ``asgi-interactions sync module:bot [--guild ID]
[--dry-run]``.

Exit codes: 0 done, 1 an error (printed as one clear line on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

DEFAULT_BASE_URL = "https://discord.com/api/v10"


class CLIError(Exception):
    """A failure to report on stderr with exit code 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asgi-interactions",
        description="Tools for asgi_interactions bots.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sync = commands.add_parser(
        "sync",
        help="register the app's commands with Discord (only what differs is written)",
        description=(
            "Compare the commands declared on APP with Discord's and overwrite the scopes that "
            "differ. The bot token comes from the app or DISCORD_TOKEN; the application id from "
            "the app, DISCORD_APPLICATION_ID, or Discord."
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
    return parser


def load_app(spec: str, app_dir: str = ".") -> Any:
    """Import ``module:attribute`` (attribute may be dotted) the way uvicorn does."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CLIError(f"APP must look like module:attribute, got {spec!r}")
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name:
            raise CLIError(f"cannot import module {module_name!r} (from {path})") from exc
        raise CLIError(f"importing {module_name!r} failed: {exc}") from exc
    found: Any = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return found


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


def _rest_client(app: Any, base_url: str | None) -> Any:
    from .rest import RestClient

    token = _token(app)
    if token is not None:
        return RestClient(token, base_url=base_url or DEFAULT_BASE_URL)
    existing = getattr(app, "rest", None) or None
    if existing is not None and base_url is None:
        return existing
    raise CLIError("no bot token: give the app a token or set DISCORD_TOKEN")


async def _application_id(app: Any, rest: Any) -> int:
    value = getattr(app, "application_id", None) or os.environ.get("DISCORD_APPLICATION_ID")
    if value:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise CLIError(f"application id {value!r} is not a number") from None
    me = await rest.get_current_user()
    return int(me["id"])


async def _sync(args: argparse.Namespace) -> int:
    from .commands.sync import sync_commands

    app = load_app(args.app, args.app_dir)
    payload = _payload(app)
    rest = _rest_client(app, args.base_url)
    async with rest:
        application_id = await _application_id(app, rest)
        report = await sync_commands(
            rest, application_id, payload, guild_id=args.guild, dry_run=args.dry_run
        )
    print(report)
    if args.dry_run:
        diff = report.diff()
        if diff:
            print()
            print(diff, end="")
        print("dry run: nothing was written")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asgi-interactions`` script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "sync":
            return asyncio.run(_sync(args))
    except CLIError as exc:
        print(f"asgi-interactions: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"asgi-interactions: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
