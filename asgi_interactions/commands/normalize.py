"""Canonical forms of command JSON, so that what we declare and what Discord returns compare equal.

Discord fills in defaults (``type: 1``, ``nsfw: false``, empty localizations, ``description: ""`` on
context-menu commands), adds server-side fields (``id``, ``version``, ...) and may return numbers as
floats. Both sides go through `normalize_command` before comparing. The order of options and choices
matters to Discord and is kept; the order of commands does not (compare by (type, name)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["command_key", "normalize_command", "normalize_option"]

SERVER_FIELDS = frozenset(
    {
        "id",
        "application_id",
        "version",
        "guild_id",
        "name_localized",
        "description_localized",
        "dm_permission",
    }
)
DEFAULT_CONTEXTS = [0, 1, 2]
_LOCALIZED = ("name_localizations", "description_localizations")


def command_key(command: Mapping[str, Any]) -> tuple[int, str]:
    """Commands are unique per (type, name) within a scope."""
    return int(command.get("type") or 1), str(command.get("name", ""))


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _drop_empty_localizations(out: dict[str, Any]) -> None:
    for key in _LOCALIZED:
        if key in out and not out[key]:
            del out[key]


def _choice(choice: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in choice.items() if v is not None and k != "name_localized"}
    if "value" in out:
        out["value"] = _number(out["value"])
    _drop_empty_localizations(out)
    return out


def normalize_option(option: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of one option (recursively for subcommands and groups)."""
    out = {
        k: v
        for k, v in option.items()
        if v is not None and k not in ("name_localized", "description_localized")
    }
    otype = int(out.get("type") or 3)
    out["type"] = otype
    out.setdefault("description", "")
    if not out.get("required") or otype in (1, 2):
        out.pop("required", None)
    if not out.get("autocomplete"):
        out.pop("autocomplete", None)
    for key in ("min_value", "max_value"):
        if key in out:
            out[key] = _number(out[key])
    if "choices" in out:
        if out["choices"]:
            out["choices"] = [_choice(c) for c in out["choices"]]
        else:
            del out["choices"]
    if "channel_types" in out:
        if out["channel_types"]:
            out["channel_types"] = sorted({int(t) for t in out["channel_types"]})
        else:
            del out["channel_types"]
    if "options" in out:
        if out["options"]:
            out["options"] = [normalize_option(o) for o in out["options"]]
        else:
            del out["options"]
    _drop_empty_localizations(out)
    return out


def normalize_command(
    command: Mapping[str, Any], *, guild: bool, keep_integration_types: bool = True
) -> dict[str, Any]:
    """The canonical form of one command as it would be compared for `guild` or global scope.

    ``keep_integration_types=False`` drops ``integration_types`` (used when our side leaves it to
    the app's configured default, which only Discord knows).
    """
    out = {k: v for k, v in command.items() if v is not None and k not in SERVER_FIELDS}
    ctype = int(out.get("type") or 1)
    out["type"] = ctype
    if ctype == 1:
        out.setdefault("description", "")
    elif not out.get("description"):
        out.pop("description", None)
    if not out.get("nsfw"):
        out.pop("nsfw", None)
    if out.get("default_permission", True) is True:
        out.pop("default_permission", None)
    if "default_member_permissions" in out:
        out["default_member_permissions"] = str(int(out["default_member_permissions"]))
    if guild:
        out.pop("contexts", None)
        out.pop("integration_types", None)
    else:
        out["contexts"] = sorted({int(c) for c in out.get("contexts") or DEFAULT_CONTEXTS})
        if keep_integration_types and out.get("integration_types"):
            out["integration_types"] = sorted({int(t) for t in out["integration_types"]})
        else:
            out.pop("integration_types", None)
    if "options" in out:
        if out["options"] and ctype == 1:
            out["options"] = [normalize_option(o) for o in out["options"]]
        else:
            del out["options"]
    _drop_empty_localizations(out)
    return out
