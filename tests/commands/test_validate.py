"""Discord's naming rules and limits (notes §5.3-5.5), checked at declaration."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_interactions.commands import CommandDefinitionError, CommandTree
from asgi_interactions.commands.validate import (
    check_chat_input_name,
    check_command_payload,
    check_scope_counts,
    is_valid_chat_input_name,
)


def reference_valid(name: str) -> bool:
    """An independent reading of ^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$ + lowercase."""
    if not 1 <= len(name) <= 32:
        return False
    for ch in name:
        cat = unicodedata.category(ch)
        script_ok = "DEVANAGARI" in unicodedata.name(ch, "") or "THAI" in unicodedata.name(ch, "")
        if not (ch in "-_'" or cat[0] in "LN" or script_ok):
            return False
        if ch.lower() != ch:
            return False
    return True


@given(st.text(min_size=0, max_size=40))
def test_name_rule_matches_reference(name: str) -> None:
    assert is_valid_chat_input_name(name) == reference_valid(name)


@given(st.from_regex(re.compile(r"[a-z0-9_\-']{1,32}", re.ASCII), fullmatch=True))
def test_ascii_lowercase_names_are_valid(name: str) -> None:
    check_chat_input_name(name, "test")


@given(st.from_regex(re.compile(r"[a-z]{0,10}[A-Z][a-z]{0,10}", re.ASCII), fullmatch=True))
def test_uppercase_is_rejected_naming_the_rule(name: str) -> None:
    with pytest.raises(CommandDefinitionError, match="lowercase"):
        check_chat_input_name(name, "slash command 'x'")


@pytest.mark.parametrize("name", ["", "a" * 33, "has space", "dot.ted", "emoji😀", "Caps"])
def test_bad_command_names(name: str) -> None:
    tree = CommandTree()

    async def handler(ctx: Any) -> None: ...

    with pytest.raises(CommandDefinitionError, match=re.escape(repr(name))):
        tree.command(name, description="d")(handler)


@pytest.mark.parametrize(
    "name", ["ping", "ünïcödé", "नमस्ते", "สวัสดี", "日本語", "it's", "a-b_c", "x" * 32]
)
def test_good_command_names(name: str) -> None:
    tree = CommandTree()

    async def handler(ctx: Any) -> None: ...

    tree.command(name, description="d")(handler)
    assert tree.payload()[None][0]["name"] == name


def test_description_length() -> None:
    tree = CommandTree()

    async def handler(ctx: Any) -> None: ...

    with pytest.raises(CommandDefinitionError, match=r"'long'.*description must be 1-100"):
        tree.command("long", description="x" * 101)(handler)
    tree.command("ok", description="x" * 100)(handler)


def _cmd(**extra: Any) -> dict[str, Any]:
    return {"type": 1, "name": "c", "description": "d", **extra}


def _opt(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": 3, "name": name, "description": "d", **extra}


def test_at_most_25_options() -> None:
    check_command_payload(_cmd(options=[_opt(f"o{i}") for i in range(25)]))
    with pytest.raises(CommandDefinitionError, match="26 options"):
        check_command_payload(_cmd(options=[_opt(f"o{i}") for i in range(26)]))


def test_required_before_optional() -> None:
    check_command_payload(_cmd(options=[_opt("a", required=True), _opt("b")]))
    with pytest.raises(CommandDefinitionError, match="required option 'b' comes after optional"):
        check_command_payload(_cmd(options=[_opt("a"), _opt("b", required=True)]))


def test_choices_limits() -> None:
    choices = [{"name": f"n{i}", "value": f"v{i}"} for i in range(26)]
    with pytest.raises(CommandDefinitionError, match="26 choices"):
        check_command_payload(_cmd(options=[_opt("a", choices=choices)]))
    with pytest.raises(CommandDefinitionError, match="both choices and autocomplete"):
        check_command_payload(_cmd(options=[_opt("a", choices=choices[:2], autocomplete=True)]))
    with pytest.raises(CommandDefinitionError, match="at most 100"):
        check_command_payload(
            _cmd(options=[_opt("a", choices=[{"name": "n", "value": "v" * 101}])])
        )


def test_total_size_8000() -> None:
    # 25 options x (32-char name + 100-char description) x ... plus choices to pass 8000.
    choices = [{"name": "n" * 100, "value": "v" * 100} for _ in range(25)]
    options = [_opt(f"o{i}", choices=choices) for i in range(2)]
    with pytest.raises(CommandDefinitionError, match="8000"):
        check_command_payload(_cmd(options=options))
    check_command_payload(_cmd(options=options[:1]))


def test_total_size_counts_the_longest_localization() -> None:
    choices = [{"name": "n", "value": "v" * 100} for _ in range(25)]
    long_names = {"name_localizations": {"de": "x" * 100, "fr": "y" * 10}}
    localized = [{**c, **long_names} for c in choices]
    base = [_opt(f"o{i}", choices=choices) for i in range(3)]
    check_command_payload(_cmd(options=base))
    with pytest.raises(CommandDefinitionError, match="8000"):
        check_command_payload(_cmd(options=[_opt(f"o{i}", choices=localized) for i in range(3)]))


def test_nesting_depth() -> None:
    sub = {"type": 1, "name": "s", "description": "d"}
    group = {"type": 2, "name": "g", "description": "d", "options": [sub]}
    check_command_payload(_cmd(options=[group]))
    with pytest.raises(CommandDefinitionError, match="group"):
        check_command_payload(_cmd(options=[{**group, "options": [{**group, "name": "inner"}]}]))
    with pytest.raises(CommandDefinitionError, match="cannot contain subcommands"):
        check_command_payload(_cmd(options=[{**sub, "options": [sub]}]))


def test_localization_keys_must_be_locales() -> None:
    with pytest.raises(CommandDefinitionError, match="not a Discord locale"):
        check_command_payload(_cmd(name_localizations={"xx": "c"}))
    check_command_payload(_cmd(name_localizations={"de": "befehl", "pt-BR": "comando"}))
    with pytest.raises(CommandDefinitionError, match="lowercase"):
        check_command_payload(_cmd(name_localizations={"de": "Befehl"}))


def test_localized_option_name_must_not_equal_a_default_name() -> None:
    with pytest.raises(CommandDefinitionError, match="equals a default option name"):
        check_command_payload(_cmd(options=[_opt("a", name_localizations={"de": "b"}), _opt("b")]))


def test_scope_counts() -> None:
    slash = [{"type": 1, "name": f"c{i}", "description": "d"} for i in range(100)]
    check_scope_counts(slash, None)
    with pytest.raises(CommandDefinitionError, match="at most 100"):
        check_scope_counts([*slash, {"type": 1, "name": "extra", "description": "d"}], None)
    users = [{"type": 2, "name": f"U{i}"} for i in range(16)]
    with pytest.raises(CommandDefinitionError, match="at most 15"):
        check_scope_counts(users, 5)


def test_per_scope_limit_at_declaration() -> None:
    tree = CommandTree()

    async def handler(ctx: Any, user: Any) -> None: ...

    for i in range(15):
        tree.user_command(name=f"User {i}")(handler)
    with pytest.raises(CommandDefinitionError, match="at most 15 user commands globally"):
        tree.user_command(name="One too many")(handler)
    # Another scope has its own count.
    tree.user_command(name="One too many", guild_ids=[1])(handler)


def test_context_menu_names_allow_case_and_spaces() -> None:
    tree = CommandTree()

    async def handler(ctx: Any, message: Any) -> None: ...

    tree.message_command(name="Quote This!")(handler)
    with pytest.raises(CommandDefinitionError, match="1-32"):
        tree.message_command(name="x" * 33)(handler)
