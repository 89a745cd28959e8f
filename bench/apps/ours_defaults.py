"""Ours with the library's defaults (replay cache on), served alone at `/` (not mounted).

Same `/echo` command as `ours_mounted`; needs a fresh signed body per request. Run:
`uvicorn ours_defaults:app`.
"""

from __future__ import annotations

from fixtures import PUBLIC_KEY_HEX

from asgi_interactions import Context, InteractionApp

bot = InteractionApp(public_key=PUBLIC_KEY_HEX)


@bot.command(description="Repeat what you say")
async def echo(ctx: Context, text: str) -> str:
    """`/echo text`."""
    return text


app = bot
