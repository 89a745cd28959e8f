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

Threads run one at a time under valgrind, and how the stream is cut into socket reads and how
often the app's loop wakes still depend on that schedule: on a busy machine the same client's
figure moved by up to ~7 % between runs (ours: 70.1k and 75.4k on zlib-stream), far less than
wall-clock figures, but compare changes of more than that, or repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import functools
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import zlib
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


def frames(compress: str, events: int) -> list[bytes]:
    """The recorded stream's dispatches as the socket would deliver them: compressed with one
    context, each in one unmasked binary frame, cut into reads of 64 KiB."""
    from bench.gateway import recorded_stream
    from tests.fakes.discord_gateway import zstd

    zlib_context = zlib.compressobj()
    zstd_context = zstd.ZstdCompressor() if zstd is not None else None
    blob = bytearray()
    for seq, (name, data) in enumerate(recorded_stream(events)[1:], start=2):
        raw = json.dumps({"op": 0, "t": name, "s": seq, "d": data}, separators=(",", ":"))
        if compress == "zlib-stream":
            body = zlib_context.compress(raw.encode()) + zlib_context.flush(zlib.Z_SYNC_FLUSH)
        else:
            assert zstd_context is not None, "zstd-stream needs Python 3.14+ or backports.zstd"
            body = zstd_context.compress(raw.encode(), zstd.ZstdCompressor.FLUSH_BLOCK)
        size = len(body)
        if size < 126:
            blob += bytes((0x82, size))
        elif size < 1 << 16:
            blob += bytes((0x82, 126)) + size.to_bytes(2, "big")
        else:
            blob += bytes((0x82, 127)) + size.to_bytes(8, "big")
        blob += body
    return [bytes(blob[i : i + 65536]) for i in range(0, len(blob), 65536)]


def child_in_process(compress: str, events: int, mark: str) -> None:
    """Ours on one thread, no sockets: the reads go through ``GatewayConnection``, the shard's
    message callback (decompress, decode, sequence, event), the dispatcher's queue and its
    consumer to a ``"*"`` listener, as in the bench (this runs under callgrind)."""
    sys.path.insert(0, str(REPO_DIR))
    from websockets.client import ClientProtocol
    from websockets.protocol import State
    from websockets.uri import parse_uri

    from asgi_interactions.gateway.connection import GatewayConnection
    from asgi_interactions.gateway.events import Dispatcher, GatewayEvent

    try:
        from asgi_interactions.gateway.payloads import Conn
    except ImportError:  # the package before 2026-11-30 03:20, to measure it the same way
        from asgi_interactions.gateway.shard import _Conn as Conn  # type: ignore[attr-defined,no-redef]
    from asgi_interactions.gateway.ratelimit import IdentifyQueue, SendLimiter
    from asgi_interactions.gateway.settings import ShardConfig
    from asgi_interactions.gateway.shard import Shard
    from asgi_interactions.gateway.transport import make_decoder
    from bench.gateway import Counter

    reads = frames(compress, events)
    gc.collect()
    gc.freeze()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        dispatcher, counter = Dispatcher(), Counter()

        async def count(event: GatewayEvent) -> None:
            counter.seen(event.name, event.data)

        dispatcher.add("*", count)
        config = ShardConfig("token", 0, compress)  # type: ignore[arg-type]
        queue = IdentifyQueue(1, 5.0)
        shard = Shard(
            0, 1, "ws://127.0.0.1/", config, queue, dispatcher.pending.append, dispatcher.wake
        )
        shard.wanted, shard.seq = dispatcher.listeners, 1
        protocol = ClientProtocol(parse_uri("ws://127.0.0.1/"))
        protocol.state = State.OPEN
        ws = GatewayConnection(protocol)
        ws._head_done, ws.response = True, object()  # type: ignore[assignment]
        conn = Conn(ws, make_decoder(compress), SendLimiter(120, 60.0), loop.create_future(),  # type: ignore[arg-type]
                    loop.create_future())  # fmt: skip
        conn.hello.set_result({})
        if hasattr(shard, "_reader"):
            reader = shard._reader(conn)
        else:  # before 2026-11-30 03:20
            reader = functools.partial(shard._on_message, conn)  # type: ignore[attr-defined]
        ws.attach(reader, lambda exc: None, shard.flush)
        ctypes.CDLL(mark).gateway_bench_window()
        for data in reads:
            ws.data_received(data)
            await asyncio.sleep(0)  # the consumer runs, as the app's loop would between reads
        await dispatcher.drain(600.0)
        assert counter.count == events, (counter.count, events)

    asyncio.run(run())
    os._exit(0)


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
    p.add_argument(
        "--in-process",
        action="store_true",
        help="ours only, one thread, no sockets: the same path without the I/O thread, the "
        "socket and the fake (steady: under 0.1 % run to run)",
    )
    p.add_argument("--clients", default="ours,hikari,hikari-raw")
    p.add_argument("--compress", default="zlib-stream,zstd-stream")
    p.add_argument("--counts", default="1000,3000", help="two stream lengths")
    p.add_argument("--keep", type=Path, help="keep callgrind's files here (callgrind_annotate)")
    p.add_argument("--python", default=sys.executable)
    p.add_argument(
        "--per-message-fake",
        action="store_true",
        help="the fake sends each message through websockets' send (bench/gateway.py's flag)",
    )
    args = p.parse_args()
    if args.per_message_fake:
        os.environ["GATEWAY_BENCH_PER_MESSAGE"] = "1"  # read by the children
    if args.child:
        client, compress, events, mark = args.child
        if client == "ours-in-process":
            child_in_process(compress, int(events), mark)
        else:
            child(client, compress, int(events), mark)
        return
    low, high = (int(n) for n in args.counts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        mark = build_mark(Path(tmp))
        print(f"instructions per dispatch (callgrind, ({high} - {low} dispatches) / {high - low})")
        print(f"{'client':11} {'compression':12} {'client threads':>15} {'(fake thread)':>14}")
        clients = ["ours-in-process"] if args.in_process else args.clients.split(",")
        for compress in args.compress.split(","):
            for client in clients:
                a = count(client, compress, low, out_dir, args.python, mark)
                b = count(client, compress, high, out_dir, args.python, mark)
                fake = (b.get(FAKE_THREAD, 0) - a.get(FAKE_THREAD, 0)) / (high - low)
                ours = sum(b.values()) - b.get(FAKE_THREAD, 0)
                ours -= sum(a.values()) - a.get(FAKE_THREAD, 0)
                print(f"{client:11} {compress:12} {ours / (high - low):15,.0f} {fake:14,.0f}")


if __name__ == "__main__":
    main()
