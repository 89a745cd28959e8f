"""Parse-time micro-benchmark for ``Interaction.model_validate_json`` (run as a script, not a test).

    PYTHONPATH=. python bench/parse.py

Prints µs per parse for each sample payload, next to plain ``json.loads`` of the same bytes.
"""

from __future__ import annotations

import copy
import json
import timeit

from asgi_interactions.models import Interaction
from tests.models import payloads


def realistic_slash_command() -> bytes:
    """A ~2.5 KB slash command: guild envelope, four options, resolved user/member/channel."""
    data = copy.deepcopy(payloads.SLASH_COMMAND)
    keep = {"text", "count", "target", "where"}
    data["data"]["options"] = [o for o in data["data"]["options"] if o["name"] in keep]
    resolved = data["data"]["resolved"]
    del resolved["roles"], resolved["attachments"]
    return json.dumps(data, separators=(",", ":")).encode()


def measure(raw: bytes, number: int = 20000) -> tuple[float, float]:
    """Best-of-5 µs per call for the model parse and for json.loads."""
    model = min(
        timeit.repeat(lambda: Interaction.model_validate_json(raw), number=number, repeat=5)
    )
    plain = min(timeit.repeat(lambda: json.loads(raw), number=number, repeat=5))
    return model / number * 1e6, plain / number * 1e6


def main() -> None:
    """Print the table."""
    samples = {"realistic_slash_command": realistic_slash_command()}
    samples.update({name: payloads.body(name) for name in payloads.ALL})
    print(f"{'payload':26} {'bytes':>6} {'model µs':>9} {'json.loads µs':>14}")
    for name, raw in samples.items():
        model, plain = measure(raw)
        print(f"{name:26} {len(raw):6d} {model:9.2f} {plain:14.2f}")


if __name__ == "__main__":
    main()
