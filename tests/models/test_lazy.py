"""Lazily validated interactions (`parse_lazily`, the endpoint's parser) against full validation."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from asgi_interactions.models import (
    CommandInteraction,
    ComponentInteraction,
    Interaction,
    Member,
)
from asgi_interactions.models.lazy import DEFERRED_FIELDS, parse_lazily, parse_request
from asgi_interactions.testing import interaction_payload
from tests.models import payloads as p

# The shared corpus of real interaction bodies (`../shared/corpus/interactions` of the checkout),
# when this checkout has one nearby; the sample payloads of tests/models/payloads.py always run.
_CORPORA = [d / "shared" / "corpus" / "interactions" for d in Path(__file__).resolve().parents]
CORPUS_FILES = next((sorted(d.glob("*.json")) for d in _CORPORA if d.is_dir()), [])
BODIES = {name: json.dumps(payload).encode() for name, payload in p.ALL.items()} | {
    f.name: f.read_bytes() for f in CORPUS_FILES
}


def _full_or_none(body: bytes) -> Interaction | None:
    try:
        return Interaction.model_validate_json(body)
    except ValidationError:
        return None


@pytest.mark.parametrize("name", sorted(BODIES))
def test_lazy_equals_full_validation_in_every_view(name: str) -> None:
    body = BODIES[name]
    full = _full_or_none(body)
    if full is None:  # a body the models refuse is refused lazily too, at the latest on use
        with pytest.raises(ValidationError):
            lazy = parse_lazily(body)
            for field in DEFERRED_FIELDS:
                getattr(lazy, field)
        return
    views = [
        lambda i: type(i),
        lambda i: (i.type, i.id, i.token, i.data, i.message, i.application_id, i.guild_id),
        lambda i: [getattr(i, f) for f in DEFERRED_FIELDS],
        lambda i: (i.invoker, i.user_id),
        lambda i: i.model_dump(),
        lambda i: i.model_dump_json(),
        lambda i: i.model_extra,
        lambda i: i.model_fields_set,
        repr,
        lambda i: pickle.loads(pickle.dumps(i)),
        copy.deepcopy,
        copy.copy,
        lambda i: i.model_copy(),
        lambda i: dict(i),
    ]
    for view in views:
        assert view(parse_lazily(body)) == view(full), name
    assert parse_lazily(body) == full
    assert full == parse_lazily(body)


def test_deferred_fields_wait_until_used() -> None:
    body = json.dumps(p.ALL[next(iter(p.ALL))] | {"type": 2, "member": {"roles": "nope"}}).encode()
    full = Interaction.model_validate_json(body)  # an unreadable member is left out, not refused
    assert full.member is None
    lazy = parse_lazily(body)
    assert isinstance(lazy, CommandInteraction)
    assert "member" not in lazy.__dict__  # not validated yet
    assert lazy.member is None
    assert lazy == full


def test_eager_fields_are_checked_at_once() -> None:
    payload = interaction_payload(3, data={"custom_id": "a", "component_type": 2})
    lazy = parse_lazily(json.dumps(payload).encode())
    assert isinstance(lazy, ComponentInteraction)
    with pytest.raises(ValidationError):
        parse_lazily(json.dumps({**payload, "id": "not a snowflake"}).encode())
    unreadable = parse_lazily(json.dumps({**payload, "message": {"id": "nope"}}).encode())
    assert unreadable.message is None  # left out at once, as a full parse does
    # A `type` that is not a JSON integer never takes the fast path: the full validation decides.
    for bad_type in (b"true", b"1.0", b'"1"', b"null"):
        body = b'{"type": ' + bad_type + b"}"
        full = _full_or_none(body)
        if full is None:
            with pytest.raises(ValidationError):
                parse_lazily(body)
        else:
            lazy = parse_lazily(body)
            assert lazy == full and type(lazy) is type(full)
            assert lazy.__pydantic_private__ is None  # fully validated


def test_an_assignment_before_first_use_is_kept() -> None:
    payload = interaction_payload(2, data={"name": "x"})
    lazy = parse_lazily(json.dumps(payload).encode())
    replacement = Member(nick="set by hand")
    lazy.member = replacement
    assert lazy.member is replacement
    assert lazy.user is None or lazy.user.id  # the other deferred fields still complete
    assert lazy.model_dump()["member"]["nick"] == "set by hand"


@settings(deadline=None)  # the first example builds the validators; the machine may be busy
@given(
    itype=st.integers(min_value=-3, max_value=12),
    extra=st.dictionaries(
        st.sampled_from(["member", "user", "guild", "channel", "message", "data", "brand_new"]),
        st.none() | st.integers() | st.text(max_size=5) | st.just({}) | st.just({"id": "1"}),
        max_size=4,
    ),
)
def test_arbitrary_shapes_agree_with_full_validation(itype: int, extra: dict[str, object]) -> None:
    body = json.dumps({"type": itype, "id": "5", **extra}).encode()
    full = _full_or_none(body)
    try:
        lazy = parse_lazily(body)
        lazy.model_dump()  # completes the deferred fields
    except ValidationError:
        assert full is None
        return
    assert full is not None
    assert lazy == full and type(lazy) is type(full)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_endpoint_parser_agrees_with_parse_lazily(name: str) -> None:
    """`parse_request` is `parse_lazily` but for PINGs (None): same instance, same refusals."""
    body = BODIES[name]
    full = _full_or_none(body)
    try:
        lazy = parse_lazily(body)
        lazy.model_dump()
    except ValidationError:
        assert full is None
        with pytest.raises(ValidationError):
            got = parse_request(body)
            if got is not None:
                got.model_dump()
        return
    got = parse_request(body)
    if lazy.type == 1 and type(lazy.type) is int:
        assert got is None
    else:
        assert got is not None
        assert type(got) is type(lazy) and got == lazy


def test_a_ping_is_told_by_a_strict_integer_type_alone() -> None:
    """A PING is answered with constant bytes: only its `type` is read, and strictly."""
    assert parse_request(b'{"type": 1}') is None
    assert parse_request(b'{"type": 1, "id": "not a snowflake", "user": []}') is None
    for bad_type in (b"true", b"1.0", b'"1"', b"null", b"[1]"):
        with pytest.raises(ValidationError):
            parse_request(b'{"type": ' + bad_type + b"}")
    with pytest.raises(ValidationError):
        parse_request(b'{"type": 1')  # not JSON
    assert isinstance(parse_request(b'{"type": 2, "data": {"name": "x"}}'), CommandInteraction)
    # An unknown type takes the full validation, as in parse_lazily.
    unknown = parse_request(b'{"type": 99}')
    assert type(unknown) is Interaction and unknown.type == 99
