"""Declared commands: slash commands (and subcommands) and user/message context commands.

Each object knows its JSON for Discord and, for the request path, how to turn the received options
into keyword arguments for its handler; everything that can be decided from the signature is decided
here.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar

from .._sync import is_async
from ..models import Member, PartialMessage, ResolvedData, User
from .docstrings import parameter_docs, summary
from .errors import CommandDefinitionError, OptionConversionError
from .options import OptionSpec, build_option
from .validate import (
    check_chat_input_name,
    check_context_menu_name,
    check_description,
    check_localizations,
)

if TYPE_CHECKING:
    from ..models import CommandOption
    from .group import Group

__all__ = [
    "Command",
    "CommandSettings",
    "ContextMenuCommand",
    "ErrorHandler",
    "Invocable",
    "resolve_hints",
]

P = ParamSpec("P")
R = TypeVar("R")
ErrorHandler = Callable[[Any, Exception], Any]
AutocompleteKeys = frozenset[tuple[str, str]]


def resolve_hints(func: Callable[..., Any], where: str) -> dict[str, Any]:
    """The handler's annotations with string annotations evaluated and Annotated kept."""
    target: object = func
    if not (inspect.isfunction(func) or inspect.ismethod(func)):
        target = getattr(func, "__call__", func)  # noqa: B004 - callable objects
    try:
        return typing.get_type_hints(target, include_extras=True)
    except NameError as exc:
        raise CommandDefinitionError(
            f"{where}: cannot evaluate an annotation: {exc}; with `from __future__ import "
            "annotations`, the types used must be importable from the module's globals"
        ) from exc
    except (TypeError, AttributeError):
        return {}  # e.g. a functools.partial: the signature's own annotations are used


def _signature(func: Callable[..., Any], where: str) -> inspect.Signature:
    if not callable(func):
        raise CommandDefinitionError(f"{where}: the handler {func!r} is not callable")
    try:
        return inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise CommandDefinitionError(
            f"{where}: cannot read the handler's signature: {exc}"
        ) from exc


def _after_context(sig: inspect.Signature, where: str) -> list[inspect.Parameter]:
    """The parameters after the first (which must take the Context positionally)."""
    params = list(sig.parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        raise CommandDefinitionError(
            f"{where}: the handler's first parameter must take the Context"
        )
    return params[1:]


class CommandSettings:
    """The settings only a top-level command has: scope, permissions, contexts, age restriction."""

    __slots__ = (
        "contexts",
        "default_member_permissions",
        "guild_ids",
        "integration_types",
        "nsfw",
    )

    def __init__(
        self,
        where: str,
        *,
        guild_ids: Iterable[int] | None = None,
        default_member_permissions: int | str | None = None,
        contexts: Iterable[int] | None = None,
        integration_types: Iterable[int] | None = None,
        nsfw: bool = False,
    ) -> None:
        self.guild_ids: tuple[int, ...] | None = None
        if guild_ids is not None:
            if isinstance(guild_ids, int | str):
                guild_ids = [int(guild_ids)]
            ids = tuple(dict.fromkeys(int(g) for g in guild_ids))
            if not ids or any(g <= 0 for g in ids):
                raise CommandDefinitionError(
                    f"{where}: guild_ids must be positive guild ids (None for a global command)"
                )
            self.guild_ids = ids
        self.default_member_permissions: str | None = None
        if default_member_permissions is not None:
            text = (
                str(int(default_member_permissions))
                if not isinstance(default_member_permissions, str)
                else default_member_permissions
            )
            if not text.isdigit():
                raise CommandDefinitionError(
                    f"{where}: default_member_permissions must be a permission bitset "
                    f"(int or decimal string), not {default_member_permissions!r}"
                )
            self.default_member_permissions = str(int(text))
        self.contexts = self._int_list(contexts, "contexts", where)
        self.integration_types = self._int_list(integration_types, "integration_types", where)
        if self.guild_ids is not None and (
            self.contexts is not None or self.integration_types is not None
        ):
            raise CommandDefinitionError(
                f"{where}: contexts and integration_types apply only to global commands "
                "(drop them or guild_ids)"
            )
        self.nsfw = bool(nsfw)

    @staticmethod
    def _int_list(values: Iterable[int] | None, key: str, where: str) -> list[int] | None:
        if values is None:
            return None
        out = []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CommandDefinitionError(f"{where}: {key} must be non-negative ints")
            out.append(int(value))
        if not out:
            raise CommandDefinitionError(f"{where}: {key} must not be empty (None for the default)")
        return sorted(set(out))

    @property
    def scopes(self) -> tuple[int | None, ...]:
        """None for a global command, else its guild ids."""
        return (None,) if self.guild_ids is None else self.guild_ids

    def fields(self) -> dict[str, Any]:
        """The JSON fields for these settings (defaults left out)."""
        out: dict[str, Any] = {}
        if self.default_member_permissions is not None:
            out["default_member_permissions"] = self.default_member_permissions
        if self.contexts is not None:
            out["contexts"] = list(self.contexts)
        if self.integration_types is not None:
            out["integration_types"] = list(self.integration_types)
        if self.nsfw:
            out["nsfw"] = True
        return out


def _localizations(
    mapping: Mapping[str, str] | None, where: str, what: str, chat_input: bool
) -> dict[str, str] | None:
    if not mapping:
        return None
    check_localizations(mapping, where, what, chat_input_name=chat_input)
    return dict(mapping)


class Invocable:
    """What the router calls: a handler, whether it is async, and its error handler."""

    __slots__ = ("callback", "error_handler", "is_async", "parent")

    callback: Callable[..., Any]
    error_handler: ErrorHandler | None
    is_async: bool
    parent: Group | None

    def find_error_handler(self) -> ErrorHandler | None:
        """This handler's error handler, else the nearest enclosing group's."""
        if self.error_handler is not None:
            return self.error_handler
        group = self.parent
        while group is not None:
            if group.error_handler is not None:
                return group.error_handler
            group = group.parent
        return None

    def error(self, handler: ErrorHandler) -> ErrorHandler:
        """Decorator: set this command's error handler, ``handler(ctx, exc) -> result | None``."""
        self.error_handler = handler
        return handler


class Command(Invocable, Generic[P, R]):
    """A slash command or a subcommand, declared from a typed handler."""

    __slots__ = (
        "_by_name",
        "_none_defaults",
        "_required",
        "description",
        "description_localizations",
        "name",
        "name_localizations",
        "options",
        "path",
        "settings",
    )

    type = 1
    name: str
    path: str

    def __init__(
        self,
        handler: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        parent: Group | None = None,
        settings: CommandSettings | None = None,
        name_localizations: Mapping[str, str] | None = None,
        description_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> None:
        name = name if name is not None else getattr(handler, "__name__", None)
        prefix = f"{parent.path} " if parent is not None else ""
        where = f"slash command {prefix + str(name)!r}"
        check_chat_input_name(name, where)
        assert isinstance(name, str)
        self.name = name
        self.path = prefix + name
        self.parent = parent
        self.callback = handler
        self.is_async = is_async(handler)
        self.error_handler = error_handler
        self.description = description or summary(handler) or name
        check_description(self.description, where)
        self.name_localizations = _localizations(name_localizations, where, "name", True)
        self.description_localizations = _localizations(
            description_localizations, where, "description", False
        )
        self.settings = settings if parent is None else None
        if parent is None and self.settings is None:
            self.settings = CommandSettings(where)

        sig = _signature(handler, where)
        hints = resolve_hints(handler, where)
        docs = parameter_docs(handler)
        self.options: list[OptionSpec] = [
            build_option(p, hints.get(p.name, p.annotation), where, docs.get(p.name))
            for p in _after_context(sig, where)
        ]
        self._by_name = {o.name: o for o in self.options}
        if len(self._by_name) != len(self.options):
            raise CommandDefinitionError(f"{where}: two options have the same name")
        self._none_defaults = {o.param: None for o in self.options if o.pass_none}
        self._required = frozenset(o.name for o in self.options if o.required)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the handler directly (for tests and reuse)."""
        return typing.cast(R, self.callback(*args, **kwargs))

    def __repr__(self) -> str:
        return f"<Command {self.path!r}>"

    def option(self, name: str) -> OptionSpec | None:
        """The option with that Discord name (or handler parameter name)."""
        found = self._by_name.get(name)
        if found is None:
            found = next((o for o in self.options if o.param == name), None)
        return found

    def convert(
        self, options: Sequence[CommandOption], resolved: ResolvedData | None
    ) -> dict[str, Any]:
        """Keyword arguments for the handler; raises OptionConversionError for a bad value."""
        kwargs: dict[str, Any] = dict(self._none_defaults) if self._none_defaults else {}
        by_name = self._by_name
        seen = 0
        for option in options:
            spec = by_name.get(option.name)
            if spec is None:
                continue  # an option Discord still has from an older declaration
            value = option.value
            if value is None:
                if spec.required:
                    raise OptionConversionError(spec.name, "a value is required")
                continue
            kwargs[spec.param] = spec.convert(value, resolved)
            if spec.required:
                seen += 1
        if seen != len(self._required):
            missing = sorted(self._required - {o.name for o in options})
            raise OptionConversionError(missing[0], "a value is required")
        return kwargs

    def option_payloads(self, autocompletes: AutocompleteKeys) -> list[dict[str, Any]]:
        """The JSON of this command's options, marking those with an autocomplete handler."""
        path = self.path
        return [o.to_payload((path, o.name) in autocompletes) for o in self.options]

    def to_payload(self, autocompletes: AutocompleteKeys = frozenset()) -> dict[str, Any]:
        """The command JSON (top level) or the subcommand option JSON (inside a group)."""
        out: dict[str, Any] = {"type": 1, "name": self.name, "description": self.description}
        return _complete_payload(out, self.option_payloads(autocompletes), self)


class ContextMenuCommand(Invocable, Generic[P, R]):
    """A user (type 2) or message (type 3) context-menu command: ``handler(ctx, target)``."""

    __slots__ = ("_target", "name", "name_localizations", "path", "settings", "type")

    def __init__(
        self,
        handler: Callable[P, R],
        command_type: int,
        *,
        name: str | None = None,
        settings: CommandSettings | None = None,
        name_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> None:
        kind = "user" if command_type == 2 else "message"
        name = name if name is not None else getattr(handler, "__name__", None)
        where = f"{kind} command {name!r}"
        check_context_menu_name(name, where)
        assert isinstance(name, str)
        self.type = command_type
        self.name = name
        self.path = name
        self.parent = None
        self.callback = handler
        self.is_async = is_async(handler)
        self.error_handler = error_handler
        self.settings = settings or CommandSettings(where)
        self.name_localizations = _localizations(name_localizations, where, "name", False)
        sig = _signature(handler, where)
        rest = _after_context(sig, where)
        if not rest or rest[0].kind is inspect.Parameter.VAR_KEYWORD:
            raise CommandDefinitionError(
                f"{where}: the handler must take (ctx, {kind}) - the targeted {kind}"
            )
        required_extra = [
            p
            for p in rest[1:]
            if p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        if required_extra:
            raise CommandDefinitionError(
                f"{where}: the handler takes only (ctx, {kind}); "
                f"{required_extra[0].name!r} has no default"
            )
        hint = resolve_hints(handler, where).get(rest[0].name, rest[0].annotation)
        self._target = self._target_kind(hint)

    @staticmethod
    def _target_kind(hint: object) -> str:
        if hint is Member:
            return "member"
        args = typing.get_args(hint)
        if Member in args:
            return "user_or_member"
        return "user"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the handler directly."""
        return typing.cast(R, self.callback(*args, **kwargs))

    def __repr__(self) -> str:
        return f"<ContextMenuCommand type={self.type} {self.name!r}>"

    def target(self, target_id: int | None, resolved: ResolvedData | None) -> object:
        """The targeted user/member or message; raises OptionConversionError if unresolved."""
        label = "user" if self.type == 2 else "message"
        found: User | Member | PartialMessage | None = None
        if target_id is not None and resolved is not None:
            if self.type == 3:
                found = resolved.messages.get(target_id)
            elif self._target == "member":
                found = resolved.member(target_id)
            elif self._target == "user_or_member":
                found = resolved.user_or_member(target_id)
            else:
                found = resolved.users.get(target_id)
        if found is None:
            if self._target == "member" and self.type == 2:
                raise OptionConversionError(label, "this command works only on server members")
            raise OptionConversionError(label, f"Discord did not send the targeted {label}")
        return found

    def to_payload(self, autocompletes: AutocompleteKeys = frozenset()) -> dict[str, Any]:
        """The command JSON (no description or options, as Discord requires)."""
        out: dict[str, Any] = {"type": self.type, "name": self.name}
        if self.name_localizations:
            out["name_localizations"] = dict(self.name_localizations)
        out.update(self.settings.fields())
        return out


class _Localized(Protocol):
    @property
    def name_localizations(self) -> Mapping[str, str] | None: ...
    @property
    def description_localizations(self) -> Mapping[str, str] | None: ...
    @property
    def settings(self) -> CommandSettings | None: ...


def _complete_payload(
    out: dict[str, Any], options: list[dict[str, Any]], source: _Localized
) -> dict[str, Any]:
    """Add the parts a command and a group share: options, localizations, command settings."""
    if options:
        out["options"] = options
    if source.name_localizations:
        out["name_localizations"] = dict(source.name_localizations)
    if source.description_localizations:
        out["description_localizations"] = dict(source.description_localizations)
    if source.settings is not None:
        out.update(source.settings.fields())
    return out
