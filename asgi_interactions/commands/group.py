"""Slash command groups: ``/admin ...`` and one nested level (``/admin roles ...``).

A group holds subcommands (and at most one level of nested groups), checks the whole command's
JSON as each child is attached, and hands every new subcommand to the tree's ``on_add`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from .declare import (
    AutocompleteKeys,
    Command,
    CommandSettings,
    ErrorHandler,
    _complete_payload,
    _localizations,
)
from .errors import CommandDefinitionError
from .validate import check_chat_input_name, check_command_payload, check_description

__all__ = ["Group"]

P = ParamSpec("P")
R = TypeVar("R")


class Group:
    """A slash command group (``/admin ...``) or one nested group (``/admin roles ...``)."""

    type = 1
    name: str
    path: str
    parent: Group | None
    _on_add: Callable[[Command[..., Any]], None] | None

    __slots__ = (
        "_on_add",
        "children",
        "description",
        "description_localizations",
        "error_handler",
        "name",
        "name_localizations",
        "parent",
        "path",
        "settings",
    )

    def __init__(
        self,
        name: str,
        *,
        description: str | None = None,
        parent: Group | None = None,
        settings: CommandSettings | None = None,
        name_localizations: Mapping[str, str] | None = None,
        description_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
        on_add: Callable[[Command[..., Any]], None] | None = None,
    ) -> None:
        prefix = f"{parent.path} " if parent is not None else ""
        where = f"slash command group {prefix + str(name)!r}"
        check_chat_input_name(name, where)
        if parent is not None and parent.parent is not None:
            raise CommandDefinitionError(
                f"{where}: groups nest only one level (command -> group -> subcommand)"
            )
        self.name = name
        self.path = prefix + name
        self.parent = parent
        self.description = description or name
        check_description(self.description, where)
        self.name_localizations = _localizations(name_localizations, where, "name", True)
        self.description_localizations = _localizations(
            description_localizations, where, "description", False
        )
        self.settings = settings if parent is None else None
        if parent is None and self.settings is None:
            self.settings = CommandSettings(where)
        self.error_handler = error_handler
        self.children: dict[str, Command[..., Any] | Group] = {}
        self._on_add = on_add if parent is None else parent._on_add

    def __repr__(self) -> str:
        return f"<Group {self.path!r}>"

    @property
    def root(self) -> Group:
        """The top-level group."""
        return self.parent if self.parent is not None else self

    def _attach(self, child: Command[..., Any] | Group) -> None:
        if child.name in self.children:
            raise CommandDefinitionError(
                f"slash command group {self.path!r}: two entries named {child.name!r}"
            )
        self.children[child.name] = child
        try:
            check_command_payload(self.root.to_payload(), complete=False)
        except CommandDefinitionError:
            del self.children[child.name]
            raise

    def command(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        name_localizations: Mapping[str, str] | None = None,
        description_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> Callable[[Callable[P, R]], Command[P, R]]:
        """Decorator: declare a subcommand of this group from a typed handler."""

        def register(handler: Callable[P, R]) -> Command[P, R]:
            command = Command(
                handler,
                name=name,
                description=description,
                parent=self,
                name_localizations=name_localizations,
                description_localizations=description_localizations,
                error_handler=error_handler,
            )
            self._attach(command)
            if self._on_add is not None:
                self._on_add(command)
            return command

        return register

    def group(
        self,
        name: str,
        *,
        description: str | None = None,
        name_localizations: Mapping[str, str] | None = None,
        description_localizations: Mapping[str, str] | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> Group:
        """Declare a nested group (one level only): ``/parent name subcommand``."""
        group = Group(
            name,
            description=description,
            parent=self,
            name_localizations=name_localizations,
            description_localizations=description_localizations,
            error_handler=error_handler,
        )
        self._attach(group)
        return group

    def commands(self) -> list[Command[..., Any]]:
        """Every subcommand below this group, nested groups included."""
        found: list[Command[..., Any]] = []
        for child in self.children.values():
            if isinstance(child, Group):
                found.extend(child.commands())
            else:
                found.append(child)
        return found

    def to_payload(self, autocompletes: AutocompleteKeys = frozenset()) -> dict[str, Any]:
        """The command JSON (top level) or the subcommand-group option JSON (nested)."""
        out: dict[str, Any] = {
            "type": 1 if self.parent is None else 2,
            "name": self.name,
            "description": self.description,
        }
        options = [child.to_payload(autocompletes) for child in self.children.values()]
        return _complete_payload(out, options, self)
