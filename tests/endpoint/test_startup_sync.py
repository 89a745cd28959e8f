"""``sync_commands=True``: several uvicorn workers start, exactly one syncs with Discord."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import uuid
from pathlib import Path

import httpx2

from asgi_interactions.testing import DEVELOPMENT_KEYS, InteractionTestClient
from tests.fakes.discord_rest import serve_fake_discord
from tests.serve import free_port

BOT_MODULE = """
import os
from asgi_interactions import InteractionApp, RestClient

bot = InteractionApp(
    public_key=os.environ["BOT_PUBLIC_KEY"],
    rest=RestClient("test-token", base_url=os.environ["FAKE_DISCORD_URL"]),
    application_id=1000,
    sync_commands=True,
)

@bot.command(name=os.environ["COMMAND_NAME"], description="A command to sync")
async def handler(ctx) -> str:
    return "ok"
"""


async def test_two_workers_start_and_exactly_one_syncs(tmp_path: Path) -> None:
    (tmp_path / "syncbot.py").write_text(textwrap.dedent(BOT_MODULE))
    name = "cmd-" + uuid.uuid4().hex[:8]  # a fresh payload: no earlier run has synced it
    port = free_port()
    async with serve_fake_discord(latency=0.5) as fake:
        env = os.environ | {
            "BOT_PUBLIC_KEY": DEVELOPMENT_KEYS.public_key,
            "FAKE_DISCORD_URL": fake.base_url,
            "COMMAND_NAME": name,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "syncbot:bot",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            cwd=tmp_path,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with InteractionTestClient(url, DEVELOPMENT_KEYS) as client:
                            if (await client.ping()).status == 200:
                                break
                    except httpx2.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                # Both workers run startup; wait until both have looked at the lock.
                while not any(r.method == "GET" for r in fake.requests):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 20)
        puts = [r for r in fake.requests if r.method == "PUT"]
        assert len(puts) == 1, [(r.method, r.path) for r in fake.requests]
        assert [c["name"] for c in fake.commands[(1000, None)]] == [name]
