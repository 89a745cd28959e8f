"""Exceptions raised by the endpoint and handler layers (REST errors live in ``rest.errors``)."""

from __future__ import annotations

__all__ = ["ConfigurationError", "HandlerNotFound", "InteractionError", "ResponseError"]


class InteractionError(Exception):
    """Base class for errors about handling an interaction."""


class HandlerNotFound(InteractionError):
    """No handler is registered for an interaction; the app answers with an ephemeral notice."""


class ResponseError(InteractionError):
    """A handler's result cannot be sent as a response (wrong kind, or already responded)."""


class ConfigurationError(InteractionError, ValueError):
    """The app was configured wrongly (missing or malformed key, bad option value)."""
