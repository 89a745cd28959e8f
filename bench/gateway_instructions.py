"""Gateway instructions per dispatch, counted by callgrind: the client's cost, free of noise.

Each client runs bench/gateway.py's throughput measurement once in a child process under
``valgrind --tool=callgrind --separate-threads=yes``, with two stream lengths (e.g. 1,000 and
3,000 dispatches after the GUILD_CREATE); the difference of the two totals divided by the
difference of the counts is the cost of one dispatch: imports, startup, the handshake and the
GUILD_CREATE cancel out. The fake gateway's own thread (valgrind's thread 2, the first one the
child starts) is left out, so the figure is the client alone: reading, decompressing, decoding
and delivering to a listener (``ours``, ``hikari``) or to the shard's raw hook (``hikari-raw``),
every thread of the client included (for ours, the I/O thread and the app's loop).

    PYTHONPATH=$PWD /tmp/gwbench/bin/python bench/gateway_instructions.py
    PYTHONPATH=$PWD /tmp/gwbench/bin/python bench/gateway_instructions.py --clients ours \\
        --compress zlib-stream --keep /tmp/gwcg
    callgrind_annotate --inclusive=yes /tmp/gwcg/ours-zlib-stream-3000.out-03 | head -60

Threads run one at a time under valgrind, so how the stream is cut into socket reads varies a
little from run to run (a few hundred instructions per dispatch, against tens of thousands).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
FAKE_THREAD = 2  # serve_fake_gateway's thread: the first the child starts
TOTALS_RE = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


MARK_C = """#include <valgrind/callgrind.h>
void gateway_bench_window(void) { CALLGRIND_ZERO_STATS; }
"""


def build_mark(tmp: Path) -> Path:
    """A library whose one call zeroes the calling thread's counters: the main thread's, as
    sending starts, so that building the stream (which grows with the count) is not counted.
    The other threads do nothing before then that depends on the count (the fake's, which
    compresses the stream, is left out)."""
    source, lib = tmp / "mark.c", tmp / "mark.so"
    source.write_text(MARK_C)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(source)], check=True)
    return lib


def child(client: str, compress: str, events: int, mark: str) -> None:
    """One throughput run (this runs under callgrind)."""
    sys.path.insert(0, str(REPO_DIR))
    from bench.gateway import CLIENTS, recorded_stream, throughput

    window = ctypes.CDLL(mark).gateway_bench_window
    stream = recorded_stream(events)
    gc.collect()
    gc.freeze()
    rate = asyncio.run(throughput(CLIENTS[client], compress, stream, before=window))
    print(f"RATE {rate:.0f}", file=sys.stderr, flush=True)
    os._exit(0)  # not freeing the stream (its size grows with the count) nor anything else


def thread_totals(out_file: Path) -> dict[int, int]:
    """Valgrind thread number -> instructions, from callgrind's per-thread files."""
    totals: dict[int, int] = {}
    for path in out_file.parent.glob(out_file.name + "-*"):
        match = TOTALS_RE.search(path.read_text(errors="replace"))
        if match is not None:
            totals[int(path.name.rsplit("-", 1)[1])] = int(match.group(1))
    return totals


def count(
    client: str, compress: str, events: int, out_dir: Path, python: str, mark: Path
) -> dict[int, int]:
    """Instructions per valgrind thread of one child run, from the window's start on."""
    out_file = out_dir / f"{client}-{compress}-{events}.out"
    for old in out_dir.glob(out_file.name + "-*"):
        old.unlink()
    argv = [
        "valgrind", "--tool=callgrind", "--separate-threads=yes",
        f"--callgrind-out-file={out_file}",
        python, str(Path(__file__).resolve()), "--child", client, compress, str(events), str(mark),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800, check=False)
    totals = thread_totals(out_file)
    if run.returncode != 0 or not totals:
        tail = "\n".join(line for line in run.stderr.splitlines() if not line.startswith("=="))
        raise RuntimeError(f"{client} {compress} n={events} failed ({run.returncode}):\n{tail}")
    return totals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--child", nargs=4, metavar=("CLIENT", "COMPRESS", "EVENTS", "MARK"))
    p.add_argument("--clients", default="ours,hikari,hikari-raw")
    p.add_argument("--compress", default="zlib-stream,zstd-stream")
    p.add_argument("--counts", default="1000,3000", help="two stream lengths")
    p.add_argument("--keep", type=Path, help="keep callgrind's files here (callgrind_annotate)")
    p.add_argument("--python", default=sys.executable)
    args = p.parse_args()
    if args.child:
        client, compress, events, mark = args.child
        child(client, compress, int(events), mark)
        return
    low, high = (int(n) for n in args.counts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        mark = build_mark(Path(tmp))
        print(f"instructions per dispatch (callgrind, ({high} - {low} dispatches) / {high - low})")
        print(f"{'client':11} {'compression':12} {'client threads':>15} {'(fake thread)':>14}")
        for compress in args.compress.split(","):
            for client in args.clients.split(","):
                a = count(client, compress, low, out_dir, args.python, mark)
                b = count(client, compress, high, out_dir, args.python, mark)
                fake = (b.get(FAKE_THREAD, 0) - a.get(FAKE_THREAD, 0)) / (high - low)
                ours = sum(b.values()) - b.get(FAKE_THREAD, 0)
                ours -= sum(a.values()) - a.get(FAKE_THREAD, 0)
                print(f"{client:11} {compress:12} {ours / (high - low):15,.0f} {fake:14,.0f}")


if __name__ == "__main__":
    main()
