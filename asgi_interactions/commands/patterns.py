"""`custom_id` patterns such as ``"vote:{choice}"`` and ``"page:{n:int}"``: parsing, matching,
building.

A parameter ``{name}`` matches one or more characters up to the next literal character of the
pattern (to the end when it is last); ``{name:int}`` matches an optionally signed run of ASCII
digits and is passed as an `int`. Routing tries exact ids first, then patterns by longest literal
prefix; two patterns with the same prefix that could both match one id are rejected when they are
declared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from .errors import CommandDefinitionError

__all__ = ["MAX_CUSTOM_ID", "Pattern", "PatternRouter", "compile_pattern", "custom_id"]

MAX_CUSTOM_ID = 100
_KINDS: dict[str, Callable[[str], Any]] = {"str": str, "int": int}
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}")
_DIGITS = frozenset("0123456789")

T = TypeVar("T")

# A character set is (positive, chars): True means "one of chars", False "anything but chars".
_CharSet = tuple[bool, frozenset[str]]


def _intersects(a: _CharSet, b: _CharSet) -> bool:
    if a[0] and b[0]:
        return bool(a[1] & b[1])
    if a[0]:
        return bool(a[1] - b[1])
    if b[0]:
        return bool(b[1] - a[1])
    return True


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled custom_id pattern."""

    source: str
    prefix: str
    params: tuple[tuple[str, str], ...]
    regex: re.Pattern[str] | None
    # Parts in order: str literal or (name, kind, stop-character or "").
    parts: tuple[str | tuple[str, str, str], ...]
    nfa: tuple[tuple[tuple[_CharSet, int], ...], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, in order."""
        return tuple(name for name, _ in self.params)

    def match(self, value: str) -> dict[str, Any] | None:
        """The converted parameters if `value` matches this pattern, else None."""
        if self.regex is None:
            return {} if value == self.source else None
        found = self.regex.fullmatch(value)
        if found is None:
            return None
        params: dict[str, Any] = {}
        for name, kind in self.params:
            text = found.group(name)
            params[name] = int(text) if kind == "int" else text
        return params

    def overlaps(self, other: Pattern) -> bool:
        """Whether some custom_id would match both patterns."""
        accept_a, accept_b = len(self.nfa) - 1, len(other.nfa) - 1
        seen = {(0, 0)}
        stack = [(0, 0)]
        while stack:
            a, b = stack.pop()
            if a == accept_a and b == accept_b:
                return True
            for set_a, next_a in self.nfa[a]:
                for set_b, next_b in other.nfa[b]:
                    pair = (next_a, next_b)
                    if pair not in seen and _intersects(set_a, set_b):
                        seen.add(pair)
                        stack.append(pair)
        return False

    def build(self, values: Mapping[str, object]) -> str:
        """Fill the parameters in; raise ValueError if a value is missing, wrong or too long."""
        missing = [name for name in self.names if name not in values]
        extra = [name for name in values if name not in self.names]
        if missing or extra:
            raise ValueError(
                f"custom_id pattern {self.source!r} takes {list(self.names)}; "
                f"missing {missing}, unexpected {extra}"
            )
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, kind, stop = part
            value = values[name]
            if kind == "int":
                if type(value) is not int:
                    raise ValueError(f"custom_id parameter {name!r} must be an int, not {value!r}")
                text = str(value)
            else:
                text = value if isinstance(value, str) else str(value)
                if not text:
                    raise ValueError(f"custom_id parameter {name!r} must not be empty")
                if stop and stop in text:
                    raise ValueError(
                        f"custom_id parameter {name!r} value {text!r} must not contain {stop!r} "
                        f"(it separates fields in {self.source!r})"
                    )
            out.append(text)
        result = "".join(out)
        if len(result) > MAX_CUSTOM_ID:
            raise ValueError(
                f"custom_id {result[:40]!r}... is {len(result)} characters; "
                f"Discord allows at most {MAX_CUSTOM_ID}"
            )
        return result


def _unescape(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def _split(source: str) -> list[str | tuple[str, str]]:
    pieces: list[str | tuple[str, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch in "{}" and source.startswith(ch * 2, i):
            literal.append(ch)
            i += 2
            continue
        if ch == "}":
            raise CommandDefinitionError(f"custom_id pattern {source!r}: unmatched '}}' at {i}")
        if ch == "{":
            found = _PARAM.match(source, i)
            if found is None:
                raise CommandDefinitionError(
                    f"custom_id pattern {source!r}: bad parameter at {i}; "
                    "write {name} or {name:int} (and {{ }} for literal braces)"
                )
            kind = found.group(2) or "str"
            if kind not in _KINDS:
                raise CommandDefinitionError(
                    f"custom_id pattern {source!r}: unknown type {kind!r}; use str or int"
                )
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append((found.group(1), kind))
            i = found.end()
            continue
        literal.append(ch)
        i += 1
    if literal:
        pieces.append("".join(literal))
    return pieces


@lru_cache(maxsize=512)
def compile_pattern(source: str) -> Pattern:
    """Parse a custom_id pattern; raise CommandDefinitionError if it is malformed."""
    if not isinstance(source, str) or not source:
        raise CommandDefinitionError(f"custom_id pattern {source!r} must be a non-empty string")
    pieces = _split(source)
    parts: list[str | tuple[str, str, str]] = []
    params: list[tuple[str, str]] = []
    regex: list[str] = []
    nfa: list[list[tuple[_CharSet, int]]] = [[]]
    min_length = 0
    for index, piece in enumerate(pieces):
        if isinstance(piece, str):
            parts.append(piece)
            regex.append(re.escape(piece))
            min_length += len(piece)
            for ch in piece:
                nfa.append([])
                nfa[-2].append(((True, frozenset(ch)), len(nfa) - 1))
            continue
        name, kind = piece
        if name in (p[0] for p in params):
            raise CommandDefinitionError(f"custom_id pattern {source!r}: parameter {name!r} twice")
        following = pieces[index + 1] if index + 1 < len(pieces) else ""
        if not isinstance(following, str):
            raise CommandDefinitionError(
                f"custom_id pattern {source!r}: parameters {name!r} and {following[0]!r} need "
                "literal text between them"
            )
        stop = following[:1]
        params.append((name, kind))
        parts.append((name, kind, stop if kind == "str" else ""))
        min_length += 1
        start = len(nfa) - 1
        if kind == "int":
            regex.append(f"(?P<{name}>-?[0-9]+)")
            digits: _CharSet = (True, _DIGITS)
            nfa.append([])  # after the sign
            sign_state = len(nfa) - 1
            nfa.append([])  # one or more digits read
            end = len(nfa) - 1
            nfa[start].append(((True, frozenset("-")), sign_state))
            nfa[start].append((digits, end))
            nfa[sign_state].append((digits, end))
            nfa[end].append((digits, end))
        else:
            charset: _CharSet = (False, frozenset(stop))
            regex.append(f"(?P<{name}>[^{re.escape(stop)}]+)" if stop else f"(?P<{name}>.+)")
            nfa.append([])
            end = len(nfa) - 1
            nfa[start].append((charset, end))
            nfa[end].append((charset, end))
    if min_length > MAX_CUSTOM_ID:
        raise CommandDefinitionError(
            f"custom_id pattern {source!r} cannot fit in {MAX_CUSTOM_ID} characters"
        )
    prefix = pieces[0] if pieces and isinstance(pieces[0], str) else ""
    compiled = re.compile("".join(regex), re.DOTALL) if params else None
    return Pattern(
        source=_unescape(source) if not params else source,
        prefix=prefix,
        params=tuple(params),
        regex=compiled,
        parts=tuple(parts),
        nfa=tuple(tuple(edges) for edges in nfa),
    )


def custom_id(pattern: str, /, **values: object) -> str:
    """Build a custom_id from a pattern: ``custom_id("page:{n:int}", n=2) == "page:2"``.

    Raises ValueError if a value is missing, has the wrong type, contains the character that ends
    its field, or if the id is longer than Discord's 100 characters.
    """
    return compile_pattern(pattern).build(values)


class PatternRouter(Generic[T]):
    """Finds the entry whose pattern matches a custom_id with a few dict look-ups."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._exact: dict[str, T] = {}
        self._buckets: dict[int, dict[str, list[tuple[Pattern, T]]]] = {}
        self._lengths: tuple[int, ...] = ()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, source: str, entry: T) -> Pattern:
        """Register `entry` under the pattern; raise CommandDefinitionError on a clash."""
        pattern = compile_pattern(source)
        if pattern.regex is None:
            if pattern.source in self._exact:
                raise CommandDefinitionError(
                    f"{self._kind} custom_id {pattern.source!r} has two handlers"
                )
            self._exact[pattern.source] = entry
        else:
            bucket = self._buckets.setdefault(len(pattern.prefix), {})
            same_prefix = bucket.setdefault(pattern.prefix, [])
            for other, _ in same_prefix:
                if other.overlaps(pattern):
                    raise CommandDefinitionError(
                        f"{self._kind} custom_id patterns {other.source!r} and {pattern.source!r} "
                        "are ambiguous: some ids match both and neither has a longer literal prefix"
                    )
            same_prefix.append((pattern, entry))
            self._lengths = tuple(sorted(self._buckets, reverse=True))
        self._count += 1
        return pattern

    def entries(self) -> list[tuple[str, T]]:
        """Every (pattern source, entry), exact ids first."""
        out = list(self._exact.items())
        for bucket in self._buckets.values():
            out.extend((p.source, e) for entries in bucket.values() for p, e in entries)
        return out

    def find(self, value: str) -> tuple[T, dict[str, Any]] | None:
        """The entry and converted parameters for `value`, or None."""
        entry = self._exact.get(value)
        if entry is not None:
            return entry, {}
        buckets = self._buckets
        for length in self._lengths:
            candidates = buckets[length].get(value[:length])
            if candidates is None:
                continue
            for pattern, found in candidates:
                params = pattern.match(value)
                if params is not None:
                    return found, params
        return None
