"""Top-level component lists of messages and modals: auto-wrapping, counting, custom_id checks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..models.enums import ComponentType
from ._checks import check_count
from .components import (
    ActionRow,
    AnyComponent,
    Button,
    Component,
    Label,
    SelectMenu,
    TextInput,
)
from .errors import InvalidResponseError

__all__ = ["MAX_ACTION_ROWS", "MAX_V2_COMPONENTS", "check_message_components", "wrap_in_rows"]

MAX_ACTION_ROWS = 5
MAX_V2_COMPONENTS = 40


def wrap_in_rows(components: Iterable[AnyComponent]) -> list[AnyComponent]:
    """Put bare buttons (up to 5 per row, in order) and bare selects (1 per row) into ActionRows."""
    result: list[AnyComponent] = []
    pending: list[AnyComponent] = []
    for component in components:
        if isinstance(component, Button):
            pending.append(component)
            if len(pending) == 5:
                result.append(ActionRow(*pending))
                pending = []
            continue
        if pending:
            result.append(ActionRow(*pending))
            pending = []
        result.append(ActionRow(component) if isinstance(component, SelectMenu) else component)
    if pending:
        result.append(ActionRow(*pending))
    return result


def _children(component: AnyComponent) -> Iterator[AnyComponent]:
    """Nested components of a builder or raw dict (rows, sections, containers, labels)."""
    if isinstance(component, ActionRow):
        yield from component.components
    elif isinstance(component, Label):
        yield component.component
    elif isinstance(component, Mapping):
        nested = component.get("components")
        if isinstance(nested, list):
            yield from nested
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, Mapping):
                yield child


def _custom_id(component: AnyComponent) -> str | None:
    if isinstance(component, Component):
        value = getattr(component, "custom_id", None)
    else:
        value = component.get("custom_id")
    return value if isinstance(value, str) else None


def walk(components: Iterable[AnyComponent]) -> Iterator[AnyComponent]:
    """Every component, depth first, nested ones included."""
    stack = list(components)
    stack.reverse()
    while stack:
        component = stack.pop()
        yield component
        nested = list(_children(component))
        nested.reverse()
        stack.extend(nested)


def check_unique_custom_ids(components: Iterable[AnyComponent], where: str) -> None:
    """Discord requires custom_ids to be unique within a message or modal."""
    seen: set[str] = set()
    for component in walk(components):
        custom_id = _custom_id(component)
        if custom_id is None:
            continue
        if custom_id in seen:
            raise InvalidResponseError(f"custom_id {custom_id!r} is used twice in the {where}")
        seen.add(custom_id)


def check_message_components(components: list[AnyComponent], *, v2: bool) -> None:
    """Legacy messages: at most 5 top-level action rows. V2: at most 40 components in total."""
    if v2:
        check_count("components in a Components V2 message", sum(1 for _ in walk(components)), 40)
    else:
        check_count("action rows in a message", len(components), MAX_ACTION_ROWS)
        for component in components:
            kind = component.type if isinstance(component, Component) else component.get("type")
            if isinstance(component, TextInput | Label):
                raise InvalidResponseError("text inputs and labels belong in modals, not messages")
            if kind != ComponentType.ACTION_ROW and not isinstance(component, Mapping):
                raise InvalidResponseError(
                    f"top-level message components must be action rows (got type {kind}); "
                    "set flags=MessageFlags.IS_COMPONENTS_V2 for layout components"
                )
    check_unique_custom_ids(components, "message")


def modal_component(component: Any) -> AnyComponent:
    """Check one top-level modal component (Label, TextInput, TextDisplay, legacy row, dict)."""
    if isinstance(component, SelectMenu | Button):
        raise InvalidResponseError(
            "selects in a modal go inside Label(label, SelectMenu(...)); buttons are not allowed"
        )
    if not isinstance(component, Component | Mapping):
        raise TypeError(f"expected a modal component or a dict, got {type(component).__name__}")
    return component
