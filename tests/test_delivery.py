"""The outbound queue against a local fake of Discord's API: rate limits, failures, crash safety.

Time: the bot's schedule runs on the fake clock; the rate limiter's waits use a fake
monotonic clock, so a 2.5 s retry_after costs no real time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.discord_rest import DiscordRestTransport
from bot.app import App
from bot.clock import Clock, frozen_clock
from bot.delivery import Limits, RateLimiter, Target, split_reply
from bot.models import Actor, Card, Field, Place, Reply, Role
from bot.storage import delivery_repo
from commands import create_app
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_time import FakeTime

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)

GUILD = Place("discord", "g1", "100", "general")
MOD = Actor("discord:7", "mia", Role.MODERATOR)
MEMBER = Actor("discord:8", "max")
START = "2026-01-05T09:00:00+00:00"



class Crash(BaseException):
    """Stands in for the process dying at an exact point (not an Exception: nothing may catch it)."""


class CrashAfterSend(DiscordRestTransport):
    """The platform accepts the post, then the bot dies before recording that it did."""

    async def send(self, target, reply, key):  # noqa: ANN001
        await super().send(target, reply, key)
        raise Crash()


@pytest.fixture
async def fake():
    server = FakeDiscord(channels={"100", "200", "mods"})
    await server.start()
    yield server
    await server.stop()


async def discord_app(db_path: Path, fake: FakeDiscord, clock: Clock, transport_cls=DiscordRestTransport) -> tuple[App, FakeTime]:
    app = await create_app(db_path, clock=clock)
    transport = transport_cls("test-token", base_url=fake.base_url)
    ticks = FakeTime()
    app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=1)
    return app, ticks


async def add_digest(app: App, place: Place = GUILD) -> None:
    reply = await app.handle(MOD, place, "/digest add tips daily 09:00")
    assert reply.kind == "info", reply.text


async def test_a_digest_reaches_discord_as_an_embed(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        await add_digest(app)
        await app.clock.advance(timedelta(days=1))
        [message] = fake.in_channel("100")
        assert message["content"].startswith("**Digest #1** · daily 09:00")
        assert message["embeds"][0]["title"].startswith("Tip of the day: ")
        assert await delivery_repo.counts(app.db, "discord") == {"sent": 1}
    finally:
        await app.close()


async def test_429_waits_retry_after_and_does_not_count_as_a_failure(db_path: Path, fake: FakeDiscord) -> None:
    app, ticks = await discord_app(db_path, fake, frozen_clock(START))
    try:
        await add_digest(app)
        fake.fail_next["100"] = [429]
        await app.clock.advance(timedelta(days=1))
        assert len(fake.in_channel("100")) == 1
        assert fake.rate_limited == 1
        assert any(abs(s - 2.5) < 0.01 for s in ticks.slept), ticks.slept
        row = (await app.db.fetchall("SELECT attempts, status FROM deliveries"))[0]
        assert (row["attempts"], row["status"]) == (1, "sent")
    finally:
        await app.close()


async def test_transient_errors_back_off_then_succeed_once(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        await add_digest(app)
        fake.fail_next["100"] = [503, 502]
        await app.clock.advance(timedelta(days=1))
        assert fake.in_channel("100") == []
        await app.clock.advance(timedelta(seconds=30))
        await app.outbox.drain()
        assert fake.in_channel("100") == []
        await app.clock.advance(timedelta(seconds=60))
        await app.outbox.drain()
        assert len(fake.in_channel("100")) == 1
    finally:
        await app.close()


async def test_gives_up_after_max_attempts_and_tells_moderators(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        await add_digest(app)
        fake.fail_next["100"] = [500] * 20
        await app.clock.advance(timedelta(days=1))
        for _ in range(12):
            await app.clock.advance(timedelta(hours=1))
            await app.outbox.drain()
        row = (await app.db.fetchall("SELECT attempts, status FROM deliveries"))[0]
        assert (row["attempts"], row["status"]) == (10, "failed")
        reply = await app.handle(MOD, GUILD, "/digest list")
        assert "gave up after 10 attempts" not in reply.text  # never in the (possibly public) reply
        assert [n.ephemeral for n in reply.notices] == [True]
        assert "was not delivered: gave up after 10 attempts" in reply.notices[0].text
        assert "next Wed" in reply.plain_text()  # one lost post does not pause the digest
    finally:
        await app.close()


async def test_deleted_channel_stops_retries_pauses_and_is_reported_once(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    gone = Place("discord", "g1", "999", "old-news")
    try:
        await add_digest(app, gone)
        await app.clock.advance(timedelta(days=1))
        requests = fake.requests
        await app.clock.advance(timedelta(days=3))
        assert fake.requests == requests  # no retries, no new posts to a dead channel
        assert await delivery_repo.counts(app.db, "discord") == {"failed": 1}
        member_reply = await app.handle(MEMBER, GUILD, "/advice how do I find an internship")
        assert "Moderator notice" not in member_reply.plain_text() and not member_reply.notices
        first = await app.handle(MOD, GUILD, "/digest list")
        assert "Moderator notice" not in first.plain_text()  # the public reply stays clean
        notice = first.notices[0]
        assert notice.ephemeral and "Moderator notice" in notice.text and "the channel no longer exists" in notice.text
        assert "paused (the channel no longer exists" in first.plain_text()
        second = await app.handle(MOD, GUILD, "/digest list")
        assert not second.notices
    finally:
        await app.close()


async def test_permission_loss_is_posted_to_the_mod_channel(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        await app.handle(MOD, GUILD, "/config set mod_channel <#mods>")
        await add_digest(app, Place("discord", "g1", "200", "jobs"))
        fake.forbidden.add("200")
        await app.clock.advance(timedelta(days=1))
        await app.outbox.drain()
        [notice] = fake.in_channel("mods")
        assert "I cannot post to #jobs: the bot lacks permission to post there" in notice["content"]
        assert not (await app.handle(MOD, GUILD, "/digest list")).notices  # already told
    finally:
        await app.close()


async def test_crash_while_building_the_digest_loses_nothing(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    await add_digest(app)

    class Exploding:
        name, title, help = "boom", "Boom", "dies"

        async def collect(self, *args):  # noqa: ANN002
            raise Crash()

    app.providers.providers["tips"], real = Exploding(), app.providers.providers["tips"]
    with pytest.raises(Crash):
        await app.clock.advance(timedelta(days=1))
    await app.close()

    # Past the job's 10-minute lease: on PostgreSQL another process could have been running the
    # job until then; on SQLite the restarted process frees it at once.
    again, _ = await discord_app(db_path, fake, frozen_clock("2026-01-06T09:11:00+00:00"))
    try:
        await again.start(background=False)
        assert len(fake.in_channel("100")) == 1
        assert real is not None
    finally:
        await again.close()


async def test_crash_between_due_and_sent_loses_nothing(db_path: Path, fake: FakeDiscord) -> None:
    app = await create_app(db_path, clock=frozen_clock(START))  # no transport: the post stays queued
    await add_digest(app)
    await app.clock.advance(timedelta(days=1))
    assert await delivery_repo.counts(app.db) == {"pending": 1}
    await app.close()

    again, _ = await discord_app(db_path, fake, frozen_clock("2026-01-06T09:01:00+00:00"))
    try:
        await again.start(background=False)
        assert len(fake.in_channel("100")) == 1
        await again.start(background=False)  # a second start finds nothing more to do
        assert len(fake.in_channel("100")) == 1
    finally:
        await again.close()


async def test_crash_between_sent_and_marked_done_does_not_duplicate(db_path: Path, fake: FakeDiscord, engine: str) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START), transport_cls=CrashAfterSend)
    await add_digest(app)
    with pytest.raises(Crash):
        await app.clock.advance(timedelta(days=1))
    assert len(fake.in_channel("100")) == 1
    assert await delivery_repo.counts(app.db) == {"sending": 1}  # in flight when it died
    await app.close()

    if engine == "postgres":
        # Another process may share the database: the post is the dead one's until its lease
        # (2 minutes) runs out, so a restart a minute later leaves it alone...
        early, _ = await discord_app(db_path, fake, frozen_clock("2026-01-06T09:01:00+00:00"))
        try:
            await early.start(background=False)
            assert len(fake.in_channel("100")) == 1 and fake.deduplicated == 0
            assert await delivery_repo.counts(early.db) == {"sending": 1}
        finally:
            await early.close()
    # ...and once the lease is over (at once on SQLite: one process owns the file) it is resent.
    again, _ = await discord_app(db_path, fake, frozen_clock("2026-01-06T09:03:00+00:00"))
    try:
        await again.start(background=False)
        assert len(fake.in_channel("100")) == 1  # the resend carried the same nonce
        assert fake.deduplicated == 1
        assert await delivery_repo.counts(again.db) == {"sent": 1}
    finally:
        await again.close()


async def test_lost_acknowledgement_is_resent_with_the_same_key(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        await add_digest(app)
        fake.drop_ack.add("100")
        await app.clock.advance(timedelta(days=1))
        assert len(fake.in_channel("100")) == 1
        assert await delivery_repo.counts(app.db) == {"pending": 1}  # we do not know it arrived
        await app.clock.advance(timedelta(seconds=30))
        await app.outbox.drain()
        assert len(fake.in_channel("100")) == 1 and fake.deduplicated == 1
        assert await delivery_repo.counts(app.db) == {"sent": 1}
    finally:
        await app.close()


async def test_the_same_period_queued_twice_is_one_post(db_path: Path, fake: FakeDiscord) -> None:
    from bot.delivery import Target

    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        target = Target("discord", "discord:g1", "100", "general")
        await app.outbox.post(target, "alert", "2026-01-05", Reply(text="one"))
        await app.outbox.post(target, "alert", "2026-01-05", Reply(text="one again"))
        await app.outbox.drain()
        assert [m["content"] for m in fake.in_channel("100")] == ["one"]
    finally:
        await app.close()


def test_split_reply_respects_limits_and_keeps_order() -> None:
    reply = Reply(text="head", cards=[Card(title=f"c{i}", body="x" * 300) for i in range(12)])
    parts = split_reply(reply, Limits(max_chars=1000, max_cards=5))
    assert [len(p.cards) for p in parts] == [3, 3, 3, 3]
    assert [c.title for p in parts for c in p.cards] == [f"c{i}" for i in range(12)]
    assert parts[0].text == "head" and all(not p.text for p in parts[1:])
    huge = split_reply(Reply(text="t" * 5000, cards=[Card(title="big", body="y" * 10_000)]), Limits(max_chars=2000))
    assert "".join(p.text for p in huge) == "t" * 5000  # split, never cut
    assert sum(c.body.count("y") for p in huge for c in p.cards) == 10_000
    assert all(len(p.text) <= 2000 and sum(len(c.body) for c in p.cards) <= 2000 for p in huge)
    from bot.render.discord import render_message

    wide = Reply(cards=[Card(title="Advice topics", fields=[Field(f"t{i}", "v" * 300) for i in range(29)])])
    parts = split_reply(wide, DiscordRestTransport.limits)
    assert sum(len(c.fields) for p in parts for c in p.cards) == 29
    for part in parts:
        render_message(part)  # each queued part is exactly one Discord message


def test_discord_payload_never_pings_and_fits() -> None:
    from bot.render.discord import render_messages

    payloads = render_messages(Reply(text="@everyone " + "z" * 3000, cards=[Card(title="t" * 400, body="b" * 5000)]))
    assert len(payloads) > 1  # split, not cut
    for payload in payloads:
        assert payload["allowed_mentions"] == {"parse": []}
        assert len(payload.get("content", "")) <= 2000
        for embed in payload.get("embeds", []):
            assert len(embed.get("title", "")) <= 256 and len(embed.get("description", "")) <= 4096
    assert sum(p.get("content", "").count("z") for p in payloads) == 3000
    assert sum(e.get("description", "").count("b") for p in payloads for e in p.get("embeds", [])) == 5000


async def test_rate_limiter_spaces_requests_to_the_platform_rate() -> None:
    ticks = FakeTime(start=0.0)
    limiter = RateLimiter(Limits(rate=50.0, burst=1), ticks.monotonic, ticks.sleep)
    for _ in range(101):
        await limiter.acquire()
    assert ticks.now == pytest.approx(2.0, rel=0.01)  # 100 intervals of 20 ms
    limiter.pause(3.0)
    before = ticks.now
    await limiter.acquire()
    assert ticks.now - before >= 3.0


async def test_direct_messages_open_the_dm_channel_once_and_can_be_edited(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        ada = Target.user("discord", "discord:g1", "555", "ada")
        first = await app.outbox.post(ada, "alert", "p1", Reply(text="New posting: ML intern @everyone"))
        await app.outbox.post(ada, "alert", "p2", Reply(text="Another posting"))
        await app.outbox.post(Target("discord", "discord:g1", "100", "general"), "alert", "p1", Reply(text="same period, a channel"))
        await app.outbox.drain()
        dms = fake.dms_to("555")
        assert [m["content"] for m in dms] == ["New posting: ML intern @\u200beveryone", "Another posting"]
        assert fake.dm_opens == 1  # the DM channel is opened once and cached
        assert [m["content"] for m in fake.in_channel("100")] == ["same period, a channel"]  # keys kept apart
        row = await delivery_repo.by_key(app.db, first[0])
        assert row is not None and row.target_kind == "user"
        assert (row.sent_channel, row.message_id) == (dms[0]["channel_id"], dms[0]["id"])
        assert await app.outbox.edit(first[0], Reply(text="Closed: ML intern (no longer accepting)"))
        assert dms[0]["content"].startswith("Closed:") and dms[0]["edited"]
        assert not await app.outbox.edit("discord|nope|1|x|y|1/1", Reply(text="x"))
    finally:
        await app.close()


async def test_a_user_who_blocks_dms_fails_only_their_posts_and_no_moderator_is_bothered(db_path: Path, fake: FakeDiscord) -> None:
    fake.blocks_dms.add("666")
    app, _ = await discord_app(db_path, fake, frozen_clock(START))
    try:
        await app.handle(MOD, GUILD, "/config set mod_channel <#mods>")
        heard: list = []
        app.outbox.problem_listeners.append(lambda problem: _record(heard, problem))
        blocked = Target.user("discord", "discord:g1", "666", "bo")
        await app.outbox.post(blocked, "alert", "p1", Reply(text="one"))
        await app.outbox.post(blocked, "alert", "p2", Reply(text="two"))
        await app.outbox.post(Target.user("discord", "discord:g1", "555", "ada"), "alert", "p1", Reply(text="fine"))
        await app.outbox.drain()
        assert [m["content"] for m in fake.dms_to("555")] == ["fine"]
        assert fake.dms_to("666") == []
        assert await delivery_repo.counts(app.db, "discord") == {"failed": 2, "sent": 1}
        assert fake.requests - len(fake.dms_to("555")) <= 4  # no retries: it is permanent
        [problem] = heard
        assert problem.is_user and "does not accept direct messages" in problem.reason
        assert fake.in_channel("mods") == []  # a student's closed DMs are not a moderator's problem
        assert not (await app.handle(MOD, GUILD, "/digest list")).notices
    finally:
        await app.close()


async def _record(heard: list, problem) -> None:  # noqa: ANN001
    heard.append(problem)


async def test_posts_are_paced_by_the_route_bucket_before_any_429(db_path: Path) -> None:
    """Discord says in X-RateLimit-* headers when a channel's bucket is empty; the next post waits for it."""
    ticks = FakeTime()
    server = FakeDiscord(channels={"100"}, channel_bucket=(2, 0.4), clock=ticks.monotonic)  # one clock for both sides
    await server.start()
    app = await create_app(db_path, clock=frozen_clock(START))
    try:
        transport = DiscordRestTransport("test-token", base_url=server.base_url)
        app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=1)
        for n in range(5):
            await app.outbox.post(Target("discord", "discord:g1", "100", "general"), "alert", f"p{n}", Reply(text=f"post {n}"))
        await app.outbox.drain()
        assert [m["content"] for m in server.in_channel("100")] == [f"post {n}" for n in range(5)]
        assert server.rate_limited == 0  # paced from the headers, never told off
        assert ticks.now - 1000.0 == pytest.approx(0.8, abs=0.01)  # two waits for the bucket to refill, in fake time
    finally:
        await app.close()
        await server.stop()


class HeldSend(DiscordRestTransport):
    """Holds each send until the test lets it go, so a stop can arrive mid-send."""

    started: asyncio.Event
    release: asyncio.Event

    async def send(self, target, reply, key):  # noqa: ANN001
        self.started.set()
        await self.release.wait()
        return await super().send(target, reply, key)


async def test_stopping_lets_a_post_in_flight_finish_and_claims_nothing_new(db_path: Path, fake: FakeDiscord) -> None:
    app, _ = await discord_app(db_path, fake, frozen_clock(START), transport_cls=HeldSend)
    transport = app.outbox.dispatchers["discord"].transport
    transport.started, transport.release = asyncio.Event(), asyncio.Event()
    try:
        async with app.db.transaction() as conn:
            for n in (1, 2):
                await app.outbox.queue(conn, Target("discord", "g1", "100", "general"), "note", f"p{n}", Reply(text=f"post {n}"), app.clock.now())
        app.outbox.start()
        app.outbox.wake()
        await asyncio.wait_for(transport.started.wait(), 5)  # post 1 is being sent
        stopping = asyncio.create_task(app.outbox.stop())
        await asyncio.sleep(0)
        transport.release.set()
        await asyncio.wait_for(stopping, 5)
        assert [m["content"] for m in fake.in_channel("100")] == ["post 1"]  # finished, not cut off
        assert await delivery_repo.counts(app.db, "discord") == {"sent": 1, "pending": 1}  # post 2 waits for next start
    finally:
        await app.close()


async def test_a_post_another_process_queues_goes_out_without_waiting_for_a_wake(db_path: Path, fake: FakeDiscord) -> None:
    """`careerbot feeds refresh` run from cron queues alerts in the running bot's database: the
    bot's sender, asleep with nothing due, notices the other connection's commit and sends."""
    app, _ = await discord_app(db_path, fake, Clock())
    app.external_writes.interval = 0.05
    other = await create_app(db_path, clock=Clock())  # a second connection, as the CLI process has
    try:
        await app.start(background=True)
        await asyncio.sleep(0.3)  # the sender finds nothing to send and goes to sleep
        async with other.db.transaction() as conn:
            await other.outbox.queue(conn, Target("discord", "g1", "100", "general"), "note", "from-cron", Reply(text="queued elsewhere"), other.clock.now())
        for _ in range(100):
            if fake.in_channel("100"):
                break
            await asyncio.sleep(0.05)
        assert [m["content"] for m in fake.in_channel("100")] == ["queued elsewhere"]
        assert await delivery_repo.counts(app.db, "discord") == {"sent": 1}
    finally:
        await other.close()
        await app.close()
