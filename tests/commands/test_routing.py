"""Routing: groups, context commands, components, selects, autocomplete, modals and error handlers.

No `from __future__ import annotations`: handlers are declared inside tests.
"""

from typing import Annotated, Any

import pytest

from asgi_interactions.commands import CommandDefinitionError, CommandTree, Option
from asgi_interactions.errors import HandlerNotFound
from asgi_interactions.models import Member, PartialMessage, User
from tests.models import payloads as samples

from .helpers import command, dispatch


def make_admin_tree() -> tuple[CommandTree, list[tuple[str, Any]]]:
    tree = CommandTree()
    calls: list[tuple[str, Any]] = []
    admin = tree.group("admin", description="Admin tools", default_member_permissions=1 << 2)
    members = admin.group("members", description="Member tools")

    @members.command(description="Ban a member")
    async def ban(ctx: Any, user: Member, reason: str = "") -> str:
        calls.append(("ban", (user, reason)))
        return "banned"

    @admin.command(description="Say hi")
    async def hello(ctx: Any) -> str:
        calls.append(("hello", None))
        return "hi"

    return tree, calls


async def test_subcommand_group_routing_and_payload() -> None:
    tree, calls = make_admin_tree()
    assert await dispatch(tree, samples.payload("subcommand_group")) == "banned"
    user, reason = calls[0][1]
    assert user.nick == "Bobby" and user.user.username == "bob" and reason == "spam"
    assert await dispatch(tree, command("admin", [{"name": "hello", "type": 1}])) == "hi"
    (body,) = tree.payload()[None]
    assert body == {
        "type": 1,
        "name": "admin",
        "description": "Admin tools",
        "default_member_permissions": "4",
        "options": [
            {
                "type": 2,
                "name": "members",
                "description": "Member tools",
                "options": [
                    {
                        "type": 1,
                        "name": "ban",
                        "description": "Ban a member",
                        "options": [
                            {"type": 6, "name": "user", "description": "user", "required": True},
                            {"type": 3, "name": "reason", "description": "reason"},
                        ],
                    }
                ],
            },
            {"type": 1, "name": "hello", "description": "Say hi"},
        ],
    }


def test_groups_nest_only_once_and_names_are_unique() -> None:
    tree = CommandTree()
    admin = tree.group("admin", description="d")
    inner = admin.group("inner", description="d")
    with pytest.raises(CommandDefinitionError, match="nest only one level"):
        inner.group("deeper", description="d")

    async def x(ctx: Any) -> None: ...

    admin.command()(x)
    with pytest.raises(CommandDefinitionError, match="two entries named 'x'"):
        admin.command()(x)
    with pytest.raises(CommandDefinitionError, match="declared twice globally"):
        tree.group("admin", description="d")


def test_empty_group_is_an_error_at_payload_time() -> None:
    tree = CommandTree()
    tree.group("admin", description="d")
    with pytest.raises(CommandDefinitionError, match="'admin' has no subcommands"):
        tree.payload()


def test_two_handlers_for_one_name() -> None:
    tree = CommandTree()

    async def echo(ctx: Any) -> None: ...

    tree.command(description="d")(echo)
    with pytest.raises(CommandDefinitionError, match="'echo' is declared twice globally"):
        tree.command(description="other")(echo)
    # Same name in another scope, or of another type, is fine.
    tree.command(description="d", guild_ids=[5])(echo)
    tree.message_command(name="echo")(lambda ctx, message: None)
    with pytest.raises(CommandDefinitionError, match="declared twice in guild 5"):
        tree.command(description="d", guild_ids=[6, 5])(echo)


async def test_scoped_commands_route_by_guild() -> None:
    tree = CommandTree()

    @tree.command("where", description="d")
    async def global_where(ctx: Any) -> str:
        return "global"

    @tree.command("where", description="d", guild_ids=[int(samples.GUILD_ID)])
    async def guild_where(ctx: Any) -> str:
        return "guild"

    assert await dispatch(tree, command("where", guild_id=samples.GUILD_ID)) == "guild"
    assert await dispatch(tree, command("where")) == "global"
    payload = tree.payload()
    assert set(payload) == {None, int(samples.GUILD_ID)}


async def test_user_and_message_commands() -> None:
    tree = CommandTree()

    @tree.user_command(name="Profile")
    async def profile(ctx: Any, user: User) -> str:
        assert type(user) is User
        return f"user {user.username}"

    @tree.user_command(name="Nick")
    async def nick(ctx: Any, member: Member) -> str:
        return f"nick {member.nick}"

    @tree.message_command(name="Quote")
    async def quote(ctx: Any, message: PartialMessage) -> str:
        return f"quote {message.content}"

    assert await dispatch(tree, samples.payload("user_command")) == "user bob"
    nick_body = samples.payload("user_command")
    nick_body["data"]["name"] = "Nick"
    assert await dispatch(tree, nick_body) == "nick Bobby"
    assert await dispatch(tree, samples.payload("message_command")) == "quote Quote me on this"
    assert tree.payload()[None] == [
        {"type": 2, "name": "Profile"},
        {"type": 2, "name": "Nick"},
        {"type": 3, "name": "Quote"},
    ]
    no_member = samples.payload("user_command")
    no_member["data"]["name"] = "Nick"
    del no_member["data"]["resolved"]["members"]
    result = await dispatch(tree, no_member)
    assert result.ephemeral and "server members" in result.content


def test_context_handler_signature_is_checked() -> None:
    tree = CommandTree()
    with pytest.raises(CommandDefinitionError, match=r"must take \(ctx, user\)"):
        tree.user_command(name="Bad")(lambda ctx: None)


async def test_components_with_typed_parameters_and_select_values() -> None:
    tree = CommandTree()

    @tree.component("vote:{choice}")
    async def vote(ctx: Any, choice: str) -> str:
        return f"voted {choice}"

    @tree.component("page:{n:int}")
    async def page(ctx: Any, n: int) -> int:
        return n + 1

    @tree.component("pick:fruit")
    async def pick(ctx: Any) -> list[str]:
        return list(ctx.values)

    @tree.component("pick:{what}")
    async def pick_other(ctx: Any, what: str, values: list[str]) -> tuple[str, list[str]]:
        return what, values

    assert await dispatch(tree, samples.payload("button")) == "voted yes"
    assert await dispatch(tree, samples.payload("string_select")) == ["apple", "pear"]
    assert await dispatch(tree, samples.payload("user_select")) == (
        "user",
        [samples.OTHER_USER_ID],
    )
    body = samples.payload("button")
    body["data"]["custom_id"] = "page:41"
    assert await dispatch(tree, body) == 42
    body["data"]["custom_id"] = "nothing:here"
    with pytest.raises(HandlerNotFound, match="nothing:here"):
        await dispatch(tree, body)


def test_component_handler_must_take_the_pattern_parameters() -> None:
    tree = CommandTree()
    with pytest.raises(
        CommandDefinitionError, match=r"does not take the pattern's parameters \['n'\]"
    ):
        tree.component("page:{n:int}")(lambda ctx: None)
    with pytest.raises(CommandDefinitionError, match=r"\['extra'\] are not in the pattern"):
        tree.component("page:{n:int}")(lambda ctx, n, extra: None)
    tree.component("any:{n:int}")(lambda ctx, **params: None)


async def test_autocomplete_by_path_and_focused_option() -> None:
    tree = CommandTree()

    @tree.autocomplete("echo", "text")  # declared before the command: linked later
    async def suggest(ctx: Any, value: str) -> list[str]:
        return [value + "lo", value + "p"]

    @tree.command(description="Repeat")
    async def echo(ctx: Any, text: str, times: int = 1) -> None: ...

    admin = tree.group("admin", description="d")

    @admin.command(description="d")
    async def ban(ctx: Any, reason: str = "") -> None: ...

    @tree.autocomplete("admin ban", "reason")
    async def reasons(ctx: Any, value: str) -> list[Any]:
        from asgi_interactions.responses import Choice

        return [Choice(name=f"r{i}", value=f"r{i}") for i in range(30)]

    assert await dispatch(tree, samples.payload("autocomplete")) == ["hello", "help"]
    body = samples.payload("autocomplete")
    body["data"] = {
        "name": "admin",
        "type": 1,
        "options": [
            {
                "name": "ban",
                "type": 1,
                "options": [{"name": "reason", "type": 3, "value": "", "focused": True}],
            }
        ],
    }
    result = await dispatch(tree, body)
    assert len(result) == 25  # Discord takes at most 25
    payload = {c["name"]: c for c in tree.payload()[None]}
    assert payload["echo"]["options"][0]["autocomplete"] is True
    assert "autocomplete" not in payload["echo"]["options"][1]
    assert payload["admin"]["options"][0]["options"][0]["autocomplete"] is True


def test_autocomplete_errors() -> None:
    tree = CommandTree()

    @tree.command(description="d")
    async def pick(ctx: Any, flag: bool, n: int = 1) -> None: ...

    with pytest.raises(CommandDefinitionError, match="only str, int and float"):
        tree.autocomplete("pick", "flag")(lambda ctx, value: [])
    with pytest.raises(CommandDefinitionError, match="no such option"):
        tree.autocomplete("pick", "nope")(lambda ctx, value: [])
    tree.autocomplete("missing", "x")(lambda ctx, value: [])
    with pytest.raises(CommandDefinitionError, match="no such slash command"):
        tree.payload()


async def test_autocomplete_given_in_option() -> None:
    tree = CommandTree()

    async def cities(ctx: Any, value: str) -> list[str]:
        return [c for c in ("Paris", "Prague") if c.lower().startswith(value.lower())]

    @tree.command(description="d")
    async def travel(ctx: Any, city: Annotated[str, Option(autocomplete=cities)]) -> None: ...

    body = command("travel", [{"name": "city", "type": 3, "value": "pa", "focused": True}])
    body["type"] = 4
    assert await dispatch(tree, body) == ["Paris"]
    assert tree.payload()[None][0]["options"][0]["autocomplete"] is True


async def test_modals_label_and_legacy_shapes() -> None:
    tree = CommandTree()
    seen: list[Any] = []

    @tree.modal("feedback:{ticket:int}")
    async def feedback(ctx: Any, ticket: int, subject: str, **fields: Any) -> str:
        seen.append((ticket, subject, fields))
        return "thanks"

    @tree.modal("survey")
    async def survey(ctx: Any, size: str | None, tags: list[str], upload: list[str]) -> str:
        seen.append((size, tags, upload))
        return "ok"

    assert await dispatch(tree, samples.payload("modal_submit")) == "thanks"
    assert seen[-1] == (
        42,
        "Great bot",
        {"rating": ["5"], "helper": [samples.OTHER_USER_ID], "subscribe": True},
    )
    assert await dispatch(tree, samples.payload("modal_submit_legacy")) == "thanks"
    assert seen[-1] == (7, "Hi", {"body": ""})
    assert await dispatch(tree, samples.payload("modal_submit_all_fields")) == "ok"
    assert seen[-1] == (None, [], [samples.ATTACHMENT_ID])


async def test_modal_missing_field_raises_a_clear_type_error() -> None:
    tree = CommandTree()

    @tree.modal("feedback:{ticket}")
    async def feedback(ctx: Any, ticket: str, missing_field: str) -> None: ...

    with pytest.raises(TypeError, match=r"needs fields \['missing_field'\]"):
        await dispatch(tree, samples.payload("modal_submit"))


async def test_error_handlers() -> None:
    tree = CommandTree()
    handled: list[Exception] = []

    async def recover(ctx: Any, exc: Exception) -> str | None:
        handled.append(exc)
        return "recovered" if isinstance(exc, ValueError) else None

    @tree.command(description="d", error_handler=recover)
    async def boom(ctx: Any, kind: str) -> None:
        raise ValueError(kind) if kind == "value" else KeyError(kind)

    assert (
        await dispatch(tree, command("boom", [{"name": "kind", "type": 3, "value": "value"}]))
        == "recovered"
    )
    with pytest.raises(KeyError):
        await dispatch(tree, command("boom", [{"name": "kind", "type": 3, "value": "key"}]))
    assert len(handled) == 2

    group = tree.group("grp", description="d", error_handler=recover)

    @group.command(description="d")
    async def sub(ctx: Any) -> None:
        raise ValueError("x")

    assert await dispatch(tree, command("grp", [{"name": "sub", "type": 1}])) == "recovered"

    @sub.error
    async def own(ctx: Any, exc: Exception) -> str:
        return "own"

    assert await dispatch(tree, command("grp", [{"name": "sub", "type": 1}])) == "own"


async def test_sync_handlers_are_allowed() -> None:
    tree = CommandTree()
    tree.command("plain", description="d")(lambda ctx: "sync result")
    assert await dispatch(tree, command("plain")) == "sync result"


async def test_nothing_matches() -> None:
    tree = CommandTree()
    assert not any(tree.handles(t) for t in (1, 2, 3, 4, 5))
    with pytest.raises(HandlerNotFound, match="'nope'"):
        await dispatch(tree, command("nope"))
    tree.command("yes", description="d")(lambda ctx: None)
    assert tree.handles(2) and not tree.handles(3)


def test_decorated_command_stays_callable() -> None:
    tree = CommandTree()

    @tree.command(description="d")
    def add(ctx: Any, a: int, b: int) -> int:
        return a + b

    assert add(None, 1, 2) == 3
    assert tree.get("add") is add


async def test_callable_objects_and_partials_as_handlers() -> None:
    import functools

    tree = CommandTree()

    class Doubler:
        async def __call__(self, ctx: Any, n: int) -> int:
            return n * 2

    async def scaled(ctx: Any, n: int, factor: int) -> int:
        return n * factor

    tree.command("double", description="d")(Doubler())
    tree.command("triple", description="d")(functools.partial(scaled, factor=3))
    options = [{"name": "n", "type": 4, "value": 5}]
    assert await dispatch(tree, command("double", options)) == 10
    assert await dispatch(tree, command("triple", options)) == 15
