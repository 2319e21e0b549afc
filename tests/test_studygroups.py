"""Study groups as members and moderators use them in the console: groups, check-ins, bad
input, /me, prompts and reminders on schedule, the weekly summary, the digest section and
the chart — with the clock moved, never slept."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.console import ConsoleSession
from bot.app import App
from bot.clock import frozen_clock
from bot.models import Role
from commands import create_app

pytestmark = pytest.mark.both_engines

START = "2027-03-01T09:00:00+00:00"  # a Monday


@pytest.fixture
async def sg_app(db_path: Path):
    app = await create_app(db_path, clock=frozen_clock(START))
    yield app
    await app.close()


def session(app: App, user: str, role: Role = Role.MEMBER, files: Path | None = None) -> ConsoleSession:
    s = ConsoleSession(app, user=user, role=role, channel="study", workspace="club", files_dir=files)
    return s


async def say(s: ConsoleSession, line: str) -> dict[str, Any]:
    events = await s.feed(line)
    return [e for e in events if e["type"] in ("reply", "meta")][-1]["reply"]


def text(reply: dict[str, Any]) -> str:
    parts = [reply["text"]]
    for card in reply["cards"]:
        parts += [card["title"], card["body"], card["footer"]] + [f"{f['name']}: {f['value']}" for f in card["fields"]]
    return "\n".join(p for p in parts if p)


async def tick(s: ConsoleSession, duration: str) -> list[dict[str, Any]]:
    return [e for e in await s.feed(f":tick {duration}") if e["type"] == "post"]


async def group_of_two(app: App) -> tuple[ConsoleSession, ConsoleSession]:
    ada, bob = session(app, "ada"), session(app, "bob")
    assert "created" in text(await say(ada, "/studygroup create lc-grind weekdays 19:00 two mediums a day"))
    await say(ada, "/me set timezone America/Los_Angeles")
    await say(bob, "/me set timezone Asia/Tokyo")
    assert "You joined **lc-grind**" in text(await say(bob, "/studygroup join lc-grind"))
    return ada, bob


# -- groups -----------------------------------------------------------------------------------------
async def test_create_join_list_info(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    listing = text(await say(bob, "/studygroup list"))
    assert "**lc-grind** · 2 members · weekdays 19:00 · #study · two mediums a day · you're in it" in listing
    info = text(await say(ada, "/studygroup info lc-grind"))
    assert "lc-grind (2 members)" in info and "Goal: two mediums a day" in info and "created by ada" in info


async def test_create_reads_schedule_channel_and_goal_in_either_order(sg_app: App) -> None:
    mod = session(sg_app, "olive", Role.MODERATOR)
    made = text(await say(mod, "/studygroup create papers #reading weekly mon,wed,fri 18:30 one paper a week"))
    assert "created in #reading: check-ins weekly mon,wed,fri 18:30" in made and "Goal: one paper a week" in made
    made = text(await say(mod, "/studygroup create ml-basics daily ISLR chapter a week #fundamentals"))
    assert "created in #fundamentals: check-ins daily 19:00" in made and "Goal: ISLR chapter a week" in made


@pytest.mark.parametrize("line, expected", [
    ("/studygroup join nope", "There is no study group 'nope'"),
    ("/studygroup join lc-grnd", "Did you mean lc-grind?"),
    ("/studygroup join lc-grind", "You're already in lc-grind"),
    ("/studygroup leave papers", "There is no study group"),
    ("/studygroup create lc-grind daily", "There is already a group called lc-grind"),
    ("/studygroup create bad/name daily", "can't be a group name"),
    ("/studygroup create x weekly", "weekly needs a day"),
    ("/studygroup create x weekly funday 10:00", "is not a day"),
    ("/studygroup create x daily 25:00", "is not a time of day"),
    ("/studygroup create x never", "needs at least one check-in day"),
    ("/studygroup schedule lc-grind weekly none", "is not a day"),
    ("/studygroup pause lc-grind until yesterday", "is not a date"),
    ("/studygroup pause lc-grind until 2020-01-01", "in the past"),
    ("/studygroup resume lc-grind", "no pause in lc-grind"),
    ("/me set timezone Mars/Olympus", "is not a timezone"),
    ("/me set timezone ../../etc/passwd", "is not a timezone"),
    ("/me set dm maybe", "expected on or off"),
    ("/me set colour blue", "no personal setting"),
    ("/checkin edit nothing to edit", "You haven't checked in to lc-grind today"),
    ("/checkin undo", "You haven't checked in to lc-grind today"),
    ("/checkin read a paper 99999m", "between 1 and 1440"),
])
async def test_bad_input_gets_a_clear_short_message(sg_app: App, line: str, expected: str) -> None:
    ada, _ = await group_of_two(sg_app)
    reply = await say(ada, line)
    assert reply["kind"] == "error", reply
    assert expected in text(reply) and len(text(reply)) < 400 and "Traceback" not in text(reply)


async def test_leaving_a_group_not_joined_and_checking_in_without_a_group(sg_app: App) -> None:
    await group_of_two(sg_app)
    cy = session(sg_app, "cy")
    assert "You're not in lc-grind" in text(await say(cy, "/studygroup leave lc-grind"))
    assert "You're not in a study group yet" in text(await say(cy, "/checkin did stuff"))
    assert "You're not in a study group here" in text(await say(cy, "/streak"))


async def test_ten_thousand_characters_and_mass_mentions_in_a_check_in(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    long = await say(ada, "/checkin " + "x" * 10_000)
    assert long["kind"] == "error" and "10,009 characters" in text(long)
    long = await say(ada, "/checkin " + "x" * 600)
    assert long["kind"] == "error" and "text is 600 characters long; keep it under 500" in text(long)
    ok = await say(ada, "/checkin @everyone look <@&123> @here 30m")
    assert "Checked in" in text(ok)
    info = text(await say(bob, "/leaderboard lc-grind"))
    assert "ada — 1 day · 30 min" in info
    # what others see later (the weekly summary's highlight) never pings anyone
    posts = await tick(bob, "7d")
    summary = next(p for p in posts if "week of" in p["reply"]["cards"][0]["title"])
    shown = json.dumps(summary["reply"])
    assert "@everyone" not in shown and "@here" not in shown and "<@&123>" not in shown
    assert "look" in shown


async def test_check_in_merges_edit_and_undo_today(sg_app: App) -> None:
    ada, _ = await group_of_two(sg_app)
    assert "Checked in: **lc-grind**, Mon 1 Mar (America/Los_Angeles)" in text(await say(ada, "/checkin two mediums 45m"))
    merged = text(await say(ada, "/checkin one hard 1h"))
    assert "Added to today's check-in" in merged and "105 min today" in merged
    assert "now reads: arrays and graphs (20 min)" in text(await say(ada, "/checkin edit arrays and graphs 20m"))
    assert "Removed today's check-in" in text(await say(ada, "/checkin undo"))
    assert "not checked in yet today" in text(await say(ada, "/streak"))


async def test_quick_check_in_and_a_trailing_word_that_is_not_a_group(sg_app: App) -> None:
    ada, _ = await group_of_two(sg_app)
    quick = text(await say(ada, "/checkin"))
    assert "Checked in" in quick and "Add what you did" in quick
    again = text(await say(ada, "/checkin solved two mediums"))  # "mediums" is not a group: it stays in the text
    assert "Added to today's check-in" in again
    assert "now reads: solved two mediums" in text(await say(ada, "/checkin edit solved two mediums"))


async def test_several_groups_need_the_group_named(sg_app: App) -> None:
    ada, _ = await group_of_two(sg_app)
    await say(ada, "/studygroup create papers weekly sun 18:00")
    await say(ada, ":in #general")
    ambiguous = await say(ada, "/checkin read attention is all you need")
    assert ambiguous["kind"] == "error" and "You're in 2 groups (lc-grind, papers)" in text(ambiguous)
    assert "Checked in: **papers**" in text(await say(ada, "/checkin read attention is all you need 30m papers"))


async def test_archive_is_for_the_owner_or_moderators(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    assert "Only ada or a moderator" in text(await say(bob, "/studygroup archive lc-grind"))
    assert "is archived" in text(await say(ada, "/studygroup archive lc-grind"))
    assert "No study groups here yet" in text(await say(bob, "/studygroup list"))
    assert await tick(bob, "7d") == []  # no prompts or summaries for an archived group


async def test_goal_and_leave(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    assert "Only ada or a moderator can change lc-grind's goal" in text(await say(bob, "/studygroup goal lc-grind nothing"))
    assert "lc-grind's goal is now: one hard a day" in text(await say(ada, "/studygroup goal lc-grind one hard a day"))
    assert "Goal: one hard a day" in text(await say(bob, "/studygroup info lc-grind"))
    assert "You left lc-grind" in text(await say(bob, "/studygroup leave lc-grind"))
    assert "lc-grind (1 members)" in text(await say(ada, "/studygroup info lc-grind"))
    assert "You're not in a study group yet" in text(await say(bob, "/checkin did stuff"))


async def test_two_bots_sharing_a_database_create_groups_at_once(db_path: Path) -> None:
    """Two careerbot processes on one database: groups created at the same moment all exist, each with its own members."""
    apps = [await create_app(db_path, clock=frozen_clock(START)) for _ in range(2)]
    try:
        names = ["g1", "g2", "g3", "g4", "g5", "g6"]
        owners = [session(app, f"owner-{name}") for app, name in zip(apps * 3, names)]
        made = await asyncio.gather(*(say(o, f"/studygroup create {name} daily") for o, name in zip(owners, names)))
        assert all("created" in text(r) for r in made), [text(r) for r in made]
        listing = text(await say(session(apps[0], "zed"), "/studygroup list"))
        assert all(f"**{name}** · 1 members" in listing for name in names), listing
    finally:
        for app in apps:
            await app.close()


# -- /me ---------------------------------------------------------------------------------------------
async def test_me_show_set_and_the_cascade(sg_app: App) -> None:
    mod = session(sg_app, "olive", Role.MODERATOR)
    await say(mod, "/config set timezone Europe/Berlin")
    ada = session(sg_app, "ada")
    assert "**timezone**: Europe/Berlin (this server's)" in text(await say(ada, "/me"))
    await say(ada, "/me set timezone Asia/Kathmandu")
    assert "**timezone**: Asia/Kathmandu (yours)" in text(await say(ada, "/me show"))
    assert "back to the default: Europe/Berlin" in text(await say(ada, "/me set timezone default"))


async def test_me_export_then_forget_then_streak(sg_app: App, tmp_path: Path) -> None:
    await group_of_two(sg_app)
    ada = session(sg_app, "ada", files=tmp_path / "files")
    await say(ada, "/checkin two mediums 45m")
    await say(ada, "/alerts add remote category:ai-ml")
    events = await ada.feed("/me export")
    exported = json.loads(Path(events[-1]["files"][0]).read_text())
    assert exported["settings"] == {"timezone": "America/Los_Angeles"}
    assert [c["text"] for c in exported["studygroups"]["checkins"]] == ["two mediums"]
    assert exported["alerts"][0]["filters"].startswith("remote")
    confirm = await say(ada, "/me forget")
    assert "Delete everything" in text(confirm)
    assert "streak **1**" in text(await say(ada, "/streak"))  # asking deletes nothing
    await say(ada, "/me forget")
    done = text(await say(ada, ":click 1"))
    assert "deleted" in done and "1 check-ins" in done and "1 posting alerts" in done and "1 personal settings" in done
    assert "You're not in a study group here" in text(await say(ada, "/streak"))
    assert "No alerts yet" in text(await say(ada, "/alerts list"))
    assert "**timezone**: UTC (this server's)" in text(await say(ada, "/me"))
    # the group she created stays for bob
    assert "lc-grind (1 members)" in text(await say(session(sg_app, "bob"), "/studygroup info lc-grind"))


async def test_someone_else_cannot_confirm_my_forget(sg_app: App) -> None:
    await group_of_two(sg_app)
    ada = session(sg_app, "ada")
    reply = await ada.feed("/me forget")
    button = reply[-1]["reply"]["cards"][0]["buttons"][0]
    bob = session(sg_app, "bob")
    bob._buttons = []  # bob presses the same button id
    from bot.buttons import encode
    from bot.models import ActionButton
    clicked = await sg_app.click(bob.actor, bob.place, encode(ActionButton(button["label"], button["command"], button["values"])))
    assert "Delete everything" in clicked.plain_text()  # bob is asked about *his* data; ada's stays
    assert "lc-grind" in text(await say(ada, "/streak"))


# -- schedules: prompts, reminders, summaries, digests ----------------------------------------------
async def test_prompts_post_on_the_groups_days_with_a_check_in_button(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    posts = await tick(bob, "7d")
    prompts = [p for p in posts if p["reply"]["cards"][0]["title"] == "Check-in time: lc-grind"]
    assert [p["period"] for p in prompts] == [f"prompt-2027-03-0{d}" for d in (1, 2, 3, 4, 5)]  # weekdays, 19:00 UTC
    assert prompts[0]["target"]["channel"] == "study"
    button = prompts[0]["reply"]["cards"][0]["buttons"][0]
    assert button["label"] == "Check in" and button["command"] == "checkin add"
    bob._buttons = []
    from bot.buttons import encode
    from bot.models import ActionButton
    clicked = await sg_app.click(bob.actor, bob.place, encode(ActionButton("Check in", "checkin add", button["values"])))
    assert "Checked in: **lc-grind**" in clicked.plain_text()


async def test_reminders_by_dm_only_when_opted_in_and_not_checked_in(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    await say(bob, "/me set dm on")
    await say(bob, "/me set reminder_time 20:00")
    # Tokyo: Mon 1 Mar 20:00 = 11:00 UTC; bob has not checked in
    posts = [p for p in await tick(bob, "3h") if p["kind"] == "study-reminder"]
    assert len(posts) == 1 and posts[0]["target"]["user"] == "bob" and posts[0]["period"] == "2027-03-01"
    assert "You haven't checked in today" in posts[0]["reply"]["cards"][0]["title"]
    # Tue: he checks in at 09:00 Tokyo, so no reminder that evening
    await tick(bob, "13h")
    await say(bob, "/checkin flashcards 20m")
    assert [p for p in await tick(bob, "12h") if p["kind"] == "study-reminder"] == []
    # ada never opted in: no DM to her, ever
    assert all(p["target"].get("user") != "ada" for p in await tick(ada, "7d"))


async def test_weekly_summary_counts_minutes_streaks_and_a_highlight(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    for day in range(5):  # Mon–Fri: ada every day (LA evening), bob three days
        await say(ada, f"/checkin mediums day {day} 30m")
        if day in (0, 2, 4):
            await say(bob, "/checkin read the attention paper and took notes 1h" if day == 4 else "/checkin flashcards 15m")
        await tick(ada, "1d")
    posts = await tick(ada, "3d")
    summary = [p for p in posts if "week of" in p["reply"]["cards"][0]["title"]]
    assert len(summary) == 1
    card = summary[0]["reply"]["cards"][0]
    assert card["title"] == "lc-grind: week of Mon 1 Mar – Sun 7 Mar"
    assert "ada — 5 of 5 study days · 2 h 30 min · streak 5" in card["body"]
    assert "bob — 3 of 5 study days · 1 h 30 min" in card["body"]
    fields = {f["name"]: f["value"] for f in card["fields"]}
    assert fields["Total time"] == "4 h" and fields["Checked in"] == "2 of 2 members · 8 check-ins"
    assert fields["Highlight"] == "“read the attention paper and took notes” — bob"
    assert "ada 5" in fields["Longest streaks"]


async def test_studygroups_digest_section(sg_app: App) -> None:
    ada, bob = await group_of_two(sg_app)
    mod = session(sg_app, "olive", Role.MODERATOR)
    assert "Digest #1 will post studygroups in #study" in text(await say(mod, "/digest add studygroups daily 08:00"))
    await say(ada, "/checkin two mediums 45m")
    posts = [p for p in await tick(mod, "1d") if p["kind"].startswith("digest")]
    assert posts, "the digest posted"
    shown = json.dumps(posts[-1]["reply"])
    assert "lc-grind" in shown and "ada" in shown


async def test_chart_is_a_png_saved_by_the_console(sg_app: App, tmp_path: Path) -> None:
    from PIL import Image

    from commands.studygroups.chart import CHART_SIZE

    ada, _ = await group_of_two(sg_app)
    ada.files_dir = tmp_path / "files"
    for _ in range(3):
        await say(ada, "/checkin mediums 30m")
        await tick(ada, "1d")
    events = await ada.feed("/streak chart")
    reply = events[-1]
    assert "3 check-ins in the last 12 weeks" in reply["reply"]["text"]
    assert reply["reply"]["attachments"][0]["content_type"] == "image/png"
    image = Image.open(io.BytesIO(Path(reply["files"][0]).read_bytes()))
    assert image.format == "PNG" and image.size == CHART_SIZE
    group = await ada.feed("/streak chart lc-grind")
    assert "lc-grind, all members: 3 check-ins" in group[-1]["reply"]["text"]


async def test_the_month_scenario_replays_exactly(db_path: Path, tmp_path: Path, engine: str) -> None:
    """tests/fixtures/scenarios/studygroup-month.txt: Los Angeles (DST on 14 Mar) and Tokyo, a pause, a forgiven miss."""
    if engine == "postgres":
        pytest.skip("a month of scheduler ticks (10-17 s on PostgreSQL); the group storage is covered by the shorter tests")
    scenario = Path(__file__).resolve().parent / "fixtures" / "scenarios" / "studygroup-month.txt"
    app = await create_app(db_path, clock=frozen_clock("2027-03-01T11:00:00+00:00"))
    try:
        console = ConsoleSession(app, user="ada", files_dir=tmp_path / "files")
        outputs: list[dict[str, Any]] = []
        for line in scenario.read_text().splitlines():
            outputs += await console.feed(line)
        replies = [text(e["reply"]) for e in outputs if e["type"] == "reply"]
        assert all("Checked in" in r for r in replies if r.startswith("✅"))
        assert "**lc-grind**: streak **30** (longest 30) · not checked in yet today · 1 missed day forgiven" in replies[-6]
        assert "🥇 ada — 28 days · 27 h 45 min · streak 30\n🥈 bob — 22 days · 19 h 45 min · streak 24" in replies[-5]
        assert "**lc-grind**: streak **24** (longest 24)" in replies[-1]
        summaries = [e["reply"]["cards"][0] for e in outputs if e["type"] == "post" and "week of" in e["reply"]["cards"][0]["title"]]
        assert [c["title"] for c in summaries] == [f"lc-grind: week of Mon {a} Mar – Sun {b} Mar" for a, b in ((1, 7), (8, 14), (15, 21), (22, 28))]
        assert "bob — 0 check-ins · paused · streak 14" in summaries[2]["body"]
        prompts = [e for e in outputs if e["type"] == "post" and e["reply"]["cards"][0]["title"] == "Check-in time: lc-grind"]
        assert len(prompts) == 31  # every day at 19:00 UTC, once
        assert "30 check-ins in the last 12 weeks" in replies[-3] and "54 check-ins" in replies[-2]
    finally:
        await app.close()
