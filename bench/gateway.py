"""Gateway benchmark: decode-and-deliver throughput and recovery time, against tests/fakes.

(a) A recorded stream of realistic dispatches (a GUILD_CREATE of a 5,000-member guild, then
MESSAGE_CREATEs with embeds, PRESENCE_UPDATEs and TYPING_STARTs) is compressed and framed by
the fake gateway (zlib-stream, zstd-stream) *before* the clock starts, then handed to the socket
in one write (as a remote server's bytes arrive: the fake's thread spends next to nothing of the
shared GIL in the window); the figure is dispatches delivered to a ``"*"`` listener per second,
one shard.
(b) Recovery: the time from an abrupt drop or an op 7 to the listener receiving the first event
after RESUMED (a dispatch the fake logs during the outage, so only the RESUME replay delivers
it); for a zombie (ACKs stop), the time from the un-ACKed heartbeat to the client closing the
connection, and to the listener receiving RESUMED.

    python bench/gateway.py                      # ours, ~1 min
    python bench/gateway.py --events 20000 --rounds 5 --clients ours,hikari,hikari-raw
    python bench/gateway.py --skip recovery --clients ours,ours-fixed --redis-url redis://...
    python bench/gateway.py --skip recovery --clients ours,hikari,hikari-raw --fake-process

The fake runs on its own thread in the same process (GIL shared with the client), the same for
every client; with ``--fake-process`` it runs in an OS process of its own
(bench/gateway_fake_process.py) and sends the stream message by message through websockets'
``send`` as fast as it can, its CPU and GIL not the client's, as a remote Discord's.
hikari (bench-only, bench/requirements.txt) is driven through its public ``GatewayShardImpl``
when installed, two ways (bench/gateway_hikari.py): ``hikari``, a listener on hikari's
raw-payload event (the same contract as our ``"*"`` listener), and ``hikari-raw``, the shard
alone with no listener machinery.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asgi_interactions import Gateway, GatewayEvent, Intents
from tests.fakes.discord_gateway import FakeGateway, serve_fake_gateway, wait_until

INTERVAL_MS = 1000


def recorded_stream(count: int, seed: int = 7) -> list[tuple[str, Any]]:
    """A GUILD_CREATE of a 5,000-member guild, then ``count`` mixed realistic dispatches."""
    rng = random.Random(seed)
    guild_id = str(1 << 40)

    def user(i: int) -> dict[str, Any]:
        return {
            "id": str(10**17 + i),
            "username": f"user{i}",
            "global_name": f"User {i}",
            "avatar": "a" * 32,
            "discriminator": "0",
            "public_flags": 0,
        }

    members = [
        {"user": user(i), "roles": [str(10**16 + i % 7)], "joined_at": "2024-01-01T00:00:00+00:00",
         "deaf": False, "mute": False, "flags": 0, "nick": None}
        for i in range(5000)
    ]  # fmt: skip
    channels = [{"id": str(10**15 + i), "type": 0, "name": f"chan-{i}", "position": i}
                for i in range(50)]  # fmt: skip
    stream: list[tuple[str, Any]] = [
        ("GUILD_CREATE", {"id": guild_id, "name": "big guild", "member_count": 5000,
                          "members": members, "channels": channels, "roles": [], "large": True}),
    ]  # fmt: skip
    for n in range(count):
        roll = rng.random()
        author = user(rng.randrange(5000))
        channel = channels[rng.randrange(50)]["id"]
        if roll < 0.4:
            embed = {"title": "Release notes", "description": "x" * rng.randrange(100, 600),
                     "fields": [{"name": f"f{j}", "value": "v" * 40} for j in range(3)],
                     "color": 0x5865F2}  # fmt: skip
            data = {"id": str(10**18 + n), "channel_id": channel, "guild_id": guild_id,
                    "author": author, "content": "hello " * rng.randrange(1, 20),
                    "embeds": [embed], "attachments": [], "mentions": [], "mention_roles": [],
                    "timestamp": "2026-11-29T12:00:00.000000+00:00", "tts": False,
                    "type": 0, "flags": 0, "pinned": False, "mention_everyone": False}  # fmt: skip
            stream.append(("MESSAGE_CREATE", data))
        elif roll < 0.8:
            presence = {"user": {"id": author["id"]}, "guild_id": guild_id, "status": "online",
                        "activities": [{"name": "a game", "type": 0, "created_at": 1}],
                        "client_status": {"desktop": "online"}}  # fmt: skip
            stream.append(("PRESENCE_UPDATE", presence))
        else:
            typing = {"channel_id": channel, "guild_id": guild_id, "user_id": author["id"],
                      "timestamp": 1_700_000_000}  # fmt: skip
            stream.append(("TYPING_START", typing))
    return stream


class Counter:
    """Counts deliveries across threads; wakes the waiter at ``target``; keeps marker times."""

    def __init__(self) -> None:
        self.count = 0
        self.target = -1
        self.done = threading.Event()
        self.last_at = 0.0
        self.markers: dict[str, float] = {}
        self.resumed: list[float] = []

    def seen(self, name: str, data: Any) -> None:
        now = time.monotonic()
        self.count += 1
        if name == "RESUMED":
            self.resumed.append(now)
        elif isinstance(data, Mapping) and "mark" in data:  # hikari's payload is a mapping
            self.markers[data["mark"]] = now
        if self.count == self.target:
            self.last_at = now
            self.done.set()


# -- clients ---------------------------------------------------------------------------------------


class Ours:
    """The default: the shard under a lease (file locks, or Redis with ``--redis-url``), its
    delivered sequence recorded for a takeover; ``ours-fixed``: ``shard_ids=[0]``, neither."""

    name = "ours"
    options: dict[str, Any] = {}  # noqa: RUF012 - set once from the command line

    def __init__(self, fake: FakeGateway, compress: str | bool, counter: Counter) -> None:
        self.gw = Gateway(
            fake.token, intents=Intents.default(), url=fake.url, compress=compress,
            backoff_base=1.0, close_timeout=1.0, **self.options,
        )  # fmt: skip

        @self.gw.listen("*")
        async def count(event: GatewayEvent) -> None:
            counter.seen(event.name, event.data)

    async def start(self) -> None:
        await self.gw.start()

    async def close(self) -> None:
        await self.gw.close()


class OursFixed(Ours):
    name = "ours-fixed"
    options: dict[str, Any] = {"shard_ids": [0]}  # noqa: RUF012


CLIENTS: dict[str, Any] = {"ours": Ours, "ours-fixed": OursFixed}
try:
    from bench.gateway_hikari import Hikari, HikariRaw

    CLIENTS["hikari"] = Hikari
    CLIENTS["hikari-raw"] = HikariRaw
except ImportError:
    pass


# -- measurements ----------------------------------------------------------------------------------


async def throughput(
    client_cls: Any,
    compress: str,
    stream: list[tuple[str, Any]],
    before: Callable[[], object] | None = None,
    *,
    fake_process: bool = False,
) -> float:
    """Dispatches per second to the client's listener; ``before`` is called as sending starts
    (bench/gateway_instructions.py zeroes callgrind's counters there). ``fake_process``: the
    fake runs in a child process of its own (bench/gateway_fake_process.py)."""
    if fake_process:
        return await throughput_from_process(client_cls, compress, stream)
    with serve_fake_gateway(heartbeat_interval=45_000) as fake:

        async def send() -> float:
            if before is not None:
                before()
            per_message = os.environ.get("GATEWAY_BENCH_PER_MESSAGE") == "1"
            return await fake.run(fake.blast(0, stream, per_message=per_message))

        counter = Counter()
        client = client_cls(fake, compress, counter)
        return await delivered_per_second(client, counter, len(stream), send)


async def delivered_per_second(
    client: Any, counter: Counter, count: int, send: Callable[[], Any]
) -> float:
    """Start ``client``, wait for READY, ``send()`` the stream (it returns when sending began),
    and return dispatches per second once ``counter`` has seen all ``count`` exactly once."""
    await asyncio.wait_for(client.start(), 30)
    try:
        await wait_until(lambda: counter.count >= 1, 10)  # READY
        counter.target = counter.count + count
        began = await send()
        await asyncio.wait_for(asyncio.to_thread(counter.done.wait, 120), 130)
        await exactly_once(counter)
        return count / (counter.last_at - began)
    finally:
        await client.close()


async def exactly_once(counter: Counter) -> None:
    """Every dispatch reached the listener, and (after a short settle) none twice."""
    await asyncio.sleep(0.2)
    assert counter.count == counter.target, f"delivered {counter.count}, want {counter.target}"


class FakeProcess:
    """bench/gateway_fake_process.py as a child: 127.0.0.1, line commands on its stdin."""

    send_rates: list[float] = []  # noqa: RUF012 - messages/s the child's sends managed, per run

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.token = "token"
        self.url = f"ws://127.0.0.1:{port}/"

    @classmethod
    async def start(cls, events: int) -> FakeProcess:
        script = Path(__file__).with_name("gateway_fake_process.py")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), "--events", str(events),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            word, port = (await cls._line(proc, 120)).split()
            assert word == "port", f"fake process said {word} {port}"
        except BaseException:
            await cls._end(proc)
            raise
        return cls(proc, int(port))

    @staticmethod
    async def _line(proc: asyncio.subprocess.Process, limit: float) -> str:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), limit)
        if not line:
            raise RuntimeError(f"fake process ended (exit {await proc.wait()})")
        text = line.decode().strip()
        if text.startswith("error"):
            raise RuntimeError(f"fake process: {text}")
        return text

    async def go(self) -> tuple[float, int]:
        """Tell the child to send the stream; when sending began, and how many it sent."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        began = float((await self._line(self.proc, 120)).removeprefix("began "))
        _, sent, ended = (await self._line(self.proc, 300)).split()
        self.send_rates.append(int(sent) / (float(ended) - began))
        return began, int(sent)

    async def close(self) -> None:
        await self._end(self.proc)

    @staticmethod
    async def _end(proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.write(b"stop\n")
            with contextlib.suppress(ConnectionError):
                await proc.stdin.drain()
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def throughput_from_process(
    client_cls: Any, compress: str, stream: list[tuple[str, Any]]
) -> float:
    """As ``throughput``, the fake in its own process sending message by message (its CPU and
    GIL are not the client's; the kernel cuts the stream as it would a remote sender's)."""
    fake = await FakeProcess.start(len(stream) - 1)  # the child builds the same seeded stream
    try:

        async def send() -> float:
            began, sent = await fake.go()
            assert sent == len(stream), f"the fake sent {sent}, want {len(stream)}"
            return began

        counter = Counter()
        client = client_cls(fake, compress, counter)
        return await delivered_per_second(client, counter, len(stream), send)
    finally:
        await fake.close()


async def recovery(client_cls: Any, rounds: int, settle: float) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"drop": [], "op 7": [], "zombie detect": [],
                                       "zombie to RESUMED": []}  # fmt: skip
    with serve_fake_gateway(heartbeat_interval=INTERVAL_MS) as fake:
        counter = Counter()
        client = client_cls(fake, "zlib-stream", counter)
        await asyncio.wait_for(client.start(), 30)
        try:
            for r in range(rounds):
                for fault in ("drop", "op 7"):
                    await asyncio.sleep(settle)
                    await healthy(fake)
                    mark = f"{fault}-{r}"
                    began = await fake.run(fault_then_mark(fake, fault, mark))
                    await wait_until(lambda m=mark: m in counter.markers, 60, mark)
                    results[fault].append(counter.markers[mark] - began)
                await asyncio.sleep(settle)
                await healthy(fake)
                conn = fake.live(0)
                assert conn is not None
                resumed_before = len(counter.resumed)
                await fake.run(fake.stop_acks(0))
                beats_before = len(conn.heartbeats)
                await wait_until(lambda c=conn, n=beats_before: len(c.heartbeats) > n, 10)
                unacked = conn.heartbeats[beats_before]
                await wait_until(lambda c=conn: c.closed_at is not None, 20, "zombie close")
                assert conn.closed_at is not None
                results["zombie detect"].append(conn.closed_at - unacked)
                await wait_until(lambda n=resumed_before: len(counter.resumed) > n, 20)
                results["zombie to RESUMED"].append(counter.resumed[-1] - unacked)
        finally:
            await client.close()
    return results


async def healthy(fake: FakeGateway) -> None:
    """Wait until the shard's connection is live and has had a heartbeat ACKed."""
    await wait_until(lambda: fake.live(0) is not None, 20, "a live connection")
    conn = fake.live(0)
    assert conn is not None
    count = len(conn.heartbeats)
    await wait_until(lambda: len(conn.heartbeats) > count, 20, "an ACKed heartbeat")
    await asyncio.sleep(0.05)


async def fault_then_mark(fake: FakeGateway, fault: str, mark: str) -> float:
    """On the fake's loop: cause the fault, then log a dispatch only a RESUME replay delivers."""
    conn = fake.live(0)
    assert conn is not None and conn.session is not None
    session = conn.session
    began = time.monotonic()
    if fault == "drop":
        conn.ws.transport.abort()
    else:
        await fake._send(conn, {"op": 7, "d": None})
    session.conn = None
    await fake.dispatch(0, "MESSAGE_CREATE", {"mark": mark})
    return began


def fmt(values: list[float]) -> str:
    low, high = min(values) * 1000, max(values) * 1000
    return f"{statistics.median(values) * 1000:7.0f} ms (min {low:.0f}, max {high:.0f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--skip", default="", help="throughput or recovery")
    parser.add_argument(
        "--settle",
        type=float,
        default=31.0,
        help="seconds of healthy session before each fault (hikari backs off any reconnect "
        "within 30 s of its last start)",
    )
    parser.add_argument("--redis-url", help="leases and delivery records in this Redis")
    parser.add_argument(
        "--per-message-fake",
        action="store_true",
        help="(a): the fake sends each message through websockets' send inside the window, as "
        "before 2026-11-30 05:17 (its CPU then shares the GIL with the client under test)",
    )
    parser.add_argument(
        "--fake-process",
        action="store_true",
        help="(a): the fake in an OS process of its own, sending message by message through "
        "websockets' send (its CPU and GIL are not the client's, as a remote Discord's)",
    )
    args = parser.parse_args()
    if args.per_message_fake:
        os.environ["GATEWAY_BENCH_PER_MESSAGE"] = "1"
    if args.redis_url:
        Ours.options = {"redis_url": args.redis_url}
    names = [n for n in args.clients.split(",") if n]
    stream = recorded_stream(args.events)
    # The recorded stream is ~1M objects: frozen out of the collector (as InteractionApp freezes
    # the heap after startup) so that a full collection walking the bench's own data does not
    # land in one client's window at random (300 ms each here).
    gc.collect()
    gc.freeze()
    print(f"stream: 1 GUILD_CREATE (5,000 members) + {args.events} dispatches; clients: {names}")
    fake = "one write" if not args.per_message_fake else "per message"
    print(f"fake: {'own process, per message' if args.fake_process else fake + ', same process'}")
    if "throughput" not in args.skip:
        print("\n(a) decode-and-deliver, dispatches/s, one shard (median of 3)")
        for compress in ("zlib-stream", "zstd-stream"):
            for name in names:
                rates = [
                    await throughput(
                        CLIENTS[name], compress, stream, fake_process=args.fake_process
                    )
                    for _ in range(3)
                ]
                print(f"  {compress:12} {name:7} {statistics.median(rates):10,.0f} /s  "
                      f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})")  # fmt: skip
                if args.fake_process:  # the fake's own pace: a client cannot go faster
                    sends = ", ".join(f"{r:,.0f}" for r in FakeProcess.send_rates[-3:])
                    print(f"  {'':20} the fake sent at {sends} /s")
    if "recovery" not in args.skip:
        print(f"\n(b) recovery, heartbeat interval {INTERVAL_MS} ms, median of {args.rounds}")
        for name in names:
            results = await recovery(CLIENTS[name], args.rounds, args.settle)
            for what, values in results.items():
                print(f"  {name:7} {what:14} {fmt(values)}")


if __name__ == "__main__":
    asyncio.run(main())
