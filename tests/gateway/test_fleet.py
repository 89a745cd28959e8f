"""Several OS processes share one bot's shards: leases (file locks on one host, Redis across
hosts), takeover after kill -9, and handover by RESUME. Judged from the fake gateway's record."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.discord_gateway import FakeGateway, serve_fake_gateway
from tests.fakes.discord_rest import serve_fake_discord
from tests.fakes.redis_server import RedisServer, redis_server  # noqa: F401 - fixture
from tests.gateway.fleet import (
    Worker,
    assert_one_holder_at_a_time,
    delivered,
    live_shards,
    logged,
    wait_for,
)

LEASE = 1.0  # seconds (default 5): short, so takeovers happen within the test's patience


def send(fake: FakeGateway, coro: Any) -> Any:
    assert fake.loop is not None
    return asyncio.run_coroutine_threadsafe(coro, fake.loop).result(5)


def balanced(workers: list[Worker], shards: int) -> bool:
    """Every shard runs in exactly one worker, and the counts differ by at most one."""
    sets = [w.running() for w in workers]
    counts = [len(s) for s in sets]
    union = set().union(*sets)
    return sum(counts) == shards and union == set(range(shards)) and max(counts) - min(counts) <= 1


@pytest.fixture
def fake() -> Iterator[FakeGateway]:
    with serve_fake_gateway(heartbeat_interval=500) as fake:
        yield fake


def start_fleet(
    fake: FakeGateway, n: int, shards: int, redis_url: str | None, tmp_path: Path, lease: float
) -> list[Worker]:
    return [
        Worker(fake, shards, redis_url, lease, tmp_path / f"w{i}.log", tmp_path / "locks")
        for i in range(n)
    ]


def stop_all(workers: list[Worker]) -> None:
    for w in workers:
        if w.process.poll() is None:
            w.process.terminate()
    for w in workers:
        w.process.wait(20)


async def run_until_balanced(
    fake: FakeGateway,
    shards: int,
    processes: int,
    redis_url: str,
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    """Start ``processes`` workers sharing ``shards`` through Redis, wait (60 s at most) until
    every shard is READY and spread evenly, then stop them all."""
    workers = [
        Worker(fake, shards, redis_url, LEASE, tmp_path / f"w{i}.log", env=env)
        for i in range(processes)
    ]
    try:
        await asyncio.to_thread(
            wait_for, lambda: balanced(workers, shards), 60, "every shard READY"
        )
    finally:
        await asyncio.to_thread(stop_all, workers)


@pytest.mark.parametrize(
    ("processes", "shards", "use_redis"), [(2, 4, False), (2, 4, True), (4, 8, True)]
)
def test_each_shard_runs_in_exactly_one_process(
    fake: FakeGateway,
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
    processes: int,
    shards: int,
    use_redis: bool,
) -> None:
    url = redis_server.url if use_redis else None
    workers = start_fleet(fake, processes, shards, url, tmp_path, LEASE)
    try:
        wait_for(lambda: balanced(workers, shards), 40, "an even spread of every shard")
        assert live_shards(fake) == set(range(shards))
        time.sleep(2 * LEASE)  # a settled fleet stays put: no shard moves, no session ends
        assert balanced(workers, shards)
        assert len({s.session_id for s in fake.sessions.values()}) <= len(fake.identifies)
        assert_one_holder_at_a_time(fake)
        # a process leaves: the others take its shards; one joins: they spread again
        leaving = workers.pop()
        assert leaving.stop() == 0
        wait_for(lambda: balanced(workers, shards), 30, "the rest to take over")
        workers.append(
            Worker(fake, shards, url, LEASE, tmp_path / "joined.log", tmp_path / "locks")
        )
        wait_for(lambda: balanced(workers, shards), 30, "a spread over the newcomer too")
        assert_one_holder_at_a_time(fake)
        # handovers resumed the sessions (Redis, or files beside the locks): one IDENTIFY each
        assert len(fake.identifies) == shards, len(fake.identifies)
    finally:
        stop_all(workers)
    assert_one_holder_at_a_time(fake)


def test_kill_9_holder_is_taken_over_by_resume(
    fake: FakeGateway,
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    shards, lease = 4, 2.0
    workers = start_fleet(fake, 2, shards, redis_server.url, tmp_path, lease)
    try:
        wait_for(lambda: balanced(workers, shards), 40, "an even spread")
        victim, survivor = workers
        lost = victim.running()
        for n in range(10):  # events before the kill
            for sid in range(shards):
                send(fake, fake.dispatch(sid, "MESSAGE_CREATE", {"n": n}))
        wait_for(lambda: all(len(logged(fake, s)) <= sum(delivered(workers, s).values())
                             for s in range(shards)), 10, "delivery before the kill")  # fmt: skip
        time.sleep(lease)  # sessions are saved every lease / 4: two saves since the events
        killed_at = time.monotonic()
        victim.kill()
        for n in range(10, 20):  # events while nobody holds the victim's shards: replayed later
            for sid in range(shards):
                send(fake, fake.dispatch(sid, "MESSAGE_CREATE", {"n": n}))
        wait_for(lambda: survivor.running() == set(range(shards)), 20, "the takeover")
        identifies = len(fake.identifies)
        assert identifies == shards, "the takeover resumed, it did not identify"
        for sid in lost:
            resumed = [
                at for at, session, _ in fake.resumes
                if session == fake.session_for(sid).session_id and at > killed_at  # type: ignore[union-attr]
            ]  # fmt: skip
            assert resumed and resumed[0] - killed_at <= 2 * lease, (sid, resumed)
        for sid in range(shards):
            want = logged(fake, sid)
            wait_for(lambda sid=sid, want=want: set(delivered(workers, sid)) >= set(want), 10,
                     f"every event of shard {sid}")  # fmt: skip
            counts = delivered(workers, sid)
            assert set(counts) == set(want), f"shard {sid}: an event was lost"
            twice = [seq for seq, c in counts.items() if c > 1]
            if sid not in lost:
                assert not twice, f"shard {sid} never moved, yet repeated {twice}"
            else:  # at most what came after the victim's last save (none here: it was idle)
                assert not twice, f"shard {sid}: replayed {twice} after the takeover"
        assert_one_holder_at_a_time(fake)
    finally:
        stop_all(workers)


class Stream:
    """Dispatches to every shard on the fake's loop, one round every ``gap`` s, until stopped."""

    def __init__(self, fake: FakeGateway, shards: int, gap: float = 0.005) -> None:
        async def flow() -> None:
            for n in itertools.count():
                for sid in range(shards):
                    await fake.dispatch(sid, "MESSAGE_CREATE", {"n": n})
                await asyncio.sleep(gap)

        self.fake = fake
        self.task = send(fake, _start(flow()))

    def stop(self) -> None:
        async def cancel() -> None:
            self.task.cancel()

        send(self.fake, cancel())


async def _start(coro: Any) -> asyncio.Task[None]:
    return asyncio.ensure_future(coro)


def recorded(client: Any, prefix: str, sid: int) -> tuple[str, int] | None:
    """The (session, seq) the lease store says the shard's listeners have finished with."""
    if isinstance(client, Path):
        path = client / f"shard-{sid}.delivered"
        raw = path.read_bytes() if path.exists() else None
    else:
        raw = client.get(f"{prefix}:delivered:{sid}")
    if raw is None:
        return None
    session, _, seq = raw.decode().rpartition("|")
    return session, int(seq)


@pytest.mark.parametrize("use_redis", [True, False])
def test_kill_9_of_a_busy_holder_loses_and_repeats_nothing_recorded(
    fake: FakeGateway,
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
    use_redis: bool,
) -> None:
    """Events flow to every shard when the holder is killed: the new holder resumes after the
    last event the dead one's listeners had finished with (its record in Redis). Nothing is
    lost; an event is delivered twice only if its listeners returned after the last record
    was written (the write-behind window, one Redis round trip: often none)."""
    import redis

    from asgi_interactions.gateway.leases import namespace

    shards, lease = 4, 2.0
    url = redis_server.url if use_redis else None
    workers = start_fleet(fake, 2, shards, url, tmp_path, lease)
    name = namespace("token", fake.url, shards)
    prefix = f"asgi_interactions:gateway:{name}"
    client: Any = redis.Redis.from_url(redis_server.url)
    store = client if use_redis else tmp_path / "locks" / "asgi-interactions-gateway" / name
    repeated: dict[int, list[int]] = {}
    try:
        wait_for(lambda: balanced(workers, shards), 40, "an even spread")
        victim, survivor = workers
        lost = victim.running()
        stream = Stream(fake, shards)
        try:
            wait_for(lambda: len(victim.events()) > 200, 20, "a busy victim")
            victim.kill()
            marks = {sid: recorded(store, prefix, sid) for sid in lost}
            wait_for(lambda: survivor.running() == set(range(shards)), 20, "the takeover")
            time.sleep(0.5)  # events still flow to the new holder
        finally:
            stream.stop()
        assert len(fake.identifies) == shards, "the takeover resumed, it did not identify"
        for sid in range(shards):
            want = logged(fake, sid)
            wait_for(lambda sid=sid, want=want: set(delivered(workers, sid)) >= set(want), 20,
                     f"every event of shard {sid}")  # fmt: skip
            counts = delivered(workers, sid)
            assert sorted(counts) == want, f"shard {sid}: lost or unknown events"
            twice = sorted(seq for seq, c in counts.items() if c > 1)
            assert all(counts[seq] == 2 for seq in twice), f"shard {sid}: {counts}"
            if sid not in lost:
                assert not twice, f"shard {sid} never moved, yet repeated {twice}"
                continue
            mark = marks[sid]
            assert mark is not None and mark[0] == fake.session_for(sid).session_id  # type: ignore[union-attr]
            # exactly once up to the dead holder's record; repeated: only events after it,
            # which its listeners had finished with (so it wrote them) but not yet recorded
            assert all(seq > mark[1] for seq in twice), (sid, mark, twice)
            victim_seqs = {seq for s, seq, _ in victim.events() if s == sid}
            assert set(twice) <= victim_seqs
            repeated[sid] = twice
        assert_one_holder_at_a_time(fake)
    finally:
        stop_all(workers)
        client.close()
    print("repeated after the kill (write-behind window):", repeated)


@pytest.mark.parametrize("use_redis", [True, False])
def test_rolling_restart_costs_no_identify(
    fake: FakeGateway,
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
    use_redis: bool,
) -> None:
    """Every process restarted in turn, twice: every session resumed, every event once. Without
    Redis (one host, file locks) the sessions are kept in files beside the locks."""
    shards = 4
    url = redis_server.url if use_redis else None
    workers = start_fleet(fake, 2, shards, url, tmp_path, LEASE)
    done: list[Worker] = []
    try:
        wait_for(lambda: balanced(workers, shards), 40, "an even spread")
        assert len(fake.identifies) == shards
        for generation in range(2):
            for i in range(len(workers)):
                for sid in range(shards):
                    send(fake, fake.dispatch(sid, "MESSAGE_CREATE", {"n": generation}))
                old = workers[i]
                assert old.stop() == 0
                done.append(old)
                workers[i] = Worker(
                    fake, shards, url, LEASE, tmp_path / f"g{generation}-{i}.log",
                    tmp_path / "locks",
                )  # fmt: skip
                wait_for(lambda: balanced(workers, shards), 30, "the restarted fleet's spread")
        assert len(fake.identifies) == shards, "a rolling restart resumed every session"
        assert len(fake.resumes) >= shards
        assert_one_holder_at_a_time(fake)
        everyone = workers + done
        for sid in range(shards):
            want = logged(fake, sid)
            wait_for(lambda sid=sid, want=want: set(delivered(everyone, sid)) >= set(want), 10,
                     f"every event of shard {sid}")  # fmt: skip
            counts = delivered(everyone, sid)
            assert sorted(counts) == want, f"shard {sid}: lost events"
            assert all(c == 1 for c in counts.values()), f"shard {sid}: repeated {counts}"
    finally:
        stop_all(workers)


def test_redis_outage_leaves_running_shards_alone(
    fake: FakeGateway,
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    shards = 4
    workers = start_fleet(fake, 2, shards, redis_server.url, tmp_path, LEASE)
    try:
        wait_for(lambda: balanced(workers, shards), 40, "an even spread")
        before = {sid: fake.live(sid) for sid in range(shards)}
        spread = [w.running() for w in workers]
        redis_server.stop()
        time.sleep(3 * LEASE)  # far past every lease: the shards run on regardless
        assert {sid: fake.live(sid) for sid in range(shards)} == before
        assert [w.running() for w in workers] == spread
        logged_once = capfd.readouterr().err.count("gateway lease store unreachable")
        assert logged_once == len(workers), "each process logs the outage once"
        # a session ends while Redis is away: its new IDENTIFY waits (fail closed)
        send(fake, fake.invalidate(0, False))
        time.sleep(2 * LEASE)
        assert len(fake.identifies) == shards, "no IDENTIFY without the fleet's queue"
        assert "identify queue unreachable" in capfd.readouterr().err
        redis_server.start()  # empty: every lease, member and saved session is gone
        wait_for(lambda: len(fake.identifies) == shards + 1, 20, "the held-back IDENTIFY")
        before[0] = fake.live(0)
        time.sleep(2 * LEASE)
        wait_for(lambda: balanced(workers, shards), 20, "the fleet to converge")
        assert {sid: fake.live(sid) for sid in range(shards)} == before, "no shard moved"
        assert len(fake.identifies) == shards + 1, "no other session after the outage"
        for sid in range(shards):  # and the saved sessions are back for the next handover
            send(fake, fake.dispatch(sid, "MESSAGE_CREATE", {"n": sid}))
        assert workers[0].stop() == 0
        wait_for(lambda: workers[1].running() == set(range(shards)), 20, "the handover")
        assert len(fake.identifies) == shards + 1, "the handover after the outage resumed"
        assert_one_holder_at_a_time(fake)
    finally:
        stop_all(workers)


SPACING = 0.5  # seconds between IDENTIFYs of one key (Discord: 5)
FAKE_SPACING = SPACING - 0.1  # what the fake enforces on arrival, with room for jitter


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_identifies_are_spaced_per_key_across_processes(
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
    concurrency: int,
) -> None:
    shards, processes = 6, 3
    with serve_fake_gateway(
        heartbeat_interval=500, max_concurrency=concurrency, identify_interval=FAKE_SPACING
    ) as fake:
        async with serve_fake_discord(
            gateway_url=fake.url, shards=shards, max_concurrency=concurrency
        ) as discord:
            env = {"FLEET_REST_URL": discord.base_url, "FLEET_IDENTIFY_INTERVAL": str(SPACING)}
            await run_until_balanced(fake, shards, processes, redis_server.url, tmp_path, env)
            # one IDENTIFY per shard (no op 9 for a too-early one), spaced per key
            assert sorted(sid for _, sid, _ in fake.identifies) == list(range(shards))
            for key in range(concurrency):
                times = [t for t, sid, _ in fake.identifies if sid % concurrency == key]
                gaps = [b - a for a, b in itertools.pairwise(times)]
                assert all(g >= FAKE_SPACING for g in gaps), gaps
            if concurrency > 1:  # the keys went side by side, not one after the other
                first = [min(t for t, s, _ in fake.identifies if s % concurrency == k)
                         for k in range(concurrency)]  # fmt: skip
                assert max(first) - min(first) < FAKE_SPACING * (shards // concurrency)


async def test_a_slow_ready_holds_the_key_until_it_comes(
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The identify lock is held until READY: with READY 1 s after each IDENTIFY and a 0.3 s
    spacing, each key's next IDENTIFY (from any process) waits for the previous READY."""
    shards, processes, concurrency, delay = 4, 2, 2, 1.0
    with serve_fake_gateway(
        heartbeat_interval=500, max_concurrency=concurrency, ready_delay=delay
    ) as fake:
        async with serve_fake_discord(
            gateway_url=fake.url, shards=shards, max_concurrency=concurrency
        ) as discord:
            env = {"FLEET_REST_URL": discord.base_url, "FLEET_IDENTIFY_INTERVAL": "0.3"}
            await run_until_balanced(fake, shards, processes, redis_server.url, tmp_path, env)
        assert sorted(sid for _, sid, _ in fake.identifies) == list(range(shards))
        ready_at = {
            conn.shard_id: at
            for conn in fake.connections
            for at, payload in conn.sent
            if payload.get("t") == "READY"
        }
        for key in range(concurrency):
            order = sorted((t, sid) for t, sid, _ in fake.identifies if sid % concurrency == key)
            for (_, before), (at, _) in itertools.pairwise(order):
                assert at >= ready_at[before], (key, order, ready_at)


async def test_session_budget_at_the_floor_stops_identifies(
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    shards, floor = 4, 3
    with serve_fake_gateway(heartbeat_interval=500) as fake:
        async with serve_fake_discord(gateway_url=fake.url, shards=shards) as discord:
            discord.gateway_bot["session_start_limit"].update(remaining=5, reset_after=600_000)
            env = {"FLEET_REST_URL": discord.base_url, "FLEET_FLOOR": str(floor)}
            workers = [
                Worker(fake, shards, redis_server.url, LEASE, tmp_path / f"w{i}.log", env=env)
                for i in range(2)
            ]
            try:
                codes = await asyncio.to_thread(lambda: [w.process.wait(60) for w in workers])
            finally:
                await asyncio.to_thread(stop_all, workers)
            assert codes == [3, 3], "each process stops with the budget error"
            assert len(fake.identifies) == 5 - floor, "the fleet identified down to the floor"
            for w in workers:
                errors = [line for line in w.lines() if line.startswith("ERROR")]
                assert errors and "daily session budget is at its floor (3)" in errors[0]


def test_a_paused_holder_lets_go_when_it_wakes(
    fake: FakeGateway,
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """SIGSTOP past the lease: the shards are resumed elsewhere; on SIGCONT the old holder closes
    its stale connections at once, sends no IDENTIFY or RESUME on them, and its session writes
    are refused (the fencing token), before the fleet spreads the shards again."""
    import redis

    from asgi_interactions.gateway.leases import namespace

    shards = 4
    workers = start_fleet(fake, 2, shards, redis_server.url, tmp_path, LEASE)
    try:
        wait_for(lambda: balanced(workers, shards), 40, "an even spread")
        victim, survivor = workers
        moved = victim.running()
        stale = {sid: fake.live(sid) for sid in moved}
        prefix = f"asgi_interactions:gateway:{namespace('token', fake.url, shards)}"
        client = redis.Redis.from_url(redis_server.url)
        before = {sid: client.get(f"{prefix}:lease:{sid}").decode().split("|") for sid in moved}
        victim.process.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: survivor.running() == set(range(shards)), 20, "the takeover")
        finally:
            victim.process.send_signal(signal.SIGCONT)
        woke = time.monotonic()
        for sid, conn in stale.items():
            assert conn is not None
            wait_for(lambda conn=conn: conn.closed_at is not None, 10, f"shard {sid} let go")
            assert conn.closed_at is not None and conn.closed_at - woke < 3.0
            assert [p["op"] for at, p in conn.received if at >= woke and p["op"] in (2, 6)] == []
        try:
            for sid in moved:  # the lease moved on, with a greater fencing token
                _, token = client.get(f"{prefix}:lease:{sid}").decode().split("|")
                assert int(token) > int(before[sid][1])
        finally:
            client.close()
        wait_for(lambda: balanced(workers, shards), 30, "the spread again")
        assert len(fake.identifies) == shards, "every move was a RESUME"
    finally:
        stop_all(workers)
