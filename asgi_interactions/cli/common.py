"""What every command of the command line shares: its one-line errors and loading ``module:bot``."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any
from urllib.parse import urlsplit

#: The other side answered with an error (the bot's error answer, Discord's error).
EXIT_ERROR_ANSWER = 1
#: The command could not do what was asked: fix the arguments or the set-up (one line says how).
EXIT_USAGE = 2


class CLIError(Exception):
    """A failure reported as one line on stderr, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def load_app(spec: str, app_dir: str = ".") -> Any:
    """Import ``module:attribute`` (attribute may be dotted) the way uvicorn does.

    The commands that load an app never verify a request, so when ``DISCORD_PUBLIC_KEY`` is not
    set it is set to the public development key for this process only: declaring commands must
    not need the key.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CLIError(f"APP must look like module:attribute (as for uvicorn), got {spec!r}")
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    if not os.environ.get("DISCORD_PUBLIC_KEY"):
        from ..testing import DEVELOPMENT_KEYS

        os.environ["DISCORD_PUBLIC_KEY"] = DEVELOPMENT_KEYS.public_key
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name:
            raise CLIError(f"cannot import module {module_name!r} (from {path})") from exc
        raise CLIError(f"importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:
        raise CLIError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    found: Any = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return found


def check_url(url: str, what: str, example: str) -> str:
    """``url`` if it has an http(s) scheme and a host; else a CLIError saying what to write."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CLIError(f"{what} {url!r} needs a scheme and a host, like {example}")
    return url
