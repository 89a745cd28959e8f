"""What the response builders serialise to, and how results map to callback payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_interactions.models import (
    ButtonStyle,
    ComponentType,
    InteractionType,
    MessageFlags,
    Role,
    User,
)
from asgi_interactions.responses import (
    ActionRow,
    AllowedMentions,
    Button,
    Choice,
    Embed,
    InvalidResponseError,
    Label,
    Message,
    Modal,
    SelectMenu,
    SelectOption,
    TextDisplay,
    TextInput,
    callback_payload,
    deferred_payload,
    message_payload,
)

PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = (t.value for t in InteractionType)


def _no_none(value: Any) -> None:
    """Assert that no None appears anywhere in a JSON-like value."""
    assert value is not None
    if isinstance(value, dict):
        for item in value.values():
            _no_none(item)
    elif isinstance(value, list):
        for item in value:
            _no_none(item)


def test_plain_message_data() -> None:
    assert Message("hi").to_data() == {"content": "hi"}
    assert Message().to_data() == {}
    assert Message("hi", ephemeral=True).to_data() == {"content": "hi", "flags": 64}
    assert Message(flags=4, ephemeral=True).to_data() == {"flags": 68}
    assert Message("x", ephemeral=True).ephemeral and not Message("x").ephemeral
    assert Message("x", tts=True).to_data() == {"content": "x", "tts": True}


def test_explicit_empty_lists_are_kept_to_clear_on_edit() -> None:
    data = Message(content="", embeds=[], components=[], attachments=[]).to_data()
    assert data == {"content": "", "embeds": [], "components": [], "attachments": []}


def test_allowed_mentions_omitted_by_default_and_serialised_when_given() -> None:
    assert "allowed_mentions" not in Message("<@1>").to_data()
    data = Message("x", allowed_mentions=AllowedMentions.none()).to_data()
    assert data["allowed_mentions"] == {"parse": []}
    mentions = AllowedMentions(parse=["roles"], users=[5, "6"], replied_user=True)
    assert Message("x", allowed_mentions=mentions).to_data()["allowed_mentions"] == {
        "parse": ["roles"],
        "users": ["5", "6"],
        "replied_user": True,
    }
    assert AllowedMentions.all().to_data() == {"parse": ["users", "roles", "everyone"]}
    raw = {"parse": ["users"]}
    assert Message("x", allowed_mentions=raw).to_data()["allowed_mentions"] == raw


def test_files_become_numbered_attachments() -> None:
    message = Message(
        "see files",
        files=[("a.png", b"\x89PNG"), ("b.txt", b"hello", "a text file")],
        attachments=[{"id": "1234"}],
        embeds=[Embed(image="attachment://a.png")],
    )
    data = message.to_data()
    assert message.files == [("a.png", b"\x89PNG"), ("b.txt", b"hello")]
    assert data["attachments"] == [
        {"id": "1234"},
        {"id": 0, "filename": "a.png"},
        {"id": 1, "filename": "b.txt", "description": "a text file"},
    ]
    for item in data["attachments"][1:]:
        assert message.files[item["id"]][0] == item["filename"]
    assert data["embeds"] == [{"image": {"url": "attachment://a.png"}}]


@given(st.lists(st.binary(max_size=20), max_size=10))
def test_attachment_ids_match_file_indexes(blobs: list[bytes]) -> None:
    files = [(f"file{i}.bin", blob) for i, blob in enumerate(blobs)]
    message = Message(files=files)
    data = message.to_data()
    assert message.files == files
    if not files:
        assert "attachments" not in data
        return
    for item in data["attachments"]:
        name, blob = message.files[item["id"]]
        assert item["filename"] == name and blob == blobs[item["id"]]


def test_embed_serialisation() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    embed = (
        Embed("Title", "Body", url="https://e.x", color="#5865F2", timestamp=when)
        .add_field("A", "1", inline=True)
        .add_field("B", "2")
        .set_footer("foot", icon_url="https://i.x/f.png")
        .set_author("me", url="https://me.x", icon_url="https://i.x/a.png")
        .set_image("https://i.x/big.png")
        .set_thumbnail("attachment://t.png")
    )
    assert embed.to_data() == {
        "title": "Title",
        "description": "Body",
        "url": "https://e.x",
        "color": 0x5865F2,
        "timestamp": "2025-01-02T03:04:05+00:00",
        "fields": [
            {"name": "A", "value": "1", "inline": True},
            {"name": "B", "value": "2", "inline": False},
        ],
        "footer": {"text": "foot", "icon_url": "https://i.x/f.png"},
        "author": {"name": "me", "url": "https://me.x", "icon_url": "https://i.x/a.png"},
        "image": {"url": "https://i.x/big.png"},
        "thumbnail": {"url": "attachment://t.png"},
    }
    assert Embed().to_data() == {}
    assert embed.character_count() == len("TitleBodyA1B2footme")
    again = Embed(fields=[{"name": "n", "value": "v", "inline": True}], footer={"text": "f"})
    assert again.to_data()["fields"][0]["inline"] is True
    assert [f.name for f in again.fields] == ["n"]


def test_buttons_of_every_style() -> None:
    assert Button("Go", custom_id="go").to_data() == {
        "type": 2,
        "style": 1,
        "label": "Go",
        "custom_id": "go",
    }
    danger = Button("Del", custom_id="d", style="danger", emoji="🗑️", disabled=True)
    assert danger.to_data() == {
        "type": 2,
        "style": ButtonStyle.DANGER,
        "label": "Del",
        "custom_id": "d",
        "emoji": {"name": "🗑️"},
        "disabled": True,
    }
    link = Button("Docs", url="https://docs.x", emoji="<a:party:123>")
    assert link.to_data() == {
        "type": 2,
        "style": 5,
        "label": "Docs",
        "url": "https://docs.x",
        "emoji": {"name": "party", "id": "123", "animated": True},
    }
    assert Button(sku_id=99).to_data() == {"type": 2, "style": 6, "sku_id": "99"}
    assert Button(emoji="<:ok:5>", custom_id="e", id=3).to_data()["emoji"] == {
        "name": "ok",
        "id": "5",
    }
    assert Button(custom_id="x", style=ButtonStyle.SUCCESS, id=7).to_data()["id"] == 7


def test_string_select() -> None:
    select = SelectMenu(
        "pick",
        ["Apple", SelectOption("Pear", "pear", description="green", emoji="🍐", default=True)],
        placeholder="Choose",
        min_values=1,
        max_values=2,
    )
    assert select.to_data() == {
        "type": 3,
        "custom_id": "pick",
        "options": [
            {"label": "Apple", "value": "Apple"},
            {
                "label": "Pear",
                "value": "pear",
                "description": "green",
                "emoji": {"name": "🍐"},
                "default": True,
            },
        ],
        "placeholder": "Choose",
        "min_values": 1,
        "max_values": 2,
    }


def test_auto_populated_selects() -> None:
    user = User.model_validate({"id": "11", "username": "u"})
    users = SelectMenu("u", type="user", default_values=[user, 12], max_values=2)
    assert users.to_data() == {
        "type": ComponentType.USER_SELECT,
        "custom_id": "u",
        "max_values": 2,
        "default_values": [{"id": "11", "type": "user"}, {"id": "12", "type": "user"}],
    }
    role = Role.model_validate({"id": "21"})
    roles = SelectMenu("r", type=ComponentType.ROLE_SELECT, default_values=[role])
    assert roles.to_data()["default_values"] == [{"id": "21", "type": "role"}]
    mention = SelectMenu(
        "m", type="mentionable", default_values=[(1, "user"), (2, "role")], max_values=3
    )
    assert mention.to_data()["type"] == 7
    assert mention.to_data()["default_values"][1] == {"id": "2", "type": "role"}
    channels = SelectMenu("c", type="channel", channel_types=[0, 5], disabled=True)
    assert channels.to_data() == {
        "type": 8,
        "custom_id": "c",
        "disabled": True,
        "channel_types": [0, 5],
    }


def test_message_components_wrap_bare_buttons_and_selects() -> None:
    buttons = [Button(str(i), custom_id=f"b{i}") for i in range(7)]
    select = SelectMenu("s", ["a"])
    raw_row = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "raw", "label": "R"}]}
    data = Message(components=[*buttons, select, raw_row]).to_data()
    rows = data["components"]
    assert [row["type"] for row in rows] == [1, 1, 1, 1]
    assert [len(row["components"]) for row in rows] == [5, 2, 1, 1]
    assert rows[2]["components"][0]["type"] == 3
    assert rows[3] is raw_row  # raw dicts pass through unchanged


def test_components_v2_raw_dicts() -> None:
    container = {
        "type": 17,
        "accent_color": 0x5865F2,
        "components": [
            {"type": 10, "content": "# Hello"},
            {
                "type": 9,
                "components": [{"type": 10, "content": "x"}],
                "accessory": {"type": 11, "media": {"url": "https://i.x"}},
            },
        ],
    }
    message = Message(
        flags=MessageFlags.IS_COMPONENTS_V2,
        components=[TextDisplay("top"), container, ActionRow(Button("b", custom_id="b"))],
    )
    data = message.to_data()
    assert data["flags"] == 32768
    assert data["components"][0] == {"type": 10, "content": "top"}
    assert data["components"][1] is container


def test_components_v2_total_limit_counts_nested() -> None:
    many = [{"type": 10, "content": str(i)} for i in range(39)]
    Message(flags=1 << 15, components=[{"type": 17, "components": many}])  # 40 in all
    with pytest.raises(ValueError, match="Components V2"):
        Message(flags=1 << 15, components=[{"type": 17, "components": [*many, {"type": 14}]}])


def test_modal_text_inputs_are_label_wrapped() -> None:
    modal = Modal(
        "feedback:1",
        "Feedback",
        [
            TextDisplay("Tell us"),
            TextInput(
                "subject",
                "Subject",
                min_length=1,
                max_length=100,
                required=True,
                value="Hi",
                placeholder="What about?",
                description="One line",
            ),
            TextInput("body", "Body", style="paragraph", required=False),
            Label("Rating", SelectMenu("rating", ["1", "2", "3"]), description="Pick"),
        ],
    )
    assert modal.to_data() == {
        "custom_id": "feedback:1",
        "title": "Feedback",
        "components": [
            {"type": 10, "content": "Tell us"},
            {
                "type": 18,
                "label": "Subject",
                "description": "One line",
                "component": {
                    "type": 4,
                    "custom_id": "subject",
                    "style": 1,
                    "min_length": 1,
                    "max_length": 100,
                    "required": True,
                    "value": "Hi",
                    "placeholder": "What about?",
                },
            },
            {
                "type": 18,
                "label": "Body",
                "component": {"type": 4, "custom_id": "body", "style": 2, "required": False},
            },
            {
                "type": 18,
                "label": "Rating",
                "description": "Pick",
                "component": {
                    "type": 3,
                    "custom_id": "rating",
                    "options": [
                        {"label": "1", "value": "1"},
                        {"label": "2", "value": "2"},
                        {"label": "3", "value": "3"},
                    ],
                },
            },
        ],
    }


def test_legacy_action_row_text_input_and_raw_dicts_in_modals() -> None:
    raw = {"type": 18, "label": "Upload", "component": {"type": 19, "custom_id": "f"}}
    modal = Modal("m", "T", [ActionRow(TextInput("old", "Old style")), raw])
    data = modal.to_data()
    assert data["components"][0] == {
        "type": 1,
        "components": [{"type": 4, "custom_id": "old", "style": 1, "label": "Old style"}],
    }
    assert data["components"][1] is raw
    wrapped = Label("Text", TextInput("t", "ignored label"))
    assert wrapped.to_data()["component"] == {"type": 4, "custom_id": "t", "style": 1}


def test_choice_data() -> None:
    assert Choice("One", 1).to_data() == {"name": "One", "value": 1}
    localized = Choice("Red", "red", name_localizations={"de": "Rot"})
    assert localized.to_data() == {
        "name": "Red",
        "value": "red",
        "name_localizations": {"de": "Rot"},
    }
    assert Choice("a", 1) == Choice("a", 1) and len({Choice("a", 1), Choice("a", 1)}) == 1


# ---- callback_payload mapping table -------------------------------------------------------

MESSAGE = Message("m")
UPDATE = Message("u", update=True)
MODAL = Modal("m", "T", [TextInput("a", "A")])
CHOICES = [Choice("a", "a")]

MAPPING: list[tuple[Any, int, int | None]] = [
    # (result, interaction type, expected callback type or None = refused)
    (MESSAGE, COMMAND, 4),
    (MESSAGE, COMPONENT, 4),
    (MESSAGE, MODAL_SUBMIT, 4),
    (MESSAGE, AUTOCOMPLETE, None),
    (MESSAGE, PING, None),
    ("text", COMMAND, 4),
    ("text", COMPONENT, 4),
    ("text", MODAL_SUBMIT, 4),
    ("text", AUTOCOMPLETE, None),
    (UPDATE, COMPONENT, 7),
    (UPDATE, MODAL_SUBMIT, 7),
    (UPDATE, COMMAND, None),
    (UPDATE, AUTOCOMPLETE, None),
    (MODAL, COMMAND, 9),
    (MODAL, COMPONENT, 9),
    (MODAL, MODAL_SUBMIT, None),
    (MODAL, PING, None),
    (MODAL, AUTOCOMPLETE, None),
    (CHOICES, AUTOCOMPLETE, 8),
    (["a", 1, 2.5], AUTOCOMPLETE, 8),
    ((), AUTOCOMPLETE, 8),
    (CHOICES, COMMAND, None),
    (CHOICES, COMPONENT, None),
    (CHOICES, MODAL_SUBMIT, None),
    ({"type": 12}, COMMAND, 12),
    ({"type": 1}, PING, 1),
    (MESSAGE, 99, 4),
]


@pytest.mark.parametrize(("result", "interaction_type", "expected"), MAPPING)
def test_callback_payload_mapping(result: Any, interaction_type: int, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(InvalidResponseError):
            callback_payload(result, interaction_type)
        return
    payload, files = callback_payload(result, interaction_type)
    assert payload["type"] == expected and files == []
    json.dumps(payload)  # serialisable as is
    _no_none(payload)


def test_callback_payload_contents() -> None:
    payload, _ = callback_payload("hello", COMMAND)
    assert payload == {"type": 4, "data": {"content": "hello"}}
    payload, _ = callback_payload(Message("e", ephemeral=True), COMPONENT)
    assert payload == {"type": 4, "data": {"content": "e", "flags": 64}}
    payload, _ = callback_payload(UPDATE, COMPONENT)
    assert payload == {"type": 7, "data": {"content": "u"}}
    payload, _ = callback_payload(MODAL, COMMAND)
    assert payload["data"]["custom_id"] == "m" and payload["data"]["components"][0]["type"] == 18
    payload, _ = callback_payload(["a", 1, 2.5, Choice("Named", "v")], AUTOCOMPLETE)
    assert payload == {
        "type": 8,
        "data": {
            "choices": [
                {"name": "a", "value": "a"},
                {"name": "1", "value": 1},
                {"name": "2.5", "value": 2.5},
                {"name": "Named", "value": "v"},
            ]
        },
    }


def test_update_after_modal_from_a_command_is_refused_when_known() -> None:
    with pytest.raises(InvalidResponseError, match="update=True"):
        callback_payload(UPDATE, MODAL_SUBMIT, from_message=False)
    assert callback_payload(UPDATE, MODAL_SUBMIT, from_message=True)[0]["type"] == 7


@given(st.lists(st.one_of(st.text(min_size=1, max_size=100), st.integers()), max_size=60))
def test_autocomplete_caps_at_25_in_given_order(values: list[str | int]) -> None:
    payload, _ = callback_payload(values, AUTOCOMPLETE)
    choices = payload["data"]["choices"]
    assert len(choices) == min(25, len(values))
    assert [c["value"] for c in choices] == values[:25]
    assert [c["name"] for c in choices] == [str(v)[:100] for v in values[:25]]


def test_autocomplete_accepts_a_generator_and_stops_reading_at_25() -> None:
    consumed: list[int] = []

    def gen() -> Any:
        for i in range(1000):
            consumed.append(i)
            yield i

    payload, _ = callback_payload(gen(), AUTOCOMPLETE)
    assert len(payload["data"]["choices"]) == 25 and len(consumed) <= 26


def test_callback_payload_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        callback_payload(42, COMMAND)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        callback_payload(b"bytes", AUTOCOMPLETE)  # type: ignore[arg-type]
    with pytest.raises(InvalidResponseError, match="type"):
        callback_payload({"data": {}}, COMMAND)


def test_callback_payload_returns_files() -> None:
    payload, files = callback_payload(Message("f", files=[("x.txt", b"1")]), COMMAND)
    assert files == [("x.txt", b"1")]
    assert payload["data"]["attachments"] == [{"id": 0, "filename": "x.txt"}]


@pytest.mark.parametrize(
    ("interaction_type", "ephemeral", "expected"),
    [
        (COMMAND, False, {"type": 5}),
        (COMMAND, True, {"type": 5, "data": {"flags": 64}}),
        (MODAL_SUBMIT, False, {"type": 5}),
        (MODAL_SUBMIT, True, {"type": 5, "data": {"flags": 64}}),
        (COMPONENT, False, {"type": 6}),
        (COMPONENT, True, {"type": 5, "data": {"flags": 64}}),
    ],
)
def test_deferred_payload(interaction_type: int, ephemeral: bool, expected: dict[str, Any]) -> None:
    assert deferred_payload(interaction_type, ephemeral) == expected


@pytest.mark.parametrize("interaction_type", [PING, AUTOCOMPLETE])
def test_deferred_payload_refused(interaction_type: int) -> None:
    with pytest.raises(InvalidResponseError, match="cannot be deferred"):
        deferred_payload(interaction_type, False)


def test_message_payload() -> None:
    assert message_payload("hi") == ({"content": "hi"}, [])
    data, files = message_payload(Message("x", ephemeral=True, files=[("a", b"b")], update=True))
    assert data == {"content": "x", "flags": 64, "attachments": [{"id": 0, "filename": "a"}]}
    assert files == [("a", b"b")]
    edited, _ = message_payload(Message("x", ephemeral=True), edit=True)
    assert edited == {"content": "x"}
    kept, _ = message_payload(Message(flags=(1 << 15) | 64 | 4096), edit=True)
    assert kept == {"flags": 1 << 15}
    assert message_payload({"content": "raw"}) == ({"content": "raw"}, [])
    with pytest.raises(InvalidResponseError):
        message_payload(MODAL)  # type: ignore[arg-type]


text = st.text(max_size=30)
optional_text = st.none() | st.text(min_size=1, max_size=30)


@given(
    content=st.none() | text,
    ephemeral=st.booleans(),
    tts=st.none() | st.booleans(),
    title=optional_text,
    footer=optional_text,
    label=optional_text,
    placeholder=optional_text,
    description=optional_text,
)
def test_no_none_in_serialised_output(
    content: str | None,
    ephemeral: bool,
    tts: bool | None,
    title: str | None,
    footer: str | None,
    label: str | None,
    placeholder: str | None,
    description: str | None,
) -> None:
    message = Message(
        content,
        ephemeral=ephemeral,
        tts=tts,
        embeds=[Embed(title, description, footer=footer)],
        components=[
            Button(label, custom_id="b", emoji=None),
            SelectMenu("s", [SelectOption("o", description=description)], placeholder=placeholder),
        ],
    )
    _no_none(message.to_data())
    modal = Modal("m", "T", [TextInput("t", "L", placeholder=placeholder, description=description)])
    _no_none(modal.to_data())
