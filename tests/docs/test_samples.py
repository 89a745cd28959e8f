"""Every code sample of README.md and docs/ runs (or is checked) as a reader would use it.

The harness gives a sample only what a reader has: ``DISCORD_PUBLIC_KEY`` (a fresh key),
``DISCORD_TOKEN`` and ``DISCORD_APPLICATION_ID``, a Discord API (the fake one, as the REST
client's default base URL), a ``redis-server`` at ``REDIS_URL`` when the sample talks to Redis,
and a fresh directory per page outside this repository. Shell commands that are safe run (the
app under uvicorn on a free loopback port, the signed-request tool against it, ``sync`` against
the fake Discord); the others are checked (the tool exists, the extras exist, the flags parse).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import runpy
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgi_interactions.rest import RestClient
from asgi_interactions.testing import KeyPair
from tests.docs.samples import ROOT, Command, Sample, all_samples, commands
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer

SAMPLES = all_samples()
PYTHON = [s for s in SAMPLES if s.lang == "python"]
BASH = [s for s in SAMPLES if s.lang == "bash"]
OTHER = [s for s in SAMPLES if s.lang not in ("python", "bash")]
READER_KEY = KeyPair.generate().public_key
TOKEN = "doc-sample-bot-token"
APPLICATION_ID = "1000"  # the fake Discord's application id
TIMEOUT = 60


@pytest.fixture(scope="module")
def fake_discord() -> Iterator[Any]:
    """The fake Discord REST API on a loopback port, served from its own thread and loop."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    holder: list[Any] = []
    loop = asyncio.new_event_loop()

    async def run() -> None:
        stop.append(asyncio.Event())
        async with serve_fake_discord() as fake:
            holder.append(fake)
            ready.set()
            await stop[0].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the fake Discord did not start"
    try:
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)
        loop.close()


_dirs: dict[str, Path] = {}


@pytest.fixture
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A fresh directory per page (shared by that page's samples), outside the repository."""

    def get(page: str) -> Path:
        if page not in _dirs:
            _dirs[page] = tmp_path_factory.mktemp(re.sub(r"\W", "_", page))
        return _dirs[page]

    return get


#: The reader's own values, from the developer portal (``export NAME=...`` on a page).
READER_VALUES = {
    "DISCORD_PUBLIC_KEY": READER_KEY,
    "DISCORD_TOKEN": TOKEN,
    "DISCORD_APPLICATION_ID": APPLICATION_ID,
}


def shell_env() -> dict[str, str]:
    """A fresh shell: nothing of Discord's set yet, this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    return env


def reader_env() -> dict[str, str]:
    """The environment a Python sample assumes: the reader's values set."""
    return shell_env() | READER_VALUES


def write_files(page: str, directory: Path) -> None:
    """Write every "Save this as" sample of ``page`` into ``directory``."""
    for sample in SAMPLES:
        if sample.page == page and sample.filename:
            (directory / sample.filename).write_text(sample.code, encoding="utf-8")


# -- Python ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", PYTHON, ids=lambda s: s.id)
def test_python_sample(
    sample: Sample, fake_discord: Any, page_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sample.marker == "fragment":
        pytest.skip("marked as a fragment (not a program)")
    directory = page_dir(sample.page)
    for name, value in reader_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setitem(RestClient.__init__.__kwdefaults__, "base_url", fake_discord.base_url)
    monkeypatch.chdir(directory)
    monkeypatch.syspath_prepend(str(directory))
    redis = None
    if "redis" in "".join(s.code for s in [*sample.previous, sample]).lower():
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        redis = RedisServer(binary)
        redis.start()
        monkeypatch.setenv("REDIS_URL", redis.url)
    try:
        if sample.filename:
            write_files(sample.page, directory)
            if Path(sample.filename).name.startswith("test_"):
                run_pytest(directory, sample.filename)
            else:
                runpy.run_path(str(directory / sample.filename), run_name="__doc_sample__")
            return
        namespace: dict[str, Any] = {"__name__": "__doc_sample__"}
        for part in [*sample.previous, sample]:
            exec(compile(part.code, part.id, "exec"), namespace)
    finally:
        if redis is not None:
            redis.stop()


def run_pytest(directory: Path, filename: str) -> None:
    """Run a test file the way its reader would: ``pytest FILE`` in its own directory."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", filename],
        cwd=directory,
        env=reader_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_python_samples_lint(tmp_path: Path) -> None:
    """No undefined names and no unused imports or variables in any sample (pyflakes' rules)."""
    continued = {id(part) for sample in PYTHON for part in sample.previous}
    for index, sample in enumerate(PYTHON):
        if sample.marker == "fragment" or id(sample) in continued:
            continue  # a continued block is linted with the blocks that follow it
        code = "".join(part.code for part in [*sample.previous, sample])
        name = re.sub(r"\W", "_", sample.id) + f"_{index}.py"
        (tmp_path / name).write_text(code, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            "F401,F821,F841,F704,F706",
            "--output-format",
            "concise",
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout


def test_other_samples_parse() -> None:
    """YAML samples load; plain-text blocks are shown as they are."""
    import yaml

    for sample in OTHER:
        if sample.lang == "yaml":
            yaml.safe_load(sample.code)


# -- shell ------------------------------------------------------------------------------------


def page_commands(sample: Sample) -> tuple[list[Command], list[Command]]:
    """(commands of the page's earlier bash blocks, this block's commands)."""
    before = [
        cmd
        for other in BASH
        if other.page == sample.page and other.line < sample.line
        for cmd in commands(other.code)
    ]
    return before, commands(sample.code)


def apply_export(cmd: Command, env: dict[str, str]) -> None:
    """``export NAME=VALUE``: a placeholder (``...``) is the reader's value, the rest is run."""
    name = cmd.argv[1]
    if cmd.text.split("=", 1)[1].split("#")[0].strip() == "...":
        env[name] = READER_VALUES[name]  # the reader pastes their own value
        return
    result = subprocess.run(
        ["bash", "-c", f'{cmd.text}\nprintf %s "${name}"'],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, f"{cmd.text}: {result.stderr}"
    env[name] = result.stdout


def matches(expected: list[str], output: str) -> None:
    """The output lines the page shows (``...`` stands for anything) are the output's first."""
    lines = output.splitlines()
    for index, want in enumerate(expected):
        pattern = ".*".join(re.escape(piece) for piece in want.split("..."))
        assert index < len(lines) and re.fullmatch(pattern, lines[index]), (want, output)


def wait_port(port: int, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"uvicorn exited: {proc.communicate()[1][-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("uvicorn did not start")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Shell:
    """Runs or checks one page's commands, as the page's reader would type them."""

    def __init__(self, sample: Sample, directory: Path, fake_discord: Any) -> None:
        self.sample = sample
        self.directory = directory
        self.fake = fake_discord
        self.env = shell_env()
        self.uvicorn: list[str] | None = None
        self.servers: list[subprocess.Popen[str]] = []
        self.base: str | None = None

    def cwd_for(self, spec: str) -> Path:
        module = spec.split(":", 1)[0].split(".", 1)[0]
        local = self.directory / f"{module}.py"
        return self.directory if local.exists() else ROOT

    def replay(self, cmd: Command) -> None:
        """An earlier block's command: only what it leaves behind (env, the app to serve)."""
        if cmd.argv[0] == "export":
            apply_export(cmd, self.env)
        elif cmd.argv[0] == "uvicorn":
            self.uvicorn = cmd.argv[1:]

    def run(self, cmd: Command) -> None:
        while re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", cmd.argv[0]):  # NAME=value command
            cmd = Command(cmd.argv[1:], cmd.text, cmd.expected)
        tool = cmd.argv[0]
        if tool == "export":
            apply_export(cmd, self.env)
        elif tool == "uvicorn":
            self.check_uvicorn(cmd.argv[1:])
            self.uvicorn = cmd.argv[1:]
            self.base = None
        elif tool == "pip":
            self.check_pip(cmd.argv)
        elif cmd.argv[:3] == ["python", "-m", "asgi_interactions.testing"]:
            self.send(cmd, ["-m", "asgi_interactions.testing", *cmd.argv[3:]])
        elif tool == "asgi-interactions" and cmd.argv[1:2] == ["send"]:
            self.send(cmd, ["-m", "asgi_interactions", *cmd.argv[1:]])
        elif tool == "asgi-interactions":
            self.cli(cmd)
        elif tool in ("cd", "mkdir", ".", "source"):
            pass  # the page's directory stands for the reader's
        elif tool == "bash":
            assert (ROOT / cmd.argv[1]).exists(), cmd.text
        elif cmd.argv[:3] == ["python", "-m", "venv"]:
            pass
        else:
            assert shutil.which(tool), f"{cmd.text}: {tool} is not installed"

    def check_uvicorn(self, args: list[str]) -> None:
        command = importlib.import_module("uvicorn.main").main
        command.make_context("uvicorn", list(args))  # flags parse, or click raises
        spec = next(a for a in args if not a.startswith("-"))
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from uvicorn.importer import import_from_string as f; f({spec!r})",
            ],
            cwd=self.cwd_for(spec),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert result.returncode == 0, f"uvicorn {spec}: {result.stderr[-3000:]}"

    def check_pip(self, argv: list[str]) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        for word in argv[2:]:
            found = re.fullmatch(r"(?:\.|asgi-interactions)\[([\w,-]+)\]", word)
            if found:
                for extra in found.group(1).split(","):
                    assert extra in project["optional-dependencies"], f"no extra {extra!r}"

    def serve(self) -> str:
        """Start the page's app (its last ``uvicorn`` line, else the README's example)."""
        if self.base is not None:
            return self.base
        args = list(self.uvicorn or ["examples.fastapi_app.main:app"])
        spec = next(a for a in args if not a.startswith("-"))
        if "--port" in args:
            del args[args.index("--port") : args.index("--port") + 2]
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port)],
            cwd=self.cwd_for(spec),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.servers.append(proc)
        wait_port(port, proc)
        self.base = f"http://127.0.0.1:{port}"
        return self.base

    def send(self, cmd: Command, argv: list[str]) -> None:
        base = self.serve()
        argv = [re.sub(r"^https?://[^/]+", base, a) for a in argv]
        self.check_output(cmd, [sys.executable, *argv], self.directory)

    def cli(self, cmd: Command) -> None:
        argv = [sys.executable, "-m", "asgi_interactions", *cmd.argv[1:]]
        if cmd.argv[1] == "sync":
            argv += ["--base-url", self.fake.base_url]
            spec = cmd.argv[2]
            self.check_output(cmd, argv, self.cwd_for(spec))
        else:
            self.check_output(cmd, argv, self.directory)

    def check_output(self, cmd: Command, argv: list[str], cwd: Path) -> None:
        result = subprocess.run(
            argv, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert result.returncode == 0, f"{cmd.text}: {result.stdout}{result.stderr[-3000:]}"
        matches(cmd.expected, result.stdout)

    def close(self) -> None:
        for proc in self.servers:
            proc.terminate()
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=10)


@pytest.mark.parametrize("sample", BASH, ids=lambda s: s.id)
def test_bash_sample(sample: Sample, fake_discord: Any, page_dir: Any) -> None:
    directory = page_dir(sample.page)
    write_files(sample.page, directory)
    shell = Shell(sample, directory, fake_discord)
    try:
        before, now = page_commands(sample)
        for cmd in before:
            shell.replay(cmd)
        for cmd in now:
            shell.run(cmd)
    finally:
        shell.close()


# -- the harness itself ----------------------------------------------------------------------


def test_harness_reads_markers_files_commands_and_outputs(tmp_path: Path) -> None:
    from tests.docs import samples

    page = tmp_path / "page.md"
    page.write_text(
        "Save this as\n`bot.py`:\n\n```python\nx = 1\n```\n\n"
        "<!-- sample: continues -->\n```python\ny = x\n```\n\n"
        "<!-- sample: fragment -->\n```python\nf(a=1, *, b)\n```\n\n"
        "```bash\nexport K=...   # yours\n"
        'A=1 tool --flag \\\n  arg && other "q r"\n# out: ...\n```\n'
    )
    monkey_root = samples.ROOT
    samples.ROOT = tmp_path
    try:
        first, second, fragment, shell = samples.parse(page)
    finally:
        samples.ROOT = monkey_root
    assert (first.filename, second.marker, second.previous) == ("bot.py", "continues", [first])
    assert fragment.marker == "fragment" and fragment.previous == []
    cmds = samples.commands(shell.code)
    assert [c.argv for c in cmds] == [
        ["export", "K"],
        ["A=1", "tool", "--flag", "arg"],
        ["other", "q r"],
    ]
    assert cmds[-1].expected == ["out: ..."]
    matches(["HTTP 200: {...}"], 'HTTP 200: {"type":1}\n')
    with pytest.raises(AssertionError):
        matches(["HTTP 200: {...}"], 'HTTP 401: {"error":"x"}\n')
