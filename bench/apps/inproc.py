"""In-process cost of one interaction through an ASGI app, without a server or sockets.

Calls `app(scope, receive, send)` in a loop on uvloop with a pre-signed body and reports µs per
request; `--cprofile` prints the functions where the time goes. It isolates the app's own cost
from uvicorn's (bench/endpoint.py measures the two together).

    python bench/apps/inproc.py starlette_app:app ours_low:app ours_cmd:app --scenario echo
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uvloop
from fixtures import SCENARIOS, encode, http_scope, sign

App = Any


def build_request(scenario: str, path: str) -> tuple[dict[str, Any], bytes]:
    """An ASGI http scope as uvicorn builds it, and the body, signed now."""
    bad = scenario == "badsig"
    body = encode(SCENARIOS["echo" if bad else scenario][0])
    headers = sign(body, valid=not bad)
    scope = http_scope(
        path, headers["X-Signature-Ed25519"], headers["X-Signature-Timestamp"], len(body)
    )
    return scope, body


async def lifespan(app: App) -> asyncio.Queue[dict[str, Any]]:
    """Run the app's ASGI lifespan startup (if it has one); the returned queue shuts it down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    getter = asyncio.create_task(outbox.get())
    await asyncio.wait({task, getter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if getter.done():
        if getter.result()["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup: {getter.result()}")
    else:
        getter.cancel()  # the app returned at once: it does not speak the lifespan protocol
    inbox.task = task  # type: ignore[attr-defined]
    return inbox


class Runner:
    """Drives one app with one pre-signed request, in timed batches."""

    def __init__(self, app: App, path: str, scenario: str) -> None:
        self.app = app
        self.scope, body = build_request(scenario, path)
        self.message = {"type": "http.request", "body": body, "more_body": False}
        self.status = 0
        self.out = b""
        self.times: list[float] = []

    async def receive(self) -> dict[str, Any]:
        return self.message

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            self.out = message.get("body", b"")

    async def batch(self, n: int) -> None:
        app, scope, receive, send = self.app, self.scope, self.receive, self.send
        t0 = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), receive, send)
        self.times.append((time.perf_counter() - t0) / n * 1e6)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("apps", nargs="+", help="module:attr in bench/apps, e.g. ours_low:app")
    p.add_argument("--scenario", default="echo", help="comma-separated: ping,echo,badsig,calc,vote")
    p.add_argument("-n", type=int, default=1000, help="requests per batch")
    p.add_argument("--repeat", type=int, default=15, help="batches per app, interleaved")
    p.add_argument("--cprofile", action="store_true", help="profile the batches (one app only)")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    apps: list[tuple[str, App]] = []
    shutdowns = []
    for spec in args.apps:
        module, _, attr = spec.partition(":")
        app = getattr(importlib.import_module(module), attr or "app")
        apps.append((spec, app))
        shutdowns.append(await lifespan(app))
    for scenario in args.scenario.split(","):
        runners = []
        for spec, app in apps:
            path = "/interactions" if spec.startswith("starlette_app") else "/"
            runner = Runner(app, path, scenario)
            await runner.batch(200)  # warm-up
            runner.times.clear()
            runners.append((spec, runner))
        prof = cProfile.Profile() if args.cprofile else None
        if prof is not None:
            prof.enable()
        for _ in range(args.repeat):  # interleaved: A, B, C, A, B, C, ... so drift hits all alike
            for _, runner in runners:
                await runner.batch(args.n)
        if prof is not None:
            prof.disable()
        for spec, runner in runners:
            print(
                f"{spec:20} {scenario:7} min {min(runner.times):6.1f} µs  median "
                f"{statistics.median(runner.times):6.1f} µs/request  -> {runner.status} "
                f"{runner.out[:60]!r}"
            )
        if prof is not None:
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(args.top)
            print(buf.getvalue())
    for shutdown in shutdowns:
        await shutdown.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(shutdown.task, 10)  # type: ignore[attr-defined]


if __name__ == "__main__":
    uvloop.run(main())
