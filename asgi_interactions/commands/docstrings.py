"""Descriptions from handler docstrings: the first line for the command, ``Args:`` lines for
options.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

__all__ = ["parameter_docs", "summary"]

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params)\s*:\s*$")
_GOOGLE_ITEM = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+?)\s*$")
_SPHINX_ITEM = re.compile(r"^\s*:param\s+(?:[\w\[\], |]+\s+)?(\w+)\s*:\s*(.+?)\s*$")


def summary(func: Callable[..., Any]) -> str | None:
    """The docstring's first line, or None when there is no docstring."""
    doc = inspect.getdoc(func)
    if not doc:
        return None
    first = doc.strip().splitlines()[0].strip()
    return first or None


def parameter_docs(func: Callable[..., Any]) -> dict[str, str]:
    """``{parameter: description}`` from a Google-style ``Args:`` section or ``:param x:`` lines."""
    doc = inspect.getdoc(func)
    if not doc:
        return {}
    found: dict[str, str] = {}
    in_section = False
    section_indent = 0
    item_indent: int | None = None
    for line in doc.splitlines():
        sphinx = _SPHINX_ITEM.match(line)
        if sphinx:
            found[sphinx.group(1)] = sphinx.group(2)
            continue
        if _SECTION.match(line):
            in_section = True
            section_indent = len(line) - len(line.lstrip())
            item_indent = None
            continue
        if not in_section:
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= section_indent:
            in_section = False
            continue
        if item_indent is None:
            item_indent = indent
        elif indent > item_indent:
            continue  # a continuation line of the previous item
        item = _GOOGLE_ITEM.match(line)
        if item:
            found[item.group(1)] = item.group(2)
    return found
