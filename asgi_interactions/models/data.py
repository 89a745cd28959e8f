"""The ``data`` of each interaction kind: commands (+ autocomplete), components, modal submits."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import DiscordModel, Snowflake
from .enums import CommandType, ComponentType, OptionType
from .guild import Member
from .message import PartialMessage
from .resolved import ResolvedData
from .user import User

__all__ = [
    "ApplicationCommandData",
    "CommandOption",
    "ComponentData",
    "ModalComponent",
    "ModalSubmitData",
    "ModalValue",
    "OptionValue",
]

OptionValue = str | bool | int | float | dict[str, Any] | list[Any] | None
"""A received option value; objects/lists only appear for option types Discord adds later."""

ModalValue = str | list[str] | bool | None
"""A submitted modal value: text, selected values/ids, a checkbox state, or None."""

_GROUP_TYPES = (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)
_LIST_VALUED = frozenset(
    {
        ComponentType.STRING_SELECT,
        ComponentType.USER_SELECT,
        ComponentType.ROLE_SELECT,
        ComponentType.MENTIONABLE_SELECT,
        ComponentType.CHANNEL_SELECT,
        ComponentType.FILE_UPLOAD,
        ComponentType.CHECKBOX_GROUP,
    }
)


class CommandOption(DiscordModel):
    """A data option: a subcommand/group (``options``) or a leaf (``value``); recursive."""

    name: str
    type: int = 0  # 0: not sent (payloads of late 2020 had untyped options)
    value: OptionValue = None
    options: list[CommandOption] = Field(default_factory=list)
    focused: bool = False

    @property
    def is_group(self) -> bool:
        """True for SUB_COMMAND and SUB_COMMAND_GROUP options."""
        return self.type in _GROUP_TYPES


class ApplicationCommandData(DiscordModel):
    """``data`` of APPLICATION_COMMAND (2) and APPLICATION_COMMAND_AUTOCOMPLETE (4) interactions."""

    name: str
    id: Snowflake | None = None
    type: int = 1
    resolved: ResolvedData | None = None
    options: list[CommandOption] = Field(default_factory=list)
    guild_id: Snowflake | None = None
    target_id: Snowflake | None = None

    def leaf(self) -> tuple[tuple[str, ...], list[CommandOption]]:
        """Walk groups/subcommands: ``(path, leaf options)``, path starting with the command name.

        ``/admin ban user:@x`` gives ``(("admin", "ban"), [user option])``;
        ``/echo text:hi`` gives ``(("echo",), [text option])``.
        """
        path = [self.name]
        options = self.options
        while options and options[0].type in _GROUP_TYPES:
            path.append(options[0].name)
            options = options[0].options
        return tuple(path), options

    def leaf_values(self) -> dict[str, OptionValue]:
        """The leaf options as ``{name: raw value}`` (ids stay strings; see ``resolved``)."""
        return {option.name: option.value for option in self.leaf()[1]}

    def focused_option(self) -> CommandOption | None:
        """For autocomplete: the option being typed, or None."""
        for option in self.leaf()[1]:
            if option.focused:
                return option
        return None

    def target(self) -> User | Member | PartialMessage | None:
        """USER/MESSAGE commands: the targeted member (or user) or message, from ``resolved``."""
        if self.target_id is None or self.resolved is None:
            return None
        if self.type == CommandType.MESSAGE:
            return self.resolved.messages.get(self.target_id)
        return self.resolved.user_or_member(self.target_id)


class ComponentData(DiscordModel):
    """``data`` of MESSAGE_COMPONENT (3) interactions: which component, and select values."""

    custom_id: str
    component_type: int
    values: list[str] | None = None
    resolved: ResolvedData | None = None
    id: int | None = None


class ModalComponent(DiscordModel):
    """A submitted modal component: Label (``component``), Action Row (``components``), field."""

    type: int
    id: int | None = None
    custom_id: str | None = None
    value: str | bool | None = None
    values: list[str] | None = None
    component: ModalComponent | None = None
    components: list[ModalComponent] | None = None

    def submitted(self) -> ModalValue:
        """This field's value: a list for selects/uploads/checkbox groups, else ``value``."""
        if self.values is not None or self.type in _LIST_VALUED:
            return list(self.values or ())
        return self.value


class ModalSubmitData(DiscordModel):
    """``data`` of MODAL_SUBMIT (5) interactions."""

    custom_id: str
    components: list[ModalComponent] = Field(default_factory=list)
    resolved: ResolvedData | None = None

    def fields(self) -> list[ModalComponent]:
        """Every submitted field with a custom_id, in order (Label and legacy Action Row shapes)."""
        found: list[ModalComponent] = []
        stack = list(reversed(self.components))
        while stack:
            component = stack.pop()
            if component.custom_id is not None and component.type not in (
                ComponentType.ACTION_ROW,
                ComponentType.LABEL,
            ):
                found.append(component)
            if component.components:
                stack.extend(reversed(component.components))
            if component.component is not None:
                stack.append(component.component)
        return found

    def values(self) -> dict[str, ModalValue]:
        """``{custom_id: value}`` for every submitted field (str, list[str], bool or None)."""
        return {field.custom_id: field.submitted() for field in self.fields() if field.custom_id}

    def get(self, custom_id: str, default: Any = None) -> Any:
        """One field's value by custom_id."""
        return self.values().get(custom_id, default)
