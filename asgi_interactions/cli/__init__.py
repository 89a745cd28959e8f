"""The ``asgi-interactions`` command line (also ``python -m asgi_interactions``).

``sync`` registers an app's commands with Discord, ``send`` signs and POSTs an interaction to an
endpoint, ``keygen`` makes a key pair for local tests, ``routes`` lists what an app handles.
Exit codes: 0 done; 1 the other side answered with an error (the bot's error answer, Discord's
error); 2 the command could not do what was asked (bad arguments or set-up). Every error is one
line on stderr that says what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from . import send, sync
from .common import EXIT_USAGE, CLIError, load_app

__all__ = ["CLIError", "main"]


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="asgi-interactions",
        description="Tools for asgi_interactions bots.",
        epilog="Exit codes: 0 done, 1 an error answer, 2 could not do it as asked.",
    )
    parser.add_argument("--version", action="version", version=f"asgi-interactions {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sync.add_parser(commands)
    send.add_parser(commands)
    keygen = commands.add_parser(
        "keygen",
        help="make a key pair for local tests (never for a real application)",
        description=(
            "Print a fresh Ed25519 key pair as shell lines: the public key for the server "
            '(eval "$(asgi-interactions keygen)") and the seed to sign with (send --seed).'
        ),
    )
    keygen.add_argument("--seed", metavar="HEX", help="derive the pair from this 32-byte hex seed")
    routes = commands.add_parser(
        "routes",
        help="list the app's commands, components, modals and webhook events with their handlers",
    )
    routes.add_argument("app", metavar="APP", help="the bot object as module:attribute")
    routes.add_argument("--app-dir", default=".", metavar="DIR", help="where to import APP from")
    return parser


def _keygen(args: argparse.Namespace) -> int:
    import secrets

    from ..testing import KeyPair

    seed = args.seed or secrets.token_hex(32)
    try:
        keys = KeyPair.from_seed(seed)
    except ValueError:
        raise CLIError(f"--seed must be 64 hex digits (a 32-byte seed), got {seed!r}") from None
    print(f"export DISCORD_PUBLIC_KEY={keys.public_key}")
    print(f"# sign with: asgi-interactions send --seed {seed} URL ping")
    return 0


def _routes(args: argparse.Namespace) -> int:
    app = load_app(args.app, args.app_dir)
    if not hasattr(app, "routes"):
        raise CLIError(f"{args.app} is not an InteractionApp or CommandTree (no routes())")
    rows: list[Any] = [("KIND", "NAME", "HANDLER", "SCOPE"), *app.routes()]
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, str(row[3])]).rstrip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asgi-interactions`` script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "sync":
            return asyncio.run(sync.run(args))
        if args.command == "send":
            return asyncio.run(send.run(args))
        if args.command == "keygen":
            return _keygen(args)
        return _routes(args)
    except CLIError as exc:
        print(f"asgi-interactions: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of ours: still one line, and a non-zero exit
        print(f"asgi-interactions: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
