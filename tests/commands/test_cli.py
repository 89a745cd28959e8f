"""The ``asgi-interactions sync`` command, run in a subprocess against the fake Discord server."""

import asyncio
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.discord_rest import serve_fake_discord

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_KEY = "ab" * 32

BOT = textwrap.dedent(
    """
    import os
    from typing import Annotated
    from asgi_interactions import InteractionApp, Option

    bot = InteractionApp(public_key="{key}", token=os.environ.get("BOT_TOKEN"))

    @bot.command(description=os.environ.get("ECHO_DESCRIPTION", "Repeat what you say"))
    async def echo(ctx, text: Annotated[str, Option(description="What to say")]):
        return text

    @bot.command(description="Guild only", guild_ids=[77])
    async def local(ctx):
        return "hi"
    """
).format(key=PUBLIC_KEY)


async def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISCORD_TOKEN", "DISCORD_APPLICATION_ID", "DISCORD_PUBLIC_KEY")
    }
    environ["PYTHONPATH"] = str(ROOT)
    environ.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "asgi_interactions.cli",
        *args,
        cwd=cwd,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def puts(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.method == "PUT"]


KEYLESS = textwrap.dedent(
    """
    from asgi_interactions import InteractionApp

    bot = InteractionApp()  # no public_key=: DISCORD_PUBLIC_KEY, which sync must not need

    @bot.command(description="Hi")
    async def hello(ctx):
        return "hi"
    """
)


@pytest.fixture
def bot_dir(tmp_path: Path) -> Path:
    (tmp_path / "mybot.py").write_text(BOT)
    (tmp_path / "keyless.py").write_text(KEYLESS)
    return tmp_path


async def test_sync_then_up_to_date_then_dry_run(bot_dir: Path) -> None:
    async with serve_fake_discord(token="secret") as fake:
        env = {"BOT_TOKEN": "secret"}
        code, out, err = await run_cli(
            "sync", "mybot:bot", "--base-url", fake.base_url, cwd=bot_dir, env=env
        )
        assert code == 0, err
        assert "global: 1 created (/echo)" in out
        assert "guild 77: 1 created (/local)" in out
        # The application id was learned from GET /users/@me (the bot user id is the app id).
        assert [r.route_path for r in puts(fake)] == [
            "/applications/1000/commands",
            "/applications/1000/guilds/77/commands",
        ]
        assert fake.requests[0].route_path == "/users/@me"

        code, out, err = await run_cli(
            "sync", "mybot:bot", "--base-url", fake.base_url, cwd=bot_dir, env=env
        )
        assert code == 0, err
        assert "global: 0 created, 0 updated, 0 deleted, 1 unchanged - up to date" in out
        assert len(puts(fake)) == 2

        env["ECHO_DESCRIPTION"] = "Say it again"
        code, out, err = await run_cli(
            "sync",
            "mybot:bot",
            "--dry-run",
            "--guild",
            "77",
            "--base-url",
            fake.base_url,
            cwd=bot_dir,
            env={**env, "DISCORD_APPLICATION_ID": "1000"},
        )
        assert code == 0, err
        assert "guild 77" in out and "global" not in out
        code, out, err = await run_cli(
            "sync",
            "mybot:bot",
            "--dry-run",
            "--base-url",
            fake.base_url,
            cwd=bot_dir,
            env={**env, "DISCORD_APPLICATION_ID": "1000"},
        )
        assert code == 0, err
        assert "global: 0 created, 1 updated (/echo)" in out
        assert '-  "description": "Repeat what you say"' in out
        assert '+  "description": "Say it again"' in out
        assert "dry run: nothing was written" in out
        assert len(puts(fake)) == 2


async def test_token_from_environment(bot_dir: Path) -> None:
    async with serve_fake_discord(token="envtoken") as fake:
        code, _out, err = await run_cli(
            "sync",
            "mybot:bot",
            "--base-url",
            fake.base_url,
            cwd=bot_dir,
            env={"DISCORD_TOKEN": "envtoken", "DISCORD_APPLICATION_ID": "1000"},
        )
        assert code == 0, err
        assert fake.requests[0].headers.get("authorization") == "Bot envtoken"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "nosuchmodule:bot"], "cannot import module 'nosuchmodule'"),
        (["sync", "mybot:nothing"], "has no attribute 'nothing'"),
        (["sync", "mybot"], "module:attribute"),
        (["sync", "mybot:bot"], "no bot token: set DISCORD_TOKEN"),
        (["sync", "keyless:nope"], "module 'keyless' has no attribute 'nope'"),
        (["sync", "mybot:bot", "--base-url", "127.0.0.1:9"], "needs a scheme and a host"),
    ],
)
async def test_set_up_mistakes_exit_2_with_one_clear_line(
    bot_dir: Path, args: list[str], message: str
) -> None:
    if "--base-url" not in args:
        args = [*args, "--base-url", "http://127.0.0.1:9/api/v10"]
    code, _out, err = await run_cli(*args, cwd=bot_dir)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


async def test_sync_needs_no_public_key(bot_dir: Path) -> None:
    async with serve_fake_discord(token="t") as fake:
        code, out, err = await run_cli(
            "sync",
            "keyless:bot",
            "--base-url",
            fake.base_url,
            cwd=bot_dir,
            env={"DISCORD_TOKEN": "t"},
        )
    assert code == 0, err
    assert "global: 1 created (/hello)" in out


async def test_bad_application_id_is_named(bot_dir: Path) -> None:
    code, out, err = await run_cli(
        "sync",
        "keyless:bot",
        cwd=bot_dir,
        env={"DISCORD_TOKEN": "t", "DISCORD_APPLICATION_ID": "abc"},
    )
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_APPLICATION_ID" in lines[0] and "'abc'" in lines[0], err


async def test_unreachable_url_is_named_without_retries(bot_dir: Path) -> None:
    url = "http://127.0.0.1:9/api/v10"
    code, _out, err = await run_cli(
        "sync", "mybot:bot", "--base-url", url, cwd=bot_dir, env={"BOT_TOKEN": "t"}
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert lines == [lines[0]] and f"cannot reach Discord at {url}" in lines[0], err  # no retry log


async def test_base_url_without_api_version_gets_a_hint(bot_dir: Path) -> None:
    async with serve_fake_discord(token="t") as fake:
        bare = fake.base_url.removesuffix("/api/v10")
        code, _out, err = await run_cli(
            "sync", "mybot:bot", "--base-url", bare, cwd=bot_dir, env={"BOT_TOKEN": "t"}
        )
    assert code == 1
    assert "404" in err and "the base URL usually ends in /api/v10" in err
    assert len(err.strip().splitlines()) == 1


async def test_discord_errors_exit_1(bot_dir: Path) -> None:
    async with serve_fake_discord(token="right") as fake:
        code, _out, err = await run_cli(
            "sync",
            "mybot:bot",
            "--base-url",
            fake.base_url,
            cwd=bot_dir,
            env={"BOT_TOKEN": "wrong", "DISCORD_APPLICATION_ID": "1000"},
        )
        assert code == 1
        assert "401" in err or "Unauthorized" in err
        assert "wrong" not in err


@pytest.mark.parametrize("args", [[], ["sync"], ["frobnicate"], ["sync", "a:b", "--guild", "x"]])
async def test_usage_errors_exit_2(bot_dir: Path, args: list[str]) -> None:
    code, _, err = await run_cli(*args, cwd=bot_dir)
    assert code == 2
    assert "usage: asgi-interactions" in err
