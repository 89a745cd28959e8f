"""The declarative command layer: commands from typed functions, routing, payloads and sync."""

from .declare import Command, CommandSettings, ContextMenuCommand
from .errors import CommandDefinitionError, OptionConversionError
from .group import Group
from .options import Option, OptionSpec
from .patterns import custom_id
from .tree import CommandTree

__all__ = [
    "Command",
    "CommandDefinitionError",
    "CommandSettings",
    "CommandTree",
    "ContextMenuCommand",
    "Group",
    "Option",
    "OptionConversionError",
    "OptionSpec",
    "custom_id",
]
