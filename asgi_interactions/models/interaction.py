"""The interaction object Discord POSTs to the endpoint, for every interaction type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import Field, GetPydanticSchema, StrictInt, TypeAdapter, ValidationError
from pydantic_core import core_schema

from .base import DiscordModel, OrEmpty, OrNone, Permissions, Snowflake
from .channel import Channel
from .data import ApplicationCommandData, ComponentData, ModalSubmitData
from .guild import Member, PartialGuild
from .lazy import LazyFields
from .message import PartialMessage
from .resolved import ResolvedData
from .user import User

__all__ = [
    "AutocompleteInteraction",
    "CommandInteraction",
    "ComponentInteraction",
    "Entitlement",
    "Interaction",
    "InteractionData",
    "ModalSubmitInteraction",
    "PingInteraction",
    "parse_interaction",
]

InteractionData = ApplicationCommandData | ComponentData | ModalSubmitData | dict[str, Any]
"""``data`` parsed by shape: command data has ``name``, component data ``component_type``,
modal data ``custom_id`` + ``components``; anything else is kept as a plain dict."""


class Entitlement(DiscordModel):
    """A monetization entitlement of the invoking user or guild."""

    id: Snowflake
    sku_id: Snowflake | None = None
    application_id: Snowflake | None = None
    user_id: Snowflake | None = None
    guild_id: Snowflake | None = None
    type: int = 0
    deleted: bool = False
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    consumed: bool | None = None


class Interaction(LazyFields, DiscordModel):
    """An interaction of any type. Only ``type`` is required; unknown fields and values are kept.

    ``Interaction.model_validate_json(body)`` (and ``model_validate``) return the subclass matching
    ``type`` (CommandInteraction, ComponentInteraction, ...), so ``data`` is parsed once with the
    right model; an unknown ``type`` gives a plain Interaction with ``data`` parsed by shape.
    """

    type: StrictInt
    id: Snowflake | None = None
    application_id: Snowflake | None = None
    token: str | None = Field(default=None, repr=False)  # a 15-minute credential: not in repr()
    version: int | None = None
    data: InteractionData | None = Field(default=None, union_mode="left_to_right")
    guild: Annotated[PartialGuild | None, OrNone] = None
    guild_id: Snowflake | None = None
    channel: Annotated[Channel | None, OrNone] = None
    channel_id: Snowflake | None = None
    member: Annotated[Member | None, OrNone] = None
    user: Annotated[User | None, OrNone] = None
    message: Annotated[PartialMessage | None, OrNone] = None
    app_permissions: Permissions | None = None
    locale: str | None = None
    guild_locale: str | None = None
    entitlements: Annotated[list[Entitlement], OrEmpty] = Field(default_factory=list)
    authorizing_integration_owners: dict[int, Snowflake] = Field(default_factory=dict)
    context: int | None = None
    attachment_size_limit: int | None = None

    @property
    def invoker(self) -> User | None:
        """The user who triggered it: ``member.user`` in guilds, ``user`` in DMs."""
        if self.member is not None and self.member.user is not None:
            return self.member.user
        return self.user

    @property
    def user_id(self) -> int | None:
        """The invoking user's id."""
        invoker = self.invoker
        return invoker.id if invoker is not None else None

    @property
    def command_data(self) -> ApplicationCommandData | None:
        """``data`` for command and autocomplete interactions, else None."""
        return self.data if isinstance(self.data, ApplicationCommandData) else None

    @property
    def component_data(self) -> ComponentData | None:
        """``data`` for component interactions, else None."""
        return self.data if isinstance(self.data, ComponentData) else None

    @property
    def modal_data(self) -> ModalSubmitData | None:
        """``data`` for modal submits, else None."""
        return self.data if isinstance(self.data, ModalSubmitData) else None

    @property
    def command_name(self) -> str | None:
        """The invoked command's name (commands and autocomplete), else None."""
        data = self.data
        return data.name if isinstance(data, ApplicationCommandData) else None

    @property
    def custom_id(self) -> str | None:
        """The component's or modal's custom_id, else None."""
        data = self.data
        if isinstance(data, ComponentData | ModalSubmitData):
            return data.custom_id
        return None

    @property
    def resolved(self) -> ResolvedData | None:
        """The ``data.resolved`` maps, when present."""
        data = self.data
        if isinstance(data, ApplicationCommandData | ComponentData | ModalSubmitData):
            return data.resolved
        return None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Parse JSON; on ``Interaction`` itself, into the subclass matching ``type``."""
        if cls is Interaction and not kwargs:
            try:
                return _ADAPTER.validate_json(json_data)  # type: ignore[return-value]
            except ValidationError:
                pass  # re-validate below for errors located like a plain model's
        return super().model_validate_json(json_data, **kwargs)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate a dict (e.g. a gateway INTERACTION_CREATE); on ``Interaction``, by ``type``."""
        if cls is Interaction and not kwargs and not isinstance(obj, Interaction):
            try:
                return _ADAPTER.validate_python(obj)  # type: ignore[return-value]
            except ValidationError:
                pass  # re-validate below for errors located like a plain model's
        return super().model_validate(obj, **kwargs)


_STRICT = GetPydanticSchema(
    lambda source, handler: core_schema.chain_schema(
        [core_schema.int_schema(strict=True), handler(source)]
    )
)
"""On a ``Literal`` type tag: refuse ``true``, ``1.0`` and ``"1"`` (a JSON literal alone takes
the first two as 1), in Rust, before the literal check."""


class PingInteraction(Interaction):
    """PING (1): answered with PONG by the endpoint."""

    type: Annotated[Literal[1], _STRICT]


class CommandInteraction(Interaction):
    """APPLICATION_COMMAND (2): slash, user and message commands."""

    type: Annotated[Literal[2], _STRICT]
    data: ApplicationCommandData | dict[str, Any] | None = Field(
        default=None, union_mode="left_to_right"
    )


class AutocompleteInteraction(Interaction):
    """APPLICATION_COMMAND_AUTOCOMPLETE (4): the focused option is in ``data``."""

    type: Annotated[Literal[4], _STRICT]
    data: ApplicationCommandData | dict[str, Any] | None = Field(
        default=None, union_mode="left_to_right"
    )


class ComponentInteraction(Interaction):
    """MESSAGE_COMPONENT (3): a button press or select choice on ``message``."""

    type: Annotated[Literal[3], _STRICT]
    data: ComponentData | dict[str, Any] | None = Field(default=None, union_mode="left_to_right")


class ModalSubmitInteraction(Interaction):
    """MODAL_SUBMIT (5): ``data.values()`` maps custom_id to submitted value."""

    type: Annotated[Literal[5], _STRICT]
    data: ModalSubmitData | dict[str, Any] | None = Field(default=None, union_mode="left_to_right")


_BY_TYPE: dict[int, type[Interaction]] = {
    1: PingInteraction,
    2: CommandInteraction,
    3: ComponentInteraction,
    4: AutocompleteInteraction,
    5: ModalSubmitInteraction,
}
# A tagged union built by hand: pydantic infers tags only from a bare Literal field, and the
# tags here are strict (see _STRICT); the lookup itself still finds the model in one step.
_KNOWN = Annotated[
    PingInteraction
    | CommandInteraction
    | ComponentInteraction
    | AutocompleteInteraction
    | ModalSubmitInteraction,
    GetPydanticSchema(
        lambda _source, handler: core_schema.tagged_union_schema(
            {tag: handler(model) for tag, model in _BY_TYPE.items()}, discriminator="type"
        )
    ),
]
_ADAPTER: TypeAdapter[Interaction] = TypeAdapter(
    Annotated[_KNOWN | Interaction, Field(union_mode="left_to_right")]
)


def parse_interaction(raw: str | bytes | bytearray | dict[str, Any]) -> Interaction:
    """Parse a request body (JSON) or a decoded dict into the Interaction subclass for its type."""
    if isinstance(raw, dict):
        return Interaction.model_validate(raw)
    return Interaction.model_validate_json(raw)
