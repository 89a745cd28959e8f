"""CommandTree: declares commands, components, autocomplete and modals, and routes interactions to
them.

The app calls `dispatch(ctx)` (from `Dispatcher`, dispatch.py), `payload()` and `handles(type)`.
Routing is a handful of dict look-ups: commands by (command type, full path) then scope;
components and modals by custom_id (exact, then by longest literal prefix); autocomplete by
(command path, focused option).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, ParamSpec, TypeVar

from .declare import (
    Command,
    CommandSettings,
    ContextMenuCommand,
    ErrorHandler,
    Invocable,
)
from .dispatch import INVALID_VALUE_PREFIX, Dispatcher, _Handler
from .errors import CommandDefinitionError
from .group import Group
from .patterns import PatternRouter, compile_pattern
from .validate import (
    COMMAND_TYPE_NAMES,
    MAX_COMMANDS_PER_SCOPE,
    check_command_payload,
    check_scope_counts,
)

__all__ = ["INVALID_VALUE_PREFIX", "CommandTree"]

log = logging.getLogger("asgi_interactions.commands")

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
TopLevel = Command[..., Any] | Group | ContextMenuCommand[..., Any]


class Route(NamedTuple):
    """One row of ``CommandTree.routes()``: what is declared, and which function handles it."""

    kind: str  # command, user command, message command, autocomplete, component, modal
    name: str  # "/echo", "/admin ban reason", a custom_id pattern
    handler: str  # the function's qualified name
    scope: str  # "global", "guild ID", or "" for components, modals and autocomplete


def _name(callback: Any) -> str:
    return f"{getattr(callback, '__module__', '?')}.{getattr(callback, '__qualname__', callback)}"


class CommandTree(Dispatcher):
    """Declarations and routing for the command layer; `InteractionApp` delegates to one."""

    def __init__(self) -> None:
        self._top: dict[int | None, dict[tuple[int, str], TopLevel]] = {}
        self._routes: dict[tuple[int, str], dict[int | None, Invocable]] = {}
        self._autocomplete: dict[tuple[str, str], _Handler] = {}
        self._pending_autocomplete: list[tuple[str, str, _Handler]] = []
        self._components: PatternRouter[_Handler] = PatternRouter("component")
        self._modals: PatternRouter[_Handler] = PatternRouter("modal")

    # -- declaration --

    def command(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        guild_ids: Iterable[int] | None = None,
        default_member_permissions: int | str | None = None,
        contexts: Iterable[int] | None = None,
        integration_types: Iterable[int] | None = None,
        nsfw: bool = False,
        name_localizations: Mapping[str, str] | None = None,
        description_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> Callable[[Callable[P, R]], Command[P, R]]:
        """Decorator: declare a slash command; options come from the handler's parameters."""

        def register(handler: Callable[P, R]) -> Command[P, R]:
            where = f"slash command {name or getattr(handler, '__name__', '?')!r}"
            settings = CommandSettings(
                where,
                guild_ids=guild_ids,
                default_member_permissions=default_member_permissions,
                contexts=contexts,
                integration_types=integration_types,
                nsfw=nsfw,
            )
            command = Command(
                handler,
                name=name,
                description=description,
                settings=settings,
                name_localizations=name_localizations,
                description_localizations=description_localizations,
                error_handler=error_handler,
            )
            check_command_payload(command.to_payload())
            self._add_top(command, settings)
            self._add_route(command, settings)
            return command

        return register

    def group(
        self,
        name: str,
        *,
        description: str | None = None,
        guild_ids: Iterable[int] | None = None,
        default_member_permissions: int | str | None = None,
        contexts: Iterable[int] | None = None,
        integration_types: Iterable[int] | None = None,
        nsfw: bool = False,
        name_localizations: Mapping[str, str] | None = None,
        description_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> Group:
        """Declare a group: subcommands via ``.command()``, one nested group via ``.group()``."""
        settings = CommandSettings(
            f"slash command group {name!r}",
            guild_ids=guild_ids,
            default_member_permissions=default_member_permissions,
            contexts=contexts,
            integration_types=integration_types,
            nsfw=nsfw,
        )
        group = Group(
            name,
            description=description,
            settings=settings,
            name_localizations=name_localizations,
            description_localizations=description_localizations,
            error_handler=error_handler,
            on_add=self._add_subcommand,
        )
        self._add_top(group, settings)
        return group

    def user_command(
        self,
        name: str | None = None,
        *,
        guild_ids: Iterable[int] | None = None,
        default_member_permissions: int | str | None = None,
        contexts: Iterable[int] | None = None,
        integration_types: Iterable[int] | None = None,
        nsfw: bool = False,
        name_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> Callable[[Callable[P, R]], ContextMenuCommand[P, R]]:
        """Decorator: declare a user context-menu command, ``handler(ctx, user)``."""
        return self._context_menu(
            2,
            name,
            guild_ids,
            default_member_permissions,
            contexts,
            integration_types,
            nsfw,
            name_localizations,
            error_handler,
        )

    def message_command(
        self,
        name: str | None = None,
        *,
        guild_ids: Iterable[int] | None = None,
        default_member_permissions: int | str | None = None,
        contexts: Iterable[int] | None = None,
        integration_types: Iterable[int] | None = None,
        nsfw: bool = False,
        name_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> Callable[[Callable[P, R]], ContextMenuCommand[P, R]]:
        """Decorator: declare a message context-menu command, ``handler(ctx, message)``."""
        return self._context_menu(
            3,
            name,
            guild_ids,
            default_member_permissions,
            contexts,
            integration_types,
            nsfw,
            name_localizations,
            error_handler,
        )

    def _context_menu(
        self,
        command_type: int,
        name: str | None,
        guild_ids: Iterable[int] | None,
        default_member_permissions: int | str | None,
        contexts: Iterable[int] | None,
        integration_types: Iterable[int] | None,
        nsfw: bool,
        name_localizations: Mapping[str, str] | None,
        error_handler: ErrorHandler | None,
    ) -> Callable[[Callable[P, R]], ContextMenuCommand[P, R]]:
        def register(handler: Callable[P, R]) -> ContextMenuCommand[P, R]:
            kind = COMMAND_TYPE_NAMES[command_type]
            settings = CommandSettings(
                f"{kind} command {name or getattr(handler, '__name__', '?')!r}",
                guild_ids=guild_ids,
                default_member_permissions=default_member_permissions,
                contexts=contexts,
                integration_types=integration_types,
                nsfw=nsfw,
            )
            command = ContextMenuCommand(
                handler,
                command_type,
                name=name,
                settings=settings,
                name_localizations=name_localizations,
                error_handler=error_handler,
            )
            check_command_payload(command.to_payload())
            self._add_top(command, settings)
            self._add_route(command, settings)
            return command

        return register

    def component(
        self, pattern: str, *, error_handler: ErrorHandler | None = None
    ) -> Callable[[F], F]:
        """Decorator: handle message components whose custom_id matches `pattern`.

        ``@tree.component("vote:{choice}")`` calls ``handler(ctx, choice="...")``; ``{n:int}``
        passes an int. Select values are ``ctx.values``, or a ``values`` parameter if the handler
        declares one.
        """

        def register(handler: F) -> F:
            where = f"component {pattern!r}"
            entry = _Handler(handler, pattern, error_handler, where)
            names = set(compile_pattern(pattern).names)
            self._check_pattern_params(entry, names, where)
            entry.takes_values = "values" in entry.names and "values" not in names
            missing = entry.required - names - {"values"}
            if missing:
                raise CommandDefinitionError(
                    f"{where}: handler parameters {sorted(missing)} are not in the pattern"
                )
            self._components.add(pattern, entry)
            return handler

        return register

    def modal(self, pattern: str, *, error_handler: ErrorHandler | None = None) -> Callable[[F], F]:
        """Decorator: handle modal submits whose custom_id matches `pattern`.

        The handler gets the pattern's parameters and each submitted field by its custom_id:
        ``handler(ctx, ticket, summary="...", details="...")`` (or ``**fields``).
        """

        def register(handler: F) -> F:
            where = f"modal {pattern!r}"
            entry = _Handler(handler, pattern, error_handler, where)
            self._check_pattern_params(entry, set(compile_pattern(pattern).names), where)
            self._modals.add(pattern, entry)
            return handler

        return register

    def autocomplete(
        self, command: str, option: str, *, error_handler: ErrorHandler | None = None
    ) -> Callable[[F], F]:
        """Decorator: suggest values for one option, ``handler(ctx, value) -> list``.

        `command` is the full path (``"echo"``, ``"admin ban"``, ``"admin roles add"``); `option`
        its name. The handler returns Choices or plain str/int/float values (at most 25 are sent),
        and the option is marked ``autocomplete: true`` in the payload.
        """
        path = " ".join(command.split())

        def register(handler: F) -> F:
            where = f"autocomplete for {path!r} option {option!r}"
            entry = _Handler(handler, f"{path} {option}", error_handler, where)
            self._add_autocomplete(path, option, entry, where)
            return handler

        return register

    @staticmethod
    def _check_pattern_params(entry: _Handler, names: set[str], where: str) -> None:
        if not entry.var_keyword:
            unknown = names - entry.names
            if unknown:
                raise CommandDefinitionError(
                    f"{where}: the handler does not take the pattern's parameters {sorted(unknown)}"
                )

    # -- registration bookkeeping --

    def _add_top(self, entry: TopLevel, settings: CommandSettings) -> None:
        key = (entry.type, entry.name)
        kind = COMMAND_TYPE_NAMES.get(entry.type, "command")
        for scope in settings.scopes:
            existing = self._top.get(scope, {})
            where = "globally" if scope is None else f"in guild {scope}"
            if key in existing:
                raise CommandDefinitionError(
                    f"{kind} command {entry.name!r} is declared twice {where} "
                    f"({existing[key]!r} and {entry!r})"
                )
            limit = MAX_COMMANDS_PER_SCOPE.get(entry.type, 1)
            if sum(1 for t, _ in existing if t == entry.type) >= limit:
                raise CommandDefinitionError(
                    f"{kind} command {entry.name!r}: Discord allows at most {limit} {kind} "
                    f"commands {where}"
                )
        for scope in settings.scopes:
            self._top.setdefault(scope, {})[key] = entry

    def _add_route(
        self, entry: Command[..., Any] | ContextMenuCommand[..., Any], settings: CommandSettings
    ) -> None:
        routes = self._routes.setdefault((entry.type, entry.path), {})
        for scope in settings.scopes:
            routes[scope] = entry
        if isinstance(entry, Command):
            for spec in entry.options:
                if spec.autocomplete_handler is not None:
                    where = f"autocomplete for {entry.path!r} option {spec.name!r}"
                    handler = _Handler(spec.autocomplete_handler, where, None, where)
                    self._add_autocomplete(entry.path, spec.name, handler, where)
        self._link_autocomplete()

    def _add_subcommand(self, command: Command[..., Any]) -> None:
        root = command.parent.root if command.parent is not None else None
        settings = root.settings if root is not None else None
        assert settings is not None
        self._add_route(command, settings)

    def _add_autocomplete(self, path: str, option: str, entry: _Handler, where: str) -> None:
        command = self._command_at(path)
        if command is None:
            self._pending_autocomplete.append((path, option, entry))
        else:
            self._attach_autocomplete(command, path, option, entry)

    def _attach_autocomplete(
        self, command: Command[..., Any], path: str, option: str, entry: _Handler
    ) -> None:
        spec = command.option(option)
        where = f"autocomplete for {path!r} option {option!r}"
        if spec is None:
            raise CommandDefinitionError(f"{where}: the command has no such option")
        if spec.type not in (3, 4, 10):
            raise CommandDefinitionError(f"{where}: only str, int and float options autocomplete")
        if spec.choices is not None:
            raise CommandDefinitionError(f"{where}: the option has fixed choices")
        key = (path, spec.name)
        if key in self._autocomplete and self._autocomplete[key] is not entry:
            raise CommandDefinitionError(f"{where}: two autocomplete handlers")
        self._autocomplete[key] = entry

    def _link_autocomplete(self) -> None:
        """Attach pending autocomplete handlers whose command is now declared."""
        pending, self._pending_autocomplete = self._pending_autocomplete, []
        for index, (path, option, entry) in enumerate(pending):
            command = self._command_at(path)
            if command is None:
                self._pending_autocomplete.append((path, option, entry))
                continue
            try:
                self._attach_autocomplete(command, path, option, entry)
            except CommandDefinitionError:
                self._pending_autocomplete.extend(pending[index + 1 :])
                raise

    def _command_at(self, path: str) -> Command[..., Any] | None:
        found = self._routes.get((1, path))
        if not found:
            return None
        command = next(iter(found.values()))
        return command if isinstance(command, Command) else None

    # -- introspection --

    def get(self, path: str, *, type: int = 1, guild_id: int | None = None) -> Invocable | None:
        """The declared command (or subcommand) at `path` in that scope, or None."""
        found = self._routes.get((type, " ".join(path.split())))
        return found.get(guild_id) if found else None

    def walk(self) -> list[Invocable]:
        """Every invocable command and subcommand, each once."""
        seen: dict[int, Invocable] = {}
        for routes in self._routes.values():
            for entry in routes.values():
                seen.setdefault(id(entry), entry)
        return list(seen.values())

    def routes(self) -> list[Route]:
        """Every declared command, autocomplete, component and modal, as table rows."""
        kinds = {1: "command", 2: "user command", 3: "message command"}
        rows = []
        for (ctype, path), scopes in self._routes.items():
            name = f"/{path}" if ctype == 1 else path
            for scope, entry in scopes.items():
                where = "global" if scope is None else f"guild {scope}"
                rows.append(Route(kinds.get(ctype, str(ctype)), name, _name(entry.callback), where))
        for (path, option), handler in self._autocomplete.items():
            rows.append(Route("autocomplete", f"/{path} {option}", _name(handler.callback), ""))
        for source, handler in self._components.entries():
            rows.append(Route("component", source, _name(handler.callback), ""))
        for source, handler in self._modals.entries():
            rows.append(Route("modal", source, _name(handler.callback), ""))
        return rows

    def handles(self, interaction_type: int) -> bool:
        """Whether anything is declared for that interaction type (2, 3, 4 or 5)."""
        if interaction_type == 2:
            return bool(self._routes)
        if interaction_type == 3:
            return len(self._components) > 0
        if interaction_type == 4:
            return bool(self._autocomplete)
        if interaction_type == 5:
            return len(self._modals) > 0
        return False

    def payload(self) -> dict[int | None, list[dict[str, Any]]]:
        """Scope (None = global, else a guild id) -> the command JSON list for that scope.

        The global scope is always present (an empty list removes stale global commands on sync).
        """
        if self._pending_autocomplete:
            path, option, _ = self._pending_autocomplete[0]
            raise CommandDefinitionError(
                f"autocomplete for {path!r} option {option!r}: no such slash command is declared"
            )
        marked = frozenset(self._autocomplete)
        out: dict[int | None, list[dict[str, Any]]] = {None: []}
        for scope, entries in self._top.items():
            commands = []
            for entry in entries.values():
                if isinstance(entry, Group) and not entry.commands():
                    raise CommandDefinitionError(
                        f"slash command group {entry.name!r} has no subcommands"
                    )
                body = entry.to_payload(marked)
                check_command_payload(body)
                commands.append(body)
            check_scope_counts(commands, scope)
            out[scope] = commands
        return out
