"""Make any ASGI app a Discord interactions endpoint: verified, typed and rate-limit safe."""

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
