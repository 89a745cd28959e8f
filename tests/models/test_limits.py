"""Every Discord limit is checked when a response is built; the error names it and the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    ResponseLimitError,
    SelectMenu,
    SelectOption,
    TextInput,
)


def _button(i: int = 0) -> Button:
    return Button("b", custom_id=f"b{i}")


def _input(i: int = 0) -> TextInput:
    return TextInput(f"t{i}", "Label")


def _embeds_over_total() -> Message:
    embeds = [Embed(description="x" * 4000), Embed(description="y" * 2001)]
    return Message(embeds=embeds)


# (case id, builder, limit name in message, offending number, Discord's number)
LIMITS: list[tuple[str, Callable[[], Any], str, int, int]] = [
    ("content", lambda: Message("x" * 2001), "message content", 2001, 2000),
    ("embeds", lambda: Message(embeds=[Embed("t")] * 11), "embeds per message", 11, 10),
    ("embed total", _embeds_over_total, "total embed characters", 6001, 6000),
    ("embed title", lambda: Embed("x" * 257), "embed title", 257, 256),
    ("embed description", lambda: Embed(description="x" * 4097), "embed description", 4097, 4096),
    ("embed fields", lambda: Embed(fields=[("n", "v")] * 26), "embed fields", 26, 25),
    ("field name", lambda: Embed().add_field("x" * 257, "v"), "embed field name", 257, 256),
    ("field value", lambda: Embed().add_field("n", "x" * 1025), "embed field value", 1025, 1024),
    ("empty field name", lambda: Embed().add_field("", "v"), "embed field name", 0, 1),
    ("footer", lambda: Embed(footer="x" * 2049), "embed footer text", 2049, 2048),
    ("author", lambda: Embed().set_author("x" * 257), "embed author name", 257, 256),
    (
        "one embed total",
        lambda: Embed("x" * 256, "y" * 4096, fields=[("n" * 256, "v" * 1024)] * 2),
        "embed total characters",
        6912,
        6000,
    ),
    ("color", lambda: Embed(color=0x1000000), "embed color", 0x1000000, 0xFFFFFF),
    (
        "action rows",
        lambda: Message(components=[ActionRow(_button(i)) for i in range(6)]),
        "action rows in a message",
        6,
        5,
    ),
    (
        "buttons per row",
        lambda: ActionRow(*[_button(i) for i in range(6)]),
        "buttons in an action row",
        6,
        5,
    ),
    ("empty row", lambda: ActionRow(), "components in an action row", 0, 1),
    (
        "select options",
        lambda: SelectMenu("s", [str(i) for i in range(26)]),
        "select options",
        26,
        25,
    ),
    ("no options", lambda: SelectMenu("s", []), "select options", 0, 1),
    ("custom_id long", lambda: Button("b", custom_id="x" * 101), "button custom_id", 101, 100),
    ("custom_id empty", lambda: Button("b", custom_id=""), "button custom_id", 0, 1),
    ("select custom_id", lambda: SelectMenu("x" * 101, ["a"]), "select custom_id", 101, 100),
    ("button label", lambda: Button("x" * 81, custom_id="b"), "button label", 81, 80),
    ("button url", lambda: Button("b", url="https://" + "x" * 505), "button url", 513, 512),
    (
        "select placeholder",
        lambda: SelectMenu("s", ["a"], placeholder="x" * 151),
        "select placeholder",
        151,
        150,
    ),
    ("min_values", lambda: SelectMenu("s", ["a"], min_values=26), "select min_values", 26, 25),
    ("max_values", lambda: SelectMenu("s", ["a"], max_values=26), "select max_values", 26, 25),
    ("option label", lambda: SelectOption("x" * 101), "select option label", 101, 100),
    ("option value", lambda: SelectOption("a", "x" * 101), "select option value", 101, 100),
    (
        "option description",
        lambda: SelectOption("a", description="x" * 101),
        "select option description",
        101,
        100,
    ),
    (
        "default_values over max",
        lambda: SelectMenu("s", type="user", default_values=[1, 2]),
        "select default_values",
        2,
        1,
    ),
    ("modal title", lambda: Modal("m", "x" * 46, [_input()]), "modal title", 46, 45),
    ("modal custom_id", lambda: Modal("x" * 101, "T", [_input()]), "modal custom_id", 101, 100),
    ("modal empty", lambda: Modal("m", "T", []), "modal components", 0, 1),
    (
        "modal components",
        lambda: Modal("m", "T", [_input(i) for i in range(6)]),
        "modal components",
        6,
        5,
    ),
    ("input label", lambda: TextInput("t", "x" * 46), "text input label", 46, 45),
    ("input custom_id", lambda: TextInput("x" * 101, "L"), "text input custom_id", 101, 100),
    (
        "input min_length",
        lambda: TextInput("t", "L", min_length=4001),
        "text input min_length",
        4001,
        4000,
    ),
    (
        "input max_length",
        lambda: TextInput("t", "L", max_length=4001),
        "text input max_length",
        4001,
        4000,
    ),
    (
        "input max_length 0",
        lambda: TextInput("t", "L", max_length=0),
        "text input max_length",
        0,
        1,
    ),
    ("input value", lambda: TextInput("t", "L", value="x" * 4001), "text input value", 4001, 4000),
    (
        "input value over max_length",
        lambda: TextInput("t", "L", value="x" * 11, max_length=10),
        "text input value",
        11,
        10,
    ),
    (
        "input placeholder",
        lambda: TextInput("t", "L", placeholder="x" * 101),
        "text input placeholder",
        101,
        100,
    ),
    (
        "input description",
        lambda: TextInput("t", "L", description="x" * 101),
        "text input description",
        101,
        100,
    ),
    ("label text", lambda: Label("x" * 46, _input()), "label text", 46, 45),
    (
        "attachments",
        lambda: Message(files=[(f"f{i}.txt", b"x") for i in range(11)]),
        "attachments per message",
        11,
        10,
    ),
    (
        "attachments incl. kept ones",
        lambda: Message(files=[("a.txt", b"")] * 6, attachments=[{"id": str(i)} for i in range(5)]),
        "attachments per message",
        11,
        10,
    ),
    ("choice name", lambda: Choice("x" * 101, 1), "choice name", 101, 100),
    ("choice name empty", lambda: Choice("", 1), "choice name", 0, 1),
    ("choice value", lambda: Choice("n", "x" * 101), "choice value", 101, 100),
    (
        "allowed mentions users",
        lambda: AllowedMentions(users=range(101)),
        "allowed_mentions users",
        101,
        100,
    ),
]


@pytest.mark.parametrize(
    ("build", "limit", "actual", "bound"),
    [case[1:] for case in LIMITS],
    ids=[case[0] for case in LIMITS],
)
def test_limit_raises_naming_it(
    build: Callable[[], Any], limit: str, actual: int, bound: int
) -> None:
    with pytest.raises(ResponseLimitError) as info:
        build()
    error = info.value
    assert isinstance(error, ValueError)
    message = str(error)
    assert limit in message
    assert str(actual) in message and str(bound) in message
    assert error.actual == actual


def test_limits_at_the_boundary_pass() -> None:
    Message("x" * 2000, embeds=[Embed("t")] * 10)
    Message(embeds=[Embed(description="x" * 4000), Embed(description="y" * 2000)])
    Message(
        components=[
            ActionRow(*[Button("b", custom_id=f"{r}{i}") for i in range(5)]) for r in range(5)
        ]
    )
    SelectMenu("s", [str(i) for i in range(25)], min_values=0, max_values=25)
    Modal("x" * 100, "y" * 45, [TextInput(f"t{i}", "L" * 45) for i in range(5)])
    TextInput("t", "L", min_length=0, max_length=4000, value="v" * 4000, placeholder="p" * 100)
    Button("x" * 80, custom_id="c" * 100)
    Message(files=[(f"f{i}", b"") for i in range(10)])
    Choice("n" * 100, "v" * 100)
    Embed(fields=[("n", "v")] * 25, footer="f" * 2048, color=0xFFFFFF)


@given(st.text(max_size=2100))
def test_content_limit_matches_length(content: str) -> None:
    if len(content) <= 2000:
        assert Message(content).to_data()["content"] == content
    else:
        with pytest.raises(ResponseLimitError, match="message content"):
            Message(content)


@given(st.lists(st.integers(min_value=0, max_value=1100), min_size=1, max_size=12))
def test_embed_total_is_summed_across_embeds(sizes: list[int]) -> None:
    embeds = [Embed(description="d" * n) if n else Embed(title="t") for n in sizes]
    total = sum(n if n else 1 for n in sizes)
    if len(embeds) > 10:
        with pytest.raises(ResponseLimitError, match="embeds per message"):
            Message(embeds=embeds)
    elif total > 6000:
        with pytest.raises(ResponseLimitError, match="total embed characters"):
            Message(embeds=embeds)
    else:
        assert len(Message(embeds=embeds).to_data()["embeds"]) == len(sizes)


def test_embed_total_rechecked_when_embeds_mutated_after_message_built() -> None:
    embed = Embed(description="x" * 4000)
    message = Message(embeds=[embed, Embed(description="y" * 1999)])
    embed.add_field("n", "v")  # 4002 + 1999 = 6001
    with pytest.raises(ResponseLimitError, match="total embed characters"):
        message.to_data()


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: ActionRow(SelectMenu("s", ["a"]), Button("b", custom_id="b")), "exactly 1"),
        (lambda: Button("b"), "custom_id"),
        (lambda: Button("b", url="https://x", custom_id="c"), "link button"),
        (lambda: Button("b", style="link"), "link button"),
        (lambda: Button(sku_id=1, custom_id="c"), "premium"),
        (lambda: Button("label", sku_id=1), "premium"),
        (lambda: Button("b", custom_id="c", url="https://x", style=1), "only link"),
        (lambda: SelectMenu("s"), "needs options"),
        (lambda: SelectMenu("s", ["a"], type="user"), "only string selects"),
        (lambda: SelectMenu("s", ["a"], default_values=[1]), "default=True"),
        (lambda: SelectMenu("s", type="role", channel_types=[0]), "channel_types"),
        (lambda: SelectMenu("s", type="mentionable", default_values=[1]), "need a type"),
        (lambda: SelectMenu("s", ["a", "b"], min_values=2, max_values=1), "min_values"),
        (lambda: TextInput("t", "L", min_length=5, max_length=2), "min_length"),
        (lambda: Modal("m", "T", [SelectMenu("s", ["a"])]), "Label"),
        (lambda: Modal("m", "T", [Button("b", custom_id="b")]), "buttons"),
        (lambda: Modal("m", "T", [TextInput("a", "A"), TextInput("a", "B")]), "twice"),
        (
            lambda: Message(components=[Button("b", custom_id="x"), Button("c", custom_id="x")]),
            "twice",
        ),
        (lambda: Message(components=[TextInput("a", "A")]), "modals"),
        (lambda: Message("hi", flags=1 << 15), "Components V2"),
        (lambda: AllowedMentions(parse=["users"], users=[1]), "cannot both"),
        (lambda: Label("L", ActionRow(Button("b", custom_id="b"))), "Label wraps"),
    ],
)
def test_invalid_shapes_raise_value_errors(build: Callable[[], Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle) as info:
        build()
    assert isinstance(info.value, InvalidResponseError | ResponseLimitError)


def test_wrong_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        Message(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Choice("n", True)
    with pytest.raises(TypeError):
        Message(files=[("a.txt", "not bytes")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="filename"):
        Message(files=[("", b"x")])
    with pytest.raises(ValueError, match="unknown ButtonStyle"):
        Button("b", custom_id="c", style="shiny")
    with pytest.raises(ValueError, match="unknown select type"):
        SelectMenu("s", type="emoji")
