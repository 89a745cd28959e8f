"""Webhook events against PINGs: what an event costs in process, and how soon a slow one is acked.

1. Instructions per request (callgrind, free of machine noise), in process, no sockets: each
   scenario answers 200 and 600 distinct pre-signed requests in its own process under
   ``valgrind --tool=callgrind``; (total(600) - total(200)) / 400 is one request's cost, startup
   and imports cancelling out. Scenarios: ``interaction-ping`` (the bot's endpoint, a PING),
   ``event-ping`` (bot.webhook_events, a PING), ``event`` (an ENTITLEMENT_CREATE whose no-op
   handler runs as tracked work, identity remembered in process), ``event-once-off`` (the same,
   ``idempotent=False``), ``redelivery`` (every request a retry of an event already handled).
2. Latency of the 204 under uvicorn on 127.0.0.1 for an event whose handler sleeps 1 s, against
   a PING, sequential requests (``--latency N``): the answer does not wait for the handler.

    PYTHONPATH=. python bench/webhook_events.py                # both parts
    PYTHONPATH=. python bench/webhook_events.py --no-latency   # instructions only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import marshal
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SCENARIOS = ("interaction-ping", "event-ping", "event", "event-once-off", "redelivery")


def _requests(scenario: str, n: int) -> list[tuple[str, bytes]]:
    """``n`` (timestamp, body) pairs, all signed differently."""
    from asgi_interactions.testing import interaction_payload, webhook_event_payload

    now = int(time.time())
    if scenario == "interaction-ping":
        return [(str(now), json.dumps(interaction_payload(1)).encode()) for _ in range(n)]
    if scenario == "event-ping":  # PINGs carry no id: vary the timestamp to vary the signature
        body = b'{"version":1,"application_id":"1100000000000000001","type":0}'
        return [(f"{now - i * 0.4:.1f}", body) for i in range(n)]
    if scenario == "redelivery":  # one event, delivered n times (a new signature each time)
        body = json.dumps(webhook_event_payload("ENTITLEMENT_CREATE")).encode()
        return [(f"{now - i * 0.4:.1f}", body) for i in range(n)]
    return [
        (str(now), json.dumps(webhook_event_payload("ENTITLEMENT_CREATE")).encode())
        for _ in range(n)
    ]


def _build(scenario: str) -> tuple[Any, Any]:
    """The bot and the ASGI app the scenario's requests go to."""
    from asgi_interactions import InteractionApp
    from asgi_interactions.testing import DEVELOPMENT_KEYS

    bot = InteractionApp(public_key=DEVELOPMENT_KEYS.public_key, token=None)

    async def granted(event: Any) -> None:
        return None

    bot.event("ENTITLEMENT_CREATE", idempotent=scenario != "event-once-off")(granted)
    return bot, bot if scenario == "interaction-ping" else bot.webhook_events


def _write_requests(scenario: str, n: int, path: Path) -> None:
    """Sign the scenario's requests here, in the parent: signing is not what is measured."""
    from asgi_interactions.testing import DEVELOPMENT_KEYS

    path.write_bytes(
        marshal.dumps(
            [
                (DEVELOPMENT_KEYS.sign(ts, body).encode(), ts.encode(), body)
                for ts, body in _requests(scenario, n)
            ]
        )
    )


async def _drive(scenario: str, requests: list[tuple[bytes, bytes, bytes]]) -> None:
    n = len(requests)
    bot, app = _build(scenario)
    await bot.startup()
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for signature, timestamp, body in requests:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-signature-ed25519", signature),
            (b"x-signature-timestamp", timestamp),
        ]
        scope = {"type": "http", "method": "POST", "path": "/", "root_path": "",
                 "headers": headers, "query_string": b"", "client": ("127.0.0.1", 1)}  # fmt: skip

        async def receive(body: bytes = body) -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, receive, send)
        await asyncio.sleep(0)  # the handler's task runs, as between requests on a server
    await bot.shutdown()
    expected = 200 if scenario == "interaction-ping" else 204
    assert statuses == [expected] * n, sorted(set(statuses))


def _callgrind(scenario: str, n: int, out: Path) -> int:
    request_file = out.with_suffix(".requests")
    _write_requests(scenario, n, request_file)
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, __file__, "--child", scenario, str(request_file)],
        capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(REPO)},
        timeout=900, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        tail = "\n".join(line for line in run.stderr.splitlines() if not line.startswith("=="))
        raise RuntimeError(f"{scenario} n={n} failed ({run.returncode}):\n{tail[-2000:]}")
    found = re.search(r"^summary:\s*(\d+)", out.read_text(), re.M) or re.search(
        r"^totals:\s*(\d+)", out.read_text(), re.M
    )
    assert found, f"no totals in {out}"
    return int(found.group(1))


def instructions(low: int = 200, high: int = 600) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in SCENARIOS:
            a = _callgrind(scenario, low, Path(tmp) / f"{scenario}-{low}.out")
            b = _callgrind(scenario, high, Path(tmp) / f"{scenario}-{high}.out")
            results[scenario] = (b - a) / (high - low)
            print(f"{scenario:18} {results[scenario] / 1000:8.0f}k instructions/request")
    return results


async def latency(n: int) -> None:
    import httpx2

    from asgi_interactions import InteractionApp
    from asgi_interactions.testing import DEVELOPMENT_KEYS, webhook_event_payload
    from tests.serve import serve

    bot = InteractionApp(public_key=DEVELOPMENT_KEYS.public_key, token=None)
    finished = 0

    @bot.event("ENTITLEMENT_CREATE")
    async def slow(event: Any) -> None:
        nonlocal finished
        await asyncio.sleep(1.0)
        finished += 1

    ping = b'{"version":1,"application_id":"1","type":0}'
    times: dict[str, list[float]] = {"ping": [], "slow event": []}
    async with serve(bot.webhook_events, lifespan="on") as url, httpx2.AsyncClient() as http:
        for i in range(n):  # interleaved, so both see the same machine load
            for name in times:
                body = ping if name == "ping" else json.dumps(
                    webhook_event_payload("ENTITLEMENT_CREATE")).encode()  # fmt: skip
                headers = DEVELOPMENT_KEYS.headers(body, str(int(time.time()) - i % 250))
                start = time.perf_counter()
                response = await http.post(url, content=body, headers=headers)
                times[name].append(time.perf_counter() - start)
                assert response.status_code == 204, response.text
    assert finished == n  # the lifespan's shutdown waited for every slow handler
    for name, values in times.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        note = f"n={len(values)}" + (", 204 each; handler 1 s" if name != "ping" else "")
        median = statistics.median(values) * 1000
        print(f"{name:12} median {median:6.2f} ms  p99 {p99 * 1000:6.2f} ms  ({note})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-instructions", action="store_true")
    parser.add_argument("--latency", type=int, default=50, metavar="N", help="requests each")
    args = parser.parse_args()
    if args.child:
        asyncio.run(_drive(args.child[0], marshal.loads(Path(args.child[1]).read_bytes())))
        return
    if not args.no_instructions:
        instructions()
    if not args.no_latency:
        asyncio.run(latency(min(args.latency, 500)))


if __name__ == "__main__":
    main()
