"""The fake gateway in an OS process of its own, for ``bench/gateway.py --fake-process``.

A remote Discord does not share the client's GIL: here the fake (``serve_fake_gateway``, as
the tests use it) runs in this child, on 127.0.0.1. It builds the same seeded recorded stream
as the bench, prints ``port <n>``, and on a ``go`` line on stdin (sent once the client is READY)
encodes and compresses the stream for the live connection, then sends it message by message
through websockets' ``send`` as fast as it can (its own CPU, its own GIL; the kernel cuts the
byte stream as it would a remote sender's). It prints ``began <t>`` (``time.monotonic()``, which
is system-wide on Linux, so comparable with the bench's clock) and ``sent <count> <t>``, and
exits on ``stop`` or at the end of stdin (the bench kills it if it does not).

    python bench/gateway_fake_process.py --events 20000   # driven by bench/gateway.py
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway import recorded_stream
from tests.fakes.discord_gateway import serve_fake_gateway


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--heartbeat-interval", type=int, default=45_000)
    parser.add_argument("--limit", type=int, default=600, help="seconds before giving up")
    args = parser.parse_args()
    signal.alarm(args.limit)  # never outlive a stuck bench
    stream = recorded_stream(args.events)
    gc.collect()
    gc.freeze()  # as the bench: no full collection walking the stream while sending
    with serve_fake_gateway(heartbeat_interval=args.heartbeat_interval) as fake:
        assert fake.loop is not None
        say(f"port {fake.port}")
        for line in sys.stdin:
            command = line.strip()
            if command == "stop":
                break
            if command != "go":
                say(f"error unknown command {command!r}")
                continue
            if fake.live(0) is None:
                say("error no live connection for shard 0")
                continue
            blast = fake.blast(0, stream, per_message=True)
            began = asyncio.run_coroutine_threadsafe(blast, fake.loop).result(args.limit)
            say(f"began {began!r}")
            say(f"sent {len(stream)} {time.monotonic()!r}")


if __name__ == "__main__":
    main()
