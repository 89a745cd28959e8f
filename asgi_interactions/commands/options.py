"""Turn a handler parameter's annotation into a command option and a precomputed value converter.

`Option` carries what an annotation cannot say (description, limits, localizations); `build_option`
reads the parameter and returns an `OptionSpec` whose `convert` is a small closure chosen once, so
that the request path only runs a type check and, for ids, one dict look-up in the resolved data.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from ..models import Attachment, Channel, Member, ResolvedData, Role, User
from .errors import CommandDefinitionError, OptionConversionError
from .validate import MAX_INTEGER, MAX_NUMBER

__all__ = ["Option", "OptionSpec", "build_option"]

Converter = Callable[[object, ResolvedData | None], object]
AutocompleteHandler = Callable[..., Any]

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
TYPE_NAMES = {
    STRING: "text",
    INTEGER: "a whole number",
    BOOLEAN: "true or false",
    USER: "a user",
    CHANNEL: "a channel",
    ROLE: "a role",
    MENTIONABLE: "a user or role",
    NUMBER: "a number",
    ATTACHMENT: "a file",
}
_SIMPLE_TYPES: dict[object, int] = {
    str: STRING,
    int: INTEGER,
    bool: BOOLEAN,
    float: NUMBER,
    User: USER,
    Member: USER,
    Channel: CHANNEL,
    Role: ROLE,
    Attachment: ATTACHMENT,
}


@dataclass(frozen=True, slots=True, eq=False)
class Option:
    """Extra facts about a command option, given with ``Annotated[T, Option(...)]``.

    ``autocomplete`` is True (a handler is registered elsewhere with ``tree.autocomplete``) or the
    autocomplete handler itself, ``handler(ctx, value)``.
    """

    description: str | None = None
    _: KW_ONLY
    name: str | None = None
    min_value: int | float | None = None
    max_value: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    channel_types: Sequence[int] | None = None
    autocomplete: bool | AutocompleteHandler | None = None
    name_localizations: Mapping[str, str] | None = None
    description_localizations: Mapping[str, str] | None = None


@dataclass(slots=True)
class OptionSpec:
    """A declared option: its JSON fields and how the raw value becomes the handler argument."""

    param: str
    name: str
    type: int
    description: str
    required: bool
    convert: Converter
    pass_none: bool = False
    choices: list[dict[str, Any]] | None = None
    min_value: int | float | None = None
    max_value: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    channel_types: list[int] | None = None
    autocomplete: bool = False
    autocomplete_handler: AutocompleteHandler | None = None
    name_localizations: dict[str, str] | None = None
    description_localizations: dict[str, str] | None = None

    def to_payload(self, autocomplete: bool = False) -> dict[str, Any]:
        """The option object for Discord; `autocomplete` marks it even if not declared here."""
        out: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "description": self.description,
        }
        if self.required:
            out["required"] = True
        if self.choices is not None:
            out["choices"] = [dict(c) for c in self.choices]
        for key in ("min_value", "max_value", "min_length", "max_length"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.channel_types is not None:
            out["channel_types"] = list(self.channel_types)
        if self.autocomplete or autocomplete:
            out["autocomplete"] = True
        if self.name_localizations:
            out["name_localizations"] = dict(self.name_localizations)
        if self.description_localizations:
            out["description_localizations"] = dict(self.description_localizations)
        return out


# -- converters -------------------------------------------------------------------------------


def _fail(name: str, otype: int) -> OptionConversionError:
    return OptionConversionError(name, f"expected {TYPE_NAMES.get(otype, 'another value')}")


def _as_id(value: object) -> int | None:
    if type(value) is str and value.isdigit():
        return int(value)
    if type(value) is int:
        return value
    return None


def _string_converter(name: str, min_length: int | None, max_length: int | None) -> Converter:
    if min_length is None and max_length is None:

        def convert(value: object, resolved: ResolvedData | None) -> object:
            if type(value) is str:
                return value
            raise _fail(name, STRING)

        return convert
    low = min_length or 0
    high = max_length if max_length is not None else 1 << 62

    def convert_bounded(value: object, resolved: ResolvedData | None) -> object:
        if type(value) is not str:
            raise _fail(name, STRING)
        if not low <= len(value) <= high:
            raise OptionConversionError(name, f"length must be between {low} and {high}")
        return value

    return convert_bounded


def _number_converter(name: str, otype: int, low: float | None, high: float | None) -> Converter:
    if otype == INTEGER:
        lo = low if low is not None else -MAX_INTEGER
        hi = high if high is not None else MAX_INTEGER

        def convert_int(value: object, resolved: ResolvedData | None) -> object:
            if type(value) is not int:
                if type(value) is float and value.is_integer():
                    value = int(value)
                else:
                    raise _fail(name, INTEGER)
            if not lo <= value <= hi:
                raise OptionConversionError(name, f"must be between {lo} and {hi}")
            return value

        return convert_int
    flo = low if low is not None else -MAX_NUMBER
    fhi = high if high is not None else MAX_NUMBER

    def convert_float(value: object, resolved: ResolvedData | None) -> object:
        if type(value) is not float:
            if type(value) is not int:
                raise _fail(name, NUMBER)
            value = float(value)
        if not flo <= value <= fhi:
            raise OptionConversionError(name, f"must be between {flo:g} and {fhi:g}")
        return value

    return convert_float


def _bool_converter(name: str) -> Converter:
    def convert(value: object, resolved: ResolvedData | None) -> object:
        if type(value) is bool:
            return value
        raise _fail(name, BOOLEAN)

    return convert


def _choice_converter(name: str, otype: int, mapping: Mapping[object, object]) -> Converter:
    base = (
        _string_converter(name, None, None)
        if otype == STRING
        else _number_converter(name, otype, None, None)
    )

    def convert(value: object, resolved: ResolvedData | None) -> object:
        value = base(value, resolved)
        try:
            return mapping[value]
        except (KeyError, TypeError):
            raise OptionConversionError(name, f"{value!r} is not one of the choices") from None

    return convert


def _resolved_converter(
    name: str,
    otype: int,
    accepts: frozenset[type],
    channel_types: frozenset[int] | None,
) -> Converter:
    want_member = Member in accepts
    want_user = User in accepts
    want_role = Role in accepts

    def lookup(resolved: ResolvedData, object_id: int) -> object:
        if otype == CHANNEL:
            return resolved.channels.get(object_id)
        if otype == ATTACHMENT:
            return resolved.attachments.get(object_id)
        if want_member and object_id in resolved.members:
            return resolved.member(object_id)
        if want_user:
            user = resolved.users.get(object_id)
            if user is not None:
                return user
        if want_role:
            return resolved.roles.get(object_id)
        return None

    def convert(value: object, resolved: ResolvedData | None) -> object:
        object_id = _as_id(value)
        if object_id is None:
            raise _fail(name, otype)
        found = lookup(resolved, object_id) if resolved is not None else None
        if found is None:
            if want_member and not want_user and not want_role:
                raise OptionConversionError(name, "expected a member of this server")
            raise OptionConversionError(name, f"{TYPE_NAMES[otype]} that Discord did not resolve")
        if (
            channel_types is not None
            and isinstance(found, Channel)
            and found.type not in channel_types
        ):
            raise OptionConversionError(name, "this kind of channel is not allowed here")
        return found

    return convert


# -- annotation analysis ------------------------------------------------------------------------


def _is_union(tp: object) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _unwrap(annotation: object) -> tuple[object, Option | None, bool]:
    """Strip Annotated and Optional: (base type, Option metadata, whether None was allowed)."""
    option: Option | None = None
    nullable = False
    for _ in range(4):
        if get_origin(annotation) is Annotated:
            base, *extras = get_args(annotation)
            for extra in extras:
                if isinstance(extra, Option):
                    option = extra
            annotation = base
            continue
        if _is_union(annotation):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != len(get_args(annotation)):
                nullable = True
                annotation = args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
                continue
        break
    return annotation, option, nullable


def _choices_from(
    base: object, where: str
) -> tuple[int, list[dict[str, Any]], dict[object, object]] | None:
    """For Literal[...] and Enum types: (option type, choice JSON, raw value -> argument)."""
    if get_origin(base) is Literal:
        values = list(get_args(base))
        pairs = [(str(v), v, v) for v in values]
    elif isinstance(base, type) and issubclass(base, enum.Enum):
        members = list(base)
        pairs = [(m.name, m.value, m) for m in members]
        values = [m.value for m in members]
    else:
        return None
    if not values:
        raise CommandDefinitionError(f"{where}: no choices")
    if all(type(v) is str for v in values):
        otype = STRING
    elif all(type(v) is int for v in values):
        otype = INTEGER
    elif all(type(v) in (int, float) for v in values):
        otype = NUMBER
    else:
        raise CommandDefinitionError(
            f"{where}: choices must be all strings, all ints or all numbers (got {values!r})"
        )
    choices = [{"name": label, "value": value} for label, value, _ in pairs]
    mapping = {value: arg for _, value, arg in pairs}
    return otype, choices, mapping


def _entity_types(base: object) -> frozenset[type] | None:
    """For User/Member/Role/Channel/Attachment and unions of User, Member, Role."""
    members = get_args(base) if _is_union(base) else (base,)
    if not members or not all(isinstance(m, type) for m in members):
        return None
    found = frozenset(typing.cast(tuple[type, ...], members))
    if len(found) == 1 and next(iter(found)) in (User, Member, Role, Channel, Attachment):
        return found
    if found <= {User, Member, Role}:
        return found
    return None


def build_option(
    param: inspect.Parameter, annotation: object, where: str, description: str | None
) -> OptionSpec:
    """Declare the option for one handler parameter; raise CommandDefinitionError if unsupported."""
    if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        raise CommandDefinitionError(f"{where}: *args/**kwargs ({param.name}) cannot be options")
    if param.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise CommandDefinitionError(f"{where}: parameter {param.name!r} cannot be positional-only")
    if annotation is inspect.Parameter.empty:
        annotation = str
    base, option, nullable = _unwrap(annotation)
    option = option or Option()
    name = option.name or param.name
    label = f"{where} option {name!r}"
    has_default = param.default is not inspect.Parameter.empty
    required = not has_default and not nullable
    choices: list[dict[str, Any]] | None = None
    if option.channel_types is not None and not all(
        isinstance(t, int) and not isinstance(t, bool) for t in option.channel_types
    ):
        raise CommandDefinitionError(f"{label}: channel_types must be ints (ChannelType)")
    channel_types = (
        [int(t) for t in option.channel_types] if option.channel_types is not None else None
    )

    found_choices = _choices_from(base, label)
    if found_choices is not None:
        otype, choices, mapping = found_choices
        convert = _choice_converter(name, otype, mapping)
    elif base in (str, int, float, bool):
        otype = _SIMPLE_TYPES[base]
        if otype == STRING:
            convert = _string_converter(name, option.min_length, option.max_length)
        elif otype == BOOLEAN:
            convert = _bool_converter(name)
        else:
            convert = _number_converter(name, otype, option.min_value, option.max_value)
    else:
        entity = _entity_types(base)
        if entity is None:
            raise CommandDefinitionError(
                f"{label}: unsupported annotation {base!r}; use str, int, float, bool, User, "
                "Member, Channel, Role, Mentionable, Attachment, a Literal or an Enum"
            )
        if len(entity) == 1:
            otype = _SIMPLE_TYPES[next(iter(entity))]
        else:
            otype = MENTIONABLE if Role in entity else USER
        allowed = frozenset(channel_types) if channel_types else None
        convert = _resolved_converter(name, otype, entity, allowed)

    _check_option_fits(option, otype, label)
    if choices is not None and option.autocomplete:
        raise CommandDefinitionError(f"{label}: cannot have both choices and autocomplete")
    autocomplete_handler = option.autocomplete if callable(option.autocomplete) else None
    return OptionSpec(
        param=param.name,
        name=name,
        type=otype,
        description=option.description or description or name,
        required=required,
        convert=convert,
        pass_none=nullable and not has_default,
        choices=choices,
        min_value=option.min_value,
        max_value=option.max_value,
        min_length=option.min_length,
        max_length=option.max_length,
        channel_types=channel_types,
        autocomplete=bool(option.autocomplete),
        autocomplete_handler=autocomplete_handler,
        name_localizations=dict(option.name_localizations or {}) or None,
        description_localizations=dict(option.description_localizations or {}) or None,
    )


def _check_option_fits(option: Option, otype: int, label: str) -> None:
    if (option.min_value is not None or option.max_value is not None) and otype not in (
        INTEGER,
        NUMBER,
    ):
        raise CommandDefinitionError(f"{label}: min_value/max_value need an int or float option")
    for key in ("min_value", "max_value"):
        value = getattr(option, key)
        if value is None:
            continue
        if otype == INTEGER and type(value) is not int:
            raise CommandDefinitionError(f"{label}: {key} must be an int, not {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommandDefinitionError(f"{label}: {key} must be a number, not {value!r}")
        limit = MAX_INTEGER if otype == INTEGER else MAX_NUMBER
        if not -limit <= value <= limit:
            raise CommandDefinitionError(f"{label}: {key} {value!r} is out of Discord's range")
    if (option.min_length is not None or option.max_length is not None) and otype != STRING:
        raise CommandDefinitionError(f"{label}: min_length/max_length need a str option")
    if option.channel_types is not None and otype != CHANNEL:
        raise CommandDefinitionError(f"{label}: channel_types needs a Channel option")
    if option.autocomplete and otype not in (STRING, INTEGER, NUMBER):
        raise CommandDefinitionError(f"{label}: autocomplete needs a str, int or float option")
