"""Parsing real interaction payloads, and tolerance of what Discord may add later."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from asgi_interactions.models import (
    ApplicationCommandData,
    Attachment,
    AutocompleteInteraction,
    Channel,
    CommandInteraction,
    ComponentData,
    ComponentInteraction,
    ComponentType,
    Interaction,
    InteractionType,
    Member,
    ModalSubmitData,
    ModalSubmitInteraction,
    OptionType,
    PartialMessage,
    PingInteraction,
    Role,
    User,
    parse_interaction,
)
from tests.models import payloads as p

EXPECTED_CLASS = {
    "ping": (PingInteraction, type(None)),
    "slash_command": (CommandInteraction, ApplicationCommandData),
    "subcommand_group": (CommandInteraction, ApplicationCommandData),
    "subcommand": (CommandInteraction, ApplicationCommandData),
    "user_command": (CommandInteraction, ApplicationCommandData),
    "message_command": (CommandInteraction, ApplicationCommandData),
    "button": (ComponentInteraction, ComponentData),
    "string_select": (ComponentInteraction, ComponentData),
    "user_select": (ComponentInteraction, ComponentData),
    "autocomplete": (AutocompleteInteraction, ApplicationCommandData),
    "modal_submit": (ModalSubmitInteraction, ModalSubmitData),
    "modal_submit_all_fields": (ModalSubmitInteraction, ModalSubmitData),
    "modal_submit_legacy": (ModalSubmitInteraction, ModalSubmitData),
    "dm_slash_command": (CommandInteraction, ApplicationCommandData),
}


def test_every_sample_has_an_expectation() -> None:
    assert set(EXPECTED_CLASS) == set(p.ALL)


@pytest.mark.parametrize("name", sorted(p.ALL))
def test_samples_parse_from_json_and_dict(name: str) -> None:
    cls, data_cls = EXPECTED_CLASS[name]
    from_json = Interaction.model_validate_json(p.body(name))
    from_dict = Interaction.model_validate(p.payload(name))
    for interaction in (from_json, from_dict, parse_interaction(p.body(name))):
        assert type(interaction) is cls
        assert isinstance(interaction, Interaction)
        assert type(interaction.data) is data_cls
        assert interaction.id == int(p.ALL[name]["id"])
        assert interaction.application_id == int(p.APPLICATION_ID)
    assert from_json == from_dict


def test_guild_envelope_fields() -> None:
    i = Interaction.model_validate_json(p.body("slash_command"))
    assert i.type == InteractionType.APPLICATION_COMMAND
    assert i.guild_id == int(p.GUILD_ID) and i.guild is not None and i.guild.locale == "en-US"
    assert (
        i.channel is not None and i.channel.name == "general" and i.channel_id == int(p.CHANNEL_ID)
    )
    assert i.app_permissions == 2251799813685247
    assert i.locale == "en-GB" and i.guild_locale == "en-US"
    assert i.context == 0 and i.attachment_size_limit == 10485760
    assert i.authorizing_integration_owners == {0: int(p.GUILD_ID)}
    assert i.token == p.TOKEN and i.version == 1
    assert i.member is not None and i.member.nick == "Ally"
    assert i.member.roles == [int(p.ROLE_ID)]
    assert isinstance(i.member.joined_at, datetime)
    assert i.member.permissions == 2251799813685247
    assert i.invoker is not None and i.invoker.username == "alice"
    assert i.user_id == int(p.USER_ID)
    assert i.command_name == "report" and i.custom_id is None


def test_dm_invoker_entitlements_and_owners() -> None:
    i = Interaction.model_validate_json(p.body("dm_slash_command"))
    assert i.member is None and i.user is not None
    assert i.invoker is i.user and i.user_id == int(p.USER_ID)
    assert i.authorizing_integration_owners == {0: 0, 1: int(p.USER_ID)}
    assert i.context == 1
    [entitlement] = i.entitlements
    assert entitlement.type == 8 and entitlement.ends_at is None
    assert entitlement.user_id == int(p.USER_ID)


def test_slash_command_options_and_resolved_objects() -> None:
    i = Interaction.model_validate_json(p.body("slash_command"))
    data = i.command_data
    assert data is not None and data.resolved is not None
    path, options = data.leaf()
    assert path == ("report",)
    values = data.leaf_values()
    assert values["text"] == "Something is broken in #general"
    assert values["count"] == 3 and type(values["count"]) is int
    assert values["ratio"] == 0.75 and type(values["ratio"]) is float
    assert values["urgent"] is True
    assert values["target"] == p.OTHER_USER_ID  # ids stay strings; look them up in resolved
    by_name = {o.name: o for o in options}
    resolved = data.resolved
    target = resolved.resolve(by_name["target"].type, by_name["target"].value)
    assert isinstance(target, Member) and target.user is not None
    assert target.user.username == "bob" and target.id == int(p.OTHER_USER_ID)
    channel = resolved.resolve(OptionType.CHANNEL, by_name["where"].value)
    assert isinstance(channel, Channel) and channel.name == "bugs"
    role = resolved.resolve(OptionType.ROLE, by_name["team"].value)
    assert isinstance(role, Role) and role.name == "Moderators" and role.mentionable
    assert role.permissions == 1099511627775
    assert isinstance(resolved.resolve(OptionType.MENTIONABLE, by_name["who"].value), Role)
    attachment = resolved.resolve(OptionType.ATTACHMENT, by_name["proof"].value)
    assert isinstance(attachment, Attachment) and attachment.filename == "screenshot.png"
    assert attachment.size == 183452
    assert resolved.resolve(OptionType.STRING, "x") is None
    assert resolved.resolve(OptionType.USER, "not-an-id") is None


def test_subcommand_group_and_subcommand_leaf() -> None:
    data = Interaction.model_validate_json(p.body("subcommand_group")).command_data
    assert data is not None
    path, options = data.leaf()
    assert path == ("admin", "members", "ban")
    assert [o.name for o in options] == ["user", "reason"]
    assert data.leaf_values()["reason"] == "spam"
    data = Interaction.model_validate_json(p.body("subcommand")).command_data
    assert data is not None and data.leaf() == (("tag", "show"), data.options[0].options)


def test_user_and_message_command_targets() -> None:
    data = Interaction.model_validate_json(p.body("user_command")).command_data
    assert data is not None and data.type == 2
    target = data.target()
    assert isinstance(target, Member) and target.nick == "Bobby" and target.user is not None
    data = Interaction.model_validate_json(p.body("message_command")).command_data
    assert data is not None
    message = data.target()
    assert isinstance(message, PartialMessage) and message.content == "Quote me on this"
    assert message.author is not None and message.author.id == int(p.OTHER_USER_ID)


def test_components_and_the_message_they_sit_on() -> None:
    i = Interaction.model_validate_json(p.body("button"))
    assert i.custom_id == "vote:yes" and i.command_name is None
    assert i.component_data is not None and i.component_data.component_type == ComponentType.BUTTON
    assert i.message is not None and i.message.author is not None and i.message.author.bot
    assert i.message.components[0]["components"][0]["custom_id"] == "vote:yes"
    assert i.message.embeds[0].fields[0]["name"] == "A"
    select = Interaction.model_validate_json(p.body("string_select")).component_data
    assert select is not None and select.values == ["apple", "pear"]
    users = Interaction.model_validate_json(p.body("user_select"))
    assert users.component_data is not None and users.component_data.values == [p.OTHER_USER_ID]
    assert users.resolved is not None
    member = users.resolved.member(int(p.OTHER_USER_ID))
    assert member is not None and member.user is not None and member.user.username == "bob"


def test_autocomplete_focused_option() -> None:
    data = Interaction.model_validate_json(p.body("autocomplete")).command_data
    assert data is not None
    focused = data.focused_option()
    assert focused is not None and focused.name == "text" and focused.value == "hel"
    assert data.leaf_values() == {"times": 2, "text": "hel"}


def test_modal_values_from_labels() -> None:
    data = Interaction.model_validate_json(p.body("modal_submit")).modal_data
    assert data is not None and data.custom_id == "feedback:42"
    assert data.values() == {
        "subject": "Great bot",
        "rating": ["5"],
        "helper": [p.OTHER_USER_ID],
        "subscribe": True,
    }
    assert data.get("subject") == "Great bot" and data.get("missing", 1) == 1


def test_modal_values_for_every_new_field_kind() -> None:
    data = Interaction.model_validate_json(p.body("modal_submit_all_fields")).modal_data
    assert data is not None
    assert data.values() == {
        "size": None,
        "tags": [],
        "upload": [p.ATTACHMENT_ID],
        "chan": [p.OTHER_CHANNEL_ID],
    }
    assert data.resolved is not None
    assert data.resolved.attachments[int(p.ATTACHMENT_ID)].filename == "log.txt"


def test_modal_values_from_legacy_action_rows() -> None:
    i = Interaction.model_validate_json(p.body("modal_submit_legacy"))
    assert i.modal_data is not None
    assert i.modal_data.values() == {"subject": "Hi", "body": ""}
    assert i.message is not None  # modal opened from a component


def test_modal_select_without_values_key_gives_empty_list() -> None:
    raw = p.payload("modal_submit")
    raw["data"]["components"] = [
        {"type": 18, "component": {"type": 3, "custom_id": "s"}},
        {"type": 18, "component": {"type": 4, "custom_id": "t"}},
    ]
    data = Interaction.model_validate(raw).modal_data
    assert data is not None and data.values() == {"s": [], "t": None}


def _add_unknowns(value: Any) -> Any:
    """Recursively add an unknown field to every object (not to id-keyed maps)."""
    if isinstance(value, dict):
        out = {k: _add_unknowns(v) for k, v in value.items()}
        if not value or not all(k.isdigit() for k in value):
            out["brand_new_field_2031"] = {"nested": [1, "two", None]}
        return out
    if isinstance(value, list):
        return [_add_unknowns(v) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(p.ALL))
def test_unknown_fields_everywhere_are_kept_not_fatal(name: str) -> None:
    raw = _add_unknowns(p.payload(name))
    i = Interaction.model_validate_json(json.dumps(raw))
    assert type(i) is EXPECTED_CLASS[name][0]
    assert type(i.data) is EXPECTED_CLASS[name][1]
    assert i.model_extra is not None
    assert i.model_extra["brand_new_field_2031"] == {"nested": [1, "two", None]}


def test_unknown_enum_values_parse() -> None:
    raw = p.payload("slash_command", context=9, locale="xx-NEW")
    raw["data"]["type"] = 42
    raw["data"]["options"].append({"name": "future", "type": 99, "value": {"any": "thing"}})
    raw["channel"]["type"] = 77
    raw["entitlements"] = [{"id": "1", "type": 55, "deleted": False}]
    raw["member"]["user"]["public_flags"] = 1 << 40
    i = Interaction.model_validate(raw)
    assert i.context == 9 and i.channel is not None and i.channel.type == 77
    assert i.command_data is not None and i.command_data.type == 42
    assert i.entitlements[0].type == 55


def test_unknown_option_value_shape_is_kept() -> None:
    raw = p.payload("autocomplete")
    raw["data"]["options"].append({"name": "future", "type": 99, "value": {"x": 1}})
    # A value of an unexpected shape must not turn the request into an error.
    i = Interaction.model_validate(raw)
    assert isinstance(i, AutocompleteInteraction) and i.command_data is not None
    assert i.command_data.leaf_values()["future"] == {"x": 1}


def test_new_component_types_parse() -> None:
    raw = p.payload("button")
    raw["data"]["component_type"] = 31
    raw["message"]["components"].append({"type": 40, "shiny": True, "components": [{"type": 41}]})
    i = Interaction.model_validate(raw)
    assert i.component_data is not None and i.component_data.component_type == 31
    assert i.message is not None and i.message.components[-1]["type"] == 40
    modal = p.payload("modal_submit")
    modal["data"]["components"].append(
        {"type": 18, "component": {"type": 30, "custom_id": "future", "values": ["a"]}}
    )
    modal["data"]["components"].append({"type": 29, "custom_id": "bare", "value": "v"})
    data = Interaction.model_validate(modal).modal_data
    assert data is not None
    assert data.values()["future"] == ["a"] and data.values()["bare"] == "v"


def test_unknown_interaction_type_falls_back_to_plain_interaction() -> None:
    raw = p.payload("button", type=12)
    i = Interaction.model_validate_json(json.dumps(raw))
    assert type(i) is Interaction and i.type == 12
    assert isinstance(i.data, ComponentData)  # parsed by shape
    odd = Interaction.model_validate({"type": 13, "data": {"something": "else"}})
    assert odd.data == {"something": "else"}


def test_malformed_known_data_is_kept_as_dict() -> None:
    raw = p.payload("slash_command")
    raw["data"]["options"] = "not a list"
    i = Interaction.model_validate(raw)
    assert isinstance(i, CommandInteraction) and isinstance(i.data, dict)
    assert i.command_name is None


def test_only_type_is_required() -> None:
    i = Interaction.model_validate_json(b'{"type": 2}')
    assert isinstance(i, CommandInteraction)
    assert i.data is None and i.invoker is None and i.user_id is None and i.command_name is None
    assert i.entitlements == [] and i.authorizing_integration_owners == {}
    with pytest.raises(ValidationError):
        Interaction.model_validate_json(b'{"id": "1"}')
    for bad_type in (b'"ping"', b'"2"', b"false", b"2.5", b"null", b"[2]"):
        with pytest.raises(ValidationError):
            Interaction.model_validate_json(b'{"type": ' + bad_type + b"}")
    with pytest.raises(ValidationError):
        Interaction.model_validate_json(b"[1, 2]")


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": 2, "member": 5}',
        b'{"type": 2, "user": {}, "channel": {}}',
        b'{"type": 2, "member": {"user": {"id": "omitted"}}}',
        b'{"type": 3, "message": {"id": []}, "guild": "x", "entitlements": [{"id": null}]}',
    ],
)
def test_unreadable_nested_objects_are_left_out_not_refused(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed interaction is not refused for a nested object we cannot read: it is dropped
    (None, or an empty list) and one warning names the field, never the value."""
    from asgi_interactions.models import base

    base._warned.clear()
    with caplog.at_level("WARNING", logger="asgi_interactions.models"):
        for parse in (Interaction.model_validate_json, parse_interaction):
            i = parse(body)
            assert i.member is None and i.user is None and i.channel is None
            assert i.message is None and i.guild is None and i.entitlements == []
        Interaction.model_validate(json.loads(body))
    fields = sorted(k for k, v in json.loads(body).items() if k != "type")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == len(fields)  # once per field, not per parse
    assert all("omitted" not in m for m in warned)


@pytest.mark.parametrize(
    ("body", "kind", "loc"),
    [
        (b"[1, 2]", "model_type", ()),
        (b'{"id": "1"}', "missing", ("type",)),
        (b'{"type": "x"}', "int_type", ("type",)),
        (b"{nope", "json_invalid", ()),
    ],
)
def test_errors_are_located_like_a_plain_model(
    body: bytes, kind: str, loc: tuple[str, ...]
) -> None:
    for parse in (Interaction.model_validate_json, parse_interaction):
        with pytest.raises(ValidationError) as info:
            parse(body)
        first = info.value.errors()[0]
        assert (first["type"], first["loc"]) == (kind, loc)
    if kind != "json_invalid":
        with pytest.raises(ValidationError) as info:
            Interaction.model_validate(json.loads(body))
        assert info.value.errors()[0]["loc"] == loc


def test_subclass_validation_is_direct() -> None:
    i = CommandInteraction.model_validate({"type": 2, "data": {"name": "x"}})
    assert type(i) is CommandInteraction
    with pytest.raises(ValidationError):
        CommandInteraction.model_validate({"type": 3})
    assert type(Interaction.model_validate(i)) is CommandInteraction


snowflakes = st.integers(min_value=0, max_value=2**64 - 1)


@given(snowflakes, snowflakes)
def test_snowflake_round_trip(user_id: int, role_id: int) -> None:
    raw = {"id": str(user_id), "username": "x"}
    user = User.model_validate_json(json.dumps(raw))
    assert user.id == user_id
    assert json.loads(user.model_dump_json())["id"] == str(user_id)
    assert user.model_dump()["id"] == user_id
    assert User.model_validate({"id": user_id}).id == user_id  # ints accepted too
    member = Member.model_validate({"roles": [str(role_id)], "permissions": str(role_id)})
    dumped = json.loads(member.model_dump_json())
    assert dumped["roles"] == [str(role_id)] and dumped["permissions"] == str(role_id)
    assert Member.model_validate_json(member.model_dump_json()) == member


@pytest.mark.parametrize("name", sorted(p.ALL))
def test_interaction_json_round_trip(name: str) -> None:
    i = Interaction.model_validate_json(p.body(name))
    again = Interaction.model_validate_json(i.model_dump_json())
    assert again == i
    assert json.loads(i.model_dump_json())["id"] == p.ALL[name]["id"]


def test_bad_snowflake_rejected() -> None:
    with pytest.raises(ValidationError):
        User.model_validate({"id": "12ab"})


def test_mentions_and_display_names() -> None:
    user = User.model_validate({"id": "5", "username": "bob", "global_name": None})
    assert user.display_name == "bob" and user.mention == "<@5>"
    member = Member.model_validate({"user": {"id": "5", "username": "bob"}, "nick": "B"})
    assert member.display_name == "B" and member.mention == "<@5>" and member.id == 5
    assert Member.model_validate({}).display_name == "" and Member.model_validate({}).id is None
    assert Role.model_validate({"id": "7"}).mention == "<@&7>"
    assert Channel.model_validate({"id": "8"}).mention == "<#8>"
