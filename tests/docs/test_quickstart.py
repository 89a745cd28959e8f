"""A newcomer's path on a fresh virtual environment outside the repository: the minimal install
for a bot (``pip install ".[uvicorn]"``), the tutorial's ``bot.py``, ``keygen``, uvicorn and
``send``. Slow (it installs packages), so marked; CI runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands.test_cli_send import start_uvicorn, stop
from tests.docs.samples import ROOT, parse

SEED = "5e" * 32


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_minimal_install_runs_the_tutorial_bot(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = {k: v for k, v in env.items() if not k.startswith("DISCORD_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    install = subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", f"{ROOT}[uvicorn]"],
        env=env,
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    bot_dir = tmp_path / "mybot"
    bot_dir.mkdir()
    tutorial = parse(ROOT / "docs" / "tutorial.md")
    bot_py = next(s for s in tutorial if s.filename == "bot.py")
    (bot_dir / "bot.py").write_text(bot_py.code)

    def tool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "asgi-interactions"), *args],
            cwd=bot_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    keygen = tool("keygen", "--seed", SEED)
    assert keygen.returncode == 0, keygen.stderr
    public_key = keygen.stdout.splitlines()[0].split("=", 1)[1]
    routes = tool("routes", "bot:bot")
    assert routes.returncode == 0, routes.stderr
    assert "/hello" in routes.stdout and "again:{name}" in routes.stdout

    server_env = env | {"DISCORD_PUBLIC_KEY": public_key}
    proc, base = start_uvicorn("bot:bot", bot_dir, server_env, python=str(bin_dir / "python"))
    try:
        sent = tool("send", "--seed", SEED, base, "command", "hello", "name=Ada", "times:=2")
        pressed = tool("send", "--seed", SEED, base, "button", "again:Ada")
    finally:
        stop(proc)
    assert sent.returncode == 0, sent.stderr
    answer = json.loads(sent.stdout.split(": ", 1)[1])
    assert answer["data"]["content"] == "Hello, Ada! Hello, Ada!"
    assert pressed.returncode == 0, pressed.stderr
    assert json.loads(pressed.stdout.split(": ", 1)[1])["data"]["content"] == "Hello again, Ada!"
