"""Fan-out: N channels with digests due in the same minute, delivered through the outbound queue
to a local fake Discord (HTTP on 127.0.0.1) that allows 50 requests/s and answers 429 with
``retry_after`` beyond that. Prints figures; asserts nothing.

    python bench/fanout.py [--channels 10000] [--limit 50] [--concurrency 4]

The bot runs as it would in production: real clock (shifted so the due minute is two seconds
away instead of waiting for it), the scheduler and sender loops in the background, and a
real SQLite file. The clock is ours; the fake platform's rate window is real seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.discord_rest import DiscordRestTransport  # noqa: E402
from bot.clock import Clock  # noqa: E402
from bot.delivery import Limits  # noqa: E402
from bot.models import Actor, Place, Role  # noqa: E402
from bot.storage import delivery_repo, jobs_repo  # noqa: E402
from commands import create_app  # noqa: E402
from tests.fakes.fake_discord import FakeDiscord  # noqa: E402


async def main(channels: int, limit: int, concurrency: int) -> None:
    fake = FakeDiscord(rate_limit=limit, window=1.0)
    await fake.start()
    workdir = Path(tempfile.mkdtemp(prefix="careerbot-fanout-"))
    clock = Clock()
    app = await create_app(workdir / "fanout.db", clock=clock)
    transport = DiscordRestTransport(
        "test-token", base_url=fake.base_url, limits=Limits(max_chars=5000, max_cards=10, rate=float(limit), burst=1)
    )
    dispatcher = app.outbox.add_transport(transport, concurrency=concurrency)
    mod = Actor("discord:1", "bench", Role.MODERATOR)

    # The due minute: the first whole minute at least two minutes from now (setup takes a while).
    now = clock.now()
    due = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    schedule = f"daily {due:%H:%M}"
    started = time.perf_counter()
    for i in range(channels):
        reply = await app.handle(mod, Place("discord", f"g{i % 100}", str(10_000 + i), f"c{i}"), f"/digest add tips {schedule}")
        assert reply.kind == "info", reply.text
    setup = time.perf_counter() - started
    print(f"setup: {channels:,} digests added through /digest add in {setup:.1f} s ({setup / channels * 1000:.2f} ms each)")

    await clock.advance(due - timedelta(seconds=2) - clock.now())  # skip the wait; nothing is due yet
    await app.start(background=True)
    t0 = time.perf_counter() + max(0.0, (due - clock.now()).total_seconds())

    enqueued_at = None
    while True:
        await asyncio.sleep(0.5)
        if enqueued_at is None and await jobs_repo.earliest(app.db, due_by=due.isoformat(timespec="microseconds")) is None:
            enqueued_at = time.perf_counter() - t0
        counts = await delivery_repo.counts(app.db, "discord")
        if counts.get("sent", 0) + counts.get("failed", 0) >= channels:
            break
    total = time.perf_counter() - t0
    await app.close()
    await fake.stop()

    per_channel = collections.Counter(m["channel_id"] for m in fake.messages)
    duplicates = sum(n - 1 for n in per_channel.values() if n > 1)
    losses = sum(1 for i in range(channels) if per_channel.get(str(10_000 + i), 0) == 0)
    ideal = channels / limit
    print(f"channels: {channels:,}; platform limit {limit} requests/s; sender concurrency {concurrency}")
    print(f"all {channels:,} digests queued by the scheduler {enqueued_at:.1f} s after the due minute")
    print(f"delivered in {total:.1f} s; ideal N/limit = {ideal:.1f} s; overhead {100 * (total - ideal) / ideal:+.1f}%")
    print(f"throughput {channels / total:.1f} posts/s; requests made {fake.requests:,}")
    print(f"429s received: {fake.rate_limited:,} (sender counted {dispatcher.stats['rate_limited']:,}); "
          f"transient retries {dispatcher.stats['retried']}; failed {dispatcher.stats['failed']}")
    print(f"duplicates: {duplicates}; losses: {losses}; statuses {dict(counts)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.channels, args.limit, args.concurrency))
