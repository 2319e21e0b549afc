"""Fan-out: N channels with digests due in the same minute, delivered through the outbound queue
to a local fake Discord (HTTP on 127.0.0.1) that allows 50 requests/s and answers 429 with
``retry_after`` beyond that. Prints figures; asserts nothing.

    python bench/fanout.py [--channels 10000] [--limit 50] [--concurrency 4]
    pg_virtualenv -t python bench/fanout.py --processes 4 [--posts 3000] [--kill-leader]

With ``--processes N`` it runs N real ``careerbot serve --roles http,worker,sender`` processes
on one PostgreSQL database (``--db URL``, or the server pg_virtualenv or PG* variables name,
in a schema of its own), queues ``--posts`` posts over ``--channels`` channels in one
transaction, and reports deliveries/s against the fake's ceiling, claim p50/p99 (from each
process's /metrics histogram), 429s, duplicates and losses; ``--kill-leader`` SIGKILLs the
elected sender halfway and reports how long the standby took to take over.

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


# -- several processes on PostgreSQL -----------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _histogram(text: str, name: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) buckets of one histogram in a Prometheus exposition."""
    out = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    return out


def _quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The bucket bound below which a share ``q`` of observations fall (an upper estimate)."""
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= q * total:
            return bound
    return float("nan")


async def main_processes(processes: int, posts: int, channels: int, limit: int, db: str | None, kill_leader: bool) -> None:
    from tests.conftest import postgres_schema, postgres_url

    if db is not None:
        await run_processes(processes, posts, channels, limit, db, kill_leader)
        return
    if postgres_url() is None:
        sys.exit("no PostgreSQL: run under `pg_virtualenv -t`, set PG* variables, or give --db postgresql://…")
    async with postgres_schema(prefix="fanout") as url:
        await run_processes(processes, posts, channels, limit, url, kill_leader)


async def run_processes(processes: int, posts: int, channels: int, limit: int, db: str, kill_leader: bool) -> None:
    import signal

    import aiohttp

    from bot.delivery import Target
    from bot.models import Reply
    from tests.conftest import subprocess_env

    fake = FakeDiscord(rate_limit=limit, window=1.0)
    await fake.start()
    workdir = Path(tempfile.mkdtemp(prefix="careerbot-fanout-"))
    setup = await create_app(db)  # migrates once, before the processes start
    await setup.close()
    ports = [_free_port() for _ in range(processes)]
    procs = []
    for i, port in enumerate(ports):
        env = subprocess_env(
            CAREERBOT_DB=db, DISCORD_TOKEN="test-token", DISCORD_API_BASE=fake.base_url, CAREERBOT_HTTP_PORT=str(port),
            CAREERBOT_HTTP_HOST="127.0.0.1", CAREERBOT_LOG_LEVEL="INFO", PYTHONPATH=str(ROOT),
        )
        out = open(workdir / f"serve-{i}.log", "wb")
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--roles", "http,worker,sender", env=env, cwd=workdir, stdout=out, stderr=out))

    def log_text(i: int) -> str:
        return (workdir / f"serve-{i}.log").read_text(errors="replace")

    async with aiohttp.ClientSession() as http:
        async def health(i: int) -> dict:
            async with http.get(f"http://127.0.0.1:{ports[i]}/healthz") as resp:
                return await resp.json(content_type=None)

        async def metrics(i: int) -> str:
            async with http.get(f"http://127.0.0.1:{ports[i]}/metrics") as resp:
                return await resp.text()

        while True:
            try:
                docs = [await health(i) for i in range(processes)]
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
        leader = next(i for i, d in enumerate(docs) if "sender:discord" in d.get("roles_held", []))
        print(f"{processes} process(es) up; process {leader} holds the Discord sender")

        app = await create_app(db, clock=Clock())
        rows = [(Target("discord", f"g{n % 10}", str(20_000 + n % channels), f"c{n}"), n) for n in range(posts)]
        t0 = time.perf_counter()
        async with app.db.transaction() as conn:
            for target, n in rows:
                await app.outbox.queue(conn, target, "bench", f"p{n}", Reply(text=f"post {n}"), app.clock.now())
            from bot.storage.changes import notify_work

            await notify_work(conn)
        queued = time.perf_counter() - t0
        t0 = time.perf_counter()
        takeover = None
        killed = False
        while len(fake.messages) < posts:
            await asyncio.sleep(0.05)
            if kill_leader and not killed and len(fake.messages) >= posts // 2:
                procs[leader].send_signal(signal.SIGKILL)
                await procs[leader].wait()
                killed, killed_at = True, time.perf_counter()
            if killed and takeover is None:
                for i in range(processes):
                    if i != leader and "took the sender:discord role" in log_text(i):
                        takeover = time.perf_counter() - killed_at
            if time.perf_counter() - t0 > 600:
                print("timed out after 600 s")
                break
        total = time.perf_counter() - t0
        await asyncio.sleep(1.0)  # anything extra (a duplicate) would arrive now
        claim = []
        for i in range(processes):
            if procs[i].returncode is None:
                claim += _histogram(await metrics(i), "careerbot_post_claim_seconds")
        merged: dict[float, float] = collections.defaultdict(float)
        for bound, count in claim:
            merged[bound] += count
        buckets = sorted(merged.items())
        await app.close()

    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        await proc.wait()
    await fake.stop()

    per_key = collections.Counter(m["content"] for m in fake.messages)
    duplicates = sum(n - 1 for n in per_key.values() if n > 1)
    losses = sum(1 for n in range(posts) if per_key.get(f"post {n}", 0) == 0)
    print(f"processes {processes}; {posts:,} posts over {channels:,} channels queued in {queued:.1f} s (one transaction)")
    print(f"delivered in {total:.1f} s: {posts / total:.1f} posts/s against the fake's ceiling of {limit}/s "
          f"({100 * posts / total / limit:.0f}%)")
    print(f"claim p50 <= {_quantile(buckets, 0.5) * 1000:.1f} ms, p99 <= {_quantile(buckets, 0.99) * 1000:.1f} ms "
          f"(histogram bounds, {int(buckets[-1][1]) if buckets else 0:,} claims in the surviving processes)")
    print(f"429s: {fake.rate_limited:,}; duplicates: {duplicates}; losses: {losses}")
    if kill_leader:
        print(f"leader SIGKILLed at {posts // 2:,} posts; standby took the sender role after "
              + (f"{takeover:.2f} s" if takeover is not None else "(never)"))
    print(f"logs in {workdir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--processes", type=int, default=0, help="N real serve processes on PostgreSQL (0: one in-process app on SQLite)")
    parser.add_argument("--posts", type=int, default=3000, help="with --processes: how many posts to queue")
    parser.add_argument("--db", help="with --processes: a postgresql:// URL (default: PG* variables, a schema of its own)")
    parser.add_argument("--kill-leader", action="store_true", help="with --processes: SIGKILL the elected sender halfway")
    args = parser.parse_args()
    if args.processes:
        channels = args.channels if args.channels != 10_000 else 500
        asyncio.run(main_processes(args.processes, args.posts, channels, args.limit, args.db, args.kill_leader))
    else:
        asyncio.run(main(args.channels, args.limit, args.concurrency))
