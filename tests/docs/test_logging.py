"""The documented logging recipe (``uvicorn ... --log-config examples/logging.json``) shows the
library's log lines with their level and logger."""

from __future__ import annotations

import httpx2

from tests.commands.test_cli_send import ROOT, clean_env, start_uvicorn, stop


def test_log_config_shows_level_and_logger() -> None:
    config = ROOT / "examples" / "logging.json"
    proc, base = start_uvicorn(
        "examples.fastapi_app.main:app", ROOT, clean_env(), "--log-config", str(config)
    )
    try:
        response = httpx2.post(base + "/interactions", content=b"{}", timeout=30)
        assert response.status_code == 401
    finally:
        err = stop(proc)
    assert "INFO:     asgi_interactions.security: rejected request" in err, err
    assert "WARNING:  examples.fastapi_app: DISCORD_PUBLIC_KEY is not set" in err, err
