"""The package's public names: all there, and imported only when used (PEP 562)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import asgi_interactions

ROOT = Path(__file__).resolve().parents[1]


def fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet), in this checkout; its output."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, check=True, cwd=ROOT,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.mark.parametrize("name", asgi_interactions.__all__)
def test_every_public_name_is_its_modules_object(name: str) -> None:
    source = asgi_interactions._SOURCES[name]
    module = importlib.import_module(source, "asgi_interactions")
    assert getattr(asgi_interactions, name) is getattr(module, name)
    assert name in dir(asgi_interactions)


def test_the_names_cover_all_and_star_import_works() -> None:
    assert sorted(asgi_interactions._SOURCES) == sorted(asgi_interactions.__all__)
    found = fresh(
        "from asgi_interactions import *\n"
        "import asgi_interactions as a\n"
        "print(all(globals()[n] is getattr(a, n) for n in a.__all__))"
    )
    assert found == "True"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        asgi_interactions.Nope  # noqa: B018
    with pytest.raises(ImportError):
        exec("from asgi_interactions import Nope", {})


def test_a_gateway_only_process_does_not_load_the_interaction_side() -> None:
    """``from asgi_interactions import Gateway`` skips the app, the models and pydantic: a
    process that runs only shards starts faster (bench/README.md, Gateway fleet)."""
    loaded = fresh(
        "import sys\n"
        "from asgi_interactions import Gateway, GatewayEvent, Intents, RestClient\n"
        "heavy = ['asgi_interactions.app', 'asgi_interactions.models', 'pydantic']\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    assert loaded == "[]"
    loaded = fresh(  # and the app still brings what it needs
        "import sys\nfrom asgi_interactions import InteractionApp\n"
        "print('asgi_interactions.models' in sys.modules)"
    )
    assert loaded == "True"
