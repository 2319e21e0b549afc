"""PostgreSQL as the shared store: several bot processes on one database.

Each "process" here is an App of its own (its own connection pool, sender and lease owner) on
one PostgreSQL schema; they claim posts concurrently from one queue against the local Discord
fake. Skipped, saying why, when the run has no PostgreSQL server (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from bot.adapters.discord_rest import DiscordRestTransport
from bot.clock import frozen_clock, iso_utc
from bot.delivery import RateLimiter, Target
from bot.models import Reply
from bot.storage import delivery_repo
from bot.storage.db import StorageError, open_database
from bot.storage.postgres import numbered, redact_url
from commands import create_app
from tests.conftest import NO_POSTGRES, postgres_url
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_time import FakeTime

pytestmark = pytest.mark.both_engines

START = "2026-01-05T09:00:00+00:00"
CHANNELS = [str(100 + n) for n in range(8)]


def test_placeholders_are_numbered_outside_quotes_only() -> None:
    assert numbered("SELECT * FROM t WHERE a = ? AND b = '?' AND c IN (?, ?)") == (
        "SELECT * FROM t WHERE a = $1 AND b = '?' AND c IN ($2, $3)"
    )


def test_a_url_is_shown_without_its_password() -> None:
    assert redact_url("postgresql://bot:s3cret@db.example:5433/careerbot?sslmode=require") == (
        "postgresql://bot:***@db.example:5433/careerbot"
    )
    assert redact_url("postgresql://db/careerbot") == "postgresql://db/careerbot"


async def test_a_wrong_password_is_a_short_error_without_the_password() -> None:
    url = postgres_url()
    if url is None:
        pytest.skip(NO_POSTGRES)
    bad = re.sub(r"://([^:@/]+)(:[^@]*)?@", r"://\1:not-the-password-xyz@", url)
    with pytest.raises(StorageError) as caught:
        await open_database(bad)
    assert "not-the-password-xyz" not in str(caught.value)
    assert "***" in str(caught.value) and len(str(caught.value)) < 300


async def _sender_app(db_path: str, fake: FakeDiscord):  # noqa: ANN202
    app = await create_app(db_path, clock=frozen_clock(START))
    transport = DiscordRestTransport("test-token", base_url=fake.base_url)
    ticks = FakeTime()
    app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=4)
    return app


async def test_processes_sharing_one_queue_send_each_post_once_in_channel_order(db_path, engine: str) -> None:
    if engine == "sqlite":
        pytest.skip("several bot processes share a database only on PostgreSQL (a SQLite file has one)")
    fake = FakeDiscord(rate_limit=100_000)
    await fake.start()
    apps = [await _sender_app(db_path, fake) for _ in range(4)]
    try:
        async with apps[0].db.transaction() as conn:
            for n in range(30):
                for ch in CHANNELS:
                    await apps[0].outbox.queue(
                        conn, Target("discord", "g1", ch, f"c{ch}"), "note", f"p{n:02d}", Reply(text=f"{ch}:{n:02d}"),
                        apps[0].clock.now(),
                    )
        counts = await asyncio.gather(*(app.outbox.drain() for app in apps))
        assert sum(counts) == 240 and sum(1 for c in counts if c) >= 2  # the work was shared
        texts = [m["content"] for m in fake.messages]
        assert len(texts) == 240 and not [t for t, n in Counter(texts).items() if n > 1]  # each post once
        per_channel: dict[str, list[str]] = defaultdict(list)
        for text in texts:
            ch, n = text.split(":")
            per_channel[ch].append(n)
        assert all(order == sorted(order) for order in per_channel.values()), {c: o for c, o in per_channel.items() if o != sorted(o)}  # each channel in order
        assert await delivery_repo.counts(apps[0].db) == {"sent": 240}
    finally:
        for app in apps:
            await app.close()
        await fake.stop()


async def _died_after_claiming(db_path, fake: FakeDiscord):  # noqa: ANN202
    """A sender process that queued one post to #100, claimed it (committed), then died before sending."""
    dead = await _sender_app(db_path, fake)
    async with dead.db.transaction() as conn:
        await dead.outbox.queue(conn, Target("discord", "g1", "100", "general"), "note", "once", Reply(text="only once"), dead.clock.now())
    sender = dead.outbox.dispatchers["discord"]
    assert await sender._claim() is not None
    await dead.close()
    return sender


async def test_a_sender_that_dies_mid_send_loses_its_post_to_another_after_the_lease(db_path, engine: str) -> None:
    """Killed between claim and send: the other process leaves the post alone while the lease
    holds, then sends it once."""
    if engine == "sqlite":
        pytest.skip("leases matter only when processes share a database (PostgreSQL)")
    fake = FakeDiscord()
    await fake.start()
    alive = await _sender_app(db_path, fake)
    try:
        sender = await _died_after_claiming(db_path, fake)
        await alive.outbox.drain()
        assert fake.in_channel("100") == [] and await delivery_repo.counts(alive.db) == {"sending": 1}
        await alive.clock.advance(timedelta(seconds=sender.lease + 1))
        await delivery_repo.reap(alive.db, "discord", iso_utc(alive.clock.now()))
        await alive.outbox.drain()
        assert [m["content"] for m in fake.in_channel("100")] == ["only once"]
        assert await delivery_repo.counts(alive.db) == {"sent": 1}
    finally:
        await alive.close()
        await fake.stop()


async def test_a_new_sender_waits_a_short_grace_not_the_dead_senders_whole_lease(db_path, engine: str) -> None:
    """Taking the sender role shortens the leases the previous holder left to TAKEOVER_GRACE."""
    if engine == "sqlite":
        pytest.skip("on SQLite the new holder resends at once: the file lock proves the old one is gone")
    from bot.delivery import TAKEOVER_GRACE

    fake = FakeDiscord()
    await fake.start()
    heir = await _sender_app(db_path, fake)
    try:
        await _died_after_claiming(db_path, fake)
        sender = heir.outbox.dispatchers["discord"]
        sender.start()  # what taking the role does
        await asyncio.sleep(0.2)
        assert fake.in_channel("100") == []  # the grace holds first
        await heir.clock.advance(timedelta(seconds=TAKEOVER_GRACE + 1))  # far short of the 120 s lease
        sender.wake()
        for _ in range(50):
            if fake.in_channel("100"):
                break
            await asyncio.sleep(0.05)
        assert [m["content"] for m in fake.in_channel("100")] == ["only once"]
    finally:
        await heir.close()
        await fake.stop()


async def test_processes_started_together_migrate_once(db_path, engine: str) -> None:
    if engine == "sqlite":
        pytest.skip("simultaneous starts on one database happen on PostgreSQL")
    dbs = await asyncio.gather(*(open_database(db_path) for _ in range(4)))
    try:
        rows = await dbs[0].fetchall("SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version")
        assert rows and all(r["n"] == 1 for r in rows)
    finally:
        for db in dbs:
            await db.close()


async def test_a_due_job_runs_in_one_process_only(db_path, engine: str) -> None:
    if engine == "sqlite":
        pytest.skip("several schedulers share a database only on PostgreSQL")
    from bot.scheduler import Outcome

    apps = [await create_app(db_path, clock=frozen_clock(START)) for _ in range(3)]
    ran: list[str] = []
    try:
        for app in apps:
            async def handler(job, at, owner=app.scheduler.owner):  # noqa: ANN001, ANN202
                ran.append(owner)
                await asyncio.sleep(0.05)  # long enough for the others to look at the same job
                return Outcome(next_due=None)

            app.scheduler.handle("once", handler)
        await apps[0].scheduler.schedule("once", "x", apps[0].clock.now())
        await asyncio.gather(*(app.scheduler.run_due(app.clock.now()) for app in apps))
        assert len(ran) == 1, ran
    finally:
        for app in apps:
            await app.close()
