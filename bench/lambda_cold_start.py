"""Cold start of examples/lambda/handler.py: a fresh interpreter imports it and answers one PING
through Mangum (an API Gateway v2 event), as a new Lambda process would.

    PYTHONPATH=. python bench/lambda_cold_start.py [runs]

Prints the median and worst of ``runs`` fresh processes (default 5): the import, and the first
invocation (lifespan startup, verify, answer, lifespan shutdown), and a second (warm) one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import base64, json, time, importlib.util, sys
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.perf_counter()
from asgi_interactions.testing import KeyPair, interaction_payload
keys = KeyPair.from_seed("a5" * 32)
body = json.dumps(interaction_payload(1)).encode()
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
         "headers": keys.headers(body) | {"host": "x.lambda-url.us-east-1.on.aws"},
         "requestContext": {"http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                                     "sourceIp": "203.0.113.7"}, "domainName": "x"},
         "body": body.decode(), "isBase64Encoded": False}
t2 = time.perf_counter()
response = module.handler(event, {})
t3 = time.perf_counter()
assert response["statusCode"] == 200, response
body = json.dumps(interaction_payload(1)).encode()
event |= {"headers": keys.headers(body) | {"host": "x"}, "body": body.decode()}
t4 = time.perf_counter()
assert module.handler(event, {})["statusCode"] == 200
t5 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t3 - t2) * 1000,
                  "warm_ms": (t5 - t4) * 1000}))
"""


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    from asgi_interactions.testing import DEVELOPMENT_KEYS

    env = dict(os.environ, DISCORD_PUBLIC_KEY=DEVELOPMENT_KEYS.public_key, PYTHONPATH=str(ROOT))
    handler = str(ROOT / "examples" / "lambda" / "handler.py")
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, handler],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for key in ("import_ms", "first_ms", "warm_ms"):
        values = [r[key] for r in results]
        print(f"{key}: median {statistics.median(values):.0f} ms, worst {max(values):.0f} ms")


if __name__ == "__main__":
    main()
