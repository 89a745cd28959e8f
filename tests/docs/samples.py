"""Collect the code samples of README.md and docs/**/*.md, as a reader meets them.

A fenced block is a sample. The prose decides how it is run:

- "Save this as `name.py`" just before a block makes it a file in the page's directory
  (``test_*.py`` files are then run with pytest there, outside this repository);
- ``<!-- sample: continues -->`` on the line before a block runs it after the page's previous
  Python block, in the same namespace (a reference page building up one bot);
- ``<!-- sample: fragment -->`` marks a block that is not a program (a signature, two lines out
  of context): it is only parsed. These should stay few.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"<!--\s*sample:\s*(\w+)\s*-->")
_SAVE_AS = re.compile(r"[Ss]ave this as\s+`([\w./-]+)`")


@dataclass
class Sample:
    """One fenced block of a page."""

    page: str  # path relative to the repository root
    line: int  # line of the opening fence (1-based)
    lang: str
    code: str
    marker: str | None = None  # "continues", "fragment" or None
    filename: str | None = None  # "Save this as `...`"
    previous: list[Sample] = field(default_factory=list)  # earlier Python blocks it continues

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def parse(path: Path) -> list[Sample]:
    """The fenced blocks of one page, with their markers and file names."""
    rel = str(path.relative_to(ROOT))
    lines = path.read_text(encoding="utf-8").splitlines()
    samples: list[Sample] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            prose.append(lines[i])
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        before = [line for line in prose if line.strip()]
        marker = _MARKER.search(before[-1]) if before else None
        paragraph = "\n".join(before[-4:])
        saved = _SAVE_AS.search(paragraph)
        samples.append(
            Sample(
                page=rel,
                line=start + 1,
                lang=opened.group(1) or "text",
                code="\n".join(body) + "\n",
                marker=marker.group(1) if marker else None,
                filename=saved.group(1) if saved else None,
            )
        )
        prose = []
    chain: list[Sample] = []
    for sample in samples:
        if sample.lang != "python" or sample.marker == "fragment":
            continue
        if sample.marker == "continues":
            sample.previous = list(chain)
            chain.append(sample)
        else:
            chain = [sample]
    return samples


def all_samples() -> list[Sample]:
    """Every sample of every page."""
    return [sample for page in pages() for sample in parse(page)]


@dataclass
class Command:
    """One shell command of a bash block, with the output lines the page shows after it."""

    argv: list[str]
    text: str
    expected: list[str]


def commands(code: str) -> list[Command]:
    """Split a bash block into commands: continuations joined, ``&&`` split, comments dropped.

    ``# ...`` lines right after a command are the output the page promises for it.
    """
    logical: list[str] = []
    pending = ""
    for raw in code.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        logical.append(pending + raw)
        pending = ""
    out: list[Command] = []
    for line in logical:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if out:
                out[-1].expected.append(stripped[1:].strip())
            continue
        if stripped.startswith("export "):  # kept whole: its value may be a $(...) substitution
            name = stripped[len("export ") :].split("=", 1)[0]
            out.append(Command(["export", name], stripped, []))
            continue
        words = shlex.split(line, comments=True)
        if not words:
            continue
        part: list[str] = []
        for word in [*words, "&&"]:
            if word == "&&":
                if part:
                    out.append(Command(part, shlex.join(part), []))
                part = []
            else:
                part.append(word)
    return out
