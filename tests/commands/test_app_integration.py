"""The command layer behind the real app, driven by the signed test client.

No `from __future__ import annotations`: handlers are declared inside tests.
"""

import enum
from contextlib import AsyncExitStack
from typing import Annotated

import pytest

from asgi_interactions import (
    Choice,
    Context,
    InteractionApp,
    Message,
    Modal,
    Option,
    TextInput,
)
from asgi_interactions.commands import custom_id
from asgi_interactions.models import Member, PartialMessage, User
from asgi_interactions.testing import (
    DEVELOPMENT_KEYS,
    InteractionTestClient,
    member,
    message,
    user,
)
from tests.serve import serve


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


def make_bot() -> InteractionApp:
    bot = InteractionApp(
        public_key=DEVELOPMENT_KEYS.public_key, application_id=1100000000000000001, token=None
    )

    @bot.command(description="Repeat what you say")
    async def echo(
        ctx: Context,
        text: Annotated[str, Option(description="What to say", max_length=20)],
        times: int = 1,
        size: Size = Size.SMALL,
    ) -> Message:
        return Message(content=f"{text * times} ({size.name})", ephemeral=True)

    @bot.autocomplete("echo", "text")
    async def suggest(ctx: Context, value: str) -> list[Choice]:
        return [Choice(name=f"{value}!", value=f"{value}!")]

    admin = bot.group("admin", description="Admin tools")

    @admin.command(description="Ban someone")
    async def ban(ctx: Context, target: Member, reason: str = "no reason") -> str:
        return f"banned {target.user.username}: {reason}"

    @bot.user_command(name="Profile")
    async def profile(ctx: Context, target: User) -> str:
        return f"profile of {target.username}"

    @bot.message_command(name="Quote")
    async def quote(ctx: Context, target: PartialMessage) -> str:
        return f"> {target.content}"

    @bot.component("vote:{choice}")
    async def vote(ctx: Context, choice: str) -> Message:
        return Message(content=f"you chose {choice}", update=True)

    @bot.component("pick:{n:int}")
    async def pick(ctx: Context, n: int) -> str:
        return f"{n + 1}: {', '.join(ctx.values)}"

    @bot.command(description="Give feedback")
    async def feedback(ctx: Context) -> Modal:
        return Modal(
            custom_id=custom_id("feedback:{ticket:int}", ticket=7),
            title="Feedback",
            components=[TextInput(custom_id="summary", label="Summary")],
        )

    @bot.modal("feedback:{ticket:int}")
    async def feedback_done(ctx: Context, ticket: int, summary: str) -> str:
        return f"ticket {ticket}: {summary}"

    async def explain(ctx: Context, exc: Exception) -> Message | None:
        return Message(content=f"oops: {exc}", ephemeral=True)

    @bot.command(description="Fails", error_handler=explain)
    async def fail(ctx: Context) -> None:
        raise RuntimeError("broken")

    return bot


@pytest.mark.parametrize("transport", ["in-process", "uvicorn"])
async def test_commands_components_autocomplete_modals_through_the_app(transport: str) -> None:
    async with AsyncExitStack() as stack:
        bot = make_bot()
        if transport == "uvicorn":
            url = await stack.enter_async_context(serve(bot, lifespan="on"))
            client = await stack.enter_async_context(InteractionTestClient(url))
        else:
            client = await stack.enter_async_context(InteractionTestClient(bot))
        answer = await client.command("echo", {"text": "hi", "times": 2, "size": "l"})
        assert (answer.status, answer.type, answer.content) == (200, 4, "hihi (LARGE)")
        assert answer.ephemeral

        bad = await client.command("echo", {"text": "x", "size": "medium"})
        assert bad.type == 4 and bad.ephemeral and "`size`" in (bad.content or "")

        ban = await client.command("admin", {"target": member(username="bob")}, subcommand="ban")
        assert ban.content == "banned bob: no reason"

        assert (await client.user_command("Profile", user(username="carol"))).content == (
            "profile of carol"
        )
        quoted = await client.message_command("Quote", message(content="wise words"))
        assert quoted.content == "> wise words"

        voted = await client.button("vote:yes")
        assert (voted.type, voted.content) == (7, "you chose yes")

        picked = await client.select("pick:1", ["a", "b"])
        assert picked.content == "2: a, b"

        suggested = await client.autocomplete("echo", "text", "hel")
        assert suggested.type == 8
        assert suggested.choices == [{"name": "hel!", "value": "hel!"}]

        modal = await client.command("feedback")
        assert modal.type == 9 and modal.data["custom_id"] == "feedback:7"
        done = await client.modal_submit("feedback:7", {"summary": "great"})
        assert done.content == "ticket 7: great"

        failed = await client.command("fail")
        assert failed.content == "oops: broken" and failed.ephemeral

        missing = await client.command("nope")
        assert missing.status == 200 and missing.ephemeral


def test_commands_payload_from_the_app() -> None:
    payload = make_bot().commands_payload()
    names = sorted((c["type"], c["name"]) for c in payload[None])
    assert names == [
        (1, "admin"),
        (1, "echo"),
        (1, "fail"),
        (1, "feedback"),
        (2, "Profile"),
        (3, "Quote"),
    ]
    echo = next(c for c in payload[None] if c["name"] == "echo")
    assert echo["options"][0] == {
        "type": 3,
        "name": "text",
        "description": "What to say",
        "required": True,
        "max_length": 20,
        "autocomplete": True,
    }
