"""REST rate-limiting benchmark: asgi_interactions vs hikari vs discord.py on one fake Discord.

A mixed workload against tests/fakes/discord_rest.py with realistic limits (sliding windows:
messages 5 per 5 s per channel, edits 5 per 5 s, reactions 1 per 0.25 s, reads 10 per 1 s,
global 50 per 1 s) and 20-80 ms latency. Phase 1 creates messages in several channels; phase 2
edits, reacts to and fetches them, all at once. For each client: wall time against the minimum the
limits allow, and 429s by scope. Then the limiter's own cost per request with the network taken
out (httpx2.MockTransport).

    /tmp/venv/bin/python bench/rest.py [--channels 6] [--clients ours,hikari,discordpy]
    /tmp/venv/bin/python bench/rest.py --cost-only   # only the per-request cost

hikari and discord.py are bench-only (bench/requirements.txt); base URLs are pointed at the fake
with hikari's public ``RESTApp(url=...)`` and by setting ``discord.http.Route.BASE``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2

from asgi_interactions.rest import MemoryRateLimiter, RestClient
from tests.fakes.discord_rest import REALISTIC_LIMITS, FakeDiscord, serve_fake_discord
from tests.rest.minimum import minimum_wall_time

TOKEN = "bench-token"
LATENCY = (0.02, 0.08)
GLOBAL = (50, 1.0)


class Workload:
    """How many of each request per channel."""

    def __init__(self, channels: int, creates: int, edits: int, reactions: int, gets: int) -> None:
        self.channels = list(range(1001, 1001 + channels))
        self.creates, self.edits, self.reactions, self.gets = creates, edits, reactions, gets

    def minimum(self, trip: float | None = None) -> float:
        """Seconds an omniscient client needs: tests/rest/minimum.py's schedule of this workload.

        It knows every limit and every arrival time, sends each request at the earliest moment
        no latency draw could get it refused (a slot whose holder arrived at ``a`` may be taken
        by a send at ``a + window - d_min``), gives the global slots to the longest bucket chain
        first, and starts phase 2 at phase 1's last answer. Every trip takes ``trip`` one way,
        by default the fastest the fake draws (``d_min``), so the figure is a lower bound on the
        wall time of any client that is never refused, whatever the latencies drawn.
        """
        d_min = LATENCY[0] / 2  # the fake splits each round trip evenly between the two ways
        phase1 = [("messages.create", str(ch)) for ch in self.channels for _ in range(self.creates)]
        phase2: list[tuple[str, str]] = []
        for ch in self.channels:
            phase2 += [("messages.edit", str(ch))] * self.edits
            phase2 += [("reactions", str(ch))] * self.reactions
            phase2 += [("messages.read", str(ch))] * self.gets
        return minimum_wall_time(
            [phase1, phase2], REALISTIC_LIMITS, GLOBAL, d_min=d_min, trip=trip or d_min
        )

    @property
    def total(self) -> int:
        return len(self.channels) * (self.creates + self.edits + self.reactions + self.gets)


Ops = dict[str, Callable[..., Awaitable[Any]]]


async def run_phases(ops: Ops, w: Workload) -> None:
    created = await asyncio.gather(
        *(ops["create"](ch, f"m{i}") for ch in w.channels for i in range(w.creates))
    )
    by_channel: dict[int, list[int]] = {}
    for ch, mid in created:
        by_channel.setdefault(ch, []).append(mid)
    tasks = []
    for ch, mids in by_channel.items():
        tasks += [ops["edit"](ch, mids[i % len(mids)], f"e{i}") for i in range(w.edits)]
        tasks += [ops["react"](ch, mids[i % len(mids)]) for i in range(w.reactions)]
        tasks += [ops["get"](ch, mids[i % len(mids)]) for i in range(w.gets)]
    await asyncio.gather(*tasks)


# ------------------------------------------------------------------ the three clients


async def ours(fake: FakeDiscord, w: Workload) -> None:
    async with RestClient(TOKEN, base_url=fake.base_url) as rest:

        async def create(ch: int, text: str) -> tuple[int, int]:
            m = await rest.create_message(ch, text)
            return ch, int(m["id"])

        ops: Ops = {
            "create": create,
            "edit": lambda ch, mid, text: rest.edit_message(ch, mid, content=text),
            "react": lambda ch, mid: rest.add_reaction(ch, mid, "👍"),
            "get": rest.get_message,
        }
        await run_phases(ops, w)


async def hikari_client(fake: FakeDiscord, w: Workload) -> None:
    from hikari.impl import rest as hrest

    app = hrest.RESTApp(url=fake.base_url)
    await app.start()
    try:
        async with app.acquire(TOKEN, "Bot") as rest:

            async def create(ch: int, text: str) -> tuple[int, int]:
                m = await rest.create_message(ch, text)
                return ch, int(m.id)

            ops: Ops = {
                "create": create,
                "edit": lambda ch, mid, text: rest.edit_message(ch, mid, text),
                "react": lambda ch, mid: rest.add_reaction(ch, mid, "👍"),
                "get": rest.fetch_message,
            }
            await run_phases(ops, w)
    finally:
        await app.close()


async def discordpy_client(fake: FakeDiscord, w: Workload) -> None:
    import discord.http as dhttp
    from discord.http import handle_message_parameters

    dhttp.Route.BASE = fake.base_url  # documented monkeypatch: its base-URL class attribute
    http = dhttp.HTTPClient(asyncio.get_running_loop())
    await http.static_login(TOKEN)
    try:

        async def create(ch: int, text: str) -> tuple[int, int]:
            with handle_message_parameters(content=text) as params:
                m = await http.send_message(ch, params=params)
            return ch, int(m["id"])

        async def edit(ch: int, mid: int, text: str) -> Any:
            with handle_message_parameters(content=text) as params:
                return await http.edit_message(ch, mid, params=params)

        ops: Ops = {
            "create": create,
            "edit": edit,
            "react": lambda ch, mid: http.add_reaction(ch, mid, "👍"),
            "get": http.get_message,
        }
        await run_phases(ops, w)
    finally:
        await http.close()


CLIENTS = {"ours": ours, "hikari": hikari_client, "discordpy": discordpy_client}


async def race(name: str, w: Workload, limit_s: float) -> dict[str, Any]:
    async with serve_fake_discord(
        realistic=True, latency=LATENCY, global_limit=GLOBAL, seed=7
    ) as fake:
        t0 = time.perf_counter()
        error = ""
        try:
            await asyncio.wait_for(CLIENTS[name](fake, w), limit_s)
        except Exception as exc:  # a client that fails still gets its row
            error = f"{type(exc).__name__}: {exc}"[:120]
        wall = time.perf_counter() - t0
        scopes = Counter(r.scope or "user" for r in fake.requests if r.status == 429)
        ok = sum(1 for r in fake.requests if 200 <= r.status < 300)
    return {
        "name": name,
        "wall": wall,
        "ok": ok,
        "scopes": scopes,
        "error": error,
        "sent": len(fake.requests),
    }


# ------------------------------------------------------------------ limiter cost


async def limiter_cost(blocks: int = 20, per_block: int = 1_000) -> tuple[float, float]:
    """µs per request: raw httpx2 on MockTransport, and RestClient (limiter included) on it.

    The two alternate in blocks of ``per_block`` sequential requests, so both see the same
    machine load; each figure is the median over the blocks.
    """
    headers = {
        "X-RateLimit-Limit": "1000000",
        "X-RateLimit-Remaining": "999999",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Reset": "1700000000.000",
        "X-RateLimit-Bucket": "abc",
        "Content-Type": "application/json",
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=b'{"id":"1"}')

    raw_times: list[float] = []
    ours_times: list[float] = []
    limiter = MemoryRateLimiter(global_limit=10**9)
    rest = RestClient(TOKEN, transport=httpx2.MockTransport(handler), rate_limiter=limiter)
    auth = {"Authorization": f"Bot {TOKEN}"}
    base = "https://discord.com/api/v10/channels/"
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as raw, rest:
        for i in range(200):  # warm both up
            await raw.get(f"{base}{i % 100}", headers=auth)
            await rest.get_channel(i % 100)
        for _ in range(blocks):
            t = time.perf_counter()
            for i in range(per_block):
                response = await raw.get(f"{base}{i % 100}", headers=auth)
                response.json()
            raw_times.append((time.perf_counter() - t) / per_block * 1e6)
            t = time.perf_counter()
            for i in range(per_block):
                await rest.get_channel(i % 100)
            ours_times.append((time.perf_counter() - t) / per_block * 1e6)
    return statistics.median(raw_times), statistics.median(ours_times)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--clients", default="ours,hikari,discordpy")
    parser.add_argument("--cost-only", action="store_true", help="only the per-request cost")
    parser.add_argument("--timeout", type=float, default=150.0)
    args = parser.parse_args()
    if args.cost_only:
        args.clients = ""
    w = Workload(args.channels, creates=15, edits=10, reactions=12, gets=20)
    minimum = w.minimum()
    print(
        f"workload: {w.total} requests over {len(w.channels)} channels "
        f"(per channel: 15 creates, then 10 edits + 12 reactions + 20 gets at once)"
    )
    print(
        f"latency {LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms; limits: messages 5/5 s, "
        f"edits 5/5 s, reactions 1/0.25 s, reads 10/1 s (per channel), global 50/1 s"
    )
    mean_trip = sum(LATENCY) / 4
    print(
        f"minimum (omniscient client, every one-way trip {LATENCY[0] * 500:.0f} ms): "
        f"{minimum:.2f} s; with every trip at the mean ({mean_trip * 1000:.0f} ms): "
        f"{w.minimum(mean_trip):.2f} s\n"
    )
    print(
        "| client | wall (s) | throughput vs minimum | 2xx | sent | 429 user | 429 global "
        "| 429 shared | error |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in filter(None, args.clients.split(",")):
        r = await race(name, w, args.timeout)
        s = r["scopes"]
        share = "failed" if r["error"] else f"{minimum / r['wall'] * 100:.1f}%"
        print(
            f"| {name} | {r['wall']:.2f} | {share} | {r['ok']} | {r['sent']} | "
            f"{s.get('user', 0)} | {s.get('global', 0)} | {s.get('shared', 0)} | {r['error']} |",
            flush=True,
        )
    raw_us, ours_us = await limiter_cost()
    print(
        f"\nper request, network out (httpx2.MockTransport, 20 alternating blocks of 1,000 "
        f"sequential GETs, medians): raw httpx2 {raw_us:.1f} µs, RestClient {ours_us:.1f} µs "
        f"-> client + limiter cost {ours_us - raw_us:.1f} µs"
    )


if __name__ == "__main__":
    asyncio.run(main())
