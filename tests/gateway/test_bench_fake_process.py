"""bench/gateway.py --fake-process: the fake gateway in its own OS process, end to end."""

from __future__ import annotations

import pytest

from bench.gateway import FakeProcess, Ours, recorded_stream, throughput


@pytest.mark.parametrize("compress", ["zlib-stream", "zstd-stream"])
async def test_the_stream_from_a_fake_process_is_delivered_once(compress: str) -> None:
    stream = recorded_stream(300)
    sends = len(FakeProcess.send_rates)
    # throughput asserts the child sent the whole stream and the listener saw each dispatch once
    rate = await throughput(Ours, compress, stream, fake_process=True)
    assert rate > 0
    assert len(FakeProcess.send_rates) == sends + 1


async def test_go_without_a_client_is_a_clear_error_and_the_child_ends() -> None:
    fake = await FakeProcess.start(10)
    try:
        with pytest.raises(RuntimeError, match="no live connection"):
            await fake.go()
    finally:
        await fake.close()
    assert fake.proc.returncode is not None
