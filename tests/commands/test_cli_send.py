"""``asgi-interactions send`` / ``keygen`` / ``routes`` / ``--version``, each run as a subprocess
against the example app served by uvicorn (its own process) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgi_interactions.testing import DEVELOPMENT_KEYS, KeyPair

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples.fastapi_app.main"
TIMEOUT = 60


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_uvicorn(
    spec: str, cwd: Path, env: dict[str, str], *flags: str, python: str = sys.executable
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [python, "-m", "uvicorn", spec, "--host", "127.0.0.1", "--port", str(port), *flags],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("uvicorn did not start")


def stop(proc: subprocess.Popen[str]) -> str:
    """Stop the server; its stderr."""
    proc.terminate()
    try:
        return proc.communicate(timeout=20)[1] or ""
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=10)[1] or ""


@pytest.fixture(scope="module")
def example_url() -> Iterator[str]:
    """The example app (development key: DISCORD_PUBLIC_KEY unset), its bot at /interactions."""
    proc, base = start_uvicorn(f"{EXAMPLE}:app", ROOT, clean_env())
    try:
        yield base + "/interactions"
    finally:
        stop(proc)


def cli(
    *args: str, cwd: Path = ROOT, module: str = "asgi_interactions", **env: str
) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return result.returncode, result.stdout, result.stderr


def answer(out: str) -> dict[str, object]:
    status, _, body = out.strip().partition(": ")
    assert status == "HTTP 200", out
    parsed: dict[str, object] = json.loads(body)
    return parsed


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("asgi-interactions: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_ping_and_typed_command(example_url: str) -> None:
    code, out, err = cli("send", example_url, "ping")
    assert (code, answer(out)) == (0, {"type": 1}), err
    code, out, err = cli("send", example_url, "command", "echo", "text=hello", "times:=2")
    assert code == 0, err
    assert answer(out)["data"] == {"content": "hello hello", "flags": 64}


def test_python_m_testing_is_the_same_tool(example_url: str) -> None:
    code, out, err = cli(
        example_url, "command", "echo", "text=hi", module="asgi_interactions.testing"
    )
    assert code == 0, err
    assert answer(out)["data"] == {"content": "hi", "flags": 64}


def test_values_are_strings_unless_typed(example_url: str) -> None:
    """A string option that looks like a number or a boolean is sent as a string."""
    for text in ("123", "true", "1.5"):
        code, out, err = cli("send", example_url, "command", "echo", f"text={text}")
        assert code == 0, err
        assert answer(out)["data"] == {"content": text, "flags": 64}


def test_app_types_values_from_the_declaration(example_url: str) -> None:
    code, out, err = cli(
        "send", "--app", f"{EXAMPLE}:bot", example_url, "command", "echo", "text=7", "times=3"
    )
    assert code == 0, err
    assert answer(out)["data"] == {"content": "7 7 7", "flags": 64}
    # --app after the kind works too, and --json types every value
    code, out, err = cli("send", example_url, "command", "echo", 'text="x"', "times=2", "--json")
    assert code == 0, err
    assert answer(out)["data"] == {"content": "x x", "flags": 64}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["times=x", "text=a"], "option 'times' takes an integer: 'x' is not one"),
        (["nope=1"], "/echo has no option 'nope' (it has: ['text', 'times'])"),
    ],
)
def test_app_typing_mistakes(example_url: str, args: list[str], message: str) -> None:
    code, out, err = cli("send", example_url, "command", "echo", *args, "--app", f"{EXAMPLE}:bot")
    assert code == 2 and out == ""
    assert message in one_line_error(err)


def test_error_answers_exit_1(example_url: str) -> None:
    # An untyped number for an integer option: the bot's own "Invalid value" answer.
    code, out, err = cli("send", example_url, "command", "echo", "text=a", "times=2")
    assert code == 1
    assert "Invalid value for `times`" in out
    assert "values are text unless typed" in one_line_error(err)
    # Nothing handles it: the "not handled" notice.
    code, out, err = cli("send", example_url, "command", "nosuch")
    assert code == 1 and "isn't handled" in out
    assert "no handler matched" in one_line_error(err)
    # Signed with another key: 401.
    seed = "11" * 32
    code, out, err = cli("send", "--seed", seed, example_url, "ping")
    assert code == 1 and out.startswith("HTTP 401")
    assert DEVELOPMENT_KEYS.public_key in one_line_error(err)


def test_button_select_modal_autocomplete(example_url: str) -> None:
    code, out, err = cli("send", example_url, "button", "count:4")
    assert code == 0, err
    pressed = answer(out)
    assert pressed["type"] == 7
    assert "Clicked 5 times" in out
    code, out, err = cli("send", example_url, "autocomplete", "echo", "text", "he")
    assert code == 0, err
    assert answer(out) == {"type": 8, "data": {"choices": []}}
    # The example declares no select menu or modal: the bot says so, and the exit code does too.
    for args in (["select", "fruit", "apple", "pear"], ["modal", "feedback:1", "summary=ok"]):
        code, out, err = cli("send", example_url, *args)
        assert code == 1 and "isn't handled" in out, err


BOT = textwrap.dedent(
    """
    from asgi_interactions import Context, InteractionApp
    from asgi_interactions.models import User

    bot = InteractionApp()  # DISCORD_PUBLIC_KEY from the environment


    @bot.component("fruit")
    async def fruit(ctx: Context) -> str:
        return "picked " + ", ".join(ctx.values)


    @bot.modal("feedback:{ticket:int}")
    async def feedback(ctx: Context, ticket: int, summary: str) -> str:
        return f"ticket {ticket}: {summary}"


    @bot.command(description="Pick")
    async def pick(ctx: Context, fruit: str, count: int = 1) -> str:
        return f"{count} {fruit}"


    admin = bot.group("admin", description="Admin tools")


    @admin.command(description="Greet a user")
    async def greet(ctx: Context, who: User, loud: bool = False) -> str:
        return f"hi {who.username}" + ("!" if loud else "")


    @bot.autocomplete("pick", "fruit")
    async def suggest(ctx: Context, value: str) -> list[str]:
        return [f for f in ("apple", "apricot", "pear") if f.startswith(value)]
    """
)


def test_keygen_pair_signs_for_a_server_started_with_it(tmp_path: Path) -> None:
    """keygen's public key, given to the server, accepts what send signs with keygen's seed."""
    seed = "42" * 32
    code, out, err = cli("keygen", "--seed", seed)
    assert code == 0, err
    public = KeyPair.from_seed(seed).public_key
    assert out.splitlines()[0] == f"export DISCORD_PUBLIC_KEY={public}"
    assert f"--seed {seed}" in out
    code, out, _ = cli("keygen")
    fresh = out.splitlines()[0].split("=", 1)[1]
    assert len(fresh) == 64 and fresh != public

    (tmp_path / "bot.py").write_text(BOT)
    proc, base = start_uvicorn("bot:bot", tmp_path, clean_env(DISCORD_PUBLIC_KEY=public))
    try:
        code, out, err = cli("send", "--seed", seed, base, "select", "fruit", "apple", "pear")
        assert code == 0, err
        assert answer(out)["data"] == {"content": "picked apple, pear"}
        code, out, err = cli("send", "--seed", seed, base, "modal", "feedback:7", "summary=fine")
        assert code == 0, err
        assert answer(out)["data"] == {"content": "ticket 7: fine"}
        code, out, err = cli(
            "send", "--seed", seed, base, "autocomplete", "pick", "fruit", "ap", "count:=2"
        )
        assert code == 0, err
        assert [c["value"] for c in answer(out)["data"]["choices"]] == ["apple", "apricot"]  # type: ignore[index]
        # --app types a subcommand's options: a user id resolved like Discord does, a boolean
        typed = ["--app", "bot:bot", "--app-dir", str(tmp_path), "--seed", seed, base]
        code, out, err = cli("send", *typed, "command", "admin greet", "who=42", "loud=yes")
        assert code == 0, err
        assert answer(out)["data"] == {"content": "hi tester!"}
        code, out, err = cli("send", *typed, "command", "admin nope")
        assert code == 2 and "no subcommand 'nope' (there are: ['greet'])" in one_line_error(err)
        code, out, err = cli("send", *typed, "command", "admin greet", "who=me")
        assert code == 2 and "option 'who' takes an id (digits)" in one_line_error(err)
        code, out, err = cli("send", base, "ping")  # the development key is not this server's
        assert code == 1
    finally:
        stop(proc)

    code, out, err = cli("routes", "bot:bot", cwd=tmp_path)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["KIND", "NAME", "HANDLER", "SCOPE"]
    assert ["command", "/pick", "bot.pick", "global"] in rows
    assert ["autocomplete", "/pick", "fruit", "bot.suggest"] in rows
    assert ["component", "fruit", "bot.fruit"] in rows
    assert ["modal", "feedback:{ticket:int}", "bot.feedback"] in rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://127.0.0.1:9/interactions", "ping"], "cannot connect to http://127.0.0.1:9/"),
        (["127.0.0.1:8000/interactions", "ping"], "needs a scheme and a host"),
        (["http://127.0.0.1:9/", "command", "echo", "text"], "'text' needs a value: write text="),
        (["http://127.0.0.1:9/", "modal", "m", "summary"], "'summary' needs a value"),
        (["--seed", "xyz", "http://127.0.0.1:9/", "ping"], "--seed must be 64 hex digits"),
        (["http://127.0.0.1:9/", "command", "e", "n:=nope"], "the value of 'n' is not JSON"),
    ],
)
def test_everyday_mistakes_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, out, err = cli("send", *args)
    assert code == 2 and out == ""
    assert message in one_line_error(err)


def test_a_mount_without_lifespan_redirects_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "mounted.py").write_text(
        "from starlette.applications import Starlette\n"
        "from starlette.routing import Mount\n"
        "from asgi_interactions import InteractionApp\n"
        "bot = InteractionApp()\n"
        "app = Starlette(routes=[Mount('/interactions', bot)])\n"
    )
    env = clean_env(DISCORD_PUBLIC_KEY=DEVELOPMENT_KEYS.public_key)
    proc, base = start_uvicorn("mounted:app", tmp_path, env)
    try:
        code, out, err = cli("send", base + "/interactions", "ping")
    finally:
        stop(proc)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert "HTTP 307 redirect to" in line and "lifespan" in line


def test_version_and_usage() -> None:
    from asgi_interactions import __version__

    for module in ("asgi_interactions", "asgi_interactions.cli"):
        code, out, _ = cli("--version", module=module)
        assert (code, out.strip()) == (0, f"asgi-interactions {__version__}")
    code, _, err = cli("send")
    assert code == 2 and "usage:" in err
