"""No token reaches a log line: the REST client's HTTP stack at DEBUG, over HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_interactions import RestClient
from asgi_interactions.rest.redact import LOGGERS, redact
from tests.fakes.discord_rest import API_PREFIX, FakeDiscord, serve_fake_discord
from tests.fakes.h2_server import serve_h2


class Capture(logging.Handler):
    """Every record, formatted, from every logger (attached to the root at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.names.add(record.name)


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def _exchange(rest: RestClient, interaction_token: str) -> None:
    """A bot-authorized request and an interaction webhook (its token in the URL)."""
    assert (await rest.get_current_user())["id"]
    await rest.create_followup(1000, interaction_token, {"content": "hi"})
    await rest.edit_original_response(1000, interaction_token, {"content": "edited"})


@pytest.fixture(params=["http1", "http2"])
async def rest_and_fake(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[RestClient, FakeDiscord, str]]:
    token = "bot-" + secrets.token_urlsafe(32)
    if request.param == "http1":
        async with (
            serve_fake_discord(token=token) as fake,
            RestClient(token, base_url=fake.base_url) as rest,
        ):
            yield rest, fake, token
    else:
        fake = FakeDiscord(token=token)
        async with serve_h2(fake.app) as url:
            fake.base_url = url + API_PREFIX
            transport = httpx2.AsyncHTTPTransport(http1=False, http2=True)
            async with RestClient(token, base_url=fake.base_url, transport=transport) as rest:
                yield rest, fake, token


async def test_no_token_in_any_debug_log_line(
    rest_and_fake: tuple[RestClient, FakeDiscord, str], capture: Capture
) -> None:
    rest, fake, bot_token = rest_and_fake
    interaction_token = "itok-" + secrets.token_urlsafe(48)
    await _exchange(rest, interaction_token)

    assert fake.originals[interaction_token]["content"] == "edited"  # the exchange happened
    assert "httpx2" in capture.names  # the stack really logged at DEBUG
    assert any(name.startswith("httpcore2.") for name in capture.names)
    text = "\n".join(capture.lines)
    assert "/webhooks/1000/***" in text
    for secret in (bot_token, interaction_token, interaction_token[:24]):
        assert secret not in text


async def test_http2_header_blocks_are_not_logged(capture: Capture) -> None:
    """hpack logs whole Huffman-coded header blocks, which anyone can decode: they are masked."""
    token = "bot-" + secrets.token_urlsafe(32)
    fake = FakeDiscord(token=token)
    async with serve_h2(fake.app) as url:
        fake.base_url = url + API_PREFIX
        transport = httpx2.AsyncHTTPTransport(http1=False, http2=True)
        async with RestClient(token, base_url=fake.base_url, transport=transport) as rest:
            await _exchange(rest, "itok-" + secrets.token_urlsafe(48))
    blocks = [line for line in capture.lines if "header block to" in line or "Decoding" in line]
    assert "hpack.hpack" in capture.names
    assert blocks
    assert all("<header block, " in line for line in blocks)


def test_every_logger_of_the_stack_is_covered() -> None:
    """The packages' own loggers are all named in LOGGERS (a new one would slip through)."""
    import ast
    import importlib.util
    import pathlib

    found = set()
    for package in ("httpx2", "httpcore2", "hpack"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        root = pathlib.Path(spec.origin).parent
        for path in root.rglob("*.py"):
            module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                if getattr(node.func, "attr", "") != "getLogger":
                    continue
                arg = node.args[0]
                if isinstance(arg, ast.Constant):
                    found.add(arg.value)
                elif isinstance(arg, ast.Name) and arg.id == "__name__":
                    found.add(module)
    assert found
    assert found <= set(LOGGERS), found - set(LOGGERS)


@given(
    # a letter first: a token of digits alone could hide in the application id
    token=st.text(
        alphabet=string.ascii_letters + string.digits + "-_.", min_size=15, max_size=120
    ).map(lambda s: "T" + s),
    app_id=st.integers(min_value=1, max_value=2**64),
)
def test_redact_masks_webhook_urls_and_authorization(token: str, app_id: int) -> None:
    url = f"https://discord.com/api/v10/webhooks/{app_id}/{token}/messages/@original?wait=true"
    assert token not in redact(f"HTTP Request: PATCH {url} 200")
    assert token not in redact(str((b"authorization", f"Bot {token}".encode())))
    assert token not in redact(
        str((b":path", f"/api/v10/interactions/{app_id}/{token}/callback".encode()))
    )
