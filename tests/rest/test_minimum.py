"""The omniscient-client minimum (tests/rest/minimum.py) on workloads small enough to do by hand."""

from __future__ import annotations

import pytest

from tests.fakes.discord_rest import REALISTIC_LIMITS
from tests.rest.minimum import minimum_wall_time


def test_one_bucket_one_phase() -> None:
    """2 per 1 s, 5 requests, 10 ms trips: arrivals at 0.01, 0.01, 1.01, 1.01, 2.01; answer
    of the last at 2.02. With 25 ms trips (d_min still 10 ms) each reuse is sent at
    a + 1 - 0.01 and arrives 15 ms past the turn: 0.025, 1.04, 2.055, answer 2.08."""
    phase = [("read", "1")] * 5
    limits = {"read": (2, 1.0)}
    assert minimum_wall_time([phase], limits, None, d_min=0.01, trip=0.01) == pytest.approx(2.02)
    assert minimum_wall_time([phase], limits, None, d_min=0.01, trip=0.025) == pytest.approx(2.08)


def test_the_global_slots_go_to_the_longest_chain_first() -> None:
    """Global 2 per 1 s; bucket A 1 per 1 s with 2 requests, B 5 per 1 s with 2. A1 and B1 at
    0.01, then A2 and B2 when both windows turn at 1.01: done at 1.02 (B first would need A1 at
    1.01 and A2 at 2.01)."""
    phase = [("b", "1"), ("b", "1"), ("a", "1"), ("a", "1")]
    limits = {"a": (1, 1.0), "b": (5, 1.0)}
    assert minimum_wall_time([phase], limits, (2, 1.0), d_min=0.01, trip=0.01) == pytest.approx(
        1.02
    )


def test_a_phase_waits_for_the_last_answer_and_inherits_the_global_window() -> None:
    """Phase 1: 3 requests in buckets of their own, global 3 per 1 s: arrivals at 0.01, answers
    at 0.02. Phase 2: 2 requests; the global window is full until 1.01, so they arrive at 1.01
    and are answered at 1.02. Without the global limit: 0.02 + 0.02 = 0.04."""
    phases = [[("c", "1"), ("c", "2"), ("c", "3")], [("e", "1"), ("e", "2")]]
    limits = {"c": (5, 5.0), "e": (5, 5.0)}
    assert minimum_wall_time(phases, limits, (3, 1.0), d_min=0.01, trip=0.01) == pytest.approx(1.02)
    assert minimum_wall_time(phases, limits, None, d_min=0.01, trip=0.01) == pytest.approx(0.04)


def test_trip_below_d_min_is_refused() -> None:
    with pytest.raises(ValueError):
        minimum_wall_time([[("a", "1")]], {"a": (1, 1.0)}, None, d_min=0.02, trip=0.01)


def test_idling_for_a_longer_chain_is_not_always_better() -> None:
    """Global 2 per 1 s; A 1 per 0.5 s with 2 requests, B 10 per 1 s with 2. Sending A1 and B1
    at once, then A2 and B2 when the global window turns (1.01), ends at 1.02; keeping the
    second global slot for A2 (due at 0.51) pushes B to 1.01 and 1.51 and ends at 1.52."""
    phase = [("a", "1"), ("a", "1"), ("b", "1"), ("b", "1")]
    limits = {"a": (1, 0.5), "b": (10, 1.0)}
    assert minimum_wall_time([phase], limits, (2, 1.0), d_min=0.01, trip=0.01) == pytest.approx(
        1.02
    )


def test_the_bench_workload_meets_its_hand_proved_bound() -> None:
    """bench/rest.py's workload with 10 ms one-way trips. Lower bound: each channel's 11th-15th
    creates reach the server at >= 10.01 (two 5 s turns after 0.01), so phase 2 starts at >=
    10.02 and those 30 creates hold 30 of the 50 global slots until >= 11.01; of the 30 edits
    that open the six edit buckets at most 20 arrive before 11.01, so some channel's edits
    include one at >= 11.01, its reuse 5 s later at >= 16.01 and the answer at >= 16.02. The
    schedule reaches it (keeping global slots for the reaction chains: sending whatever may go
    lets the reads take them and ends at 16.04)."""
    channels = [str(c) for c in range(1001, 1007)]
    phase1 = [("messages.create", c) for c in channels for _ in range(15)]
    phase2 = [
        (g, c)
        for c in channels
        for g, n in (("messages.edit", 10), ("reactions", 12), ("messages.read", 20))
        for _ in range(n)
    ]
    got = minimum_wall_time([phase1, phase2], REALISTIC_LIMITS, (50, 1.0), d_min=0.01, trip=0.01)
    assert got == pytest.approx(16.02)


def test_a_shared_429_costs_its_bucket_a_slot_and_retry_after() -> None:
    """2 per 1 s, 3 requests, 10 ms trips; the 2nd attempt gets a shared 429 (retry_after
    0.5): arrivals 0.01 and 0.01 (the 429, answered at 0.02), then the bucket is closed until
    0.52; the window frees at 1.01 - 0.01 = 1.00: arrivals 1.01, 1.01; answer 1.02. With an
    edge error instead, no slot is used: 0.01, 0.01, then 1.01 for the third, answer 1.02; and
    with the edge error on the last of two requests only its round trip counts: 0.04."""
    phase = [("read", "1")] * 3
    limits = {"read": (2, 1.0)}
    shared = {("read", "1"): ["ok", "shared", "ok", "ok"]}
    got = minimum_wall_time(
        [phase], limits, None, d_min=0.01, trip=0.01, fates=shared, retry_after=0.5
    )
    assert got == pytest.approx(1.02)
    edge = {("read", "1"): ["ok", "edge", "ok", "ok"]}
    got = minimum_wall_time([phase], limits, None, d_min=0.01, trip=0.01, fates=edge)
    assert got == pytest.approx(1.02)
    shared_long = {("read", "1"): ["shared", "ok", "ok", "ok"]}
    got = minimum_wall_time(
        [phase], limits, None, d_min=0.01, trip=0.01, fates=shared_long, retry_after=1.5
    )
    # the 429 arrives at 0.01, answer 0.02: closed until 1.52; two slots free then (the one
    # the 429 used frees at 1.00): arrivals 1.53, 1.53; the third is sent at 1.53 + 1 - 0.01,
    # arrives 2.53, answer 2.54
    assert got == pytest.approx(2.54)
