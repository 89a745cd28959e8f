"""Endpoint benchmark: requests/s and p50/p99 latency of asgi_interactions versus competitors.

One command runs every configuration side by side, interleaved over rounds, and prints medians
with ratios to the hand-written Starlette app. Servers are pinned to CPU 0, wrk to CPU 1, all on
127.0.0.1. See bench/README.md for the exact commands and recorded results.

    python bench/endpoint.py            # full run (~5-6 min)
    python bench/endpoint.py --quick    # sanity run (~1 min)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
APPS_DIR = BENCH_DIR / "apps"
REPO_DIR = BENCH_DIR.parent
LUA = BENCH_DIR / "post.lua"
LUA_DISTINCT = BENCH_DIR / "post_distinct.lua"
sys.path.insert(0, str(APPS_DIR))

from fixtures import SCENARIOS, distinct_requests, encode, sign  # noqa: E402

SERVER_CPU = "0"
CLIENT_CPU = "1"

# Scenarios of the "Endpoint" table and of the "Command layer" table.
ENDPOINT_SCENARIOS = ("ping", "echo", "command", "badsig")
COMMAND_SCENARIOS = ("calc", "vote")


@dataclass(frozen=True)
class Impl:
    """One server under test: how to start it and which scenarios it answers."""

    name: str
    label: str
    path: str
    scenarios: tuple[str, ...]
    module: str | None = None  # uvicorn "module:attr" (app dir = bench/apps)
    script: tuple[str, ...] = ()  # or a script that takes --port
    lib: Path | None = None  # the asgi_interactions to import (default: this checkout)

    def argv(self, python: str, port: int) -> list[str]:
        """The server's command line, pinned to the server CPU."""
        pin = ["taskset", "-c", SERVER_CPU]
        if self.module is not None:
            return [
                *pin, python, "-m", "uvicorn", self.module,
                "--app-dir", str(APPS_DIR), "--host", "127.0.0.1", "--port", str(port),
                "--loop", "uvloop", "--http", "httptools", "--workers", "1",
                "--no-access-log", "--log-level", "warning", "--backlog", "2048",
            ]  # fmt: skip
        return [*pin, python, *self.script, "--port", str(port)]


IMPLS: dict[str, Impl] = {
    impl.name: impl
    for impl in (
        Impl(
            "floor",
            "(ref) raw ASGI, no verify",
            "/",
            ("ping",),
            module="floor_app:app",
        ),
        Impl(
            "starlette",
            "(a) Starlette, hand-written",
            "/interactions",
            ("ping", "echo", "command", "badsig"),
            module="starlette_app:app",
        ),
        Impl(
            "hikari",
            "(b) hikari 2.7 RESTBot (aiohttp)",
            "/",
            ("ping", "echo", "command", "badsig"),
            script=("-O", str(APPS_DIR / "hikari_app.py")),
        ),
        Impl(
            "ours-low",
            "ours, low-level bot.on(2)",
            "/",
            ("ping", "echo", "command", "badsig", "calc", "vote"),
            module="ours_low:app",
        ),
        Impl(
            "ours-cmd",
            "ours, @bot.command",
            "/",
            ("ping", "echo", "command", "badsig", "calc", "vote"),
            module="ours_cmd:app",
        ),
        Impl(
            "ours-mounted",
            "ours, defaults, mounted in FastAPI",
            "/interactions",
            ("ping", "command", "badsig"),
            module="ours_mounted:app",
        ),
    )
}
DEFAULT_IMPLS = ("floor", "starlette", "hikari", "ours-low", "ours-cmd", "ours-mounted")


@dataclass
class Sample:
    """One wrk measurement."""

    rps: float
    p50_us: float
    p99_us: float
    cpu_us_per_req: float
    errors: int
    non_2xx: int
    other_cpu0: float = 0.0  # share of CPU 0 busy with anything but the server (noise)


@dataclass
class Results:
    """Samples per (impl, scenario), plus the reasons for anything skipped."""

    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, impl: str, scenario: str, sample: Sample) -> None:
        self.samples.setdefault((impl, scenario), []).append(sample)

    def best(self, impl: str, scenario: str, attr: str, pick: Any) -> float | None:
        values = [getattr(s, attr) for s in self.samples.get((impl, scenario), [])]
        return float(pick(values)) if values else None

    def median(self, impl: str, scenario: str, attr: str) -> float | None:
        values = [getattr(s, attr) for s in self.samples.get((impl, scenario), [])]
        return statistics.median(values) if values else None


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    """A free loopback port (bound and released; nothing else runs here to race for it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_next_id = 0  # interaction ids handed out so far: no body is ever sent twice to one server


def fresh_requests(scenario: str, count: int) -> list[tuple[str, str, bytes]]:
    """`count` bodies of `scenario`, each with an interaction id never used before, signed now."""
    global _next_id
    start, _next_id = _next_id, _next_id + count
    return distinct_requests(scenario, count, start=start)


def request_for(scenario: str) -> tuple[bytes, dict[str, str]]:
    """The body and signature headers of a scenario, signed now (a fresh body each call)."""
    if scenario == "badsig":
        body = encode(SCENARIOS["echo"][0])
        return body, sign(body, valid=False)
    signature, timestamp, body = fresh_requests(scenario, 1)[0]
    return body, {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp}


def post(port: int, path: str, scenario: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """One signed request with the standard library; returns (status, body)."""
    body, headers = request_for(scenario)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers["Content-Type"] = "application/json"
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def check_answer(port: int, impl: Impl, scenario: str) -> str | None:
    """None if the server answers `scenario` correctly, else what is wrong."""
    try:
        status, raw = post(port, impl.path, scenario)
    except OSError as exc:
        return f"request failed: {exc!r}"
    if scenario == "badsig":
        return None if 400 <= status < 500 else f"bad signature answered {status}"
    if status != 200:
        return f"status {status}: {raw[:200]!r}"
    try:
        answer = json.loads(raw)
    except ValueError:
        return f"not JSON: {raw[:200]!r}"
    _, rtype, content = SCENARIOS[scenario]
    if answer.get("type") != rtype:
        return f"type {answer.get('type')!r} != {rtype}: {raw[:200]!r}"
    if content is not None and (answer.get("data") or {}).get("content") != content:
        return f"content != {content!r}: {raw[:200]!r}"
    return None


@contextlib.contextmanager
def running(
    impl: Impl, python: str, logdir: Path, wrapper: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start the server, wait until it answers a PING, and stop it afterwards."""
    port = free_port()
    lib = impl.lib or REPO_DIR
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(lib), str(APPS_DIR)])}
    log = (logdir / f"{impl.name}.log").open("ab")
    proc = subprocess.Popen(
        [*wrapper, *impl.argv(python, port)],
        cwd=APPS_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20.0
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{impl.name} exited with {proc.returncode}; see {log.name}")
            with contextlib.suppress(OSError):
                if post(port, impl.path, "ping", timeout=1.0)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{impl.name} did not answer a PING within 20 s; see {log.name}")
            time.sleep(0.1)
        yield proc, port
    finally:
        if proc.poll() is None:
            # The server leads its own process group (a wrapper such as py-spy and its child).
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def cpu_busy_seconds(cpu: str) -> float:
    """Busy (non-idle) time of one CPU since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            ticks = [int(x) for x in line.split()[1:]]
            # user + nice + system + steal: irq/softirq time is mostly our own loopback traffic.
            return (ticks[0] + ticks[1] + ticks[2] + ticks[7]) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError(f"cpu{cpu} not in /proc/stat")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- load


RESULT_RE = re.compile(r"BENCH_RESULT (.*)")


POOL_MIN = 25_000  # distinct signed bodies per wrk run, at least


def write_pool(port: int, path: str, scenario: str, count: int, tmp: Path) -> Path:
    """`count` complete HTTP requests with distinct signed bodies, for post_distinct.lua."""
    out = bytearray()
    for signature, timestamp, body in fresh_requests(scenario, count):
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\n"
            "User-Agent: Discord-Interactions/1.0 (+https://discord.com)\r\n"
            f"X-Signature-Ed25519: {signature}\r\nX-Signature-Timestamp: {timestamp}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        out += b"%d\n" % len(request) + request
    pool = tmp / f"{scenario}.pool"
    pool.write_bytes(out)
    return pool


def run_wrk(
    port: int,
    path: str,
    scenario: str,
    seconds: int,
    connections: int,
    tmp: Path,
    pool: int = POOL_MIN,
    prepared: Path | None = None,
) -> dict[str, float]:
    """One wrk run against the server; returns the BENCH_RESULT fields.

    Every request carries its own signed body (a pool of `pool` distinct ones, signed right
    before the run), as Discord's do, so replay caches see what they see in production; bad
    signatures (`badsig`) are one static request, since nothing remembers them.
    """
    if scenario == "badsig":
        body, headers = request_for(scenario)
        req_file = tmp / f"{scenario}.req"
        req_file.write_bytes(
            headers["X-Signature-Ed25519"].encode()
            + b"\n"
            + headers["X-Signature-Timestamp"].encode()
            + b"\n"
            + body
        )
        script = LUA
    else:
        req_file = prepared or write_pool(port, path, scenario, pool, tmp)
        script = LUA_DISTINCT
    argv = [
        "taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
        "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}{path}", "--",
        str(req_file),
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if out.returncode != 0:
        detail = out.stderr.strip() or out.stdout.strip()
        raise RuntimeError(f"wrk failed ({out.returncode}): {detail}")
    match = RESULT_RE.search(out.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    return {k: float(v) for k, v in (kv.split("=") for kv in match.group(1).split())}


def measure(
    proc: subprocess.Popen[bytes], port: int, impl: Impl, scenario: str, args: argparse.Namespace
) -> Sample:
    """Warm up, then a measured run; retaken (up to --retakes) while CPU 0 is busy with others."""
    tmp = Path(args.tmpdir)
    warm = run_wrk(port, impl.path, scenario, args.warmup, args.connections, tmp)
    # Size the measured run's pool from the warm-up's rate, with a wide margin.
    rate = warm["requests"] / max(warm["duration_us"] / 1e6, 1e-3)
    args.pool = max(POOL_MIN, int(rate * args.duration * 1.6))
    best = measure_once(proc, port, impl, scenario, args)
    for _ in range(args.retakes):
        if best.other_cpu0 <= args.max_other_load:
            break
        again = measure_once(proc, port, impl, scenario, args)
        if again.other_cpu0 < best.other_cpu0:
            best = again
    return best


def measure_once(
    proc: subprocess.Popen[bytes], port: int, impl: Impl, scenario: str, args: argparse.Namespace
) -> Sample:
    """One measured wrk run with the server's CPU time and CPU 0's other load sampled around it."""
    tmp = Path(args.tmpdir)
    pool = None  # signed before the CPU snapshots, so signing is not counted as other load
    if scenario != "badsig":
        pool = write_pool(port, impl.path, scenario, args.pool, tmp)
    cpu0, busy0, t0 = cpu_seconds(proc.pid), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    r = run_wrk(port, impl.path, scenario, args.duration, args.connections, tmp, args.pool, pool)
    cpu1, busy1, t1 = cpu_seconds(proc.pid), cpu_busy_seconds(SERVER_CPU), time.monotonic()
    requests = max(r["requests"], 1.0)
    errors = int(r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"])
    return Sample(
        rps=r["requests"] / (r["duration_us"] / 1e6),
        p50_us=r["p50_us"],
        p99_us=r["p99_us"],
        cpu_us_per_req=(cpu1 - cpu0) * 1e6 / requests,
        errors=errors,
        non_2xx=int(r["err_status"]),
        other_cpu0=max(0.0, ((busy1 - busy0) - (cpu1 - cpu0)) / (t1 - t0)),
    )


# --------------------------------------------------------------------------- report


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)


def ratio(value: float | None, base: float | None) -> str:
    return "—" if value is None or not base else f"{value / base:.2f}×"


def endpoint_table(res: Results, impls: list[str], scenarios: tuple[str, ...]) -> str:
    """Markdown: one row per implementation and scenario, with the ratio of req/s to (a)."""
    lines = [
        "| scenario | implementation | req/s | vs (a) | best req/s | p50 ms | p99 ms "
        "| server CPU µs/req | best µs/req | CPU vs (a) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenarios:
        base = res.median("starlette", scenario, "rps")
        base_cpu = res.median("starlette", scenario, "cpu_us_per_req")
        for name in impls:
            if (name, scenario) not in res.samples:
                continue
            rps = res.median(name, scenario, "rps")
            cpu = res.median(name, scenario, "cpu_us_per_req")
            lines.append(
                f"| {scenario} | {IMPLS[name].label} | {fmt(rps)} | {ratio(rps, base)} | "
                f"{fmt(res.best(name, scenario, 'rps', max))} | "
                f"{fmt(_ms(res.median(name, scenario, 'p50_us')), '.2f')} | "
                f"{fmt(_ms(res.median(name, scenario, 'p99_us')), '.2f')} | "
                f"{fmt(cpu)} | {fmt(res.best(name, scenario, 'cpu_us_per_req', min))} | "
                f"{ratio(cpu, base_cpu)} |"
            )
    return "\n".join(lines)


def command_table(res: Results, inproc: InProc) -> str:
    """Markdown: command layer versus hand-parsing low-level handlers, per scenario.

    Under the server the two differ by less than the noise of this machine, so the layer's own
    cost is also measured in-process (interleaved batches, minimum) and set against the whole
    request's server CPU time.
    """
    lines = [
        "| scenario | low-level req/s | command layer req/s | low / cmd server CPU µs/req "
        "| in-process µs low / cmd (min) | command layer cost | share of a request |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in ("echo", *COMMAND_SCENARIOS):
        low = res.median("ours-low", scenario, "rps")
        cmd = res.median("ours-cmd", scenario, "rps")
        if low is None or cmd is None:
            continue
        cpu_low = res.median("ours-low", scenario, "cpu_us_per_req")
        cpu_cmd = res.median("ours-cmd", scenario, "cpu_us_per_req")
        in_low = inproc.get(("ours_low:app", scenario))
        in_cmd = inproc.get(("ours_cmd:app", scenario))
        cost = None if in_low is None or in_cmd is None else in_cmd - in_low
        share = "—" if cost is None or not cpu_low else f"{cost / cpu_low:+.1%}"
        lines.append(
            f"| {scenario} | {fmt(low)} | {fmt(cmd)} | {fmt(cpu_low)} / {fmt(cpu_cmd)} | "
            f"{fmt(in_low, '.1f')} / {fmt(in_cmd, '.1f')} | "
            f"{'—' if cost is None else f'{cost:+.1f} µs'} | {share} |"
        )
    return "\n".join(lines)


InProc = dict[tuple[str, str], float]
INPROC_RE = re.compile(r"^(\S+)\s+(\w+)\s+min\s+([\d.]+) µs", re.MULTILINE)


INPROC_APPS = {
    "starlette": "starlette_app:app",
    "ours-low": "ours_low:app",
    "ours-cmd": "ours_cmd:app",
}


def inproc_costs(args: argparse.Namespace, impls: list[str], wanted: list[str]) -> InProc:
    """App-only µs per request in-process (bench/apps/inproc.py): interleaved batches, on CPU 0."""
    apps = [INPROC_APPS[name] for name in impls if name in INPROC_APPS]
    if not apps:
        return {}
    argv = [
        "taskset", "-c", SERVER_CPU, args.python, str(APPS_DIR / "inproc.py"), *apps,
        "--scenario", ",".join(wanted), "-n", "1000", "--repeat", "5" if args.quick else "20",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_DIR), str(APPS_DIR)])}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
    if out.returncode != 0:
        print(f"[skip] in-process measurement: {out.stderr[-500:]}")
        return {}
    print(out.stdout, end="")
    return {(m[1], m[2]): float(m[3]) for m in INPROC_RE.finditer(out.stdout)}


def inproc_table(inproc: InProc, scenarios: tuple[str, ...]) -> str:
    """Markdown: the app's own cost per request, without server or sockets."""
    lines = [
        "| scenario | (a) Starlette µs | ours low-level µs | ours @bot.command µs "
        "| ours-cmd vs (a) |",
        "|---|---:|---:|---:|---:|",
    ]
    for scenario in scenarios:
        a = inproc.get(("starlette_app:app", scenario))
        low = inproc.get(("ours_low:app", scenario))
        cmd = inproc.get(("ours_cmd:app", scenario))
        if low is None and cmd is None:
            continue
        if scenario in COMMAND_SCENARIOS:
            a = None  # (a) implements only ping and echo
        lines.append(
            f"| {scenario} | {fmt(a, '.1f')} | {fmt(low, '.1f')} | {fmt(cmd, '.1f')} | "
            f"{ratio(cmd, a)} |"
        )
    return "\n".join(lines)


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000


def spread(res: Results) -> str:
    """Per-sample req/s, so the reader sees the noise behind each median."""
    lines = []
    for (name, scenario), samples in sorted(res.samples.items()):
        rps = ", ".join(f"{s.rps:,.0f}" for s in samples)
        bad = sum(s.errors for s in samples)
        non2xx = sum(s.non_2xx for s in samples)
        noise = max(s.other_cpu0 for s in samples)
        lines.append(
            f"  {name:15} {scenario:7} req/s: {rps}  (socket errors {bad}, non-2xx {non2xx}, "
            f"max other load on CPU 0 {noise:.0%})"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- profile


def profile(spec: str, args: argparse.Namespace) -> None:
    """Attach py-spy to one server while wrk loads it; print where its CPU time goes."""
    name, _, scenario = spec.partition(":")
    impl = IMPLS[name]
    scenario = scenario or "echo"
    spy = shutil.which("py-spy") or str(Path(args.python).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        args.tmpdir = tmp
        raw = Path(tmp) / "stacks.txt"
        with running(impl, args.python, Path(tmp)) as (proc, port):
            problem = check_answer(port, impl, scenario)
            if problem is not None:
                sys.exit(f"{name} {scenario}: {problem}")
            run_wrk(port, impl.path, scenario, args.warmup, args.connections, Path(tmp))
            argv = [
                "taskset", "-c", CLIENT_CPU, spy, "record", "--pid", str(proc.pid),
                "--rate", str(args.rate), "--nonblocking", "--duration", str(args.duration),
                "--format", "raw", "-o", str(raw),
            ]  # fmt: skip
            spy_proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.3)  # let py-spy attach before the load starts
            cpu0 = cpu_seconds(proc.pid)
            r = run_wrk(port, impl.path, scenario, args.duration, args.connections, Path(tmp))
            cpu_us = (cpu_seconds(proc.pid) - cpu0) * 1e6 / max(r["requests"], 1)
            rps = r["requests"] / (r["duration_us"] / 1e6)
            _, err = spy_proc.communicate(timeout=args.duration + 30)
            if spy_proc.returncode != 0 or not raw.exists():
                sys.exit(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
        print(f"{name} {scenario}: {rps:,.0f} req/s under py-spy, {cpu_us:.0f} µs CPU/request")
        summarize_stacks(raw, cpu_us, args.top)


def summarize_stacks(raw: Path, cpu_us: float, top: int) -> None:
    """Self and inclusive time per function from py-spy's collapsed stacks, in µs/request."""
    self_n: dict[str, int] = {}
    incl_n: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [re.sub(r" \(/.*/(site-packages|lib/python3\.\d+)/", " (", f) for f in frames]
        frames = [f.replace(f" ({REPO_DIR}/", " (") for f in frames]
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            incl_n[f] = incl_n.get(f, 0) + n
    if not total:
        print("py-spy recorded no samples")
        return
    per = cpu_us / total
    for title, table in (("self", self_n), ("inclusive", incl_n)):
        print(f"\n-- top {top} by {title} time (µs/request, share of samples) --")
        for frame, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{n * per:7.1f} µs {n / total:6.1%}  {frame}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 round, 2 s per config (sanity only)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--duration", type=int, default=3, help="measured seconds per config")
    p.add_argument("--warmup", type=int, default=1, help="warm-up seconds per config")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument(
        "--max-other-load",
        type=float,
        default=0.10,
        help="retake a sample if other processes used more than this share of CPU 0",
    )
    p.add_argument("--retakes", type=int, default=2, help="retakes per sample at most")
    p.add_argument(
        "--impls",
        default=",".join(DEFAULT_IMPLS),
        help=f"comma-separated, of: {', '.join(IMPLS)}",
    )
    p.add_argument(
        "--scenarios",
        default=",".join((*ENDPOINT_SCENARIOS, *COMMAND_SCENARIOS)),
        help="comma-separated subset of ping,echo,badsig,calc,vote",
    )
    p.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    p.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="also run ours-mounted on the asgi_interactions in DIR (e.g. a worktree of an older "
        "commit) as `ours-before`, interleaved with the others",
    )
    p.add_argument("--json", type=Path, help="also write raw samples here")
    p.add_argument(
        "--profile",
        metavar="IMPL:SCENARIO",
        help="instead of the comparison: run one server under py-spy and print hot functions",
    )
    p.add_argument("--rate", type=int, default=1000, help="py-spy samples/s (--profile)")
    p.add_argument("--top", type=int, default=30, help="rows per table (--profile)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.retakes = 1, 2, 1, 0
    return args


def preflight() -> None:
    """Fail early, with the fix, when a tool is missing."""
    tools = (("wrk", "apt-get install -y wrk"), ("taskset", "apt-get install -y util-linux"))
    for tool, fix in tools:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: {fix}")
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 CPUs (server on CPU 0, wrk on CPU 1)")


def main(argv: list[str] | None = None) -> Results:
    args = parse_args(argv)
    preflight()
    if args.profile:
        profile(args.profile, args)
        return Results()
    wanted = [s for s in args.scenarios.split(",") if s]
    impls = [i for i in args.impls.split(",") if i]
    if args.before is not None:
        mounted = IMPLS["ours-mounted"]
        IMPLS["ours-before"] = Impl(
            "ours-before",
            f"ours-mounted on {args.before}",
            mounted.path,
            mounted.scenarios,
            module=mounted.module,
            lib=args.before.resolve(),
        )
        impls.append("ours-before")
    for name in impls:
        if name not in IMPLS:
            sys.exit(f"unknown implementation {name!r}; known: {', '.join(IMPLS)}")
    res = Results()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-endpoint-") as tmp:
        args.tmpdir = tmp
        logdir = Path(tmp)
        for rnd in range(args.rounds):
            order = impls[rnd % len(impls) :] + impls[: rnd % len(impls)]
            for name in order:
                impl = IMPLS[name]
                todo = [s for s in impl.scenarios if s in wanted]
                todo = [s for s in todo if (name, s) not in res.skipped]
                if not todo:
                    continue
                try:
                    with running(impl, args.python, logdir) as (proc, port):
                        for scenario in todo:
                            problem = check_answer(port, impl, scenario)
                            if problem is not None:
                                res.skipped[(name, scenario)] = problem
                                print(f"[skip] {name} {scenario}: {problem}", flush=True)
                                continue
                            sample = measure(proc, port, impl, scenario, args)
                            res.add(name, scenario, sample)
                            print(
                                f"[round {rnd + 1}/{args.rounds}] {name:15} {scenario:7} "
                                f"{sample.rps:8,.0f} req/s  p50 {sample.p50_us / 1000:6.2f} ms  "
                                f"p99 {sample.p99_us / 1000:6.2f} ms  "
                                f"cpu {sample.cpu_us_per_req:5.0f} µs/req  "
                                f"(CPU 0 other load {sample.other_cpu0:4.0%})",
                                flush=True,
                            )
                except (RuntimeError, subprocess.SubprocessError) as exc:
                    for scenario in todo:
                        res.skipped.setdefault((name, scenario), str(exc))
                    tail = (logdir / f"{name}.log").read_text(errors="replace")[-1500:]
                    print(f"[skip] {name}: {exc}\n{tail}", flush=True)

    print("\nin-process, interleaved batches (app-only cost, min of batches):")
    inproc = inproc_costs(args, impls, wanted)
    elapsed = time.monotonic() - started
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(
        f"## results {stamp}: {args.rounds} round(s), {args.duration:g} s measured after "
        f"{args.warmup:g} s warm-up, {args.connections} connections, run took {elapsed:.0f} s"
    )
    print("medians over rounds; 'vs (a)' = req/s relative to the hand-written Starlette app\n")
    shown = [s for s in ENDPOINT_SCENARIOS if s in wanted]
    print(endpoint_table(res, impls, tuple(shown)))
    print("\napp-only µs per request, in-process (no server or sockets; min of batches):\n")
    print(inproc_table(inproc, tuple(wanted)))
    print()
    print("command layer (ours-cmd) vs low-level handlers parsing by hand (ours-low):\n")
    print(command_table(res, inproc))
    print("\nper-round req/s:")
    print(spread(res))
    if res.skipped:
        print("\nskipped:")
        for (name, scenario), why in sorted(res.skipped.items()):
            print(f"  {name} {scenario}: {why.splitlines()[0][:200]}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "date": stamp,
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "samples": {
                        f"{n}/{s}": [vars(x) for x in v] for (n, s), v in res.samples.items()
                    },
                    "skipped": {f"{n}/{s}": w for (n, s), w in res.skipped.items()},
                    "inproc_min_us": {f"{m}/{s}": v for (m, s), v in inproc.items()},
                },
                indent=1,
            )
        )
    return res


if __name__ == "__main__":
    main()
