"""A bot under uvicorn in its own process, for tests that measure the server's memory.

Run as ``python -m tests.endpoint.rss_server PORT CAP BODY_TIMEOUT HTTP``; prints "ready" once
it accepts connections.
"""

from __future__ import annotations

import sys

import uvicorn

from asgi_interactions import InteractionApp
from asgi_interactions.testing import KeyPair


def main() -> None:
    port, cap, body_timeout, http = sys.argv[1:5]
    bot = InteractionApp(
        public_key=KeyPair.generate().public_key,
        token=None,
        max_unverified_bytes=int(cap),
        body_timeout=float(body_timeout),
    )
    config = uvicorn.Config(
        bot,
        host="127.0.0.1",
        port=int(port),
        http=http,
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=1024,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
