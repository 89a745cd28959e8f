"""Small limit checks shared by the response builders; each raises ResponseLimitError."""

from __future__ import annotations

from .errors import ResponseLimitError

__all__ = ["check_count", "check_length", "check_range"]


def check_length(limit: str, value: str | None, maximum: int, minimum: int = 0) -> None:
    """Check ``minimum <= len(value) <= maximum`` (None passes); ``limit`` names the field."""
    if value is None:
        return
    length = len(value)
    if length > maximum or length < minimum:
        raise ResponseLimitError(
            f"{limit} length ({value[:40]!r}{'...' if length > 40 else ''})",
            actual=length,
            maximum=maximum,
            minimum=minimum or None,
        )


def check_count(limit: str, count: int, maximum: int, minimum: int = 0) -> None:
    """Check ``minimum <= count <= maximum`` for a number of items."""
    if count > maximum or count < minimum:
        raise ResponseLimitError(limit, actual=count, maximum=maximum, minimum=minimum or None)


def check_range(limit: str, value: int | None, minimum: int, maximum: int) -> None:
    """Check a numeric setting (None passes)."""
    if value is not None and not minimum <= value <= maximum:
        raise ResponseLimitError(limit, actual=value, maximum=maximum, minimum=minimum)
