"""A burst of gateway commands against the fake gateway: does the send limit hold, do heartbeats
stay on time? The limit is scaled (120 per ``--window`` s) so a run takes seconds, not minutes.

    PYTHONPATH=$PWD python bench/gateway_commands.py --commands 130 --window 6 --interval 250
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asgi_interactions import Intents
from tests.fakes.discord_gateway import serve_fake_gateway, wait_until
from tests.gateway.helpers import make_gateway


async def main(commands: int, window: float, interval: int) -> None:
    with serve_fake_gateway(heartbeat_interval=interval, send_limit=(120, window)) as fake:
        intents = Intents.GUILDS | Intents.GUILD_MEMBERS
        gw = make_gateway(fake, send_limit=(120, window), intents=intents)
        await asyncio.wait_for(gw.start(), 15)
        try:
            conn = fake.connections[0]
            guild = (1000 << 22) | 7
            kinds = [
                lambda i: gw.update_voice_state(guild, None if i % 2 else 5),
                lambda i: gw.request_channel_info(guild),
                lambda i: gw.request_soundboard_sounds([guild]),
                lambda i: gw.request_guild_members(guild, user_ids=[i + 1]),
                lambda i: gw.update_presence("idle", f"game {i}"),
            ]
            began = time.monotonic()
            calls = zip(range(commands), itertools.cycle(kinds), strict=False)
            await asyncio.wait_for(asyncio.gather(*(kind(i) for i, kind in calls)), 120)
            ops = (3, 4, 8, 31, 43)
            await wait_until(lambda: sum(op in ops for op in conn.ops()) == commands, 60)
            elapsed = time.monotonic() - began
            stamps = [t for t, _ in conn.received]
            busiest = max(
                sum(1 for u in stamps if t <= u < t + window) for t in stamps
            )  # frames in the busiest window, as the fake counts them
            beats = [t for t in conn.heartbeats if t >= began]
            gaps = [b - a for a, b in itertools.pairwise(beats)]
            print(f"{commands} commands sent in {elapsed:.2f}s with 120 per {window}s")
            closed = conn.server_close_code
            print(f"busiest {window}s window: {busiest} frames (limit 120); close code: {closed}")
            print(
                f"heartbeats during the burst: {len(beats)}, interval {interval} ms, gap max "
                f"{max(gaps) * 1000:.0f} ms, mean {sum(gaps) / len(gaps) * 1000:.0f} ms"
            )
        finally:
            await gw.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=130)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--interval", type=int, default=250, help="heartbeat interval, ms")
    args = parser.parse_args()
    asyncio.run(main(args.commands, args.window, args.interval))
