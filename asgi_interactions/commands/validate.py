"""Discord's naming rules and size limits for application commands (notes §5.3–5.5).

Every check raises `CommandDefinitionError` with the command's name and the rule that was broken, so
a mistake shows up when the module is imported rather than as a 400 from Discord at sync time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import CommandDefinitionError

__all__ = [
    "LOCALES",
    "MAX_CHOICES",
    "MAX_COMMANDS_PER_SCOPE",
    "MAX_OPTIONS",
    "MAX_TOTAL_CHARS",
    "check_chat_input_name",
    "check_command_payload",
    "check_context_menu_name",
    "check_description",
    "check_localizations",
    "check_scope_counts",
    "is_valid_chat_input_name",
]

MAX_NAME = 32
MAX_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_CHOICE_STRING = 100
MAX_TOTAL_CHARS = 8000
MAX_STRING_LENGTH = 6000
MAX_INTEGER = 2**53 - 1
MAX_NUMBER = 2.0**53
# Per scope (global, or one guild): CHAT_INPUT, USER, MESSAGE.
MAX_COMMANDS_PER_SCOPE = {1: 100, 2: 15, 3: 15}
COMMAND_TYPE_NAMES = {1: "slash", 2: "user", 3: "message", 4: "entry point"}

LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)

# Blocks of the Devanagari and Thai scripts, which the name regex allows besides letters and digits
# (their combining marks are not in \p{L} or \p{N}).
_SCRIPT_RANGES = ((0x0900, 0x097F), (0xA8E0, 0xA8FF), (0x11B00, 0x11B5F), (0x0E00, 0x0E7F))

_CHOICE_TYPES = {3, 4, 10}
_NUMERIC_TYPES = {4, 10}


def _char_allowed(ch: str) -> bool:
    if ch in "-_'":
        return True
    category = unicodedata.category(ch)
    if category[0] in "LN":
        return True
    code = ord(ch)
    return category != "Cn" and any(lo <= code <= hi for lo, hi in _SCRIPT_RANGES)


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if not 1 <= len(name) <= MAX_NAME:
        return f"must be 1-{MAX_NAME} characters long (has {len(name)})"
    for ch in name:
        if not _char_allowed(ch):
            return f"has {ch!r}; only letters, digits, '-', '_' and \"'\" are allowed"
        if ch.lower() != ch:
            return f"has {ch!r}; letters must be lowercase"
    return None


def is_valid_chat_input_name(name: object) -> bool:
    """Whether `name` is valid for a slash command, subcommand, group or option."""
    return _name_problem(name) is None


def check_chat_input_name(name: object, where: str, what: str = "name") -> None:
    """Raise unless `name` is valid for a slash command, subcommand, group or option (§5.4)."""
    problem = _name_problem(name)
    if problem is not None:
        raise CommandDefinitionError(f"{where}: {what} {name!r} {problem}")


def check_context_menu_name(name: object, where: str) -> None:
    """Raise unless `name` is valid for a user or message command: 1-32 characters, any case."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.strip():
        raise CommandDefinitionError(
            f"{where}: name {name!r} must be 1-{MAX_NAME} characters long and not blank"
        )


def check_description(text: object, where: str, what: str = "description") -> None:
    """Raise unless `text` is a 1-100 character description."""
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_DESCRIPTION:
        length = len(text) if isinstance(text, str) else type(text).__name__
        raise CommandDefinitionError(
            f"{where}: {what} must be 1-{MAX_DESCRIPTION} characters long (got {length})"
        )


def check_localizations(
    mapping: Mapping[str, str] | None, where: str, what: str, *, chat_input_name: bool = False
) -> None:
    """Raise unless every key is a Discord locale and every value passes the rule for `what`."""
    if not mapping:
        return
    for locale, value in mapping.items():
        if locale not in LOCALES:
            raise CommandDefinitionError(
                f"{where}: {what} localization key {locale!r} is not a Discord locale "
                f"(one of {', '.join(sorted(LOCALES))})"
            )
        label = f"{what} for {locale}"
        if what.startswith("description"):
            check_description(value, where, label)
        elif chat_input_name:
            check_chat_input_name(value, where, label)
        else:
            check_context_menu_name(value, f"{where} ({label})")


def _longest(value: object, localizations: object) -> int:
    best = len(value) if isinstance(value, str) else len(str(value)) if value is not None else 0
    if isinstance(localizations, Mapping):
        for text in localizations.values():
            if isinstance(text, str):
                best = max(best, len(text))
    return best


def _option_chars(option: Mapping[str, Any]) -> int:
    total = _longest(option.get("name", ""), option.get("name_localizations"))
    total += _longest(option.get("description", ""), option.get("description_localizations"))
    for choice in option.get("choices") or ():
        total += _longest(choice.get("name", ""), choice.get("name_localizations"))
        total += len(str(choice.get("value", "")))
    for sub in option.get("options") or ():
        total += _option_chars(sub)
    return total


def _check_options(
    options: list[Mapping[str, Any]], where: str, depth: int, complete: bool = True
) -> None:
    if len(options) > MAX_OPTIONS:
        raise CommandDefinitionError(
            f"{where}: has {len(options)} options; Discord allows at most {MAX_OPTIONS}"
        )
    seen: set[str] = set()
    seen_optional: str | None = None
    localized: dict[str, set[str]] = {}
    kinds = {int(o.get("type", 3)) in (1, 2) for o in options}
    if len(kinds) > 1:
        raise CommandDefinitionError(
            f"{where}: cannot mix subcommands or groups with plain options at the same level"
        )
    for option in options:
        name = option.get("name")
        otype = int(option.get("type", 3))
        label = f"{where} option {name!r}"
        check_chat_input_name(name, where, "option name")
        assert isinstance(name, str)
        if name in seen:
            raise CommandDefinitionError(f"{where}: two options are named {name!r}")
        seen.add(name)
        check_description(option.get("description"), label)
        check_localizations(option.get("name_localizations"), label, "name", chat_input_name=True)
        check_localizations(option.get("description_localizations"), label, "description")
        for locale, text in (option.get("name_localizations") or {}).items():
            localized.setdefault(locale, set())
            if text in localized[locale]:
                raise CommandDefinitionError(
                    f"{label}: localized name {text!r} for {locale} is used twice"
                )
            localized[locale].add(text)
        if otype in (1, 2):
            if otype == 2 and depth > 0:
                raise CommandDefinitionError(
                    f"{label}: a subcommand group can only sit directly under the command"
                )
            if otype == 1 and depth > 1:
                raise CommandDefinitionError(f"{label}: subcommands nest at most two levels deep")
            children = list(option.get("options") or ())
            if otype == 2 and not children and complete:
                raise CommandDefinitionError(f"{label}: a subcommand group needs a subcommand")
            if otype == 2 and any(int(c.get("type", 3)) != 1 for c in children):
                raise CommandDefinitionError(f"{label}: a group may contain only subcommands")
            if otype == 1 and any(int(c.get("type", 3)) in (1, 2) for c in children):
                raise CommandDefinitionError(f"{label}: a subcommand cannot contain subcommands")
            _check_options(children, f"{where} {name}", depth + 1, complete)
            continue
        _check_leaf(option, label)
        if option.get("required"):
            if seen_optional is not None:
                raise CommandDefinitionError(
                    f"{where}: required option {name!r} comes after optional option "
                    f"{seen_optional!r}; Discord needs required options first"
                )
        elif seen_optional is None:
            seen_optional = name
    default_names = set(seen)
    for locale, names in localized.items():
        clash = names & default_names
        if clash:
            raise CommandDefinitionError(
                f"{where}: localized option name {sorted(clash)[0]!r} for {locale} equals a "
                "default option name"
            )


def _check_leaf(option: Mapping[str, Any], label: str) -> None:
    otype = int(option.get("type", 3))
    choices = option.get("choices")
    if choices:
        if otype not in _CHOICE_TYPES:
            raise CommandDefinitionError(f"{label}: choices need a string, integer or number type")
        if len(choices) > MAX_CHOICES:
            raise CommandDefinitionError(
                f"{label}: has {len(choices)} choices; Discord allows at most {MAX_CHOICES}"
            )
        if option.get("autocomplete"):
            raise CommandDefinitionError(f"{label}: cannot have both choices and autocomplete")
        for choice in choices:
            _check_choice(choice, otype, label)
    if option.get("autocomplete") and otype not in _CHOICE_TYPES:
        raise CommandDefinitionError(
            f"{label}: autocomplete needs a string, integer or number type"
        )
    for key in ("min_value", "max_value"):
        if option.get(key) is not None and otype not in _NUMERIC_TYPES:
            raise CommandDefinitionError(
                f"{label}: {key} applies only to integer and number options"
            )
    for key in ("min_length", "max_length"):
        value = option.get(key)
        if value is None:
            continue
        if otype != 3:
            raise CommandDefinitionError(f"{label}: {key} applies only to string options")
        low = 0 if key == "min_length" else 1
        if not isinstance(value, int) or not low <= value <= MAX_STRING_LENGTH:
            raise CommandDefinitionError(
                f"{label}: {key} must be an integer in {low}-{MAX_STRING_LENGTH} (got {value!r})"
            )
    _check_range(option, "min_length", "max_length", label)
    _check_range(option, "min_value", "max_value", label)
    if option.get("channel_types") and otype != 7:
        raise CommandDefinitionError(f"{label}: channel_types applies only to channel options")


def _check_range(option: Mapping[str, Any], low_key: str, high_key: str, label: str) -> None:
    low, high = option.get(low_key), option.get(high_key)
    if low is not None and high is not None and low > high:
        raise CommandDefinitionError(
            f"{label}: {low_key} {low!r} is greater than {high_key} {high!r}"
        )


def _check_choice(choice: Mapping[str, Any], otype: int, label: str) -> None:
    name, value = choice.get("name"), choice.get("value")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_CHOICE_NAME:
        raise CommandDefinitionError(f"{label}: choice name {name!r} must be 1-100 characters")
    for locale, text in (choice.get("name_localizations") or {}).items():
        if locale not in LOCALES or not isinstance(text, str) or not 1 <= len(text) <= 100:
            raise CommandDefinitionError(
                f"{label}: choice {name!r} localization {locale!r}: {text!r} must be 1-100 "
                "characters under a Discord locale"
            )
    if otype == 3:
        if not isinstance(value, str) or len(value) > MAX_CHOICE_STRING:
            raise CommandDefinitionError(
                f"{label}: string choice value {value!r} must be a string of at most 100 characters"
            )
    elif otype == 4:
        if type(value) is not int or not -MAX_INTEGER <= value <= MAX_INTEGER:
            raise CommandDefinitionError(
                f"{label}: integer choice value {value!r} must be an int within ±(2^53-1)"
            )
    elif (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not -MAX_NUMBER <= value <= MAX_NUMBER
    ):
        raise CommandDefinitionError(f"{label}: number choice value {value!r} must be within ±2^53")


def check_command_payload(payload: Mapping[str, Any], *, complete: bool = True) -> None:
    """Check one command's JSON against Discord's rules: names, sizes, nesting, option order.

    With ``complete=False`` (while a group is still being filled) empty groups are let through.
    """
    ctype = int(payload.get("type", 1))
    name = payload.get("name")
    where = f"{COMMAND_TYPE_NAMES.get(ctype, 'command')} command {name!r}"
    if ctype == 1:
        check_chat_input_name(name, where)
        check_description(payload.get("description"), where)
        check_localizations(payload.get("name_localizations"), where, "name", chat_input_name=True)
        check_localizations(payload.get("description_localizations"), where, "description")
        _check_options(list(payload.get("options") or ()), where, 0, complete)
        total = _option_chars(payload)
        if total > MAX_TOTAL_CHARS:
            raise CommandDefinitionError(
                f"{where}: names, descriptions and choices add up to {total} characters; "
                f"Discord allows at most {MAX_TOTAL_CHARS}"
            )
    else:
        check_context_menu_name(name, where)
        check_localizations(payload.get("name_localizations"), where, "name")
        if payload.get("options"):
            raise CommandDefinitionError(f"{where}: only slash commands can have options")
        if payload.get("description"):
            raise CommandDefinitionError(f"{where}: user and message commands have no description")


def check_scope_counts(commands: Iterable[Mapping[str, Any]], scope: int | None) -> None:
    """Raise if one scope holds more commands of a type than Discord allows, or a name twice."""
    counts: dict[int, int] = {}
    names: set[tuple[int, str]] = set()
    where = "global commands" if scope is None else f"commands of guild {scope}"
    for command in commands:
        ctype = int(command.get("type", 1))
        key = (ctype, str(command.get("name")))
        if key in names:
            raise CommandDefinitionError(
                f"{where}: two {COMMAND_TYPE_NAMES.get(ctype, '')} commands are named {key[1]!r}"
            )
        names.add(key)
        counts[ctype] = counts.get(ctype, 0) + 1
    for ctype, count in counts.items():
        limit = MAX_COMMANDS_PER_SCOPE.get(ctype, 1)
        if count > limit:
            raise CommandDefinitionError(
                f"{where}: {count} {COMMAND_TYPE_NAMES.get(ctype, '')} commands; "
                f"Discord allows at most {limit} per scope"
            )
