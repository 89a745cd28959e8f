"""The run-once startup sync: a file lock on one host, a Redis lock across hosts."""

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from asgi_interactions.commands.sync import lock_key, sync_at_startup
from tests.fakes.discord_rest import serve_fake_discord

from .helpers import fake_discord

APP_ID = 1000
ROOT = Path(__file__).resolve().parents[2]


def payload(description: str = "Ping") -> dict[int | None, list[dict[str, Any]]]:
    return {None: [{"type": 1, "name": "ping", "description": description}]}


def puts(fake: Any) -> int:
    return sum(1 for r in fake.requests if r.method == "PUT")


def gets(fake: Any) -> int:
    return sum(1 for r in fake.requests if r.method == "GET")


async def test_two_concurrent_callers_sync_once(tmp_path: Path) -> None:
    async with fake_discord(latency=0.05) as (fake, rest):
        results = await asyncio.gather(
            *(sync_at_startup(rest, APP_ID, payload(), lock_dir=tmp_path) for _ in range(4))
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert winners[0].scope(None).created == ["/ping"]
        assert (gets(fake), puts(fake)) == (1, 1)

        # A worker starting later in the same deployment skips too.
        assert await sync_at_startup(rest, APP_ID, payload(), lock_dir=tmp_path) is None
        assert gets(fake) == 1

        # New commands (a new deployment) sync again.
        report = await sync_at_startup(rest, APP_ID, payload("Pong"), lock_dir=tmp_path)
        assert report is not None and report.scope(None).updated == ["/ping"]


async def test_finished_run_expires_after_ttl(tmp_path: Path) -> None:
    async with fake_discord() as (fake, rest):
        first = await sync_at_startup(rest, APP_ID, payload(), lock_dir=tmp_path, ttl=0.0)
        again = await sync_at_startup(rest, APP_ID, payload(), lock_dir=tmp_path, ttl=0.0)
        assert first is not None and again is not None
        assert not again.changed
        assert puts(fake) == 1


class FailingRest:
    async def get_global_commands(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("discord is down")

    get_guild_commands = get_global_commands


async def test_a_failed_sync_frees_the_lock(tmp_path: Path) -> None:
    with pytest.raises(ConnectionError):
        await sync_at_startup(FailingRest(), APP_ID, payload(), lock_dir=tmp_path)
    async with fake_discord() as (fake, rest):
        report = await sync_at_startup(rest, APP_ID, payload(), lock_dir=tmp_path)
        assert report is not None and puts(fake) == 1


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from asgi_interactions.commands.sync import sync_at_startup
    from asgi_interactions.rest import RestClient

    async def main():
        base_url, lock_dir = sys.argv[1], sys.argv[2]
        async with RestClient("token", base_url=base_url) as rest:
            report = await sync_at_startup(
                rest, 1000, {None: [{"type": 1, "name": "ping", "description": "Ping"}]},
                lock_dir=lock_dir,
            )
        print("synced" if report is not None else "skipped")

    asyncio.run(main())
    """
)


async def test_worker_processes_on_one_host_sync_once(tmp_path: Path) -> None:
    async with serve_fake_discord(latency=0.2) as fake:
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WORKER,
                fake.base_url,
                str(tmp_path),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=ROOT,
            )
            for _ in range(3)
        ]
        outputs = []
        for proc in procs:
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            outputs.append(out.decode().strip())
        assert sorted(outputs) == ["skipped", "skipped", "synced"]
        assert puts(fake) == 1


async def test_redis_lock_across_hosts(redis_url: str, tmp_path: Path) -> None:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        await client.flushdb()
        async with fake_discord(latency=0.05) as (fake, rest):
            # Different lock dirs stand for different hosts: only Redis can coordinate them.
            results = await asyncio.gather(
                *(
                    sync_at_startup(
                        rest, APP_ID, payload(), redis_url=redis_url, lock_dir=tmp_path / str(i)
                    )
                    for i in range(4)
                )
            )
            assert sum(r is not None for r in results) == 1
            assert puts(fake) == 1
            key = lock_key(APP_ID, payload())
            assert await client.get(key) == b"done"
            assert 0 < await client.ttl(key) <= 3600

            assert await sync_at_startup(rest, APP_ID, payload(), redis_url=redis_url) is None
        with pytest.raises(ConnectionError):
            await sync_at_startup(FailingRest(), APP_ID, payload("Other"), redis_url=redis_url)
        assert await client.get(lock_key(APP_ID, payload("Other"))) is None
    finally:
        await client.aclose()


def test_lock_key_depends_on_app_and_commands() -> None:
    assert lock_key(1, payload()) != lock_key(2, payload())
    assert lock_key(1, payload()) != lock_key(1, payload("Other"))
    assert lock_key(1, payload()) == lock_key(1, payload())


async def test_lock_file_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / f"{lock_key(APP_ID, payload())}.lock").symlink_to(target)
    assert await sync_at_startup(FailingRest(), APP_ID, payload(), lock_dir=tmp_path) is None
    assert target.read_text() == "keep me"
