"""Make any ASGI app a Discord interactions endpoint: verified, typed and rate-limit safe.

The public names are imported on first use (PEP 562), so a process that only runs gateway
shards (``from asgi_interactions import Gateway``) does not load the interaction models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import InteractionApp
    from .commands.options import Option
    from .context import Context
    from .gateway import Gateway, GatewayError, GatewayEvent, Intents
    from .responses import (
        ActionRow,
        Button,
        Choice,
        Embed,
        Message,
        Modal,
        SelectMenu,
        TextInput,
    )
    from .rest import RestClient

#: Each public name and the module that defines it.
_SOURCES = {
    "ActionRow": ".responses",
    "Button": ".responses",
    "Choice": ".responses",
    "Context": ".context",
    "Embed": ".responses",
    "Gateway": ".gateway",
    "GatewayError": ".gateway",
    "GatewayEvent": ".gateway",
    "Intents": ".gateway",
    "InteractionApp": ".app",
    "Message": ".responses",
    "Modal": ".responses",
    "Option": ".commands.options",
    "RestClient": ".rest",
    "SelectMenu": ".responses",
    "TextInput": ".responses",
}

__all__ = [
    "ActionRow",
    "Button",
    "Choice",
    "Context",
    "Embed",
    "Gateway",
    "GatewayError",
    "GatewayEvent",
    "Intents",
    "InteractionApp",
    "Message",
    "Modal",
    "Option",
    "RestClient",
    "SelectMenu",
    "TextInput",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Import a public name's module the first time the name is used."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source, __name__), name)
    globals()[name] = value  # later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
