"""Base model and field types shared by every Discord payload model.

Snowflakes and permission bitsets arrive as decimal strings; in Python they are ``int`` and they
are written back as strings in JSON mode, all inside pydantic-core (no Python validators).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, GetPydanticSchema
from pydantic_core import core_schema

__all__ = ["DiscordModel", "Permissions", "Snowflake"]

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
