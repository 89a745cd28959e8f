"""Options from annotations: each type, choices, optional values, Option(...) and conversion.

No `from __future__ import annotations` here: handlers are declared inside tests with local types.
"""

import enum
from typing import Annotated, Any, Literal

import pytest

from asgi_interactions.commands import CommandDefinitionError, CommandTree, Option
from asgi_interactions.models import (
    Attachment,
    Channel,
    ChannelType,
    Member,
    Mentionable,
    Role,
    User,
)
from tests.models import payloads as samples

from .helpers import command, dispatch


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def options_of(tree: CommandTree, name: str = "c") -> list[dict[str, Any]]:
    for entry in tree.payload()[None]:
        if entry["name"] == name:
            return list(entry.get("options", []))
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("annotation", "option_type"),
    [
        (str, 3),
        (int, 4),
        (bool, 5),
        (User, 6),
        (Member, 6),
        (User | Member, 6),
        (Channel, 7),
        (Role, 8),
        (Mentionable, 9),
        (User | Role, 9),
        (float, 10),
        (Attachment, 11),
    ],
)
def test_option_type_from_annotation(annotation: Any, option_type: int) -> None:
    tree = CommandTree()

    async def c(ctx: Any, value: annotation) -> None:  # type: ignore[valid-type]
        ...

    tree.command(description="d")(c)
    assert options_of(tree) == [
        {"type": option_type, "name": "value", "description": "value", "required": True}
    ]


def test_unsupported_annotation_is_an_error_naming_the_command() -> None:
    tree = CommandTree()

    async def c(ctx: Any, value: list[int]) -> None: ...

    with pytest.raises(CommandDefinitionError, match="slash command 'c' option 'value'"):
        tree.command(description="d")(c)


def test_option_metadata_and_optional_forms() -> None:
    tree = CommandTree()

    async def c(
        ctx: Any,
        text: Annotated[str, Option("What to say", min_length=1, max_length=200)],
        count: Annotated[int, Option(description="How many", min_value=1, max_value=10)] = 1,
        ratio: Annotated[float, Option(min_value=0.5)] | None = None,
        where: Annotated[
            Channel, Option(channel_types=[ChannelType.GUILD_TEXT, ChannelType.GUILD_FORUM])
        ]
        | None = None,
        renamed: Annotated[
            str,
            Option(
                name="new-name",
                name_localizations={"de": "neuer-name"},
                description_localizations={"de": "Beschreibung"},
            ),
        ] = "",
    ) -> None: ...

    tree.command(description="d")(c)
    assert options_of(tree) == [
        {
            "type": 3,
            "name": "text",
            "description": "What to say",
            "required": True,
            "min_length": 1,
            "max_length": 200,
        },
        {"type": 4, "name": "count", "description": "How many", "min_value": 1, "max_value": 10},
        {"type": 10, "name": "ratio", "description": "ratio", "min_value": 0.5},
        {"type": 7, "name": "where", "description": "where", "channel_types": [0, 15]},
        {
            "type": 3,
            "name": "new-name",
            "description": "new-name",
            "name_localizations": {"de": "neuer-name"},
            "description_localizations": {"de": "Beschreibung"},
        },
    ]


def test_choices_from_literal_and_enum() -> None:
    tree = CommandTree()

    async def c(
        ctx: Any,
        colour: Colour,
        level: Level,
        size: Literal["s", "m", "l"],
        step: Literal[1, 2.5],
    ) -> None: ...

    tree.command(description="d")(c)
    opts = options_of(tree)
    assert opts[0]["type"] == 3
    assert opts[0]["choices"] == [
        {"name": "RED", "value": "red"},
        {"name": "GREEN", "value": "green"},
    ]
    assert opts[1]["type"] == 4
    assert opts[1]["choices"] == [{"name": "LOW", "value": 1}, {"name": "HIGH", "value": 2}]
    assert opts[2]["choices"] == [{"name": v, "value": v} for v in "sml"]
    assert opts[3]["type"] == 10


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        (Option(min_value=1), "min_value/max_value need an int or float"),
        (Option(max_length=0), "max_length must be an integer in 1-6000"),
        (Option(channel_types=[0]), "channel_types needs a Channel"),
        (Option(autocomplete=True, min_length=2, max_length=1), "greater than"),
    ],
)
def test_option_misuse(option: Option, problem: str) -> None:
    tree = CommandTree()

    async def c(ctx: Any, value: Annotated[str, option]) -> None: ...

    with pytest.raises(CommandDefinitionError, match=problem):
        tree.command(description="d")(c)


def test_required_after_optional_keyword_only_is_rejected() -> None:
    tree = CommandTree()

    async def c(ctx: Any, *, a: str = "", b: str) -> None: ...

    with pytest.raises(CommandDefinitionError, match="required option 'b' comes after optional"):
        tree.command(description="d")(c)


def test_docstring_supplies_descriptions() -> None:
    tree = CommandTree()

    async def c(ctx: Any, text: str, times: int = 1) -> None:
        """Repeat some text.

        Longer explanation that is not used.

        Args:
            text: The text to repeat.
            times: How many times
                (continued line).
        """

    tree.command()(c)
    body = tree.payload()[None][0]
    assert body["description"] == "Repeat some text."
    assert [o["description"] for o in body["options"]] == ["The text to repeat.", "How many times"]


async def test_every_option_type_converts_from_a_real_payload() -> None:
    tree = CommandTree()
    seen: dict[str, Any] = {}

    @tree.command(description="Report something")
    async def report(
        ctx: Any,
        text: str,
        count: int,
        ratio: float,
        urgent: bool,
        target: Member,
        where: Channel,
        team: Role,
        who: Mentionable,
        proof: Attachment,
    ) -> str:
        seen.update(locals())
        return "ok"

    assert await dispatch(tree, samples.payload("slash_command")) == "ok"
    assert seen["text"] == "Something is broken in #general"
    assert seen["count"] == 3 and type(seen["count"]) is int
    assert seen["ratio"] == 0.75
    assert seen["urgent"] is True
    assert isinstance(seen["target"], Member)
    assert seen["target"].user.username == "bob"
    assert isinstance(seen["where"], Channel) and seen["where"].name == "bugs"
    assert isinstance(seen["team"], Role) and seen["team"].name == "Moderators"
    assert isinstance(seen["who"], Role)
    assert isinstance(seen["proof"], Attachment) and seen["proof"].filename == "screenshot.png"


async def test_user_annotation_gets_the_user_and_union_prefers_member() -> None:
    tree = CommandTree()
    seen: list[Any] = []

    @tree.command(description="d")
    async def report(ctx: Any, target: User, who: User | Member | None = None) -> None:
        seen.extend([target, who])

    body = samples.payload("slash_command")
    body["data"]["options"] = [
        {"name": "target", "type": 6, "value": samples.OTHER_USER_ID},
        {"name": "who", "type": 6, "value": samples.OTHER_USER_ID},
    ]
    await dispatch(tree, body)
    assert type(seen[0]) is User
    assert type(seen[1]) is Member and seen[1].user.id == int(samples.OTHER_USER_ID)


async def test_choice_arguments_are_the_enum_member_and_literal_value() -> None:
    tree = CommandTree()
    seen: dict[str, Any] = {}

    @tree.command(description="d")
    async def c(ctx: Any, colour: Colour, level: Level, size: Literal["s", "m"] = "s") -> None:
        seen.update(colour=colour, level=level, size=size)

    await dispatch(
        tree,
        command(
            "c",
            [
                {"name": "colour", "type": 3, "value": "green"},
                {"name": "level", "type": 4, "value": 2},
                {"name": "size", "type": 3, "value": "m"},
            ],
        ),
    )
    assert seen == {"colour": Colour.GREEN, "level": Level.HIGH, "size": "m"}


async def test_missing_optional_values_use_defaults_or_none() -> None:
    tree = CommandTree()
    seen: dict[str, Any] = {}

    @tree.command(description="d")
    async def c(ctx: Any, a: str, b: int = 5, c: str | None = None, d: User | None = None) -> None:
        seen.update(a=a, b=b, c=c, d=d)

    await dispatch(tree, command("c", [{"name": "a", "type": 3, "value": "x"}]))
    assert seen == {"a": "x", "b": 5, "c": None, "d": None}


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        ({"name": "n", "type": 4, "value": "seven"}, "expected a whole number"),
        ({"name": "n", "type": 4, "value": 11}, "between 0 and 10"),
        ({"name": "n", "type": 4, "value": True}, "expected a whole number"),
        ({"name": "colour", "type": 3, "value": "blue"}, "not one of the choices"),
        ({"name": "who", "type": 6, "value": "999"}, "did not resolve"),
        ({"name": "member", "type": 6, "value": "5"}, "member of this server"),
        ({"name": "text", "type": 3, "value": "x" * 6}, "length must be between 0 and 5"),
    ],
)
async def test_bad_values_answer_ephemerally_without_calling_the_handler(
    option: dict[str, Any], reason: str
) -> None:
    tree = CommandTree()
    calls: list[Any] = []

    @tree.command(description="d")
    async def c(
        ctx: Any,
        n: Annotated[int, Option(min_value=0, max_value=10)] = 0,
        colour: Colour = Colour.RED,
        who: User | None = None,
        member: Member | None = None,
        text: Annotated[str, Option(max_length=5)] = "",
    ) -> None:
        calls.append(1)

    body = command("c", [option], resolved={"users": {"5": {"id": "5", "username": "u"}}})
    result = await dispatch(tree, body)
    assert calls == []
    assert result.ephemeral is True
    assert f"`{option['name']}`" in result.content
    assert reason in result.content


async def test_missing_required_value_is_reported() -> None:
    tree = CommandTree()

    @tree.command(description="d")
    async def c(ctx: Any, a: str) -> None:
        raise AssertionError("not called")

    result = await dispatch(tree, command("c", []))
    assert "`a`" in result.content and "required" in result.content
