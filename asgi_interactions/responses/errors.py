"""Errors raised while building responses: a Discord limit broken, or the wrong kind of reply."""

from __future__ import annotations

__all__ = ["InvalidResponseError", "ResponseLimitError"]


class ResponseLimitError(ValueError):
    """A Discord limit was exceeded; ``limit`` names it, ``maximum``/``actual`` give the numbers."""

    def __init__(
        self, limit: str, *, actual: int, maximum: int, minimum: int | None = None
    ) -> None:
        self.limit = limit
        self.actual = actual
        self.maximum = maximum
        self.minimum = minimum
        if minimum is not None and actual < minimum:
            bounds = f"{minimum}" if minimum == maximum else f"{minimum}-{maximum}"
            message = f"{limit} is {actual}; Discord requires {bounds}"
        else:
            message = f"{limit} is {actual}; Discord's limit is {maximum}"
        super().__init__(message)


class InvalidResponseError(ValueError):
    """A response that Discord would reject for this interaction (e.g. a modal after a modal)."""
