"""Base model and field types shared by every Discord payload model.

Snowflakes and permission bitsets arrive as decimal strings; in Python they are ``int`` and they
are written back as strings in JSON mode, all inside pydantic-core (no Python validators).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    GetPydanticSchema,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import core_schema

__all__ = ["DiscordModel", "OrEmpty", "OrNone", "Permissions", "Snowflake"]

log = logging.getLogger("asgi_interactions.models")

_STRINGY_INT = GetPydanticSchema(
    lambda _source, _handler: core_schema.int_schema(
        serialization=core_schema.to_string_ser_schema(when_used="json-unless-none")
    )
)

Snowflake = Annotated[int, _STRINGY_INT]
"""A Discord id: ``int`` in Python, parsed from a JSON string or number, serialised as a string."""

Permissions = Annotated[int, _STRINGY_INT]
"""A permission bitset: ``int`` in Python, a decimal string in JSON (values exceed 32 bits)."""


class DiscordModel(BaseModel):
    """Base of every received payload model: tolerant of fields Discord adds later."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


_warned: set[str] = set()


def _unreadable(exc: ValidationError, info: ValidationInfo) -> None:
    """Warn once per field: never with the input (it may hold personal data or a token)."""
    where = info.field_name or "?"
    if where in _warned:
        return
    _warned.add(where)
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    path = ".".join(str(p) for p in first["loc"]) or "(the object)"
    log.warning(
        "an interaction's %r could not be read (%s: %s) and is left out; "
        "further ones are left out silently",
        where,
        path,
        first["msg"],
    )


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        _unreadable(exc, info)
        return None


def _or_empty(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        _unreadable(exc, info)
        return []


OrNone = WrapValidator(_or_none)
"""On an optional nested object of a signed interaction (``user``, ``member``, ``channel``...):
one Discord sent but that cannot be read (a docs placeholder ``{}``, a redacted id) becomes None,
with one warning, instead of refusing the whole interaction with a 400."""

OrEmpty = WrapValidator(_or_empty)
"""The same for a list field: an unreadable list becomes empty."""
