"""The API reference (docs/reference/api.md, built by mkdocs) shows every exported name."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "asgi_interactions",
    "asgi_interactions.commands",
    "asgi_interactions.errors",
    "asgi_interactions.gateway",
    "asgi_interactions.models",
    "asgi_interactions.responses",
    "asgi_interactions.rest",
    "asgi_interactions.testing",
    "asgi_interactions.verify",
    "asgi_interactions.webhook_events",
]


@pytest.mark.skipif(shutil.which("mkdocs") is None, reason="mkdocs is not installed")
def test_every_public_name_is_in_the_api_reference(tmp_path: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'id="(asgi_interactions[\w.]*)"', page))
    # a root re-export may be shown where it is defined: asgi_interactions.<module>.<name>
    top = {i.rsplit(".", 1)[-1] for i in ids if i.count(".") <= 2}
    missing = [
        f"{module}.{name}"
        for module in MODULES
        for name in importlib.import_module(module).__all__
        if f"{module}.{name}" not in ids and not (module == "asgi_interactions" and name in top)
    ]
    assert not missing, f"not in the API reference: {missing}"
