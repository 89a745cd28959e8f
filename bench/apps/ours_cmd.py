"""Ours, command layer: the same commands declared with `@bot.command`, a group and a component.

Run: `uvicorn ours_cmd:app`. The replay cache is off because wrk replays one signed body.
"""

from __future__ import annotations

from typing import Literal

from fixtures import CALC_OPS, PUBLIC_KEY_HEX

from asgi_interactions import Context, InteractionApp, Message

bot = InteractionApp(public_key=PUBLIC_KEY_HEX, replay_cache_size=0)


@bot.command(description="Repeat what you say")
async def echo(ctx: Context, text: str) -> str:
    """`/echo text`."""
    return text


tools = bot.group("tools", description="Small tools")


@tools.command(description="Calculate a op b")
async def calc(ctx: Context, a: int, b: int, op: Literal["add", "sub", "mul"]) -> str:
    """`/tools calc a b op`."""
    return str(CALC_OPS[op](a, b))


@bot.component("vote:{choice}")
async def vote(ctx: Context, choice: str) -> Message:
    """Buttons whose custom_id is `vote:<choice>`."""
    return Message(content=f"voted {choice}")


app = bot
