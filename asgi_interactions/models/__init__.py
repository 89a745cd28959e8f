"""Pydantic v2 models of Discord interaction payloads, tolerant of fields and values added later."""

from .base import DiscordModel, Permissions, Snowflake
from .channel import Channel
from .data import (
    ApplicationCommandData,
    CommandOption,
    ComponentData,
    ModalComponent,
    ModalSubmitData,
    ModalValue,
    OptionValue,
)
from .enums import (
    ApplicationCommandType,
    ButtonStyle,
    ChannelType,
    CommandType,
    ComponentType,
    EntitlementType,
    IntegrationType,
    InteractionCallbackType,
    InteractionContextType,
    InteractionType,
    MessageFlags,
    OptionType,
    TextInputStyle,
)
from .guild import Member, PartialGuild, Role
from .interaction import (
    AutocompleteInteraction,
    CommandInteraction,
    ComponentInteraction,
    Entitlement,
    Interaction,
    InteractionData,
    ModalSubmitInteraction,
    PingInteraction,
    parse_interaction,
)
from .message import Attachment, MessageEmbed, PartialMessage
from .resolved import Mentionable, ResolvedData
from .user import User

__all__ = [
    "ApplicationCommandData",
    "ApplicationCommandType",
    "Attachment",
    "AutocompleteInteraction",
    "ButtonStyle",
    "Channel",
    "ChannelType",
    "CommandInteraction",
    "CommandOption",
    "CommandType",
    "ComponentData",
    "ComponentInteraction",
    "ComponentType",
    "DiscordModel",
    "Entitlement",
    "EntitlementType",
    "IntegrationType",
    "Interaction",
    "InteractionCallbackType",
    "InteractionContextType",
    "InteractionData",
    "InteractionType",
    "Member",
    "Mentionable",
    "MessageEmbed",
    "MessageFlags",
    "ModalComponent",
    "ModalSubmitData",
    "ModalSubmitInteraction",
    "ModalValue",
    "OptionType",
    "OptionValue",
    "PartialGuild",
    "PartialMessage",
    "Permissions",
    "PingInteraction",
    "ResolvedData",
    "Role",
    "Snowflake",
    "TextInputStyle",
    "User",
    "parse_interaction",
]
