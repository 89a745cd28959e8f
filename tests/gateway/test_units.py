"""The gateway's pure parts: transport decoders (any split), send limiter, IDENTIFY queue."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_interactions import Intents
from asgi_interactions.gateway.ratelimit import IdentifyQueue, SendLimiter
from asgi_interactions.gateway.transport import encode, make_decoder
from tests.fakes.discord_gateway import zstd  # compression.zstd or backports.zstd

payloads = st.lists(
    st.fixed_dictionaries(
        {"op": st.just(0), "s": st.integers(1, 10**6), "t": st.sampled_from(["A", "B"]),
         "d": st.dictionaries(st.text(max_size=5), st.text(max_size=200), max_size=5)}
    ),
    min_size=1,
    max_size=20,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(payloads, st.integers(1, 64))
def test_zlib_stream_decodes_any_split(items: list[dict[str, object]], step: int) -> None:
    """One inflate context per connection; a payload may span several websocket messages."""
    compressor = zlib.compressobj()
    decoder = make_decoder("zlib-stream")
    got = []
    for item in items:
        data = compressor.compress(json.dumps(item).encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
        for i in range(0, len(data), step):
            result = decoder.feed(data[i : i + step])
            if result is not None:
                got.append(result)
    assert got == items


@settings(max_examples=30, deadline=None)
@given(payloads)
def test_zstd_stream_decodes_one_payload_per_message(items: list[dict[str, object]]) -> None:
    compressor = zstd.ZstdCompressor()
    decoder = make_decoder("zstd-stream")
    got = [
        decoder.feed(compressor.compress(json.dumps(i).encode(), zstd.ZstdCompressor.FLUSH_BLOCK))
        for i in items
    ]
    assert got == items


def test_bad_payloads_raise_value_errors() -> None:
    with pytest.raises(ValueError):
        make_decoder(None).feed("[1, 2]")
    with pytest.raises(ValueError):
        make_decoder(None).feed("{not json")
    with pytest.raises(ValueError, match="zlib"):  # zlib.error becomes a ValueError
        make_decoder("zlib-stream").feed(b"garbage\x00\x00\xff\xff")
    with pytest.raises(ValueError, match="zstd"):
        make_decoder("zstd-stream").feed(b"garbage")
    with pytest.raises(ValueError, match="4096"):
        encode({"op": 3, "d": "x" * 5000})


async def test_send_limiter_keeps_slots_for_heartbeats() -> None:
    limiter = SendLimiter(limit=10, window=0.5)
    limiter.reserve_for(0.25)
    assert limiter.reserved == 5  # capped at half the limit
    for _ in range(5):
        await asyncio.wait_for(limiter.acquire(), 1)
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.05)
    assert not waiter.done(), "the reserve is not for presence updates"
    for _ in range(5):
        limiter.take_heartbeat()  # never waits
    began = time.monotonic()
    await asyncio.wait_for(waiter, 5)
    assert time.monotonic() - began >= 0.3


async def test_identify_queue_spaces_each_key_and_serves_in_order() -> None:
    queue = IdentifyQueue(max_concurrency=2, interval=0.2)
    sent: list[tuple[int, float]] = []

    async def identify(shard_id: int) -> None:
        await queue.acquire(shard_id)
        sent.append((shard_id, time.monotonic()))
        queue.release(shard_id, sent=True)

    await asyncio.wait_for(asyncio.gather(*(identify(i) for i in range(6))), 10)
    order = [sid for sid, _ in sent]
    # buckets in order (shards 0-1, then 2-3, then 4-5); within a bucket the two keys' timers
    # may fire either way round on a loaded machine
    assert [sid // 2 for sid in order] == [0, 0, 1, 1, 2, 2], order
    for key in (0, 1):
        assert [sid for sid in order if sid % 2 == key] == [key, key + 2, key + 4]  # FIFO per key
    for key in (0, 1):
        times = [t for sid, t in sent if sid % 2 == key]
        assert all(b - a >= 0.2 for a, b in itertools.pairwise(times))
    # a slot released without an IDENTIFY sent does not use the key's window
    await queue.acquire(9)
    queue.release(9, sent=False)


def test_intents() -> None:
    assert int(Intents.GUILDS | Intents.GUILD_MESSAGES) == (1 << 0) | (1 << 9)
    assert Intents.MESSAGE_CONTENT not in Intents.default()
    assert Intents.MESSAGE_CONTENT in Intents.all()
