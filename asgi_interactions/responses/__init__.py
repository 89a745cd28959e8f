"""Response builders (Message, Modal, components, embeds) and the payloads sent to Discord.

Limits are checked when a response is built and raise ResponseLimitError (a ValueError) naming
the limit and the offending length or count.
"""

from .components import (
    ActionRow,
    AnyComponent,
    Button,
    Component,
    Label,
    SelectMenu,
    SelectOption,
    TextDisplay,
    TextInput,
)
from .embed import Embed, EmbedField
from .errors import InvalidResponseError, ResponseLimitError
from .message import AllowedMentions, Choice, File, Message, Modal
from .payloads import Result, callback_payload, deferred_payload, message_payload, to_choice

__all__ = [
    "ActionRow",
    "AllowedMentions",
    "AnyComponent",
    "Button",
    "Choice",
    "Component",
    "Embed",
    "EmbedField",
    "File",
    "InvalidResponseError",
    "Label",
    "Message",
    "Modal",
    "ResponseLimitError",
    "Result",
    "SelectMenu",
    "SelectOption",
    "TextDisplay",
    "TextInput",
    "callback_payload",
    "deferred_payload",
    "message_payload",
    "to_choice",
]
