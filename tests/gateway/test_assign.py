"""The shard assignment every process computes on its own: even, complete, and stable."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from asgi_interactions.gateway.leases import assign

members_st = st.lists(
    st.text("abcdef", min_size=1, max_size=3), min_size=1, max_size=8, unique=True
)


@given(members_st, st.integers(1, 64), st.data())
def test_every_shard_once_and_evenly(members: list[str], count: int, data: st.DataObject) -> None:
    holders = data.draw(
        st.dictionaries(st.integers(0, count - 1), st.sampled_from([*members, "gone"]))
    )
    shares = {m: assign(members, count, m, holders) for m in members}
    everything = [sid for share in shares.values() for sid in share]
    assert sorted(everything) == list(range(count)), "each shard goes to exactly one member"
    sizes = [len(s) for s in shares.values()]
    assert max(sizes) - min(sizes) <= 1
    assert assign(members, count, "not-a-member", holders) == set()


@given(members_st, st.integers(1, 64))
def test_a_settled_fleet_moves_nothing(members: list[str], count: int) -> None:
    first = {m: assign(members, count, m) for m in members}
    holders = {sid: m for m, share in first.items() for sid in share}
    assert {m: assign(members, count, m, holders) for m in members} == first


@given(members_st, st.integers(1, 64))
def test_a_leaving_member_moves_only_its_own_shards(members: list[str], count: int) -> None:
    first = {m: assign(members, count, m) for m in members}
    holders = {sid: m for m, share in first.items() for sid in share}
    gone, rest = members[0], members[1:]
    if not rest:
        return
    after = {m: assign(rest, count, m, holders) for m in rest}
    for m in rest:  # nobody loses a shard; they only gain the leaver's
        assert first[m] <= after[m], (m, first[m], after[m])
        assert after[m] - first[m] <= first[gone]
