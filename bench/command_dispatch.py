"""Cost of CommandTree.dispatch over awaiting a bare handler (JSON parsing and models excluded).

Run from the repository root: PYTHONPATH=. python bench/command_dispatch.py
"""

import asyncio
import time
from typing import Annotated, Any

from asgi_interactions.commands import CommandTree, Option
from asgi_interactions.models import Interaction, User
from tests.models import payloads as samples

tree = CommandTree()


async def bare(ctx: Any) -> None:
    return None


@tree.command(description="Repeat")
async def echo(ctx: Any, text: Annotated[str, Option(max_length=200)], times: int = 1) -> str:
    return text


for i in range(60):  # a realistic number of other commands
    tree.command(f"filler{i}", description="d")(bare)
members = tree.group("admin", description="d").group("members", description="d")


@members.command(description="d")
async def ban(ctx: Any, user: User, reason: str = "") -> str:
    return reason


for i in range(30):  # other component patterns
    tree.component(f"btn{i}:{{x}}")(lambda ctx, x: x)


@tree.component("vote:{choice}")
async def vote(ctx: Any, choice: str) -> str:
    return choice


class Ctx:
    __slots__ = ("interaction",)

    def __init__(self, body: dict[str, Any]) -> None:
        self.interaction = Interaction.model_validate(body)


CASES = {
    "/echo (2 options)": Ctx(
        {
            "type": 2,
            "data": {
                "name": "echo",
                "type": 1,
                "options": [
                    {"name": "text", "type": 3, "value": "hi"},
                    {"name": "times", "type": 4, "value": 2},
                ],
            },
        }
    ),
    "/admin members ban (User + str)": Ctx(samples.payload("subcommand_group")),
    "button vote:{choice} (31 patterns)": Ctx(samples.payload("button")),
}


async def per_call(fn: Any, ctx: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn(ctx)
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    n = 100_000
    for label, ctx in CASES.items():
        direct = min([await per_call(bare, ctx, n) for _ in range(5)])
        routed = min([await per_call(tree.dispatch, ctx, n) for _ in range(5)])
        print(
            f"{label:36s} bare handler {direct:5.2f} us   tree.dispatch {routed:5.2f} us   "
            f"layer costs {routed - direct:4.2f} us"
        )


asyncio.run(main())
