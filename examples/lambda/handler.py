"""A bot on AWS Lambda: Mangum runs it for each invocation (set the function's handler to
``handler.handler``; its environment holds DISCORD_PUBLIC_KEY and DISCORD_TOKEN).

``serverless=True``: a handler still running when its first answer is ready has that answer
posted to Discord's callback endpoint at once; it then finishes inside the same invocation, its
result edits the original response, and the HTTP request is answered 202.
"""

from __future__ import annotations

import asyncio

from mangum import Mangum

from asgi_interactions import Context, InteractionApp

bot = InteractionApp(serverless=True)


@bot.command(description="Answer at once")
async def hello(ctx: Context) -> str:
    """A fast command: answered inline, in the HTTP response."""
    return "hello from Lambda"


@bot.command(description="Take a moment: deferred, then edited")
async def slow(ctx: Context, seconds: float = 0.5) -> str:
    """A slow command: the deferral goes out first, the result edits it before the 202."""
    await ctx.defer()
    await asyncio.sleep(seconds)
    return f"done after {seconds:g} s"


handler = Mangum(bot, lifespan="auto")
