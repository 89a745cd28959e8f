"""custom_id patterns: parsing, typed parameters, routing order, ambiguity, and the id builder."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_interactions.commands import CommandDefinitionError, custom_id
from asgi_interactions.commands.patterns import PatternRouter, compile_pattern


def test_str_and_int_parameters() -> None:
    pattern = compile_pattern("page:{n:int}:{sort}")
    assert pattern.prefix == "page:"
    assert pattern.match("page:12:name") == {"n": 12, "sort": "name"}
    assert pattern.match("page:-3:x") == {"n": -3, "sort": "x"}
    assert pattern.match("page:abc:name") is None
    assert pattern.match("page:12:") is None
    assert pattern.match("page:12") is None


def test_last_str_parameter_takes_the_rest() -> None:
    assert compile_pattern("vote:{choice}").match("vote:a:b") == {"choice": "a:b"}


def test_str_parameter_stops_at_the_next_literal_character() -> None:
    pattern = compile_pattern("{a}-{b}")
    assert pattern.match("x-y-z") == {"a": "x", "b": "y-z"}


def test_literal_braces() -> None:
    pattern = compile_pattern("set{{x}}:{v}")
    assert pattern.prefix == "set{x}:"
    assert pattern.match("set{x}:1") == {"v": "1"}
    exact = compile_pattern("a{{b}}")
    assert exact.match("a{b}") == {}


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("", "non-empty"),
        ("a:{x", "bad parameter"),
        ("a:}x", "unmatched"),
        ("{x}{y}", "literal text between"),
        ("{x:float}", "unknown type"),
        ("{x}:{x}", "twice"),
        ("{1x}", "bad parameter"),
        ("a" * 101, "100"),
    ],
)
def test_malformed_patterns(source: str, problem: str) -> None:
    compile_pattern.cache_clear()
    with pytest.raises(CommandDefinitionError, match=problem):
        compile_pattern(source)


def test_router_prefers_exact_then_longest_prefix() -> None:
    router: PatternRouter[str] = PatternRouter("component")
    router.add("vote:{choice}", "generic")
    router.add("vote:yes:{when}", "yes-when")
    router.add("vote:special", "exact")
    router.add("{anything}", "catch-all")
    assert router.find("vote:special") == ("exact", {})
    assert router.find("vote:yes:now") == ("yes-when", {"when": "now"})
    assert router.find("vote:no") == ("generic", {"choice": "no"})
    assert router.find("other") == ("catch-all", {"anything": "other"})


def test_router_rejects_ambiguous_patterns_with_the_same_prefix() -> None:
    router: PatternRouter[str] = PatternRouter("component")
    router.add("a:{x}", "x")
    with pytest.raises(CommandDefinitionError, match="ambiguous"):
        router.add("a:{y:int}", "y")
    with pytest.raises(CommandDefinitionError, match="ambiguous"):
        router.add("a:{y}", "y")
    with pytest.raises(CommandDefinitionError, match="two handlers"):
        router.add("exact", "1")
        router.add("exact", "2")


def test_router_accepts_disjoint_patterns_with_the_same_prefix() -> None:
    router: PatternRouter[str] = PatternRouter("component")
    router.add("a:{x}:b", "b")
    router.add("a:{x}:c", "c")
    router.add("n:{x:int}:d", "int")
    router.add("n:{x:int}:e", "int-e")
    assert router.find("a:1:c") == ("c", {"x": "1"})
    assert router.find("a:1:b") == ("b", {"x": "1"})
    assert router.find("n:5:e") == ("int-e", {"x": 5})
    assert router.find("a:1:d") is None


_piece = st.sampled_from(["a", "b", ":", "1", "{p}", "{q:int}"])


def _pattern_from(pieces: list[str]) -> str | None:
    text = "".join(pieces)
    # give each parameter a unique name; drop adjacent parameters (rejected by design)
    counter = iter(range(100))
    text = re.sub(r"\{(p|q)(:int)?\}", lambda m: f"{{v{next(counter)}{m.group(2) or ''}}}", text)
    if re.search(r"\}\{", text) or not text:
        return None
    return text


@given(
    st.lists(_piece, min_size=1, max_size=5),
    st.lists(_piece, min_size=1, max_size=5),
    st.lists(st.sampled_from(["a", "b", ":", "1", "-", "12"]), max_size=8),
)
def test_overlap_check_agrees_with_examples(
    one: list[str], two: list[str], probe: list[str]
) -> None:
    first, second = _pattern_from(one), _pattern_from(two)
    if first is None or second is None:
        return
    a, b = compile_pattern(first), compile_pattern(second)
    value = "".join(probe)
    if a.match(value) is not None and b.match(value) is not None:
        # A concrete id matched both: the overlap check must say so.
        assert a.overlaps(b) and b.overlaps(a)


@given(st.text(alphabet=st.characters(blacklist_characters=":"), min_size=1, max_size=40))
def test_custom_id_round_trips(value: str) -> None:
    built = custom_id("vote:{choice}:{n:int}", choice=value, n=7)
    assert compile_pattern("vote:{choice}:{n:int}").match(built) == {"choice": value, "n": 7}


def test_custom_id_checks() -> None:
    assert custom_id("page:{n:int}", n=2) == "page:2"
    with pytest.raises(ValueError, match="must be an int"):
        custom_id("page:{n:int}", n="2")
    with pytest.raises(ValueError, match="must not contain ':'"):
        custom_id("a:{x}:b", x="1:2")
    with pytest.raises(ValueError, match="missing"):
        custom_id("a:{x}")
    with pytest.raises(ValueError, match="unexpected"):
        custom_id("a:{x}", x="1", y="2")
    with pytest.raises(ValueError, match="101 characters; Discord allows at most 100"):
        custom_id("a:{x}", x="x" * 99)
    assert len(custom_id("a:{x}", x="x" * 98)) == 100
