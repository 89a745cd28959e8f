"""Generated declarations: accepted payloads obey Discord's rules (checked independently here),
and every rejected one fails with an error that names the command.

No `from __future__ import annotations`: handler signatures are built at runtime.
"""

import inspect
import json
import keyword
import re
from typing import Annotated, Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_interactions.commands import CommandDefinitionError, CommandTree, Option
from asgi_interactions.models import Attachment, Channel, Mentionable, Role, User

NAME = re.compile(r"^[-_'a-z0-9]{1,32}$")
ANNOTATIONS: list[Any] = [
    str,
    int,
    float,
    bool,
    User,
    Channel,
    Role,
    Mentionable,
    Attachment,
    Literal["a", "b"],
    Annotated[int, Option(min_value=0, max_value=9)],
    Annotated[str, Option(description="Some text", max_length=50)],
]
ALLOWED_KEYS = {
    "type",
    "name",
    "description",
    "required",
    "choices",
    "options",
    "min_value",
    "max_value",
    "min_length",
    "max_length",
    "channel_types",
    "autocomplete",
    "name_localizations",
    "description_localizations",
}


def check_option(option: dict[str, Any]) -> None:
    assert set(option) <= ALLOWED_KEYS, option
    assert NAME.match(option["name"]), option["name"]
    assert 1 <= len(option["description"]) <= 100
    assert option["type"] in range(1, 12)
    assert option.get("required", True) is True  # only ever written as true
    if "choices" in option:
        assert option["type"] in (3, 4, 10) and 1 <= len(option["choices"]) <= 25
        assert "autocomplete" not in option


def check_command(command: dict[str, Any]) -> None:
    json.dumps(command)  # plain JSON
    assert command["type"] == 1
    assert NAME.match(command["name"])
    assert 1 <= len(command["description"]) <= 100
    options = command.get("options", [])
    assert len(options) <= 25
    assert len({o["name"] for o in options}) == len(options)
    required = [bool(o.get("required")) for o in options]
    assert required == sorted(required, reverse=True), "required options must come first"
    for option in options:
        check_option(option)


option_names = st.from_regex(re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII), fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n)
)
declarations = st.lists(
    st.tuples(option_names, st.sampled_from(range(len(ANNOTATIONS))), st.booleans()),
    max_size=27,
    unique_by=lambda t: t[0],
)


def make_handler(options: list[tuple[str, int, bool]]) -> Any:
    async def handler(ctx: Any, **kwargs: Any) -> None: ...

    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name, index, required in options:
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=ANNOTATIONS[index],
                default=inspect.Parameter.empty if required else None,
            )
        )
    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    handler.__annotations__ = {}
    return handler


@settings(max_examples=150, deadline=None)
@given(option_names, declarations)
def test_generated_commands_obey_discords_rules(
    name: str, options: list[tuple[str, int, bool]]
) -> None:
    tree = CommandTree()
    required = [r for _, _, r in options]
    out_of_order = required != sorted(required, reverse=True)
    try:
        tree.command(name, description="Generated")(make_handler(options))
    except CommandDefinitionError as exc:
        assert repr(name) in str(exc)
        assert out_of_order or len(options) > 25
        return
    assert not out_of_order and len(options) <= 25
    (command,) = tree.payload()[None]
    check_command(command)
    assert [o["name"] for o in command.get("options", [])] == [n for n, _, _ in options]
