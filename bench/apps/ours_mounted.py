"""Ours as users run it: library defaults (replay cache on), mounted in FastAPI the documented way.

`FastAPI(lifespan=bot.lifespan)` and `app.mount("/interactions", bot)`; the bot answers `/echo`
through the command layer. Every request must carry a fresh signed body (the replay cache refuses
a repeat), so the drivers rotate through pre-signed distinct bodies.
Run: `uvicorn ours_mounted:app`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fixtures import PUBLIC_KEY_HEX
from starlette.applications import Starlette
from starlette.routing import Mount

from asgi_interactions import Context, InteractionApp

bot = InteractionApp(public_key=PUBLIC_KEY_HEX)


@bot.command(description="Repeat what you say")
async def echo(ctx: Context, text: str) -> str:
    """`/echo text`."""
    return text


app = FastAPI(lifespan=bot.lifespan)
app.mount("/interactions", bot)

# The same bot in a plain Starlette parent (bench/instructions.py's `ours-starlette`).
starlette_app = Starlette(routes=[Mount("/interactions", bot)], lifespan=bot.lifespan)
