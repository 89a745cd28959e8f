"""Ours, low-level: `InteractionApp` with `bot.on(type)` handlers that read the raw interaction.

The handlers do by hand what the command layer would: pick the command by name, walk into the
subcommand, collect options by name, split the button's custom_id. Run: `uvicorn ours_low:app`.
The replay cache is off because wrk replays one signed body (see bench/README.md).
"""

from __future__ import annotations

from fixtures import CALC_OPS, PUBLIC_KEY_HEX

from asgi_interactions import Context, InteractionApp, Message

bot = InteractionApp(public_key=PUBLIC_KEY_HEX, replay_cache_size=0)


@bot.on(2)
async def on_command(ctx: Context) -> str | None:
    """`/echo text` and `/tools calc a b op`, parsed from the raw options."""
    data = ctx.interaction.data
    assert data is not None
    if data.name == "echo":
        return str(data.options[0].value)
    if data.name == "tools":
        sub = data.options[0]
        if sub.name == "calc":
            opts = {o.name: o.value for o in sub.options}
            return str(CALC_OPS[opts["op"]](opts["a"], opts["b"]))
    return None


@bot.on(3)
async def on_component(ctx: Context) -> Message | None:
    """Buttons whose custom_id is `vote:<choice>`."""
    data = ctx.interaction.data
    assert data is not None
    prefix, _, choice = data.custom_id.partition(":")
    if prefix == "vote":
        return Message(content=f"voted {choice}")
    return None


app = bot
