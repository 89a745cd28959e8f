"""Run a fleet of gateway processes against the fake, and judge it from the fake's record."""

from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.fakes.discord_gateway import FakeGateway

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One ``fleet_worker`` OS process and its output file."""

    def __init__(
        self, fake: FakeGateway, shards: int, redis_url: str | None, lease: float, out: Path,
        lease_dir: Path | None = None, env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.out = out
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        args = [fake.url, str(shards), redis_url or "-", str(lease), str(out)]
        if lease_dir is not None:
            args.append(str(lease_dir))
        self.spawned = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.gateway.fleet_worker", *args], cwd=ROOT, env=env
        )

    def lines(self) -> list[str]:
        try:
            return self.out.read_text().splitlines()
        except FileNotFoundError:
            return []

    def marks(self, kind: str = "T") -> dict[str, float]:
        """Its ``T <label> <monotonic>`` lines: when each step of its start first happened
        (``kind="C"``: the process's CPU seconds then, with ``FLEET_TRACE``)."""
        found: dict[str, float] = {}
        for line in self.lines():
            if line.startswith(kind + " "):
                label, at = line[2:].rsplit(" ", 1)
                found.setdefault(label, float(at))
        return found

    def running(self) -> set[int]:
        """The shards it last said it runs (READY)."""
        for line in reversed(self.lines()):
            if line.startswith("S "):
                return {int(s) for s in line[2:].split(",") if s}
        return set()

    def events(self) -> list[tuple[int, int, str]]:
        found = []
        for line in self.lines():
            if line.startswith("E "):
                _, sid, seq, name = line.split(" ", 3)
                found.append((int(sid), int(seq), name))
        return found

    def stop(self, timeout: float = 20.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def holdings(fake: FakeGateway) -> dict[int, list[tuple[float, float]]]:
    """Shard -> the (start, end) of every connection that held one of its sessions, where start
    is when the fake read the IDENTIFY or RESUME that succeeded, and end when it closed."""
    by_session = {sid: s.shard[0] for sid, s in fake.sessions.items()}
    found: dict[int, list[tuple[float, float]]] = {}
    for conn in list(fake.connections):
        if not conn.identified:
            continue
        for at, payload in conn.received:
            if payload["op"] == 2:
                shard = payload["d"]["shard"][0]
            elif payload["op"] == 6 and payload["d"]["session_id"] in by_session:
                shard = by_session[payload["d"]["session_id"]]
            else:
                continue
            end = conn.closed_at if conn.closed_at is not None else math.inf
            found.setdefault(shard, []).append((at, end))
            break
    return found


def assert_one_holder_at_a_time(fake: FakeGateway) -> None:
    for shard, spans in holdings(fake).items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"shard {shard}: two sessions at once ({spans})"


def live_shards(fake: FakeGateway) -> set[int]:
    return {sid for sid in range(256) if fake.live(sid) is not None}


def delivered(workers: list[Worker], shard: int) -> Counter[int]:
    """How many times each sequence number of ``shard`` reached a listener, fleet-wide."""
    return Counter(seq for w in workers for sid, seq, _ in w.events() if sid == shard)


def logged(fake: FakeGateway, shard: int) -> list[int]:
    return [seq for _, seq in fake.logged(shard)]


def wait_for(check, limit: float, what: str):  # type: ignore[no-untyped-def]
    """Poll ``check`` every 50 ms from a plain thread; fail after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        time.sleep(0.05)
