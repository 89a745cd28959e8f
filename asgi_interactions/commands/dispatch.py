"""Routing an interaction to its handler: the command layer's hot path.

``CommandTree`` (tree.py) declares and registers; ``Dispatcher``, its base, finds the handler in
its routing tables (commands by (command type, full path) then scope; components and modals by
custom_id; autocomplete by (command path, focused option)), converts the options and runs it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from .._sync import is_async, run_in_thread
from ..errors import HandlerNotFound
from ..models import ApplicationCommandData, ComponentData, ModalSubmitData
from .declare import Command, ContextMenuCommand, ErrorHandler, Invocable
from .errors import CommandDefinitionError, OptionConversionError
from .patterns import PatternRouter
from .validate import COMMAND_TYPE_NAMES, MAX_CHOICES

__all__ = ["INVALID_VALUE_PREFIX", "Dispatcher"]

log = logging.getLogger("asgi_interactions.commands")

_GROUP_TYPES = (1, 2)


class _Handler:
    """A component, modal or autocomplete handler with what was learned from its signature."""

    __slots__ = (
        "callback",
        "error_handler",
        "is_async",
        "names",
        "required",
        "source",
        "takes_values",
        "var_keyword",
    )

    def __init__(
        self,
        callback: Callable[..., Any],
        source: str,
        error_handler: ErrorHandler | None,
        where: str,
    ) -> None:
        if not callable(callback):
            raise CommandDefinitionError(f"{where}: the handler {callback!r} is not callable")
        try:
            params = list(inspect.signature(callback).parameters.values())
        except (TypeError, ValueError) as exc:
            raise CommandDefinitionError(f"{where}: cannot read the handler's signature") from exc
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if not params or params[0].kind not in positional:
            raise CommandDefinitionError(
                f"{where}: the handler's first parameter must take the Context"
            )
        rest = params[1:]
        self.callback = callback
        self.source = source
        self.error_handler = error_handler
        self.is_async = is_async(callback)
        self.var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in rest)
        self.names = frozenset(
            p.name
            for p in rest
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        )
        self.required = frozenset(
            p.name
            for p in rest
            if p.default is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        )
        self.takes_values = False

    def find_error_handler(self) -> ErrorHandler | None:
        return self.error_handler


_PLAIN = frozenset((str, type(None), dict, list))  # common results, never awaitable


async def _call(
    entry: Invocable | _Handler, ctx: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run a handler (a plain function in a worker thread); on an exception give its error
    handler a chance to answer."""
    try:
        if entry.is_async:
            result = await entry.callback(ctx, *args, **kwargs)
        else:
            result = await run_in_thread(entry.callback, ctx, *args, **kwargs)
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            result = await result
        return result
    except Exception as exc:
        return await _answer_error(entry, ctx, exc)


async def _answer_error(entry: Invocable | _Handler, ctx: Any, exc: Exception) -> Any:
    """The error handler's answer to ``exc``; re-raises ``exc`` if there is none."""
    handler = entry.find_error_handler()
    if handler is None:
        raise exc
    if is_async(handler):
        answer = await handler(ctx, exc)
    else:
        answer = await run_in_thread(handler, ctx, exc)
    if inspect.isawaitable(answer):
        answer = await answer
    if answer is None:
        raise exc
    return answer


#: How the answer to an option value that does not convert begins (the CLI recognises it).
INVALID_VALUE_PREFIX = "Invalid value for `"


def _conversion_message(exc: OptionConversionError) -> Any:
    from ..responses import Message

    text = f"{INVALID_VALUE_PREFIX}{exc.option}`: {exc.reason}."
    return Message(content=text, ephemeral=True)


class Dispatcher:
    """Runs the handler an interaction is for; ``CommandTree`` fills the tables."""

    _routes: dict[tuple[int, str], dict[int | None, Invocable]]
    _autocomplete: dict[tuple[str, str], _Handler]
    _components: PatternRouter[_Handler]
    _modals: PatternRouter[_Handler]

    async def dispatch(self, ctx: Any) -> object:
        """Run the handler for ``ctx.interaction`` and return its result.

        Raises HandlerNotFound when nothing matches; a handler's exception propagates unless its
        error handler returns a result. An option value that does not fit gives an ephemeral
        message.
        """
        interaction = ctx.interaction
        itype = interaction.type
        data = interaction.data
        if itype == 2 and isinstance(data, ApplicationCommandData):
            # The commonest path, in this one frame: routing, option conversion, and an async
            # handler called as ``_call`` would.
            ctype = data.type
            path = data.name
            options = data.options
            if ctype != 1:
                options = []
            elif options and options[0].type in _GROUP_TYPES:
                path, options = self._leaf(data)
            entry = self._find_command(ctype, path, data.guild_id)
            try:
                if isinstance(entry, Command):
                    kwargs = entry.convert(options, data.resolved)
                    args: tuple[Any, ...] = ()
                else:
                    assert isinstance(entry, ContextMenuCommand)
                    args = (entry.target(data.target_id, data.resolved),)
                    kwargs = {}
            except OptionConversionError as exc:
                log.debug("command %r: %s", path, exc)
                return _conversion_message(exc)
            if not entry.is_async:
                return await _call(entry, ctx, args, kwargs)
            try:
                result = await entry.callback(ctx, *args, **kwargs)
                if type(result) not in _PLAIN and inspect.isawaitable(result):
                    result = await result
                return result
            except Exception as exc:
                return await _answer_error(entry, ctx, exc)
        if itype == 3 and isinstance(data, ComponentData):
            return await self._dispatch_component(ctx, data)
        if itype == 4 and isinstance(data, ApplicationCommandData):
            return await self._dispatch_autocomplete(ctx, data)
        if itype == 5 and isinstance(data, ModalSubmitData):
            return await self._dispatch_modal(ctx, data)
        raise HandlerNotFound(f"no handler for interaction type {itype} with this data")

    @staticmethod
    def _leaf(data: ApplicationCommandData) -> tuple[str, list[Any]]:
        path = data.name
        options = data.options
        if options and options[0].type in _GROUP_TYPES:
            first = options[0]
            path = f"{path} {first.name}"
            options = first.options
            if options and options[0].type == 1:
                path = f"{path} {options[0].name}"
                options = options[0].options
        return path, options

    def _find_command(self, ctype: int, path: str, guild_id: int | None) -> Invocable:
        routes = self._routes.get((ctype, path))
        if routes:
            found = routes.get(guild_id) if guild_id is not None else None
            if found is None:
                found = routes.get(None) or next(iter(routes.values()))
            return found
        kind = COMMAND_TYPE_NAMES.get(ctype, f"type {ctype}")
        raise HandlerNotFound(f"no handler for {kind} command {path!r}")

    async def _dispatch_autocomplete(self, ctx: Any, data: ApplicationCommandData) -> object:
        path, options = self._leaf(data)
        focused = None
        for option in options:
            if option.focused:
                focused = option
                break
        if focused is None:
            raise HandlerNotFound(f"autocomplete for {path!r} without a focused option")
        entry = self._autocomplete.get((path, focused.name))
        if entry is None:
            raise HandlerNotFound(f"no autocomplete handler for {path!r} option {focused.name!r}")
        result = await _call(entry, ctx, (focused.value,), {})
        if result is None:
            return []
        if isinstance(result, list | tuple) and len(result) > MAX_CHOICES:
            return list(result[:MAX_CHOICES])
        return result

    async def _dispatch_component(self, ctx: Any, data: ComponentData) -> object:
        found = self._components.find(data.custom_id)
        if found is None:
            raise HandlerNotFound(f"no component handler for custom_id {data.custom_id!r}")
        entry, params = found
        if entry.takes_values:
            params["values"] = list(data.values or ())
        return await _call(entry, ctx, (), params)

    async def _dispatch_modal(self, ctx: Any, data: ModalSubmitData) -> object:
        found = self._modals.find(data.custom_id)
        if found is None:
            raise HandlerNotFound(f"no modal handler for custom_id {data.custom_id!r}")
        entry, params = found
        values = data.values()
        if entry.var_keyword:
            kwargs = {**values, **params}
        else:
            names = entry.names
            kwargs = {k: v for k, v in values.items() if k in names}
            kwargs.update(params)
        missing = entry.required - kwargs.keys()
        if missing:
            raise TypeError(
                f"modal handler for {entry.source!r} needs fields {sorted(missing)} that the "
                f"submitted modal {data.custom_id!r} does not have"
            )
        return await _call(entry, ctx, (), kwargs)
