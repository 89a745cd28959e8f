"""The local replay store: expiry at signed timestamp + tolerance, bounds, the turnover warning."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_interactions.errors import ConfigurationError
from asgi_interactions.testing import KeyPair
from asgi_interactions.verify import ReplayCache, SignatureVerifier, VerificationError

KEYS = KeyPair.generate()
T0 = 1_700_000_000.0


class Clock:
    """An injectable wall clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signed(stamp: float, body: bytes = b'{"type":2}') -> tuple[bytes, bytes, bytes]:
    ts = str(int(stamp))
    return KEYS.sign(ts, body).encode(), ts.encode(), body


def test_a_signer_clock_290_s_ahead_is_still_refused_301_s_after_arrival() -> None:
    clock = Clock(T0)
    verifier = SignatureVerifier(
        KEYS.public_key, replay_cache=ReplayCache(100, ttl=300.0), clock=clock
    )
    request = signed(T0 + 290)
    verifier.verify(*request)  # arrives at T0, signed 290 s "in the future": fresh
    clock.now = T0 + 301  # arrival + ttl has passed; the request is still fresh (11 s old)
    with pytest.raises(VerificationError, match="already received"):
        verifier.verify(*request)
    clock.now = T0 + 590  # the last instant it is fresh
    with pytest.raises(VerificationError, match="already received"):
        verifier.verify(*request)
    clock.now = T0 + 591  # stale now: refused by the freshness check, and forgotten
    with pytest.raises(VerificationError, match="outside the allowed window"):
        verifier.verify(*request)


def test_a_replay_is_refused_for_the_whole_window_at_a_steady_rate() -> None:
    """Default size, 300 requests/s: a captured request is refused until it goes stale."""
    cache = ReplayCache()
    captured = b"captured"
    assert not cache.seen(captured, T0, T0)
    for i in range(300 * 300):  # 300 s of traffic at 300/s, all distinct
        now = T0 + i / 300
        assert not cache.seen(i.to_bytes(8, "big"), float(int(now)), now)
    assert cache.seen(captured, T0, T0 + 300)
    assert not cache.warned


def test_expired_groups_are_dropped_so_memory_follows_the_rate() -> None:
    cache = ReplayCache(10_000, ttl=300.0)
    for i in range(1000):
        cache.seen(i.to_bytes(4, "big"), T0 + i // 100, T0 + i / 100)
    assert len(cache) == 1000
    cache.seen(b"later", T0 + 1000, T0 + 1000)  # every earlier group is past its window
    assert len(cache) == 1


def test_the_turnover_warning_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    cache = ReplayCache(50, ttl=300.0)
    with caplog.at_level(logging.WARNING, logger="asgi_interactions.security"):
        for i in range(1000):  # 10/s: 50 entries hold only 5 s of the 300 s window
            now = T0 + i / 10
            cache.seen(i.to_bytes(4, "big"), float(int(now)), now)
    records = [r for r in caplog.records if r.name == "asgi_interactions.security"]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert "replays older than 5 s are no longer refused" in message
    assert "raise replay_cache_size or configure Redis" in message
    assert records[0].levelno == logging.WARNING


def test_no_warning_when_entries_expire_before_they_are_pushed_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ReplayCache(50, ttl=10.0)
    with caplog.at_level(logging.WARNING, logger="asgi_interactions.security"):
        for i in range(2000):  # 1/s with a 10 s window: at most ~11 live entries
            cache.seen(i.to_bytes(4, "big"), T0 + i, T0 + i)
    assert not [r for r in caplog.records if r.name == "asgi_interactions.security"]


def test_without_a_tolerance_entries_live_until_pushed_out() -> None:
    clock = Clock(T0)
    verifier = SignatureVerifier(
        KEYS.public_key,
        timestamp_tolerance=None,
        replay_cache=ReplayCache(10, ttl=None),
        clock=clock,
    )
    for stamp in (b"0", b"not a number", b"nan", b"1e999"):
        body = b'{"type":2,"id":"' + stamp + b'"}'
        request = (KEYS.sign(stamp.decode(), body).encode(), stamp, body)
        verifier.verify(*request)
        clock.now += 10**9
        with pytest.raises(VerificationError, match="already received"):
            verifier.verify(*request)


def test_a_non_positive_size_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="replay_cache_size"):
        ReplayCache(0)


# --------------------------------------------------------------------------- model


class Model:
    """The rules, written plainly: live = recorded and ``now <= stamp + ttl``; when full, the
    entry whose group expires first goes (the latest added of that group)."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self.entries: list[tuple[bytes, float]] = []  # in the order they were added

    def seen(self, key: bytes, stamp: float, now: float) -> bool:
        self.entries = [(k, s) for k, s in self.entries if now <= s + self.ttl]
        if (key, stamp) in self.entries:
            return True
        if len(self.entries) >= self.maxsize:
            oldest = min(s for _, s in self.entries)
            last = max(i for i, (_, s) in enumerate(self.entries) if s == oldest)
            del self.entries[last]
        self.entries.append((key, stamp))
        return False


@settings(max_examples=300, deadline=None)
@given(
    maxsize=st.integers(1, 8),
    ttl=st.sampled_from([1.0, 2.5, 5.0, 30.0]),
    steps=st.lists(
        st.tuples(
            st.integers(0, 12),  # which request (its stamp is fixed by it, as a signature's is)
            # clock steps in half seconds (so the exact last instant comes up), some backwards
            st.integers(-6, 16).map(lambda half_seconds: half_seconds / 2),
        ),
        max_size=80,
    ),
)
def test_the_store_follows_the_model(
    maxsize: int, ttl: float, steps: list[tuple[int, float]]
) -> None:
    cache = ReplayCache(maxsize, ttl=ttl)
    model = Model(maxsize, ttl)
    now = T0
    for request, step in steps:
        now += step
        key = request.to_bytes(2, "big")
        stamp = T0 + (request % 6) * 1.5 - 3.0  # a few shared timestamps, some "ahead"
        assert cache.seen(key, stamp, now) == model.seen(key, stamp, now), (request, now)
        assert len(cache) == len(model.entries)
