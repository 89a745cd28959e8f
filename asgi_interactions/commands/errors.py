"""Errors raised by the command layer: bad declarations and option values that do not convert."""

from __future__ import annotations

__all__ = ["CommandDefinitionError", "OptionConversionError"]


class CommandDefinitionError(ValueError):
    """A command, option, pattern or handler breaks one of Discord's rules or ours.

    Raised at declaration time (or when the payload is built), naming the command and the rule.
    """


class OptionConversionError(ValueError):
    """An incoming option value does not fit the handler's annotation.

    The tree answers with an ephemeral message naming the option instead of calling the handler.
    """

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"option {option!r}: {reason}")
        self.option = option
        self.reason = reason
