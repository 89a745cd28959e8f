"""Unverified requests are bounded: Content-Length parsed safely, bodies read within
``body_timeout``, and bytes held across the process capped by ``max_unverified_bytes``.

Each behaviour runs in process (the raw ASGI calls) and over real sockets under uvicorn, with both
of uvicorn's HTTP/1.1 parsers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_interactions import InteractionApp
from asgi_interactions.testing import KeyPair, interaction_payload
from tests.endpoint.test_deferral import _api_gateway_event, invoke_lambda
from tests.serve import serve

Message = dict[str, Any]

# -- helpers ------------------------------------------------------------------------------------


async def call(
    bot: InteractionApp,
    headers: list[tuple[bytes, bytes]],
    messages: list[Message] | None = None,
    *,
    stall: bool = False,
) -> tuple[list[Message], int]:
    """Call the bot as an ASGI server would; returns what it sent and how many receives it made.

    ``messages`` are handed out in order; then, with ``stall``, receive() never returns again.
    """
    queue = list(messages or [])
    received = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        received += 1
        if queue:
            return queue.pop(0)
        if stall:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }
    await asyncio.wait_for(bot(scope, receive, send), 30)
    return sent, received


def answer(sent: list[Message]) -> tuple[int, dict[bytes, bytes], Any]:
    """Status, headers and decoded JSON body of what the app sent."""
    start, body = sent
    return start["status"], dict(start["headers"]), json.loads(body["body"])


def part(data: bytes, more: bool = True) -> Message:
    return {"type": "http.request", "body": data, "more_body": more}


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


async def read_response(reader: asyncio.StreamReader, limit: float) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server closed the connection after answering.

    Raises TimeoutError if the whole answer and the close do not come within ``limit`` seconds.
    """
    async with asyncio.timeout(limit):
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = b""
        try:
            body = await reader.read() if length is None else await reader.readexactly(length)
            rest = await reader.read()  # b"" at EOF, once the server closes the connection
            assert rest == b""
        except ConnectionError:
            # The server closed with our unsent-yet-unread bytes in its buffer, so its kernel
            # sent a reset: closed all the same. StreamReader then raises before handing over
            # what it had buffered, so the body may be lost (the caller checks it when present).
            return status, body, True
        return status, body, reader.at_eof()


HTTP_PARSERS = ["h11", "httptools"]


@pytest.fixture(params=HTTP_PARSERS)
def http(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def served(bot: InteractionApp, http: str) -> AsyncIterator[tuple[str, int]]:
    async with serve(bot, lifespan="on", http=http, timeout_keep_alive=30) as url:
        yield host_port(url)


# -- Content-Length -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [b"12a"],
        [b"-1"],
        [b"+5"],
        [b" 5"],
        [b"5.0"],
        [b""],
        [b"\xd9\xa1"],  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit, not to HTTP
        [b"9" * 19],
        [b"9" * 5000],  # over 4,300 digits: int() itself raises
        [b"5", b"5"],
        [b"5", b"6"],
    ],
    ids=lambda v: repr(v)[:30],
)
async def test_bad_content_length_gets_400_in_process(
    make_bot: Callable[..., InteractionApp], values: list[bytes]
) -> None:
    headers = [(b"content-length", v) for v in values]
    sent, received = await call(make_bot(), headers, [part(b"{}", more=False)])
    status, response_headers, body = answer(sent)
    assert (status, body) == (400, {"error": "invalid content-length"})
    assert response_headers[b"connection"] == b"close"
    assert received == 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.binary(max_size=30) | st.from_regex(rb"\A[0-9]{1,25}\Z"), max_size=3))
async def test_any_content_length_headers_get_a_json_answer_never_an_exception(
    make_bot: Callable[..., InteractionApp], values: list[bytes]
) -> None:
    bot = make_bot(max_body_size=1000)
    headers = [(b"content-length", v) for v in values]
    sent, _ = await call(bot, headers, [part(b"", more=False)])
    status, _, body = answer(sent)
    valid = len(values) <= 1 and all(v.isdigit() and len(v) <= 18 for v in values)
    if not valid:
        assert (status, body) == (400, {"error": "invalid content-length"})
    elif values and int(values[0]) > 1000:
        assert (status, body) == (413, {"error": "request body too large"})
    else:
        assert status == 401  # read the (empty) body, then no signature
    assert set(body) == {"error"}


def test_huge_content_length_under_mangum_gets_400_not_500(
    make_bot: Callable[..., InteractionApp], keys: KeyPair
) -> None:
    """Regression: 5,000 digits made int() raise, and Mangum answered 500."""
    from mangum import Mangum

    body = json.dumps(interaction_payload(1)).encode()
    headers = {**keys.headers(body), "content-length": "9" * 5000}
    result = invoke_lambda(Mangum(make_bot(), lifespan="off"), _api_gateway_event(body, headers))
    assert result["statusCode"] == 400
    text = base64.b64decode(result["body"]) if result.get("isBase64Encoded") else result["body"]
    assert json.loads(text) == {"error": "invalid content-length"}


@pytest.mark.parametrize(
    "value",
    [b"9" * 5000, b"12a", b"5\r\nContent-Length: 6"],
    ids=["5000-digits", "letters", "conflicting"],
)
async def test_bad_content_length_under_uvicorn_is_refused_and_closed(
    make_bot: Callable[..., InteractionApp], http: str, value: bytes
) -> None:
    """uvicorn's parsers refuse some of these themselves: either way a 4xx, never a 500."""
    async with served(make_bot(), http) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\nhello")
        status, body, closed = await read_response(reader, 10)
        writer.close()
    assert 400 <= status < 500
    assert closed
    if body.startswith(b"{"):
        assert set(json.loads(body)) == {"error"}


# -- body_timeout -------------------------------------------------------------------------------


async def test_stalled_body_gets_408_in_process(make_bot: Callable[..., InteractionApp]) -> None:
    bot = make_bot(body_timeout=0.3)
    headers = [(b"content-length", b"100")]
    sent, received = await call(bot, headers, [part(b"x" * 10)], stall=True)
    status, response_headers, body = answer(sent)
    assert (status, body) == (408, {"error": "request body not received in time"})
    assert response_headers[b"connection"] == b"close"
    assert received == 2
    reader = bot._endpoint.reader
    assert reader.buffered == 0
    assert not reader.reading and not reader.expired


async def test_the_sweep_stops_once_no_body_is_being_read(
    make_bot: Callable[..., InteractionApp],
) -> None:
    """No timer keeps firing for an idle app: the sweep disarms, the next slow read re-arms it."""
    bot = make_bot(body_timeout=0.2)
    reader = bot._endpoint.reader
    for _ in range(2):
        sent, _ = await call(bot, [(b"content-length", b"9")], stall=True)
        assert answer(sent)[0] == 408
        async with asyncio.timeout(5):
            while reader.timer_loop is not None:  # noqa: ASYNC110 - a timer, no event to wait on
                await asyncio.sleep(0.05)
    # fast requests (the body in one message) never leave the sweep anything to do
    sent, _ = await call(bot, [(b"content-length", b"2")], [part(b"{}", more=False)])
    assert answer(sent)[0] == 401
    assert not reader.reading


async def test_a_cancellation_that_is_not_the_deadline_propagates(
    make_bot: Callable[..., InteractionApp],
) -> None:
    """Shutdown or a server cancelling the request must not be turned into a 408."""
    bot = make_bot(body_timeout=30)
    task = asyncio.create_task(call(bot, [(b"content-length", b"100")], stall=True))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not bot._endpoint.reader.reading


async def test_deadline_applies_across_event_loops(
    make_bot: Callable[..., InteractionApp],
) -> None:
    """A loop closed with the sweep timer armed on it must not leave later loops unguarded
    (Mangum runs each invocation in a new loop)."""
    bot = make_bot(body_timeout=0.3)

    def read_in_a_loop_that_closes() -> bool:
        loop = asyncio.new_event_loop()
        try:
            with contextlib.suppress(TimeoutError):
                stalled = call(bot, [(b"content-length", b"9")], stall=True)
                loop.run_until_complete(asyncio.wait_for(stalled, 0.05))
        finally:
            loop.close()
        return bot._endpoint.reader.timer_loop is loop

    assert await asyncio.to_thread(read_in_a_loop_that_closes)
    sent, _ = await call(bot, [(b"content-length", b"9")], stall=True)
    assert answer(sent)[0] == 408


async def _post_slowly(
    host: str, port: int, head: bytes, pieces: list[bytes], pause: float
) -> tuple[int, bytes, bool, float]:
    """Send ``head`` then ``pieces`` with a pause between; answer, and when it came."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    started = loop.time()
    writer.write(head)

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(pause)

    sender = asyncio.create_task(trickle())
    try:
        status, body, closed = await read_response(reader, 20)
        return status, body, closed, loop.time() - started
    finally:
        sender.cancel()
        writer.close()


SLOW_CLIENTS = {
    # headers promise 1000 bytes; 10 arrive, then nothing
    "stalled": (b"Content-Length: 1000\r\n", [b"x" * 10], 0.0),
    # one byte every 50 ms: always something arriving, never the whole body
    "slowloris": (b"Content-Length: 1000\r\n", [b"x"] * 1000, 0.05),
    # a chunked body that never ends (small chunks: never near max_body_size)
    "endless-chunked": (
        b"Transfer-Encoding: chunked\r\n",
        [b"10\r\n" + b"x" * 16 + b"\r\n"] * 1000,
        0.02,
    ),
    # a complete-looking JSON body shorter than its Content-Length
    "too-long-content-length": (b"Content-Length: 500\r\n", [b'{"type": 1}'], 0.0),
}


@pytest.mark.parametrize("kind", list(SLOW_CLIENTS))
async def test_slow_bodies_get_408_and_a_closed_connection_under_uvicorn(
    make_bot: Callable[..., InteractionApp], http: str, kind: str, keys: KeyPair
) -> None:
    extra, pieces, pause = SLOW_CLIENTS[kind]
    bot = make_bot(body_timeout=1.0)
    head = b"POST / HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"
    async with served(bot, http) as (host, port):
        status, body, closed, elapsed = await _post_slowly(host, port, head, pieces, pause)
        # The app is not stuck: a good request on a new connection still gets through.
        ping = json.dumps(interaction_payload(1)).encode()
        good_head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(ping)
        good_head += b"".join(
            b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in keys.headers(ping).items()
        )
        good = await _post_slowly(host, port, good_head + b"Connection: close\r\n\r\n", [ping], 0)
    assert status == 408
    if body or kind != "endless-chunked":  # see read_response: a reset may swallow the body
        assert json.loads(body) == {"error": "request body not received in time"}
    assert closed
    assert elapsed >= 1.0  # not before the deadline (its upper bound is read_response's 20 s)
    assert good[0] == 200
    assert bot._endpoint.reader.buffered == 0


# -- the process-wide cap on unverified bytes ----------------------------------------------------


async def test_request_that_does_not_fit_gets_503_and_nothing_is_read(
    make_bot: Callable[..., InteractionApp],
) -> None:
    bot = make_bot(max_body_size=2000, max_unverified_bytes=3000, body_timeout=5)
    reader = bot._endpoint.reader
    holders = [
        asyncio.create_task(
            call(bot, [(b"content-length", b"1500")], [part(b"x" * 1400)], stall=True)
        )
        for _ in range(2)
    ]
    async with asyncio.timeout(5):
        while reader.buffered < 2800:  # noqa: ASYNC110 - a counter, no event to wait on
            await asyncio.sleep(0.01)
    sent, received = await call(bot, [(b"content-length", b"1000")], [part(b"{}", more=False)])
    status, headers, body = answer(sent)
    assert (status, body) == (503, {"error": "too many request bodies in progress, try again"})
    assert headers[b"connection"] == b"close"
    assert received == 0  # nothing read
    # A chunked request (no length) is refused once a piece would go over the cap.
    sent, received = await call(bot, [], [part(b"x" * 300), part(b"x")], stall=True)
    assert answer(sent)[0] == 503
    assert received == 1
    assert reader.peak <= 3000
    for holder in holders:
        holder.cancel()
    await asyncio.gather(*holders, return_exceptions=True)
    assert reader.buffered == 0


def test_the_cap_must_hold_one_whole_body(make_bot: Callable[..., InteractionApp]) -> None:
    from asgi_interactions.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="max_unverified_bytes"):
        make_bot(max_body_size=2000, max_unverified_bytes=1000)
    with pytest.raises(ConfigurationError, match="body_timeout"):
        make_bot(body_timeout=0)


MIB = 1 << 20


async def _stalled_mib(host: str, port: int, payload: memoryview, hold: float) -> int | None:
    """Declare 1 MiB, send 1 MiB - 1 byte, stall; the answer's status, or None if cut off."""
    loop = asyncio.get_running_loop()
    with socket.socket() as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % MIB
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            async with asyncio.timeout(hold):
                await loop.sock_sendall(sock, head)
                await loop.sock_sendall(sock, payload)  # no copy: the test's memory stays flat
        answer = b""
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            async with asyncio.timeout(hold):
                while b"\r\n" not in answer:
                    data = await loop.sock_recv(sock, 4096)
                    if not data:
                        break
                    answer += data
        return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


async def test_300_stalled_mebibytes_stay_under_the_cap_under_uvicorn(
    make_bot: Callable[..., InteractionApp],
) -> None:
    cap = 8 * MIB
    bot = make_bot(body_timeout=3.0, max_unverified_bytes=cap)
    payload = memoryview(bytes(MIB - 1))
    async with served(bot, "h11") as (host, port):
        statuses = await asyncio.gather(
            *(_stalled_mib(host, port, payload, 20) for _ in range(300))
        )
    reader = bot._endpoint.reader
    assert reader.peak <= cap
    assert reader.buffered == 0
    # Most were refused, not buffered. (A refused client still sending may see the server's
    # reset before the 503 it was sent: None.)
    assert statuses.count(503) + statuses.count(None) > 200
    assert set(statuses) <= {408, 503, None}
    assert 408 in statuses  # those that fit were dropped at the deadline


def _rss(pid: int) -> int:
    """Resident set size of a process, in bytes (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")
async def test_300_stalled_mebibytes_leave_the_server_process_rss_bounded() -> None:
    """The same attack on a server in its own process: its memory grows by the cap and uvicorn's
    per-connection buffers, not by the ~300 MB sent (~305 MB measured with a 1 GiB cap)."""
    from tests.serve import free_port

    cap = 8 * MIB
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.endpoint.rss_server", str(port), str(cap), "3.0", "h11"
    )
    try:
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # let start-up allocations settle
        baseline = peak = _rss(server.pid)
        payload = memoryview(bytes(MIB - 1))
        attack = asyncio.gather(*(_stalled_mib("127.0.0.1", port, payload, 20) for _ in range(300)))
        async with asyncio.timeout(60):
            while not attack.done():
                peak = max(peak, _rss(server.pid))
                await asyncio.sleep(0.02)
        statuses = attack.result()
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
    assert statuses.count(503) + statuses.count(None) > 200  # refused (None: reset first)
    assert set(statuses) <= {408, 503, None}
    # The app holds at most `cap` (the in-process test counts it); uvicorn reads up to 256 KiB
    # per socket read and pauses past 64 KiB, so it holds up to ~320 KiB per connection on its
    # own (bounded by --limit-concurrency, not by the app); allow 2x the cap for allocator slack.
    # Measured: 15-35 MiB; with no effective cap, ~305 MiB.
    assert peak - baseline < 2 * cap + 300 * 320 * 1024 + 16 * MIB, (peak - baseline) / MIB


# -- the default max_body_size ---------------------------------------------------------------------


def _at_discords_limits() -> dict[str, Any]:
    """A component interaction as large as Discord's documented limits allow (notes §3.7): its
    message has full content, 10 embeds (6,000 characters between them) whose every URL is
    2,048 characters, 25 link buttons, 10 attachments, and replies to a message just as large.
    Text is control characters, which JSON writes as 6 bytes each (the worst escaping)."""

    def text(n: int) -> str:
        return "\x01" * n

    url = "https://" + "a" * 2040

    def media() -> dict[str, Any]:
        return {"url": url, "proxy_url": url, "height": 4096, "width": 4096}

    def message(content: int, reply: dict[str, Any] | None) -> dict[str, Any]:
        embed = {
            "type": "rich",
            "title": text(25),
            "description": text(575),
            "url": url,
            "footer": {"text": "", "icon_url": url, "proxy_icon_url": url},
            "image": media(),
            "thumbnail": media(),
            "video": media(),
            "author": {"name": "", "url": url, "icon_url": url, "proxy_icon_url": url},
            "fields": [{"name": "", "value": "", "inline": True}] * 25,
        }
        button = {"type": 2, "style": 5, "label": text(80), "url": url[:512]}
        attachment = {"id": "1", "filename": "f" * 1024, "size": 1, "url": url, "proxy_url": url}
        return {
            "id": "1",
            "channel_id": "1",
            "type": 19 if reply else 0,
            "content": text(content),
            "author": {"id": "1", "username": "x", "discriminator": "0"},
            "timestamp": "2026-01-01T00:00:00+00:00",
            "embeds": [embed] * 10,
            "components": [{"type": 1, "components": [button] * 5}] * 5,
            "attachments": [attachment] * 10,
            "referenced_message": reply,
        }

    users_message = message(4000, None)  # Nitro users may write 4,000 characters
    data = {"custom_id": text(100), "component_type": 2}
    return interaction_payload(3, data, message=message(2000, users_message))


async def test_default_max_body_size_admits_an_interaction_at_discords_limits(
    make_bot: Callable[..., InteractionApp], connect: Any
) -> None:
    """The default keeps 1 MiB: real interactions are under 7 KB (the corpus's largest is 6.4 KB
    compact), but Discord's limits allow ~0.8 MB, and a 413 would fail a real user."""
    body = json.dumps(_at_discords_limits(), separators=(",", ":")).encode()
    bot = make_bot()
    assert 700_000 < len(body) < bot.max_body_size
    async with connect(bot) as client:
        response = await client.send(body)
    assert response.status == 200  # no handler: an ephemeral notice, but read, verified, parsed
