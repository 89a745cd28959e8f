"""Message and modal components: action rows, buttons, selects, text inputs, labels, text displays.

Raw dicts are accepted wherever a component is expected (the escape hatch for Components V2);
they are sent as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..models.channel import Channel
from ..models.enums import ButtonStyle, ComponentType, TextInputStyle
from ..models.guild import Member, Role
from ..models.user import User
from ._checks import check_count, check_length, check_range
from .errors import InvalidResponseError

__all__ = [
    "ActionRow",
    "AnyComponent",
    "Button",
    "Component",
    "Label",
    "SelectMenu",
    "SelectOption",
    "TextDisplay",
    "TextInput",
    "component_data",
    "parse_emoji",
]

MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_URL = 512
MAX_ROW_BUTTONS = 5
MAX_SELECT_OPTIONS = 25
MAX_SELECT_VALUES = 25
MAX_SELECT_PLACEHOLDER = 150
MAX_OPTION_TEXT = 100
MAX_LABEL = 45
MAX_LABEL_DESCRIPTION = 100
MAX_TEXT_INPUT_LENGTH = 4000
MAX_TEXT_INPUT_PLACEHOLDER = 100

_CUSTOM_EMOJI = re.compile(r"<(a?):([A-Za-z0-9_~]+):(\d+)>")


def parse_emoji(emoji: str | Mapping[str, Any]) -> dict[str, Any]:
    """A partial emoji: ``"👍"``, ``"<:name:id>"``/``"<a:name:id>"``, or a dict passed through."""
    if not isinstance(emoji, str):
        return dict(emoji)
    match = _CUSTOM_EMOJI.fullmatch(emoji)
    if match is None:
        return {"name": emoji}
    data: dict[str, Any] = {"name": match[2], "id": match[3]}
    if match[1]:
        data["animated"] = True
    return data


def _check_custom_id(custom_id: str, what: str) -> None:
    check_length(f"{what} custom_id", custom_id, MAX_CUSTOM_ID, minimum=1)


class Component:
    """Base of the component builders: ``to_data()`` gives the Discord JSON object."""

    __slots__ = ("id", "type")

    def __init__(self, component_type: int, *, id: int | None = None) -> None:
        self.type = int(component_type)
        self.id = id

    def to_data(self) -> dict[str, Any]:
        """The component as Discord JSON."""
        raise NotImplementedError

    def _base(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        if self.id is not None:
            data["id"] = self.id
        return data


AnyComponent = Component | Mapping[str, Any]
"""A component builder or a raw component dict."""


def component_data(component: AnyComponent) -> dict[str, Any]:
    """Serialise a builder, or pass a raw dict through unchanged."""
    if isinstance(component, Component):
        return component.to_data()
    if isinstance(component, Mapping):
        return component if isinstance(component, dict) else dict(component)
    raise TypeError(f"expected a component or a dict, got {type(component).__name__}")


def _style(value: int | str, enum: type[ButtonStyle] | type[TextInputStyle]) -> int:
    """Accept an enum member, an int or a case-insensitive name (``"danger"``)."""
    if isinstance(value, str):
        try:
            return int(enum[value.upper()])
        except KeyError:
            names = ", ".join(m.name.lower() for m in enum)
            raise ValueError(f"unknown {enum.__name__} {value!r}; use one of {names}") from None
    return int(value)


class Button(Component):
    """A button: styles 1-4 need ``custom_id``, LINK (5) needs ``url``, PREMIUM (6) ``sku_id``.

    ``style`` defaults to LINK when ``url`` is given, PREMIUM when ``sku_id`` is, else PRIMARY.
    """

    __slots__ = ("custom_id", "disabled", "emoji", "label", "sku_id", "style", "url")

    def __init__(
        self,
        label: str | None = None,
        *,
        custom_id: str | None = None,
        style: ButtonStyle | int | str | None = None,
        url: str | None = None,
        sku_id: int | str | None = None,
        emoji: str | Mapping[str, Any] | None = None,
        disabled: bool = False,
        id: int | None = None,
    ) -> None:
        super().__init__(ComponentType.BUTTON, id=id)
        if style is None:
            style = ButtonStyle.LINK if url else ButtonStyle.PREMIUM if sku_id else 1
        self.style = _style(style, ButtonStyle)
        check_length("button label", label, MAX_BUTTON_LABEL)
        if self.style == ButtonStyle.LINK:
            if not url or custom_id is not None or sku_id is not None:
                raise InvalidResponseError("a link button needs url and no custom_id or sku_id")
            check_length("button url", url, MAX_URL)
        elif self.style == ButtonStyle.PREMIUM:
            if sku_id is None or custom_id is not None or url is not None:
                raise InvalidResponseError("a premium button needs sku_id and no custom_id or url")
            if label is not None or emoji is not None:
                raise InvalidResponseError("a premium button takes no label or emoji")
        else:
            if custom_id is None:
                raise InvalidResponseError(f"a button of style {self.style} needs a custom_id")
            if url is not None or sku_id is not None:
                raise InvalidResponseError("only link buttons take url; only premium take sku_id")
            _check_custom_id(custom_id, "button")
        self.label = label
        self.custom_id = custom_id
        self.url = url
        self.sku_id = sku_id
        self.emoji = parse_emoji(emoji) if emoji is not None else None
        self.disabled = disabled

    def to_data(self) -> dict[str, Any]:
        """The button as Discord JSON."""
        data = self._base()
        data["style"] = self.style
        if self.label is not None:
            data["label"] = self.label
        if self.custom_id is not None:
            data["custom_id"] = self.custom_id
        if self.url is not None:
            data["url"] = self.url
        if self.sku_id is not None:
            data["sku_id"] = str(self.sku_id)
        if self.emoji is not None:
            data["emoji"] = self.emoji
        if self.disabled:
            data["disabled"] = True
        return data


class SelectOption:
    """One choice of a string select (label and value 1-100 characters; value defaults to label)."""

    __slots__ = ("default", "description", "emoji", "label", "value")

    def __init__(
        self,
        label: str,
        value: str | None = None,
        *,
        description: str | None = None,
        emoji: str | Mapping[str, Any] | None = None,
        default: bool = False,
    ) -> None:
        value = label if value is None else value
        check_length("select option label", label, MAX_OPTION_TEXT, minimum=1)
        check_length("select option value", value, MAX_OPTION_TEXT, minimum=1)
        check_length("select option description", description, MAX_OPTION_TEXT)
        self.label = label
        self.value = value
        self.description = description
        self.emoji = parse_emoji(emoji) if emoji is not None else None
        self.default = default

    def to_data(self) -> dict[str, Any]:
        """The option as Discord JSON."""
        data: dict[str, Any] = {"label": self.label, "value": self.value}
        if self.description is not None:
            data["description"] = self.description
        if self.emoji is not None:
            data["emoji"] = self.emoji
        if self.default:
            data["default"] = True
        return data


_SELECT_TYPES = {
    "string": ComponentType.STRING_SELECT,
    "user": ComponentType.USER_SELECT,
    "role": ComponentType.ROLE_SELECT,
    "mentionable": ComponentType.MENTIONABLE_SELECT,
    "channel": ComponentType.CHANNEL_SELECT,
}
_DEFAULT_VALUE_TYPE: dict[int, str] = {
    ComponentType.USER_SELECT: "user",
    ComponentType.ROLE_SELECT: "role",
    ComponentType.CHANNEL_SELECT: "channel",
}
_AUTO_SELECTS = frozenset(_DEFAULT_VALUE_TYPE) | {ComponentType.MENTIONABLE_SELECT}

DefaultValue = (
    int | str | tuple[int | str, str] | Mapping[str, Any] | User | Member | Role | Channel
)


def _default_value(value: DefaultValue, select_type: int) -> dict[str, Any]:
    """``{"id", "type"}`` from an id, (id, type), a dict, or a User/Member/Role/Channel model."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return {"id": str(value[0]), "type": value[1]}
    object_id: int | str | None
    if isinstance(value, User | Member):
        object_id, kind = value.id, "user"
    elif isinstance(value, Role):
        object_id, kind = value.id, "role"
    elif isinstance(value, Channel):
        object_id, kind = value.id, "channel"
    else:
        object_id = value
        inferred = _DEFAULT_VALUE_TYPE.get(select_type)
        if inferred is None:
            raise InvalidResponseError(
                "mentionable select default_values need a type: pass (id, 'user'|'role')"
            )
        kind = inferred
    if object_id is None:
        raise InvalidResponseError("a default value's member has no user id")
    return {"id": str(object_id), "type": kind}


class SelectMenu(Component):
    """A select menu: string (``options``) or user/role/mentionable/channel via ``type``.

    ``type``: a ComponentType or ``"string"``/``"user"``/``"role"``/``"mentionable"``/``"channel"``.
    """

    __slots__ = (
        "channel_types",
        "custom_id",
        "default_values",
        "disabled",
        "max_values",
        "min_values",
        "options",
        "placeholder",
        "required",
    )

    def __init__(
        self,
        custom_id: str,
        options: Iterable[SelectOption | str] | None = None,
        *,
        type: ComponentType | int | str = ComponentType.STRING_SELECT,
        placeholder: str | None = None,
        min_values: int | None = None,
        max_values: int | None = None,
        disabled: bool = False,
        required: bool | None = None,
        default_values: Iterable[DefaultValue] | None = None,
        channel_types: Iterable[int] | None = None,
        id: int | None = None,
    ) -> None:
        if isinstance(type, str):
            if type.lower() not in _SELECT_TYPES:
                choices = ", ".join(_SELECT_TYPES)
                raise ValueError(f"unknown select type {type!r}; use one of {choices}")
            type = _SELECT_TYPES[type.lower()]
        super().__init__(type, id=id)
        if self.type not in _AUTO_SELECTS and self.type != ComponentType.STRING_SELECT:
            raise ValueError(f"component type {self.type} is not a select menu")
        _check_custom_id(custom_id, "select")
        check_length("select placeholder", placeholder, MAX_SELECT_PLACEHOLDER)
        check_range("select min_values", min_values, 0, MAX_SELECT_VALUES)
        check_range("select max_values", max_values, 1, MAX_SELECT_VALUES)
        if min_values is not None and max_values is not None and min_values > max_values:
            raise InvalidResponseError(f"select min_values {min_values} > max_values {max_values}")
        self.options: list[SelectOption] | None = None
        if self.type == ComponentType.STRING_SELECT:
            if options is None:
                raise InvalidResponseError("a string select needs options")
            self.options = [o if isinstance(o, SelectOption) else SelectOption(o) for o in options]
            check_count("select options", len(self.options), MAX_SELECT_OPTIONS, minimum=1)
            if default_values is not None:
                raise InvalidResponseError(
                    "string selects mark defaults with SelectOption(default=True)"
                )
        elif options is not None:
            raise InvalidResponseError("only string selects take options")
        if channel_types is not None and self.type != ComponentType.CHANNEL_SELECT:
            raise InvalidResponseError("only channel selects take channel_types")
        self.default_values = (
            [_default_value(v, self.type) for v in default_values]
            if default_values is not None
            else None
        )
        if self.default_values is not None:
            check_count("select default_values", len(self.default_values), max_values or 1)
        self.custom_id = custom_id
        self.placeholder = placeholder
        self.min_values = min_values
        self.max_values = max_values
        self.disabled = disabled
        self.required = required
        self.channel_types = [int(t) for t in channel_types] if channel_types is not None else None

    def to_data(self) -> dict[str, Any]:
        """The select as Discord JSON."""
        data = self._base()
        data["custom_id"] = self.custom_id
        if self.options is not None:
            data["options"] = [o.to_data() for o in self.options]
        if self.placeholder is not None:
            data["placeholder"] = self.placeholder
        if self.min_values is not None:
            data["min_values"] = self.min_values
        if self.max_values is not None:
            data["max_values"] = self.max_values
        if self.disabled:
            data["disabled"] = True
        if self.required is not None:
            data["required"] = self.required
        if self.default_values is not None:
            data["default_values"] = self.default_values
        if self.channel_types is not None:
            data["channel_types"] = self.channel_types
        return data


class TextInput(Component):
    """A modal text field; serialised as a Label (type 18) wrapping the input (notes §4.2-4.3)."""

    __slots__ = (
        "custom_id",
        "description",
        "label",
        "max_length",
        "min_length",
        "placeholder",
        "required",
        "style",
        "value",
    )

    def __init__(
        self,
        custom_id: str,
        label: str,
        style: TextInputStyle | int | str = TextInputStyle.SHORT,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        required: bool | None = None,
        value: str | None = None,
        placeholder: str | None = None,
        description: str | None = None,
        id: int | None = None,
    ) -> None:
        super().__init__(ComponentType.TEXT_INPUT, id=id)
        _check_custom_id(custom_id, "text input")
        check_length("text input label", label, MAX_LABEL, minimum=1)
        check_length("text input description", description, MAX_LABEL_DESCRIPTION)
        check_range("text input min_length", min_length, 0, MAX_TEXT_INPUT_LENGTH)
        check_range("text input max_length", max_length, 1, MAX_TEXT_INPUT_LENGTH)
        if min_length is not None and max_length is not None and min_length > max_length:
            raise InvalidResponseError(
                f"text input min_length {min_length} > max_length {max_length}"
            )
        check_length("text input value", value, max_length or MAX_TEXT_INPUT_LENGTH)
        check_length("text input placeholder", placeholder, MAX_TEXT_INPUT_PLACEHOLDER)
        self.custom_id = custom_id
        self.label = label
        self.style = _style(style, TextInputStyle)
        self.min_length = min_length
        self.max_length = max_length
        self.required = required
        self.value = value
        self.placeholder = placeholder
        self.description = description

    def input_data(self) -> dict[str, Any]:
        """The bare text input (type 4), as placed inside a Label."""
        data = self._base()
        data["custom_id"] = self.custom_id
        data["style"] = self.style
        if self.min_length is not None:
            data["min_length"] = self.min_length
        if self.max_length is not None:
            data["max_length"] = self.max_length
        if self.required is not None:
            data["required"] = self.required
        if self.value is not None:
            data["value"] = self.value
        if self.placeholder is not None:
            data["placeholder"] = self.placeholder
        return data

    def legacy_data(self) -> dict[str, Any]:
        """The deprecated form inside an Action Row: the input carries its own ``label``."""
        data = self.input_data()
        data["label"] = self.label
        return data

    def to_data(self) -> dict[str, Any]:
        """The modern form: ``{"type": 18, "label", "description"?, "component": <text input>}``."""
        data: dict[str, Any] = {"type": ComponentType.LABEL, "label": self.label}
        if self.description is not None:
            data["description"] = self.description
        data["component"] = self.input_data()
        return data


class Label(Component):
    """A modal Label (18) around one interactive component (select, text input, upload, ...)."""

    __slots__ = ("component", "description", "label")

    def __init__(
        self,
        label: str,
        component: AnyComponent,
        *,
        description: str | None = None,
        id: int | None = None,
    ) -> None:
        super().__init__(ComponentType.LABEL, id=id)
        check_length("label text", label, MAX_LABEL, minimum=1)
        check_length("label description", description, MAX_LABEL_DESCRIPTION)
        if isinstance(component, ActionRow | Label):
            raise InvalidResponseError(
                "a Label wraps one interactive component, not a row or label"
            )
        self.label = label
        self.component = component
        self.description = description

    def to_data(self) -> dict[str, Any]:
        """The label as Discord JSON."""
        data = self._base()
        data["label"] = self.label
        if self.description is not None:
            data["description"] = self.description
        inner = self.component
        data["component"] = (
            inner.input_data() if isinstance(inner, TextInput) else component_data(inner)
        )
        return data


class TextDisplay(Component):
    """Markdown text (10): in modals, and in Components V2 messages."""

    __slots__ = ("content",)

    def __init__(self, content: str, *, id: int | None = None) -> None:
        super().__init__(ComponentType.TEXT_DISPLAY, id=id)
        self.content = content

    def to_data(self) -> dict[str, Any]:
        """The text display as Discord JSON."""
        data = self._base()
        data["content"] = self.content
        return data


class ActionRow(Component):
    """A row of up to 5 buttons, or exactly one select (or, in legacy modals, one text input)."""

    __slots__ = ("components",)

    def __init__(
        self,
        *components: AnyComponent,
        id: int | None = None,
    ) -> None:
        super().__init__(ComponentType.ACTION_ROW, id=id)
        if len(components) == 1 and isinstance(components[0], list | tuple):
            components = tuple(components[0])
        self.components: list[AnyComponent] = list(components)
        check_row(self.components)

    def to_data(self) -> dict[str, Any]:
        """The row as Discord JSON (a TextInput inside takes its legacy, labelled form)."""
        data = self._base()
        data["components"] = [
            c.legacy_data() if isinstance(c, TextInput) else component_data(c)
            for c in self.components
        ]
        return data


def _kind(component: AnyComponent) -> int | None:
    if isinstance(component, Component):
        return int(component.type)
    kind = component.get("type")
    return kind if isinstance(kind, int) else None


def check_row(components: Sequence[AnyComponent]) -> None:
    """An action row holds 1-5 buttons, or exactly one other component."""
    if not components:
        check_count("components in an action row", 0, MAX_ROW_BUTTONS, minimum=1)
    if all(_kind(c) == ComponentType.BUTTON for c in components):
        check_count("buttons in an action row", len(components), MAX_ROW_BUTTONS, minimum=1)
    elif len(components) != 1:
        raise InvalidResponseError(
            f"an action row holds up to 5 buttons or exactly 1 select/text input; got "
            f"{len(components)} components including a non-button"
        )
