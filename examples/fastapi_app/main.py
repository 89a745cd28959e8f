"""A runnable bot mounted in FastAPI:
``uvicorn examples.fastapi_app.main:app --log-config examples/logging.json``.

Development mode, opted in here and nowhere in the library: without DISCORD_PUBLIC_KEY it warns
and uses the public development key pair, so that
``asgi-interactions send http://127.0.0.1:8000/interactions ping`` (and
``asgi-interactions send http://127.0.0.1:8000/discord/events event ping``) work locally.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

from fastapi import FastAPI

from asgi_interactions import ActionRow, Button, Context, InteractionApp, Message, Option
from asgi_interactions.testing import DEVELOPMENT_KEYS
from asgi_interactions.webhook_events import ApplicationAuthorized, WebhookEvent

log = logging.getLogger("examples.fastapi_app")

public_key = os.environ.get("DISCORD_PUBLIC_KEY")
if not public_key:
    log.warning(
        "DISCORD_PUBLIC_KEY is not set: using the public development key. Requests signed by "
        "Discord will be refused; set the key from the developer portal for a real bot."
    )
    public_key = DEVELOPMENT_KEYS.public_key

bot = InteractionApp(public_key=public_key)


@bot.command(description="Repeat what you say")
async def echo(
    ctx: Context,
    text: Annotated[str, Option(description="What to say", max_length=200)],
    times: Annotated[int, Option(description="How many times", min_value=1, max_value=5)] = 1,
) -> Message:
    """Echo the text back, only to the caller."""
    return Message(content=" ".join([text] * times), ephemeral=True)


@bot.command(description="Count clicks on a button")
async def counter(ctx: Context) -> Message:
    """Send a message with a button that counts its clicks."""
    button = Button(label="Clicked 0 times", custom_id="count:0")
    return Message(content="Click it!", components=[ActionRow(button)])


@bot.component("count:{n:int}")
async def count(ctx: Context, n: int) -> Message:
    """Edit the message the button sits on with the new count."""
    button = Button(label=f"Clicked {n + 1} times", custom_id=f"count:{n + 1}")
    return Message(content="Click it!", components=[ActionRow(button)], update=True)


@bot.event("APPLICATION_AUTHORIZED")
async def installed(event: WebhookEvent[ApplicationAuthorized]) -> None:
    """Someone added the app: a webhook event, POSTed to the Webhook Events URL."""
    where = f"server {event.data.guild.id}" if event.data.guild else "their account"
    log.info("user %s added the app to %s", event.data.user.id, where)


app = FastAPI(lifespan=bot.lifespan)
app.mount("/interactions", bot)
app.mount("/discord/events", bot.webhook_events)  # the Webhook Events URL


@app.get("/health")
async def health() -> dict[str, str]:
    """A plain FastAPI route beside the bot."""
    return {"status": "ok"}
