"""``asgi-interactions send URL event ...`` as a subprocess against the example app under uvicorn:
PING and each documented type reach /discord/events; mistakes are one line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asgi_interactions.models.webhook_events import WebhookEventType
from tests.commands.test_cli_send import (
    EXAMPLE,
    ROOT,
    clean_env,
    cli,
    one_line_error,
    start_uvicorn,
    stop,
)


@pytest.fixture(scope="module")
def example() -> Iterator[tuple[str, list[str]]]:
    """The example app's base URL, and (after the block) its log lines."""
    log: list[str] = []
    proc, base = start_uvicorn(f"{EXAMPLE}:app", ROOT, clean_env(), "--log-level", "info")
    try:
        yield base, log
    finally:
        log.extend(stop(proc).splitlines())


def test_ping_and_every_documented_type(example: tuple[str, list[str]]) -> None:
    base, _ = example
    for path in ("/discord/events", "/discord/events/"):
        code, out, err = cli("send", base + path, "event", "ping")
        assert (code, out.strip(), err) == (0, "HTTP 204", ""), err
    for event_type in WebhookEventType:
        code, out, err = cli("send", base + "/discord/events", "event", event_type.value)
        assert (code, out.strip()) == (0, "HTTP 204"), (event_type, err)


def test_given_data_and_a_lowercase_type(example: tuple[str, list[str]]) -> None:
    base, _ = example
    data = '{"user": {"id": "42", "username": "someone"}, "scopes": ["bot"], "integration_type": 1}'
    code, out, err = cli(
        "send", base + "/discord/events", "event", "application_authorized", "--data", data
    )
    assert (code, out.strip()) == (0, "HTTP 204"), err


def test_an_event_sent_to_the_interactions_url_says_where_it_belongs(
    example: tuple[str, list[str]],
) -> None:
    base, _ = example
    code, _, err = cli("send", base + "/interactions", "event", "ENTITLEMENT_CREATE")
    assert code == 1
    assert "bot.webhook_events" in one_line_error(err)


def test_a_wrong_key_is_explained(example: tuple[str, list[str]]) -> None:
    base, _ = example
    code, _, err = cli("send", "--seed", "11" * 32, base + "/discord/events", "event", "ping")
    assert code == 1
    assert "refused the signature" in one_line_error(err)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["event", "ENTITLEMENT_CREATE", "--data", "[1]"], "--data must be a JSON object"),
        (["event", "ENTITLEMENT_CREATE", "--data", "{nope"], "the value of '--data' is not JSON"),
        (["event", "ping", "--data", "{}"], "a PING carries no data"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, out, err = cli("send", "http://127.0.0.1:9/discord/events", *args)
    assert code == 2 and out == ""
    assert message in one_line_error(err)


def test_the_example_logs_an_installation() -> None:
    """The example's handler ran: its log line appears when the server stops."""
    log: list[str] = []
    logging_config = ("--log-config", "examples/logging.json")
    proc, base = start_uvicorn(f"{EXAMPLE}:app", ROOT, clean_env(), *logging_config)
    try:
        code, _, err = cli("send", base + "/discord/events", "event", "APPLICATION_AUTHORIZED")
        assert code == 0, err
    finally:
        log.extend(stop(proc).splitlines())
    assert any("added the app to server" in line for line in log), log[-20:]


def test_routes_lists_the_event_handlers() -> None:
    code, out, err = cli("routes", f"{EXAMPLE}:bot")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert ["webhook", "event", "APPLICATION_AUTHORIZED", f"{EXAMPLE}.installed"] in rows
