"""Turn a handler's result into the JSON Discord expects: callback envelopes and webhook bodies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from ..models.enums import InteractionCallbackType as Callback
from ..models.enums import InteractionType, MessageFlags
from ._checks import check_length
from .errors import InvalidResponseError
from .message import MAX_CONTENT, Choice, Message, Modal

__all__ = [
    "MAX_AUTOCOMPLETE_CHOICES",
    "Result",
    "callback_payload",
    "deferred_payload",
    "message_payload",
    "to_choice",
]

MAX_AUTOCOMPLETE_CHOICES = 25
_EDITABLE_FLAGS = int(MessageFlags.SUPPRESS_EMBEDS | MessageFlags.IS_COMPONENTS_V2)

Result = Message | Modal | str | Iterable[Choice | str | int | float] | Mapping[str, Any]
"""What a handler may return (besides None)."""

Files = list[tuple[str, bytes]]


def to_choice(value: Choice | str | int | float) -> Choice:
    """A Choice as is; a plain value becomes ``Choice(name=str(value)[:100], value=value)``."""
    if isinstance(value, Choice):
        return value
    return Choice(str(value)[:100], value)


def _kind(interaction_type: int) -> str:
    try:
        return InteractionType(interaction_type).name
    except ValueError:
        return f"type {interaction_type}"


#: Interaction types a ``str`` result answers as a message (type 4), as ``callback_payload`` does.
PLAIN_MESSAGE_TYPES = frozenset(
    {
        InteractionType.APPLICATION_COMMAND,
        InteractionType.MESSAGE_COMPONENT,
        InteractionType.MODAL_SUBMIT,
    }
)
_PING_ONLY_PONG = "a PING is answered with PONG ({'type': 1}), nothing else"


def callback_payload(
    result: Result, interaction_type: int, *, from_message: bool | None = None
) -> tuple[dict[str, Any], Files]:
    """The interaction response ``{"type", "data"}`` for ``result``, and the files to upload.

    Message -> 4 (7 with ``update=True`` on a component, or on a modal submit from a component;
    pass ``from_message=False`` when the modal came from a command), Modal -> 9, str -> 4,
    choices -> 8 (first 25, in order). A dict with a ``type`` key is sent as given.
    """
    if type(result) is str and interaction_type in PLAIN_MESSAGE_TYPES:
        # The commonest result, answered without building a Message: same JSON, same checks.
        check_length("message content", result, MAX_CONTENT)
        return {"type": 4, "data": {"content": result}}, []
    if isinstance(result, str):
        result = Message(result)
    if isinstance(result, Message):
        if interaction_type == InteractionType.PING:
            raise InvalidResponseError(_PING_ONLY_PONG)
        if interaction_type == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            raise InvalidResponseError(
                "an autocomplete handler must return choices (a list of Choice/str/int/float)"
            )
        callback = Callback.CHANNEL_MESSAGE_WITH_SOURCE
        if result.update:
            if interaction_type == InteractionType.MESSAGE_COMPONENT or (
                interaction_type == InteractionType.MODAL_SUBMIT and from_message is not False
            ):
                callback = Callback.UPDATE_MESSAGE
            else:
                raise InvalidResponseError(
                    "Message(update=True) edits the message a component sits on; it is not "
                    f"valid for a {_kind(interaction_type)} interaction"
                )
        return {"type": int(callback), "data": result.to_data()}, result.files
    if isinstance(result, Mapping):  # after Message: the ABC check is the costly one
        if "type" not in result:
            raise InvalidResponseError("a raw response dict needs a 'type' (callback type)")
        return dict(result), []
    if interaction_type == InteractionType.PING:
        raise InvalidResponseError(_PING_ONLY_PONG)
    if isinstance(result, Modal):
        if interaction_type in (
            InteractionType.MODAL_SUBMIT,
            InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
        ):
            raise InvalidResponseError(
                f"a Modal cannot answer a {_kind(interaction_type)} interaction"
            )
        return {"type": int(Callback.MODAL), "data": result.to_data()}, []
    if isinstance(result, bytes | bytearray) or not isinstance(result, Iterable):
        raise TypeError(
            f"a handler returned {type(result).__name__}; expected Message, Modal, str, "
            "a list of choices, or None"
        )
    if interaction_type != InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
        raise InvalidResponseError(
            f"choices answer autocomplete only; a {_kind(interaction_type)} interaction needs a "
            "Message, a str or a Modal"
        )
    choices = [to_choice(v).to_data() for v in islice(result, MAX_AUTOCOMPLETE_CHOICES)]
    return {
        "type": int(Callback.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT),
        "data": {"choices": choices},
    }, []


def deferred_payload(interaction_type: int, ephemeral: bool = False) -> dict[str, Any]:
    """An acknowledgement: 6 (DEFERRED_UPDATE_MESSAGE) for components, 5 otherwise.

    ``ephemeral`` needs type 5 (it is the only flag a deferral may carry), so an ephemeral
    deferral of a component is a 5 with flag 64: the later result becomes a new ephemeral message.
    """
    if interaction_type in (
        InteractionType.PING,
        InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
    ):
        raise InvalidResponseError(f"a {_kind(interaction_type)} interaction cannot be deferred")
    if interaction_type == InteractionType.MESSAGE_COMPONENT and not ephemeral:
        return {"type": int(Callback.DEFERRED_UPDATE_MESSAGE)}
    payload: dict[str, Any] = {"type": int(Callback.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE)}
    if ephemeral:
        payload["data"] = {"flags": int(MessageFlags.EPHEMERAL)}
    return payload


def message_payload(
    result: Message | str | Mapping[str, Any], *, edit: bool = False
) -> tuple[dict[str, Any], Files]:
    """A webhook body (follow-up, or with ``edit=True`` a PATCH of @original) and its files.

    Edits keep only the flags Discord allows there (SUPPRESS_EMBEDS, IS_COMPONENTS_V2): an
    ephemeral state is fixed when the message is created.
    """
    if isinstance(result, Mapping):
        return dict(result), []
    if isinstance(result, str):
        result = Message(result)
    if not isinstance(result, Message):
        raise InvalidResponseError(
            f"only a Message or a str can be sent as a webhook message, not {type(result).__name__}"
        )
    data = result.to_data()
    if edit and "flags" in data:
        flags = data["flags"] & _EDITABLE_FLAGS
        if flags:
            data["flags"] = flags
        else:
            del data["flags"]
    return data, result.files
