"""REST rate-limiting benchmark: asgi_interactions vs hikari vs discord.py on one fake Discord.

A mixed workload against tests/fakes/discord_rest.py with realistic limits (sliding windows:
messages 5 per 5 s per channel, edits 5 per 5 s, reactions 1 per 0.25 s, reads 10 per 1 s,
global 50 per 1 s) and 20-80 ms latency. Phase 1 creates messages in several channels; phase 2
edits, reacts to and fetches them, all at once. Scenario ``mixed`` adds to phase 2 executes of one
regular webhook per channel (5 per 2 s each, in the host's unauthenticated global pool), and the
fake answers 3 % of all attempts from the edge (HTML 502/503) and 10 % with a shared-scope 429
(retry_after 0.3 s, a bucket slot used). Each client runs in a child process (the fake's own work
stays out of its event loop) with a 1 ms ticker whose worst lateness is the loop's worst stall.
For each client: wall time against the minimum (tests/rest/minimum.py, replaying the faults the
run met), failed calls, 429s by scope, FIFO order per bucket, worst stall. Then the limiter's own
cost per request with the network taken out (httpx2.MockTransport).

    python bench/rest.py [--scenario today|mixed] [--channels 6] [--clients ours,hikari,discordpy]
    python bench/rest.py --cost-only   # only the per-request cost
    python bench/rest.py --pin ...     # the fake on CPU 0, the client on the others

``--pin`` (Linux): on a 2-core machine the fake and the client otherwise share cores, and a
window opening that keeps the fake busy makes the scheduler hold the client back (ticker stalls
of 12-17 ms with 2-4 ms of the client's own CPU); pinned, the fake stands where Discord does, on
other hardware, and the stall is the client's.

hikari and discord.py are bench-only (bench/requirements.txt); base URLs are pointed at the fake
with hikari's public ``RESTApp(url=...)`` and by setting ``discord.http.Route.BASE``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import itertools
import json
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2

from asgi_interactions.lifespan import freeze_heap_once
from asgi_interactions.rest import MemoryRateLimiter, RestClient
from tests.fakes.discord_rest import (
    REALISTIC_LIMITS,
    RecordedRequest,
    serve_fake_discord,
)
from tests.rest.minimum import minimum_wall_time

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
TOKEN = "bench-token"
LATENCY = (0.02, 0.08)
GLOBAL = (50, 1.0)
EDGE, SHARED, SHARED_AFTER = 0.03, 0.10, 0.3  # the mixed scenario's faults
WEBHOOK0 = 5000  # channel c's regular webhook is WEBHOOK0 + c


class Workload:
    """How many of each request per channel."""

    def __init__(
        self, channels: int, creates: int, edits: int, reactions: int, gets: int, webhooks: int = 0
    ) -> None:
        self.channels = list(range(1001, 1001 + channels))
        self.creates, self.edits, self.reactions, self.gets = creates, edits, reactions, gets
        self.webhooks = webhooks

    def minimum(
        self, trip: float | None = None, fates: dict[tuple[str, str], list[str]] | None = None
    ) -> float:
        """Seconds an omniscient client needs: tests/rest/minimum.py's schedule of this workload.

        It knows every limit and every arrival time, sends each request at the earliest moment
        no latency draw could get it refused (a slot whose holder arrived at ``a`` may be taken
        by a send at ``a + window - d_min``), gives the global slots to the longest bucket chain
        first, and starts phase 2 at phase 1's last answer. Every trip takes ``trip`` one way,
        by default the fastest the fake draws (``d_min``), so the figure is a lower bound on the
        wall time of any client that is never refused, whatever the latencies drawn. ``fates``:
        each bucket's answers in order, as a run met them (shared 429s and edge errors).
        Regular webhooks are in the host's unauthenticated pool, not the bot's: the schedule,
        which has one global pool, leaves them out of it (a looser, still valid, lower bound).
        """
        d_min = LATENCY[0] / 2  # the fake splits each round trip evenly between the two ways
        phase1 = [("messages.create", str(ch)) for ch in self.channels for _ in range(self.creates)]
        phase2: list[tuple[str, str]] = []
        for ch in self.channels:
            phase2 += [("messages.edit", str(ch))] * self.edits
            phase2 += [("reactions", str(ch))] * self.reactions
            phase2 += [("messages.read", str(ch))] * self.gets
            phase2 += [("webhook", _webhook_major(ch))] * self.webhooks
        return minimum_wall_time(
            [phase1, phase2],
            REALISTIC_LIMITS,
            GLOBAL,
            d_min=d_min,
            trip=trip or d_min,
            fates=fates,
            retry_after=SHARED_AFTER,
        )

    @property
    def total(self) -> int:
        per = self.creates + self.edits + self.reactions + self.gets + self.webhooks
        return len(self.channels) * per


SCENARIOS = {
    "today": {"creates": 15, "edits": 10, "reactions": 12, "gets": 20},
    "mixed": {"creates": 15, "edits": 10, "reactions": 12, "gets": 20, "webhooks": 10},
}


def _webhook_major(ch: int) -> str:
    return f"{WEBHOOK0 + ch}:wh-token-{ch}"


Ops = dict[str, Callable[..., Awaitable[Any]]]
#: Set (loop time) when the workload starts, the client open: the stall ticker counts from then.
STARTED: list[float] = []
STARTED_MONO: list[float] = []  # the same, monotonic (BENCH_DEBUG's timestamps)
#: Set (loop time) when the workload's last call has returned (before the client closes).
FINISHED: list[float] = []


async def run_phases(ops: Ops, w: Workload) -> list[BaseException]:
    """Phase 1, then phase 2; every call's failure is kept (a failed call is counted, not
    fatal). Contents name channel, kind and issue order (``"1001-e3"``) for the FIFO check."""
    await asyncio.sleep(0.02)  # the client's start-up (pool, TLS context) ends its callback
    # As InteractionApp does after its startup (freeze_gc, once the REST client is open): the
    # imports' objects, HTTPX2's and its backends' included, leave the collector's reach, so a
    # full collection does not walk them mid-run (~25 ms; 5-6 ms when frozen before the client
    # opened, which left ~15,000 objects of its late imports in reach).
    freeze_heap_once()
    await asyncio.sleep(0.02)  # the collection's iteration is not the workload's
    STARTED.append(asyncio.get_running_loop().time())
    STARTED_MONO.append(time.monotonic())
    if DEBUG:
        DEBUG.modules = set(sys.modules)
    created = await asyncio.gather(
        *(ops["create"](ch, f"{ch}-c{i}") for ch in w.channels for i in range(w.creates)),
        return_exceptions=True,
    )
    failed = [r for r in created if isinstance(r, BaseException)]
    by_channel: dict[int, list[int]] = {}
    for r in created:
        if not isinstance(r, BaseException):
            by_channel.setdefault(r[0], []).append(r[1])
    tasks = []
    for ch, mids in by_channel.items():
        tasks += [ops["edit"](ch, mids[i % len(mids)], f"{ch}-e{i}") for i in range(w.edits)]
        tasks += [ops["react"](ch, mids[i % len(mids)]) for i in range(w.reactions)]
        tasks += [ops["get"](ch, mids[i % len(mids)]) for i in range(w.gets)]
        tasks += [ops["webhook"](ch, f"{ch}-w{i}") for i in range(w.webhooks)]
    done = await asyncio.gather(*tasks, return_exceptions=True)
    FINISHED.append(asyncio.get_running_loop().time())
    return failed + [r for r in done if isinstance(r, BaseException)]


# ------------------------------------------------------------------ the three clients


#: ``ours`` keeps its attempts here (see ``LoggedTransport``) for the FIFO check.
ATTEMPTS: list[list[Any]] = []


async def ours(base_url: str, w: Workload) -> list[BaseException]:
    transport = LoggedTransport(ATTEMPTS)
    async with RestClient(TOKEN, base_url=base_url, transport=transport) as rest:
        acquire = rest.rate_limiter.acquire

        note_retry = rest.rate_limiter.note_retry

        async def logged_acquire(*args: Any, **kwargs: Any) -> Any:
            permit = await acquire(*args, **kwargs)
            GRANTED.set((time.monotonic(), permit.order))
            return permit

        def logged_note(permit: Any, *args: Any) -> None:
            LEARNED[permit.order] = time.monotonic()
            note_retry(permit, *args)

        rest.rate_limiter.acquire = logged_acquire  # type: ignore[method-assign]
        rest.rate_limiter.note_retry = logged_note  # type: ignore[method-assign]

        async def create(ch: int, text: str) -> tuple[int, int]:
            m = await rest.create_message(ch, text)
            return ch, int(m["id"])

        ops: Ops = {
            "create": create,
            "edit": lambda ch, mid, text: rest.edit_message(ch, mid, content=text),
            "react": lambda ch, mid: rest.add_reaction(ch, mid, "👍"),
            "get": rest.get_message,
            "webhook": lambda ch, text: rest.execute_webhook(
                WEBHOOK0 + ch, f"wh-token-{ch}", {"content": text}
            ),
        }
        return await run_phases(ops, w)


async def hikari_client(base_url: str, w: Workload) -> list[BaseException]:
    from hikari.impl import rest as hrest

    app = hrest.RESTApp(url=base_url)
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
                "webhook": lambda ch, text: rest.execute_webhook(
                    WEBHOOK0 + ch, f"wh-token-{ch}", text
                ),
            }
            return await run_phases(ops, w)
    finally:
        await app.close()


async def discordpy_client(base_url: str, w: Workload) -> list[BaseException]:
    import discord.http as dhttp
    from discord.http import handle_message_parameters

    if w.webhooks:
        raise NotImplementedError("regular webhooks go through discord.Webhook, not HTTPClient")
    dhttp.Route.BASE = base_url  # documented monkeypatch: its base-URL class attribute
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
        return await run_phases(ops, w)
    finally:
        await http.close()


CLIENTS = {"ours": ours, "hikari": hikari_client, "discordpy": discordpy_client}


async def child(name: str, base_url: str, w: Workload, limit_s: float) -> dict[str, Any]:
    """Run one client in this (child) process with a 1 ms ticker: wall, failures, worst stall."""
    loop = asyncio.get_running_loop()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        due = loop.time()
        while True:
            due += 0.001
            await asyncio.sleep(max(0.0, due - loop.time()))
            late = loop.time() - due
            if STARTED and due > STARTED[0]:  # the client's start-up is not counted
                worst = max(worst, late)
                if DEBUG and late > 0.005:
                    DEBUG.late(late)
            if late > 0.001:
                due = loop.time()

    # The ticker's lateness includes the time the OS gives other processes (the machine is
    # shared); a loop iteration's CPU time (select's wait excluded) is what this process costs.
    # CPU time charged to the thread while it is blocked in select (epoll_wait) is not the
    # client's code: on this VM it was 10-20 ms at times, with 0.01 ms of callbacks in the
    # iteration (the kernel's or the host's time). It is reported apart.
    base = type(loop)
    run_once = base._run_once  # type: ignore[attr-defined]
    worst_cpu = 0.0
    worst_at = [0.0]  # when (s after the workload's start)
    in_select = [0.0, 0.0]  # CPU seconds spent inside select: all, and the most in one call
    selector = loop._selector  # type: ignore[attr-defined]
    select = selector.select

    def counted_select(timeout: float | None = None) -> Any:
        t = time.thread_time()
        try:
            return select(timeout)
        finally:
            d = time.thread_time() - t
            in_select[0] += d
            if STARTED and d > in_select[1]:
                in_select[1] = d

    selector.select = counted_select

    def timed(self: asyncio.AbstractEventLoop) -> None:
        nonlocal worst_cpu
        t, s = time.thread_time(), in_select[0]
        run_once(self)
        if STARTED:
            d = time.thread_time() - t - (in_select[0] - s)
            if DEBUG:
                DEBUG.end_iteration(d)
            if d > worst_cpu:
                worst_cpu = d
                worst_at[:] = [self.time() - STARTED[0]]
                if os.environ.get("BENCH_DEBUG"):
                    print(f"{d * 1000:.1f} ms CPU in one iteration", file=sys.stderr)

    base._run_once = timed  # type: ignore[attr-defined]
    if os.environ.get("BENCH_DEBUG"):
        _time_select(loop)
    if os.environ.get("BENCH_DEBUG"):
        _time_callbacks()
    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    loop_t0 = loop.time()
    error, failed = "", 0
    try:
        errors = await asyncio.wait_for(CLIENTS[name](base_url, w), limit_s)
        failed = len(errors)
        if errors:
            error = f"{type(errors[0]).__name__}: {errors[0]}"[:120]
    except Exception as exc:  # a client that fails still gets its row
        error, failed = f"{type(exc).__name__}: {exc}"[:120], -1
    wall = time.perf_counter() - t0
    if DEBUG:
        DEBUG.report()
    if os.environ.get("BENCH_DEBUG") and STARTED and FINISHED:
        print(
            f"start-up {STARTED[0] - loop_t0:.3f} s, workload {FINISHED[0] - STARTED[0]:.3f} s, "
            f"close {loop.time() - FINISHED[0]:.3f} s",
            file=sys.stderr,
        )
    tick.cancel()
    base._run_once = run_once  # type: ignore[attr-defined]
    if STARTED and FINISHED:
        print(
            f"worst iteration {worst_cpu * 1e3:.1f} ms CPU at {worst_at[0]:.3f} s; the workload "
            f"ended at {FINISHED[0] - STARTED[0]:.3f} s",
            file=sys.stderr,
        )
    return {
        "wall": wall,
        # the workload alone: its first call to its last answer (the client's start-up, e.g.
        # building HTTPX2's TLS context, ~0.25 s, and its close are outside the minimum's
        # schedule); the whole wall time when the client failed before finishing
        "workload": FINISHED[0] - STARTED[0] if STARTED and FINISHED else wall,
        "failed": failed,
        "error": error,
        "stall_ms": worst * 1000,
        "cpu_ms": worst_cpu * 1000,
        "select_ms": in_select[1] * 1000,
        "attempts": [
            [*a[:3], LEARNED.get(a[3], 0.0) if a[2] >= 300 else 0.0, a[4]] for a in ATTEMPTS
        ],
    }


def _time_select(loop: asyncio.AbstractEventLoop) -> None:
    """BENCH_DEBUG: report (stderr) each select that returned over 5 ms after its timeout, with
    the process's CPU time meanwhile: a late wake-up with no CPU spent is the host's doing."""
    selector = loop._selector  # type: ignore[attr-defined]
    select = selector.select

    def timed_select(timeout: float | None = None) -> Any:
        t, c = time.perf_counter(), time.process_time()
        before = resource.getrusage(resource.RUSAGE_THREAD)
        events = select(timeout)
        if timeout is not None and STARTED:
            late = time.perf_counter() - t - timeout
            if late > 0.005:
                cpu = (time.process_time() - c) * 1000
                after = resource.getrusage(resource.RUSAGE_THREAD)
                split = ", ".join(
                    f"{f[3:]} {getattr(after, f) - getattr(before, f):.4g}" for f in RUSAGE
                )
                print(
                    f"  select {late * 1000:.1f} ms late ({cpu:.1f} ms CPU; this thread: {split})",
                    file=sys.stderr,
                )
        return events

    selector.select = timed_select


class Iterations:
    """BENCH_DEBUG: what each loop iteration ran (callbacks by name, CPU), how many requests it
    wrote to the wire, and what a step that writes one costs (HTTPX2's pool bookkeeping, the
    socket write); iterations over 2 ms are printed as they end, a summary at the end."""

    def __init__(self) -> None:
        self.callbacks: list[tuple[str, float]] = []
        self.sends = 0  # requests written in this iteration
        self.send_steps: list[float] = []  # CPU of every task step that wrote one
        self.rows: list[tuple[float, int, float]] = []  # per iteration: when, sends, CPU
        self.modules: set[str] = set()  # imported when the workload started

    def run(self, handle: Any, run: Callable[[Any], None]) -> float:
        name = _handle_name(handle)
        sends = self.sends
        before = resource.getrusage(resource.RUSAGE_THREAD)
        t = time.thread_time()
        run(handle)
        d = time.thread_time() - t
        if d > 0.003 and STARTED:  # user or system time, page faults, context switches
            after = resource.getrusage(resource.RUSAGE_THREAD)
            print(
                "    rusage: "
                + ", ".join(
                    f"{f[3:]} {getattr(after, f) - getattr(before, f):.4g}" for f in RUSAGE
                ),
                file=sys.stderr,
            )
        if STARTED:
            self.callbacks.append((name, d))
            if self.sends > sends:  # this step wrote a request (see LoggedTransport)
                self.send_steps.append(d)
        return d

    def late(self, late: float) -> None:
        """The ticker ran ``late`` seconds late: print the CPU of the iterations meanwhile (the
        rest of the lateness is time this process was not running)."""
        now = time.monotonic() - STARTED_MONO[0]
        recent = list(itertools.takewhile(lambda r: r[0] > now - late - 0.001, reversed(self.rows)))
        cpu = sum(r[2] for r in recent)
        print(
            f"  ticker {late * 1e3:.1f} ms late at {now:.3f} s: {len(recent)} iterations "
            f"meanwhile, {cpu * 1e3:.2f} ms CPU in them",
            file=sys.stderr,
        )

    def end_iteration(self, cpu: float) -> None:
        at = time.monotonic() - STARTED_MONO[0]
        self.rows.append((at, self.sends, cpu))
        if cpu > 0.002:
            count: Counter[str] = Counter(n for n, _ in self.callbacks)
            spent: Counter[str] = Counter()
            for n, c in self.callbacks:
                spent[n] += c
            top = ", ".join(f"{n} x{count[n]} {c * 1000:.2f} ms" for n, c in spent.most_common(4))
            print(
                f"  iteration at {at:.3f} s: {cpu * 1000:.2f} ms CPU, {self.sends} sends, "
                f"{len(self.callbacks)} callbacks: {top}",
                file=sys.stderr,
            )
        self.callbacks.clear()
        self.sends = 0

    def report(self) -> None:
        if not self.rows:
            return
        late = sorted(set(sys.modules) - self.modules)
        print(f"modules imported during the workload: {late}", file=sys.stderr)
        steps = sorted(self.send_steps)
        n = len(steps)
        if n:
            print(
                f"steps that wrote a request (CPU): {n}, median "
                f"{steps[n // 2] * 1e3:.3f} ms, p90 {steps[n * 9 // 10] * 1e3:.3f} ms, max "
                f"{steps[-1] * 1e3:.3f} ms",
                file=sys.stderr,
            )
        most = max(self.rows, key=lambda r: r[1])
        print(
            f"{len(self.rows)} iterations; most sends in one: {most[1]} (at {most[0]:.3f} s, "
            f"{most[2] * 1e3:.2f} ms CPU); worst: "
            + ", ".join(
                f"{c * 1e3:.2f} ms at {a:.3f} s ({s} sends)"
                for a, s, c in sorted(self.rows, key=lambda r: -r[2])[:5]
            ),
            file=sys.stderr,
        )


RUSAGE = ("ru_utime", "ru_stime", "ru_minflt", "ru_majflt", "ru_nvcsw", "ru_nivcsw")
DEBUG: Iterations | None = Iterations() if os.environ.get("BENCH_DEBUG") else None


def _handle_name(h: Any) -> str:
    """A callback's name (a task's by its coroutine)."""
    owner = getattr(h._callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        return f"task:{getattr(owner.get_coro(), '__qualname__', '?')}"
    return getattr(h._callback, "__qualname__", repr(h._callback))


def _time_callbacks() -> None:
    """BENCH_DEBUG: name every loop callback that takes more than 3 ms of CPU (stderr), and
    every garbage collection that takes more than 3 ms or is a full one during the workload,
    so a slow iteration can be explained."""
    import gc
    from asyncio import events

    run = events.Handle._run
    assert DEBUG is not None

    def _run(self: events.Handle) -> None:
        d = DEBUG.run(self, run)
        if d > 0.003 and STARTED:
            print(f"  {d * 1000:.1f} ms in {self._callback!r}", file=sys.stderr)

    events.Handle._run = _run  # type: ignore[method-assign]
    gc_start: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start[:] = [time.thread_time()]
        elif gc_start:
            d = time.thread_time() - gc_start[0]
            if d > 0.003 or (info["generation"] == 2 and STARTED):
                since = time.monotonic() - STARTED_MONO[0] if STARTED else -1.0
                print(
                    f"  {d * 1000:.1f} ms in gc gen {info['generation']} at {since:.2f} s "
                    f"({len(gc.get_objects())} objects in reach, {gc.get_freeze_count()} frozen)",
                    file=sys.stderr,
                )

    gc.callbacks.append(on_gc)


# ------------------------------------------------------------------ what the fake saw


def _issue(r: RecordedRequest) -> int | None:
    content = r.json.get("content") if isinstance(r.json, dict) else None
    if not isinstance(content, str) or "-" not in content:
        return None
    return int(content.rsplit("-", 1)[1][1:])


def fifo_breaks(requests: list[RecordedRequest], attempts: list[list[Any]] | None = None) -> int:
    """Requests of a bucket that went out of their issue order (creates, edits and webhook
    executes, whose contents carry it): a first attempt that reached the fake before an
    earlier-issued one's first attempt, or one the client sent after it had received an
    earlier one's failed answer (429 or edge error) but before that one's retry.

    ``attempts`` is the client's own log, ``[content, granted, status, learned]`` per attempt
    (monotonic clock; kept for ``ours``): ``granted`` is when its limiter let the attempt go (its
    commitment: it reaches the wire in grant order), ``learned`` when the client had processed
    a failed answer and decided to retry (0 for a success). Without it the second check is
    skipped: only the client knows when it learned of a failure.
    """
    bucket_of: dict[str, tuple[str, str, str]] = {}
    by_bucket: dict[tuple[str, str, str], list[RecordedRequest]] = {}
    for r in requests:
        if _issue(r) is not None:
            key = (r.method, r.group, r.major)
            by_bucket.setdefault(key, []).append(r)
            bucket_of[r.json["content"]] = key
    breaks = 0
    debug = bool(os.environ.get("BENCH_DEBUG"))
    for recs in by_bucket.values():
        first: dict[str, RecordedRequest] = {}
        for r in recs:
            first.setdefault(r.json["content"], r)
        firsts = sorted(first.values(), key=lambda r: r.time)
        for a, b in itertools.pairwise(firsts):
            if _issue(b) < _issue(a):  # type: ignore[operator]
                breaks += 1
                if debug:
                    print("FIFO", a.json, b.json, file=sys.stderr)
    if not attempts:
        return breaks
    sends: dict[str, list[list[Any]]] = {}
    for a in attempts:
        if a[0] in bucket_of:
            sends.setdefault(a[0], []).append(a)
    for content, tries in sends.items():
        issue = int(content.rsplit("-", 1)[1][1:])
        for failed, retry in itertools.pairwise(tries):
            for other, others in sends.items():
                if (
                    bucket_of[other] == bucket_of[content]
                    and int(other.rsplit("-", 1)[1][1:]) > issue
                    and failed[3] < others[0][1] < retry[1]
                ):
                    breaks += 1
                    if debug:
                        print("OVERTAKE", content, failed, other, others[0], retry, file=sys.stderr)
    return breaks


#: When the limiter granted the current attempt, and its order (the send task inherits them).
GRANTED: contextvars.ContextVar[tuple[float, float]] = contextvars.ContextVar(
    "granted", default=(0.0, -1.0)
)
#: When the client decided to retry the request of each order (after processing a failure).
LEARNED: dict[float, float] = {}


class LoggedTransport(httpx2.AsyncHTTPTransport):
    """The client's own record of each attempt: content, granted, status, received."""

    def __init__(self, log: list[list[Any]]) -> None:
        limits = httpx2.Limits(
            max_connections=64, max_keepalive_connections=64, keepalive_expiry=30.0
        )
        super().__init__(limits=limits)
        self.log = log

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        content = None
        if request.content[:1] == b"{":
            content = json.loads(request.content).get("content")
        granted, order = GRANTED.get()
        if DEBUG:
            DEBUG.sends += 1  # called in the step that writes the request
        response = await super().handle_async_request(request)
        if isinstance(content, str):
            self.log.append([content, granted, response.status_code, order, time.monotonic()])
        return response


def fates_of(requests: list[RecordedRequest]) -> dict[tuple[str, str], list[str]]:
    """Each bucket's answers in the order its attempts reached the fake: the faults to replay
    in the minimum (a user or global 429 is the client's own doing: left out)."""
    fates: dict[tuple[str, str], list[str]] = {}
    for r in sorted(requests, key=lambda r: r.time):
        if r.status < 300:
            fate = "ok"
        elif r.status in (502, 503):
            fate = "edge"
        elif r.status == 429 and r.scope == "shared":
            fate = "shared"
        else:
            continue
        fates.setdefault((r.group, r.major), []).append(fate)
    return fates


async def race(
    name: str, scenario: str, w: Workload, limit_s: float, channels: int
) -> dict[str, Any]:
    async with serve_fake_discord(
        realistic=True, latency=LATENCY, global_limit=GLOBAL, seed=7
    ) as fake:
        if scenario == "mixed":
            fake.faults(edge=EDGE, shared=SHARED, shared_retry_after=SHARED_AFTER)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SELF),
            "--child",
            name,
            "--base-url",
            fake.base_url,
            "--scenario",
            scenario,
            "--channels",
            str(channels),
            "--timeout",
            str(limit_s),
            *(["--pin"] if PIN else []),
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), limit_s + 60)
        result = json.loads(out.decode().strip().splitlines()[-1])
        scopes = Counter(r.scope or "user" for r in fake.requests if r.status == 429)
        ok = sum(1 for r in fake.requests if 200 <= r.status < 300)
        requests = list(fake.requests)
    if os.environ.get("BENCH_DUMP"):  # every request the fake saw, for a timeline
        with open(os.environ["BENCH_DUMP"], "w") as f:  # noqa: ASYNC230 - after the run
            rows = [
                [
                    r.time,
                    r.answered,
                    r.method,
                    r.group,
                    r.major,
                    r.status,
                    r.scope,
                    r.json.get("content") if isinstance(r.json, dict) else None,
                ]
                for r in requests
            ]
            json.dump({"fake": rows, "client": result["attempts"]}, f)
    minimum = w.minimum(fates=fates_of(requests) if scenario == "mixed" else None)
    return result | {
        "name": name,
        "ok": ok,
        "scopes": scopes,
        "sent": len(requests),
        "edge": sum(r.status in (502, 503) for r in requests),
        "fifo": fifo_breaks(requests, result.pop("attempts")),
        "minimum": minimum,
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


PIN: list[bool] = []  # set by --pin: children are started pinned too


def pin(*, child: bool) -> None:
    """--pin: this process (the fake) on CPU 0, a client child on every other CPU."""
    cpus = list(range(os.cpu_count() or 1))  # a child inherits the parent's CPU 0 alone
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least 2 CPUs")
    os.sched_setaffinity(0, cpus[1:] if child else cpus[:1])
    PIN.append(True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="today")
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--clients", default="ours,hikari,discordpy")
    parser.add_argument("--cost-only", action="store_true", help="only the per-request cost")
    parser.add_argument("--timeout", type=float, default=150.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--pin", action="store_true", help="the fake on CPU 0, clients on the rest")
    args = parser.parse_args()
    if args.pin:
        pin(child=bool(args.child))
    w = Workload(args.channels, **SCENARIOS[args.scenario])
    if args.child:
        print(json.dumps(await child(args.child, args.base_url, w, args.timeout)), flush=True)
        return
    if args.cost_only:
        args.clients = ""
    print(
        f"scenario {args.scenario}: {w.total} requests over {len(w.channels)} channels (per "
        f"channel: {w.creates} creates, then {w.edits} edits + {w.reactions} reactions + "
        f"{w.gets} gets + {w.webhooks} regular-webhook executes at once)"
    )
    print(
        f"latency {LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms; limits: messages 5/5 s, "
        f"edits 5/5 s, reactions 1/0.25 s, reads 10/1 s (per channel), webhooks 5/2 s, "
        f"global 50/1 s"
        + (
            f"; faults: {EDGE:.0%} edge errors, {SHARED:.0%} shared 429s ({SHARED_AFTER} s)"
            if args.scenario == "mixed"
            else ""
        )
    )
    if args.scenario == "today":
        mean_trip = sum(LATENCY) / 4
        print(
            f"minimum (omniscient client, every one-way trip {LATENCY[0] * 500:.0f} ms): "
            f"{w.minimum():.2f} s; with every trip at the mean ({mean_trip * 1000:.0f} ms): "
            f"{w.minimum(mean_trip):.2f} s"
        )
    else:
        print("minimum: per run, replaying the faults that run met (every trip 10 ms one way)")
    print(
        "\n| client | workload (s) | wall (s) | minimum (s) | throughput vs minimum | failed | 2xx "
        "| sent | edge "
        "| 429 user | 429 global | 429 shared | FIFO breaks | worst stall (ms) "
        "| worst iteration CPU (ms) | worst CPU in select (ms) | error |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in filter(None, args.clients.split(",")):
        r = await race(name, args.scenario, w, args.timeout, args.channels)
        s = r["scopes"]
        share = "failed" if r["failed"] < 0 else f"{r['minimum'] / r['workload'] * 100:.1f}%"
        print(
            f"| {name} | {r['workload']:.2f} | {r['wall']:.2f} | {r['minimum']:.2f} | {share} | "
            f"{r['failed']} | "
            f"{r['ok']} | {r['sent']} | {r['edge']} | {s.get('user', 0)} | "
            f"{s.get('global', 0)} | {s.get('shared', 0)} | {r['fifo']} | "
            f"{r['stall_ms']:.1f} | {r['cpu_ms']:.1f} | {r['select_ms']:.1f} | {r['error']} |",
            flush=True,
        )
    if args.clients and not args.cost_only:
        return
    raw_us, ours_us = await limiter_cost()
    print(
        f"\nper request, network out (httpx2.MockTransport, 20 alternating blocks of 1,000 "
        f"sequential GETs, medians): raw httpx2 {raw_us:.1f} µs, RestClient {ours_us:.1f} µs "
        f"-> client + limiter cost {ours_us - raw_us:.1f} µs"
    )


if __name__ == "__main__":
    asyncio.run(main())
