"""Exceptions raised by the REST client, carrying Discord's JSON error code, message and fields."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequestError",
    "DiscordHTTPError",
    "ForbiddenError",
    "InvalidRequestLimitError",
    "NotFoundError",
    "RateLimitedError",
    "RequestDeadlineError",
    "RestError",
    "ServerError",
    "UnauthorizedError",
    "flatten_errors",
]


class RestError(Exception):
    """Base of every error the REST client raises on its own account."""


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, str]:
    """Turn Discord's nested ``errors`` object into ``{"path.0.field": "message; message"}``."""
    flat: dict[str, str] = {}
    if not isinstance(errors, dict):
        return flat
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            messages = [
                str(e.get("message", e.get("code", ""))) if isinstance(e, dict) else str(e)
                for e in value
            ]
            flat[prefix or "_errors"] = "; ".join(messages)
        elif isinstance(value, dict):
            flat.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


class DiscordHTTPError(RestError):
    """Discord answered with an error status.

    ``status`` is the HTTP status, ``code`` Discord's JSON error code (0 when absent), ``message``
    its message and ``errors`` the nested field errors as sent.
    ``route`` is the request's method and path with secrets masked.
    """

    def __init__(
        self,
        status: int,
        code: int = 0,
        message: str = "",
        errors: Any = None,
        *,
        route: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.route = route
        super().__init__(self._text())

    @property
    def flat_errors(self) -> dict[str, str]:
        """Field errors as ``{"path": "message"}`` (``components.0.custom_id`` style paths)."""
        return flatten_errors(self.errors)

    def _text(self) -> str:
        text = f"{self.status}"
        if self.code:
            text += f" (code {self.code})"
        if self.message:
            text += f": {self.message}"
        if self.route:
            text += f" [{self.route}]"
        for path, message in self.flat_errors.items():
            text += f"\n  {path}: {message}"
        return text


class BadRequestError(DiscordHTTPError):
    """400: the request was malformed (see ``errors`` / ``flat_errors``)."""


class UnauthorizedError(DiscordHTTPError):
    """401: missing or invalid token. The client stops using a bot token that got this."""


class ForbiddenError(DiscordHTTPError):
    """403: the bot lacks access or permission."""


class NotFoundError(DiscordHTTPError):
    """404: unknown resource (channel, message, webhook, interaction...)."""


class RateLimitedError(DiscordHTTPError):
    """429 that will not be waited out: the wait exceeds ``max_rate_limit``, retries ran out, or the
    answer was the edge's non-JSON ban page. ``retry_after`` is the wait in seconds (if known)."""

    def __init__(
        self,
        status: int = 429,
        code: int = 0,
        message: str = "",
        errors: Any = None,
        *,
        route: str | None = None,
        retry_after: float | None = None,
        scope: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.scope = scope
        super().__init__(status, code, message, errors, route=route)


class ServerError(DiscordHTTPError):
    """5xx that persisted through the retries (or could not be retried safely)."""


class InvalidRequestLimitError(RestError):
    """The client refused to send: too many 401/403/429 answers recently.

    Discord bans an IP for a while after 10,000 such answers in 10 minutes; the client stops far
    below that. Fix the cause (permissions, token, request pattern) rather than retrying.
    """


class RequestDeadlineError(RestError):
    """The request was not sent within ``request_deadline`` seconds of being made (default 15
    minutes, the life of an interaction token): it waited for rate limits (or a rate-limit
    store) that did not free in time. It was never sent unless ``sent_attempts`` says so."""

    def __init__(self, message: str, *, route: str | None = None, sent_attempts: int = 0) -> None:
        self.route = route
        self.sent_attempts = sent_attempts
        super().__init__(message)


def error_for_status(status: int, body: Any, *, route: str | None = None) -> DiscordHTTPError:
    """Build the exception class that matches ``status`` from a decoded error body."""
    code = 0
    message = ""
    errors = None
    if isinstance(body, dict):
        raw = body.get("code")
        code = raw if isinstance(raw, int) else 0
        message = str(body.get("message", ""))
        errors = body.get("errors")
    cls: type[DiscordHTTPError]
    if status == 400:
        cls = BadRequestError
    elif status == 401:
        cls = UnauthorizedError
    elif status == 403:
        cls = ForbiddenError
    elif status == 404:
        cls = NotFoundError
    elif status == 429:
        cls = RateLimitedError
    elif status >= 500:
        cls = ServerError
    else:
        cls = DiscordHTTPError
    return cls(status, code, message, errors, route=route)
