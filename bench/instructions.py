"""Instructions per request, counted by callgrind: the app's own cost, free of machine noise.

Each configuration answers `--counts` (e.g. 200 and 600) distinct pre-signed requests in process
(no server, no sockets) under `valgrind --tool=callgrind`; the difference of the two totals divided
by the difference of the counts is the cost of one request, startup and imports cancelling out.
The same is measured for PyNaCl's Ed25519 verify alone (`verify`), which every endpoint pays, and
subtracted: the tables show what each app costs beyond the verify.

    python bench/instructions.py                                  # every config, ping + command
    python bench/instructions.py --impls ours,hikari --scenarios command --keep /tmp/cg
    callgrind_annotate --inclusive=yes /tmp/cg/ours-command-600.out | head -60

Configurations: `verify` (the verify alone), `null` (driver + an ASGI app that drains the body
and answers a constant: what the harness itself costs), `raw` (hand-written raw ASGI: verify +
json.loads, the floor), `starlette` (hand-written Starlette Request/Route/JSONResponse), `hikari`
(hikari 2.7 RESTBot's `InteractionServer.on_interaction`: verify, parse, listener, response
bytes; its aiohttp request handling is NOT counted), `ours` (defaults, mounted in FastAPI with
`lifespan=bot.lifespan`, `app.mount("/interactions", bot)`, `@bot.command`), `ours-bare`
(defaults, the bot served alone), `ours-cmd` / `ours-low` (the endpoint benchmark's apps:
replay cache off, unmounted).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import marshal
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
APPS_DIR = BENCH_DIR / "apps"
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(APPS_DIR))
sys.path.append(str(REPO_DIR))  # after PYTHONPATH: a child measures the package --lib names

# name -> (label, "module:attr" or a special driver, request path)
IMPLS: dict[str, tuple[str, str, str]] = {
    "verify": ("PyNaCl verify alone", "verify", ""),
    "null": ("driver + constant ASGI app (no verify)", "floor_app:app", "/"),
    "raw": ("raw ASGI + json.loads (floor)", "raw_app:app", "/"),
    "starlette": ("Starlette, hand-written", "starlette_app:app", "/interactions"),
    "hikari": ("hikari 2.7 RESTBot.on_interaction", "hikari", ""),
    "ours": ("ours, defaults, mounted in FastAPI", "ours_mounted:app", "/interactions"),
    "ours-starlette": (
        "ours, defaults, mounted in Starlette",
        "ours_mounted:starlette_app",
        "/interactions",
    ),
    "ours-bare": ("ours, defaults, alone", "ours_defaults:app", "/"),
    "ours-cmd": ("ours, replay cache off, alone (endpoint bench)", "ours_cmd:app", "/"),
}
DEFAULT_IMPLS = ("verify", "null", "raw", "starlette", "hikari", "ours", "ours-bare")
EXPECTED = {"ping": (1, None), "command": (4, "hello")}  # response type, content


# --------------------------------------------------------------------------- child (measured)


class _Counting:
    """Switches callgrind's counting on for the request loop (see build_toggle)."""

    def __init__(self) -> None:
        path = os.environ.get("BENCH_CALLGRIND_TOGGLE")
        self.lib = None
        if path:
            import ctypes

            self.lib = ctypes.CDLL(path)

    def __enter__(self) -> None:
        if self.lib is not None:
            self.lib.bench_start()

    def __exit__(self, *exc: object) -> None:
        if self.lib is not None:
            self.lib.bench_stop()


async def lifespan(app: Any) -> asyncio.Queue[dict[str, Any]]:
    """Run the app's ASGI lifespan startup; the returned queue shuts it down. (Not inproc.py's:
    that one puts this checkout first on sys.path, and --lib must decide what is measured.)"""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    getter = asyncio.create_task(outbox.get())
    await asyncio.wait({task, getter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if getter.done():
        if getter.result()["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup: {getter.result()}")
    else:
        getter.cancel()  # the app returned at once: it does not speak the lifespan protocol
    inbox.task = task  # type: ignore[attr-defined]
    return inbox


def _freeze() -> None:
    """Freeze the heap after startup, for every configuration alike (ours does it by default).

    Otherwise a full collection walking every imported object (tens of millions of instructions)
    lands in one of the two runs and not the other, and the difference is quantised noise.
    """
    import gc

    gc.collect()
    gc.freeze()


async def _run_asgi(spec: str, path: str, requests: list[tuple[str, str, bytes]]) -> bytes:
    import importlib

    from fixtures import http_scope

    module, _, attr = spec.partition(":")
    app = getattr(importlib.import_module(module), attr)
    shutdown = await lifespan(app)
    _freeze()
    out: list[Any] = [0, b""]

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out[0] = message["status"]
        else:
            out[1] = message.get("body", b"")

    bad = 0
    with _Counting():
        for signature, timestamp, body in requests:
            message = {"type": "http.request", "body": body, "more_body": False}

            async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
                return message

            await app(http_scope(path, signature, timestamp, len(body)), receive, send)
            bad += out[0] != 200
    if bad:
        raise SystemExit(f"{spec}: {bad} answers were not 200 (last {out[0]} {out[1][:200]!r})")
    await shutdown.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(shutdown.task, 10)  # type: ignore[attr-defined]
    return bytes(out[1])


async def _run_hikari(requests: list[tuple[str, str, bytes]]) -> bytes:
    import hikari_app

    bot = hikari_app.make_bot()
    server = bot.interaction_server
    _freeze()
    payload = b""
    status = []
    with _Counting():
        for signature, timestamp, body in requests:
            sig = bytes.fromhex(signature)
            response = await server.on_interaction(body, sig, timestamp.encode())
            status.append(response.status_code)
            payload = response.payload or b""
    if set(status) != {200}:
        raise SystemExit(f"hikari answered {set(status)}: {payload!r}")
    return payload


def _run_verify(requests: list[tuple[str, str, bytes]]) -> bytes:
    from fixtures import PUBLIC_KEY_HEX
    from nacl.signing import VerifyKey

    key = VerifyKey(bytes.fromhex(PUBLIC_KEY_HEX))
    _freeze()
    with _Counting():
        for signature, timestamp, body in requests:
            key.verify(timestamp.encode() + body, bytes.fromhex(signature))
    return b""


def child(impl: str, scenario: str, request_file: str) -> None:
    """Answer every request of the file with one configuration (this runs under callgrind)."""
    import uvloop

    requests = marshal.loads(Path(request_file).read_bytes())
    _, spec, path = IMPLS[impl]
    if impl.startswith("ours"):  # the parent checks that --lib is what gets measured
        import asgi_interactions

        print(f"MEASURED {Path(asgi_interactions.__file__).parent.parent}", file=sys.stderr)
    if spec == "verify":
        _run_verify(requests)
        return
    if spec == "hikari":
        last = uvloop.run(_run_hikari(requests))
    else:
        last = uvloop.run(_run_asgi(spec, path, requests))
    if impl == "null":
        return
    answer = json.loads(last)
    rtype, content = EXPECTED[scenario]
    if answer.get("type") != rtype or (answer.get("data") or {}).get("content") != content:
        raise SystemExit(f"{impl} {scenario}: unexpected answer {last[:200]!r}")


# --------------------------------------------------------------------------- parent


COLLECTED_RE = re.compile(r"Collected : (\d+)")
TOGGLE_C = r"""
#include <valgrind/callgrind.h>
void bench_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void bench_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""


def build_toggle(tmp: Path) -> Path | None:
    """A tiny library whose two calls switch callgrind's counting on and off around the request
    loop, so imports and startup run uninstrumented (several times faster). None without gcc or
    valgrind's headers: then the whole run is counted, which the difference cancels as well."""
    source, lib = tmp / "toggle.c", tmp / "toggle.so"
    source.write_text(TOGGLE_C)
    try:
        built = subprocess.run(
            ["gcc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(source)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    return lib if built.returncode == 0 else None


def count(
    impl: str,
    scenario: str,
    n: int,
    tmp: Path,
    keep: Path | None,
    python: str,
    lib: Path,
    toggle: Path | None,
) -> int:
    """Total instructions of one child run answering `n` requests."""
    from fixtures import distinct_requests

    request_file = tmp / f"{impl}-{scenario}-{n}.req"
    request_file.write_bytes(marshal.dumps(distinct_requests(scenario, n)))
    out_dir = keep if keep is not None else tmp
    out_file = out_dir / f"{impl}-{scenario}-{n}.out"
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join([str(lib), str(APPS_DIR)]),
        "BENCH_CALLGRIND_TOGGLE": str(toggle or ""),
    }
    optimize = ["-O"] if impl == "hikari" else []  # hikari's documented production setting
    argv = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
        f"--instr-atstart={'no' if toggle else 'yes'}",
        python, *optimize, str(Path(__file__).resolve()),
        "--child", impl, scenario, str(request_file),
    ]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800, check=False)
    match = COLLECTED_RE.search(run.stderr)
    measured = re.search(r"MEASURED (.*)", run.stderr)
    if measured is not None and Path(measured.group(1)).resolve() != lib.resolve():
        raise RuntimeError(f"{impl} measured the package in {measured.group(1)}, not {lib}")
    if run.returncode != 0 or match is None:
        tail = "\n".join(line for line in run.stderr.splitlines() if not line.startswith("=="))
        raise RuntimeError(f"{impl} {scenario} n={n} failed ({run.returncode}):\n{tail[-2000:]}")
    return int(match.group(1))


def per_request(
    impl: str,
    scenario: str,
    counts: tuple[int, int],
    tmp: Path,
    keep: Path | None,
    python: str,
    lib: Path,
    toggle: Path | None,
) -> float:
    low, high = (count(impl, scenario, n, tmp, keep, python, lib, toggle) for n in counts)
    return (high - low) / (counts[1] - counts[0])


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--child", nargs=3, metavar=("IMPL", "SCENARIO", "FILE"), help=argparse.SUPPRESS)
    p.add_argument("--impls", default=",".join(DEFAULT_IMPLS), help=f"of: {', '.join(IMPLS)}")
    p.add_argument("--scenarios", default="ping,command")
    p.add_argument("--counts", default="200,600", help="the two request counts to difference")
    p.add_argument(
        "--no-toggle", action="store_true", help="count the whole run (imports and startup too)"
    )
    p.add_argument("--jobs", type=int, default=2, help="valgrind runs in parallel")
    p.add_argument("--keep", type=Path, help="keep callgrind's files here (callgrind_annotate)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument(
        "--lib",
        type=Path,
        default=REPO_DIR,
        help="directory holding the asgi_interactions package to measure (e.g. an old checkout)",
    )
    p.add_argument(
        "--python",
        default=os.path.realpath(sys.executable),
        help="interpreter (a real binary: valgrind does not follow pyenv's shell shims)",
    )
    args = p.parse_args(argv)
    if args.child:
        child(*args.child)
        return {}
    impls = [i for i in args.impls.split(",") if i]
    scenarios = [s for s in args.scenarios.split(",") if s]
    low, high = (int(x) for x in args.counts.split(","))
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-instr-") as tmp:
        toggle = None if args.no_toggle else build_toggle(Path(tmp))
        jobs = {}
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for impl in impls:
                for scenario in scenarios:
                    jobs[(impl, scenario)] = pool.submit(
                        per_request,
                        impl,
                        scenario,
                        (low, high),
                        Path(tmp),
                        args.keep,
                        args.python,
                        args.lib,
                        toggle,
                    )
            for (impl, scenario), job in jobs.items():
                try:
                    results.setdefault(impl, {})[scenario] = job.result()
                except RuntimeError as exc:
                    print(f"[skip] {exc}", file=sys.stderr)
    print(f"instructions per request (callgrind, ({high} - {low} requests) / {high - low})\n")
    verify = results.get("verify", {})
    head = " | ".join(f"{s} total | {s} beyond verify" for s in scenarios)
    print(f"| configuration | {head} |")
    print("|---|" + "---:|" * (2 * len(scenarios)))
    for impl in impls:
        if impl not in results:
            continue
        cells = []
        for s in scenarios:
            total = results[impl].get(s)
            base = verify.get(s) if impl not in ("verify", "null") else None
            beyond = None if total is None or base is None else total - base
            cells.append(f"{_k(total)} | {_k(beyond)}")
        print(f"| {IMPLS[impl][0]} (`{impl}`) | {' | '.join(cells)} |")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return results


def _k(value: float | None) -> str:
    return "—" if value is None else f"{value / 1000:,.1f}k"


if __name__ == "__main__":
    main()
