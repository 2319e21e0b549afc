"""Digests and the persistent scheduler, driven through the console with a fake clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.console import ConsoleSession
from bot.clock import frozen_clock
from bot.models import Card, Place, Role
from bot.providers import Period, Section
from bot.scheduler import Outcome
from bot.storage import jobs_repo
from commands import create_app

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)

# The app fixture's clock starts at Monday 2026-01-05 09:00 UTC.


def period_end(post: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(post["period"])


def tip_title(post: dict[str, Any]) -> str:
    return post["reply"]["cards"][0]["title"]


@dataclass
class ListProvider:
    """A provider whose items a test controls (stands in for papers/postings)."""

    name: str = "news"
    title: str = "News"
    help: str = "test items"
    items: list[str] = field(default_factory=list)
    calls: list[Period] = field(default_factory=list)
    fail_times: int = 0
    on_collect: Any = None

    async def collect(self, app, place: Place, period: Period, settings: dict[str, Any]) -> Section | None:
        self.calls.append(period)
        if self.on_collect is not None:
            await self.on_collect()
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("source exploded")
        if not self.items:
            return None
        return Section(self.title, [Card(title=i, body=f"about {i}") for i in self.items], item_keys=list(self.items))


async def mod(console) -> None:
    await console.say(":as mod")


async def test_the_issue_script_two_days_two_posts(console) -> None:
    await mod(console)
    reply = await console.say("/digest add tips daily 09:00")
    assert "Digest #1 will post tips in #general daily 09:00 (UTC)" in reply["text"]
    posts = await console.posts(":tick 2d")
    assert len(posts) == 2
    assert [p["target"] for p in posts] == [{"platform": "console", "workspace": "console:console", "channel": "general"}] * 2
    assert [period_end(p) for p in posts] == [
        datetime(2026, 1, 6, 9, tzinfo=timezone.utc),
        datetime(2026, 1, 7, 9, tzinfo=timezone.utc),
    ]
    assert tip_title(posts[0]) != tip_title(posts[1])
    assert all(p["kind"] == "digest-1" for p in posts)
    assert await console.posts(":tick 23h") == []


async def test_tips_rotate_without_repeats_until_all_were_given(console, app, engine: str) -> None:
    if engine == "postgres":
        pytest.skip("a month of daily tips (about 30 s) tests the rotation, not the storage the other digest tests cover")
    await mod(console)
    await console.say("/digest add tips daily 09:00")
    total = len(app.state["advice"].entries)
    posts = await console.posts(f":tick {total + 1}d")
    titles = [tip_title(p) for p in posts]
    assert len(titles) == total + 1
    assert len(set(titles[:total])) == total  # every entry once
    assert titles[total] in titles[:total]  # then a new round starts


@pytest.mark.parametrize(
    "start,expected_utc_hours",
    [("2026-03-27T12:00:00+00:00", [8, 7, 7]), ("2026-10-23T12:00:00+00:00", [7, 8, 8])],
    ids=["spring-forward", "fall-back"],
)
async def test_nine_oclock_berlin_stays_nine_across_dst(db_path: Path, start: str, expected_utc_hours) -> None:
    app = await create_app(db_path, clock=frozen_clock(start))
    try:
        session = ConsoleSession(app, role=Role.MODERATOR)
        await session.feed("/config set timezone Europe/Berlin")
        await session.feed("/digest add tips daily 09:00")
        events = await session.feed(":tick 3d")
        posts = [e for e in events if e["type"] == "post"]
        ends = [period_end(p) for p in posts]
        assert [t.hour for t in ends] == expected_utc_hours
        assert {t.astimezone(ZoneInfo("Europe/Berlin")).hour for t in ends} == {9}
        assert all("(Europe/Berlin)" in p["reply"]["text"] for p in posts)
    finally:
        await app.close()


async def test_moderator_timezone_change_moves_the_next_run(console) -> None:
    await mod(console)
    await console.say("/digest add tips daily 09:00")
    assert "next Tue 2026-01-06 09:00 (UTC)" in await console.text("/digest list")
    await console.say("/config set timezone America/New_York")
    # It is 04:00 in New York, so the next 09:00 there is today, 14:00 UTC.
    assert "next Mon 2026-01-05 09:00 (America/New_York)" in await console.text("/digest list")
    assert await console.posts(":tick 4h59m") == []
    posts = await console.posts(":tick 1m")
    assert [period_end(p) for p in posts] == [datetime(2026, 1, 5, 14, tzinfo=timezone.utc)]
    assert await console.posts(":tick 23h59m") == []  # not at 09:00 UTC any more
    # A channel-level timezone overrides the server's for that channel's digests only.
    await console.say("/config set timezone Asia/Tokyo #general")
    assert "(Asia/Tokyo)" in await console.text("/digest list")


async def test_catch_up_after_three_days_down_is_one_post_naming_the_span(db_path: Path) -> None:
    app = await create_app(db_path, clock=frozen_clock("2026-01-05T10:00:00+00:00"))
    session = ConsoleSession(app, role=Role.MODERATOR)
    await session.feed("/digest add tips daily 09:00")
    await app.close()  # the bot goes down on Monday 10:00 ...

    later = await create_app(db_path, clock=frozen_clock("2026-01-08T10:00:00+00:00"))  # ... and is back Thursday
    try:
        session = ConsoleSession(later, role=Role.MODERATOR)
        await later.start(background=False)
        posts = session.take_posts()
        assert len(posts) == 1
        text = posts[0]["reply"]["text"]
        assert "covers 3 scheduled runs" in text
        assert "from Mon 2026-01-05 10:00 to Thu 2026-01-08 09:00 (UTC)" in text
        assert period_end(posts[0]) == datetime(2026, 1, 8, 9, tzinfo=timezone.utc)
        # Back to normal: the next day is one ordinary post.
        nxt = [e for e in await session.feed(":tick 1d") if e["type"] == "post"]
        assert len(nxt) == 1 and "Catch-up" not in nxt[0]["reply"]["text"]
    finally:
        await later.close()


async def test_pause_and_resume(console) -> None:
    await mod(console)
    await console.say("/digest add tips weekdays 08:30")
    assert "is paused" in (await console.say("/digest pause 1"))["text"]
    assert "paused (paused by ada)" in await console.text("/digest list")
    assert await console.posts(":tick 3d") == []
    assert "resumes; next post Fri 2026-01-09 08:30" in (await console.say("/digest resume 1"))["text"]
    posts = await console.posts(":tick 1d")
    assert len(posts) == 1 and "Catch-up" not in posts[0]["reply"]["text"]  # no backlog for the paused days
    assert "is not paused" in (await console.say("/digest resume 1"))["text"]


async def test_removed_before_it_is_due_posts_nothing(console, app) -> None:
    await mod(console)
    await console.say("/digest add tips daily 09:00")
    await console.posts(":tick 23h59m")
    assert "is removed" in (await console.say("/digest remove 1"))["text"]
    assert await console.posts(":tick 3d") == []
    assert await jobs_repo.get(app.db, "digest", "1") is None
    assert "No digests yet" in await console.text("/digest list")


async def test_removed_while_its_job_is_running_posts_nothing(console, app) -> None:
    provider = ListProvider(items=["a"])
    app.providers.add(provider)
    await mod(console)
    await console.say("/digest add news daily 09:00")

    async def remove_meanwhile() -> None:
        other = ConsoleSession(app, role=Role.MODERATOR)
        await other.feed("/digest remove 1")

    provider.on_collect = remove_meanwhile
    assert await console.posts(":tick 1d") == []
    assert await jobs_repo.get(app.db, "digest", "1") is None


async def test_a_failing_job_is_not_marked_done_and_runs_again(console, app) -> None:
    provider = ListProvider(items=["paper A"], fail_times=1)
    app.providers.add(provider)
    await mod(console)
    await console.say("/digest add news daily 09:00")
    assert await console.posts(":tick 1d") == []
    job = await jobs_repo.get(app.db, "digest", "1")
    assert job is not None and job.attempts == 1 and "source exploded" in (job.last_error or "")
    posts = await console.posts(":tick 1m")  # first retry after 30 s
    assert len(posts) == 1
    assert period_end(posts[0]) == datetime(2026, 1, 6, 9, tzinfo=timezone.utc)  # the same period, not skipped
    assert provider.calls[0] == provider.calls[1]


async def test_quiet_day_posts_nothing_or_the_configured_line(console, app) -> None:
    app.providers.add(ListProvider())
    await mod(console)
    await console.say("/digest add news daily 09:00")
    assert await console.posts(":tick 1d") == []
    await console.say("/config set digest_quiet_line Quiet day: nothing new. @everyone")
    posts = await console.posts(":tick 1d")
    assert len(posts) == 1 and "Quiet day: nothing new." in posts[0]["reply"]["text"]
    assert "@everyone" not in posts[0]["reply"]["text"]  # mentions in settings are defused


async def test_a_big_digest_is_split_into_ordered_parts(console, app) -> None:
    app.providers.add(ListProvider(items=[f"item {i}" for i in range(25)]))
    await mod(console)
    await console.say("/digest add news daily 09:00")
    posts = await console.posts(":tick 1d")
    assert [p["part"] for p in posts] == ["1/3", "2/3", "3/3"]
    titles = [c["title"] for p in posts for c in p["reply"]["cards"]]
    assert titles == ["News: item 0"] + [f"item {i}" for i in range(1, 25)]


async def test_feed_supplied_text_cannot_ping(console, app) -> None:
    app.providers.add(ListProvider(items=["@everyone look", "<@&123> hi", "<!channel> yo"]))
    await mod(console)
    await console.say("/digest add news daily 09:00")
    posts = await console.posts(":tick 1d")
    titles = " ".join(c["title"] for c in posts[0]["reply"]["cards"])
    assert "@everyone" not in titles and "<@&123>" not in titles and "<!channel>" not in titles


async def test_preview_renders_without_posting_or_using_up_tips(console) -> None:
    await mod(console)
    await console.say("/digest add tips daily 09:00")
    preview = await console.say("/digest preview 1")
    assert preview["text"].startswith("Preview only, not posted") and preview["ephemeral"]
    posts = await console.posts(":tick 1d")
    assert tip_title(posts[0]) == preview["cards"][0]["title"]  # the preview did not consume the tip


@pytest.mark.parametrize(
    "line,fragment",
    [
        ("/digest add lasers daily 09:00", "not something a digest can contain; available: tips"),
        ("/digest add tips hourly", "is not a schedule"),
        ("/digest add tips daily 9", "not a time of day"),
        ("/digest add tips weekly someday 10:00", "is not a day"),
        ("/digest add tips", "needs SCHEDULE"),
        ("/digest add tips daily 09:00 #bad!name", "too many parts"),
        ("/digest remove seven", "must be a whole number"),
        ("/digest remove 99", "There is no digest #99"),
        ("/digest pause 0", "must be a whole number from 1"),
        ("/digest preview 99999999999", "must be a whole number from 1 to 1000000000"),  # not 1e+09
    ],
)
async def test_bad_digest_input_is_explained(console, line: str, fragment: str) -> None:
    await mod(console)
    reply = await console.say(line)
    assert reply["kind"] == "error", reply
    assert fragment in reply["text"]
    assert "No digests yet" in await console.text("/digest list")


async def test_duplicates_limits_members_and_other_servers(console, app) -> None:
    reply = await console.say("/digest add tips daily 09:00")
    assert reply["kind"] == "refusal"
    await mod(console)
    await console.say("/digest add tips daily 09:00")
    assert "already posts tips daily 09:00" in (await console.say("/digest add tip daily 9am"))["text"]
    for hour in range(10, 14):
        await console.say(f"/digest add tips daily {hour}:00")
    assert "most a channel can have" in (await console.say("/digest add tips daily 15:00"))["text"]
    other = ConsoleSession(app, role=Role.MODERATOR, workspace="elsewhere")
    [event] = await other.feed("/digest remove 1")
    assert "There is no digest #1 in this server" in event["reply"]["text"]


async def test_the_scheduler_loop_is_woken_by_sooner_work(app) -> None:
    ran = asyncio.Event()

    async def handler(job, at) -> Outcome:
        ran.set()
        return Outcome(next_due=None)

    app.scheduler.handle("probe", handler)
    app.scheduler.start()
    await asyncio.sleep(0)  # let the loop go to sleep with nothing due
    await app.scheduler.schedule("probe", "x", app.clock.now() - timedelta(seconds=1))
    await asyncio.wait_for(ran.wait(), timeout=5)
    await app.scheduler.stop()
    assert await jobs_repo.get(app.db, "digest", "1") is None


async def test_a_schedule_without_a_time_uses_the_digest_time_setting(console) -> None:
    await mod(console)
    await console.say("/config set digest_time 7:15am")
    reply = await console.say("/digest add tips weekdays")
    assert "weekdays 07:15" in reply["text"] and "first on Tue 2026-01-06 07:15" in reply["text"]
