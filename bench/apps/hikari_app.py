"""Competitor (b): hikari 2.7's RESTBot (its own aiohttp server) answering PING and `/echo`.

Run: `python -O hikari_app.py --port N`; it listens on 127.0.0.1. No network: the public key is
given (so hikari never fetches the application), the PyPI update check is off, and the REST base
URL points at a closed loopback port (nothing here sends REST requests). Runs on uvloop, with
hikari's logs at WARNING so aiohttp's access log is off, as uvicorn's is in the other rows.
"""

from __future__ import annotations

import argparse
import contextlib

import hikari
import uvloop
from fixtures import PUBLIC_KEY_HEX


async def on_command(
    interaction: hikari.CommandInteraction,
) -> hikari.api.InteractionMessageBuilder:
    """Echo the first option back as the message content."""
    text = interaction.options[0].value if interaction.options else ""
    return interaction.build_response().set_content(str(text))


def make_bot() -> hikari.RESTBot:
    """The bot, with its listener, not started (bench/instructions.py calls it in process)."""
    bot = hikari.RESTBot(
        "bench.not.a.real.token",
        "Bot",
        public_key=PUBLIC_KEY_HEX,
        rest_url="http://127.0.0.1:9/api/v10",
        logs="WARNING",
        banner=None,
        suppress_optimization_warning=True,
    )
    bot.set_listener(hikari.CommandInteraction, on_command)
    return bot


async def main(port: int) -> None:
    """Start the bot on 127.0.0.1:`port` and serve until interrupted."""
    bot = make_bot()
    await bot.start(host="127.0.0.1", port=port, check_for_updates=False)
    await bot.join()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(args.port))
