"""/studygroup, /checkin, /streak, /leaderboard: study groups that keep people accountable fairly.

Students preparing for ML internship interviews together check in on the group's days; a
streak counts the member's own local days (see ``streaks``), forgives a missed day now and
then, freezes during a pause, and survives DST and moving timezone. Everything answers
from local rows; prompts, reminders and summaries are scheduler jobs (see ``service``).
"""

from __future__ import annotations

import asyncio
import difflib
import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo
from typing import TYPE_CHECKING, Any

from bot.clock import iso_utc
from bot.context import Context
from bot.frontend import RefError
from bot.models import Attachment, Card, ChannelRef, Place, Reply, Role, UserRef
from bot.providers import Period, Section
from bot.recurrence import FORMS, parse_recurrence
from bot.registry import Arg, CommandError, Registry
from bot.settings import Choice, Key, SettingError, TimeOfDay
from bot.storage import studygroups_repo as repo
from bot.storage.db import Database
from bot.storage.studygroups_repo import Checkin, Group
from bot.text import clean_input, defuse_mentions, quote_input, shorten
from commands.studygroups.service import PROMPT, SUMMARY, StudyGroups, day_label, minutes_label, place_of
from commands.studygroups.streaks import Streak

if TYPE_CHECKING:
    from bot.app import App

STATE_KEY = "studygroups"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,31}$")
MAX_TEXT = 500
MAX_MINUTES = 24 * 60
MAX_GROUPS = 100  # per server
QUICK_TEXT = "(checked in)"
_DURATION = re.compile(r"^(?:(\d{1,3})h)?(?:(\d{1,6})(?:m|min|mins|minutes)?)?$", re.IGNORECASE)
_SCHEDULE_HEADS = {"daily", "everyday", "weekdays", "weekday", "weekends", "weekend", "weekly", "every",
                   "mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday",
                   "friday", "saturday", "sunday"}


def service(ctx_or_app: Any) -> StudyGroups:
    app = getattr(ctx_or_app, "app", ctx_or_app)
    return app.state[STATE_KEY]


# -- parsing what people type ----------------------------------------------------------------------
def parse_minutes(text: str) -> int:
    """``45m``, ``90min``, ``1h``, ``1h30``, ``1h30m``, or a bare number from a typed option."""
    word = text.strip().lower().replace(" ", "")
    m = _DURATION.match(word)
    if not word or not m or not (m.group(1) or m.group(2)):
        raise ValueError(f"{quote_input(text, 20)} is not a duration; use minutes like 45m, or 1h30m")
    minutes = int(m.group(1) or 0) * 60 + int(m.group(2) or 0)
    if not 0 < minutes <= MAX_MINUTES:
        raise ValueError("minutes must be between 1 and 1440 (a day)")
    return minutes


def looks_like_minutes(word: str) -> bool:
    """At the end of a check-in line only a number *with a unit* is minutes ("read chapter 3" is text)."""
    w = word.strip().lower()
    return bool(re.fullmatch(r"(\d{1,3}h(\d{1,3}m?)?|\d{1,6}(m|min|mins|minutes))", w))


def parse_until(text: str, today: date) -> date:
    t = text.strip().lower()
    t = t[len("until"):].strip() if t.startswith("until") else t
    m = re.fullmatch(r"(?:for\s+)?(\d{1,3})\s*(d|day|days|w|week|weeks)", t)
    if m:
        n = int(m.group(1)) * (7 if m.group(2).startswith("w") else 1)
        return today + timedelta(days=n - 1)
    try:
        end = date.fromisoformat(t)
    except ValueError:
        raise CommandError(f"{quote_input(text, 30)} is not a date; use until YYYY-MM-DD (e.g. until {today + timedelta(days=7)}) or for 7d") from None
    if end < today:
        raise CommandError(f"{end} is in the past; a pause runs from today until a later date.")
    if end > today + timedelta(days=366):
        raise CommandError("A pause can last at most a year.")
    return end


def split_plan(text: str) -> tuple[str, str]:
    """Cuts "weekly mon,wed,fri 19:00 two mediums a day" into the schedule and the goal.

    The schedule is the longest leading run of words that parses; a line that starts like a
    schedule but does not parse is an error (a typo must not become the goal silently).
    """
    words = text.split()
    if not words:
        return "", ""
    if words[0].lower() in ("never", "none", "nodays", "0"):
        raise CommandError(f"A study group needs at least one check-in day; use {FORMS}")
    for n in range(min(len(words), 4), 0, -1):
        try:
            parse_recurrence(" ".join(words[:n]), default_time="19:00")
        except SettingError:
            continue
        following = words[n] if n < len(words) else ""
        if re.fullmatch(r"\d{1,2}([:.]\d{2})?\s*(am|pm)?|\d{1,2}(am|pm)", following, re.IGNORECASE):
            try:  # "daily 25:00": a time that does not parse is a mistake, not the start of the goal
                parse_recurrence(" ".join(words[: n + 1]), default_time="19:00")
            except SettingError as exc:
                raise CommandError(f"{exc}") from None
        return " ".join(words[:n]), " ".join(words[n:])
    if words[0].lower().strip(",") in _SCHEDULE_HEADS or "," in words[0]:
        try:
            parse_recurrence(" ".join(words[:3]), default_time="19:00")
        except SettingError as exc:
            raise CommandError(f"{exc}") from None
    return "", text


def _name(text: str) -> str:
    name = text.strip().strip('"').lstrip("#")
    if not NAME_RE.match(name):
        raise CommandError(f"{quote_input(text, 40)} can't be a group name: use 1–32 letters, digits, - or _ (e.g. lc-grind).")
    return name


def _workspace(ctx: Context) -> str:
    if not ctx.place.workspace_id:
        raise CommandError("Study groups live in a server: use this in a server channel.")
    return ctx.place.workspace_key


async def _group(ctx: Context, name: str) -> Group:
    g = await repo.group_named(ctx.db, _workspace(ctx), name.strip().lstrip("#"))
    if g is None:
        names = [x.name for x in await repo.groups_in(ctx.db, ctx.place.workspace_key)]
        guess = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=1)
        hint = f" Did you mean {guess[0]}?" if guess else ""
        listing = f" Groups here: {', '.join(names[:10])}." if names else f" Start one: {ctx.cmd('studygroup create NAME daily')}"
        raise CommandError(f"There is no study group {quote_input(name, 32)}.{hint}{listing}")
    return g


async def _my_group(ctx: Context, name: str | None, user_id: str | None = None) -> Group:
    """The group named, else the one homed in this channel they belong to, else their only group."""
    user_id = user_id or ctx.actor.id
    if name:
        if ctx.place.is_dm:
            mine = [g for g in await repo.groups_of(ctx.db, user_id) if g.name.lower() == name.strip().lower()]
            if mine:
                return mine[0]
            raise CommandError(f"You're not in a study group called {quote_input(name, 32)}.")
        return await _group(ctx, name)
    mine = await repo.groups_of(ctx.db, user_id, None if ctx.place.is_dm else ctx.place.workspace_key)
    if not mine:
        raise CommandError(f"You're not in a study group yet. {ctx.cmd('studygroup list')} shows the groups here; {ctx.cmd('studygroup join NAME')} joins one.")
    if len(mine) == 1:
        return mine[0]
    here = [g for g in mine if not ctx.place.is_dm and g.channel == ctx.place.channel_id]
    if len(here) == 1:
        return here[0]
    raise CommandError(f"You're in {len(mine)} groups ({', '.join(g.name for g in mine)}); say which, e.g. {ctx.cmd('checkin solved two mediums 45m ' + mine[0].name)}")


def _can_manage(ctx: Context, g: Group) -> bool:
    return ctx.actor.id == g.owner or ctx.actor.role >= Role.MODERATOR


def streak_line(st: Streak) -> str:
    if st.today_done:
        today = "checked in today ✓"
    elif st.paused_today:
        today = "paused"
    elif not st.today_scheduled:
        today = "not a study day"
    else:
        today = "not checked in yet today"
    text = f"streak **{st.current}** (longest {st.longest}) · {today}"
    if st.forgiven:
        text += f" · {st.forgiven} missed day{'s' if st.forgiven != 1 else ''} forgiven"
    return text


# -- personal data ---------------------------------------------------------------------------------
class StudyData:
    name = "studygroups"

    def __init__(self, app: "App") -> None:
        self.app = app

    async def export(self, db: Database, user_id: str) -> Any:
        return await repo.export_user(db, user_id)

    async def forget(self, conn: Any, user_id: str) -> dict[str, int]:
        counts = await repo.forget_user(conn, user_id)
        await self.app.scheduler.cancel("study-reminder", user_id, conn)
        return counts


# -- digest provider -------------------------------------------------------------------------------
class StudyGroupsProvider:
    """Digest section: how the channel's study groups did over the digest's period."""

    name = "studygroups"
    title = "Study groups"
    help = "check-ins, streaks and minutes of the study groups homed in the channel (or the server's, if none is)"

    async def collect(self, app: "App", place: Place, period: Period, settings: dict[str, Any]) -> Section | None:
        svc = service(app)
        groups = await repo.groups_in_channel(app.db, place.workspace_key, place.channel_id) or await repo.groups_in(app.db, place.workspace_key)
        cards = []
        for g in groups[:10]:
            zone = await svc.group_zone(g)
            first = (period.start.astimezone(zone) + timedelta(seconds=1)).date()
            last = period.end.astimezone(zone).date()
            if period.end.astimezone(zone).hour < 12:  # a morning digest reports up to yesterday
                last -= timedelta(days=1)
            first = min(first, last)
            reply = await svc.summary(g, first, last, period.end, quiet=True)
            if reply is not None:
                cards.extend(reply.cards)
        if not cards:
            return None
        return Section(self.title, cards)


# -- commands --------------------------------------------------------------------------------------
async def _complete_group(ctx: Context, prefix: str) -> list[str]:
    if not ctx.place.workspace_id:
        return [g.name for g in await repo.groups_of(ctx.db, ctx.actor.id)][:25]
    return [g.name for g in await repo.groups_in(ctx.db, ctx.place.workspace_key) if g.name.lower().startswith(prefix.strip().lower())][:25]


def register(registry: Registry) -> None:
    sg = registry.group("studygroup", "Study groups: create, join, leave, list, info, pause, resume, schedule, archive.")
    name_arg = Arg("name", "the group's name, e.g. lc-grind", max_len=40, complete=_complete_group)

    @sg.command(
        "create", "Start a group: NAME [#channel] [SCHEDULE like weekly mon,wed,fri 19:00] [GOAL]",
        args=[
            Arg("name", "1–32 letters, digits, - or _", max_len=40),
            Arg("plan", f"schedule then goal, e.g. weekdays 19:00 two mediums a day. Schedules: {FORMS}"[:100], rest=True, required=False, max_len=300),
            Arg("channel", "the group's home channel for prompts and summaries (default: this one)", kind="channel", required=False, max_len=100),
        ],
        dm_ok=False,
    )
    async def create(ctx: Context, name: str, plan: str | None = None, channel: ChannelRef | None = None) -> Reply:
        workspace = _workspace(ctx)
        group_name = _name(name)
        plan = (plan or "").strip()
        first = plan.split(None, 1)[0] if plan else ""
        if channel is None and (first.startswith("#") or first.startswith("<#")):
            try:
                channel = await ctx.frontend.channel(ctx.place, first)
            except RefError as exc:
                raise CommandError(f"Nothing created: {exc}.") from None
            plan = plan[len(first):].strip()
        schedule_text, goal = split_plan(plan)
        try:
            rec = parse_recurrence(schedule_text or "daily", default_time="19:00")
        except SettingError as exc:
            raise CommandError(f"Nothing created: {exc}") from None
        goal = defuse_mentions(clean_input(goal))
        if len(goal) > 200:
            raise CommandError(f"The goal is {len(goal)} characters; keep it under 200.")
        if await repo.group_named(ctx.db, workspace, group_name):
            raise CommandError(f"There is already a group called {group_name} here. {ctx.cmd('studygroup join ' + group_name)} joins it.")
        if len(await repo.groups_in(ctx.db, workspace)) >= MAX_GROUPS:
            raise CommandError(f"This server already has {MAX_GROUPS} study groups; archive one first.")
        home = channel or ChannelRef(ctx.place.channel_id, ctx.place.channel_name)
        if channel is not None and await ctx.frontend.can_post(ctx.place, channel.id) is False:
            raise CommandError(f"Nothing created: I can't post in {channel.label}. Give me permission to send messages there first.")
        svc = service(ctx)
        now = ctx.now()
        home_place = Place(ctx.place.platform, ctx.place.workspace_id, home.id, home.name)
        zone = await ctx.app.settings.get(home_place, "timezone")
        group_zone = ZoneInfo(zone)
        group_day = now.astimezone(group_zone).date()
        my_day = now.astimezone(await ctx.app.settings.user_zone(ctx.actor.id, ctx.place)).date()
        async with ctx.db.transaction() as conn:
            gid = await repo.next_group_id(conn)
            g = Group(gid, ctx.place.platform, workspace, group_name, home.id, home.name, goal, ctx.actor.id, ctx.actor.name, iso_utc(now), None)
            await repo.insert_group(conn, g)
            await repo.set_schedule(conn, gid, group_day, rec.days, rec.at.strftime("%H:%M"))
            await repo.add_member(conn, gid, ctx.actor.id, ctx.actor.name, iso_utc(now), my_day)
            await svc.plan_group(g, rec, group_zone, conn)
        await svc.plan_reminder(ctx.actor.id)
        lines = [
            f"Study group **{group_name}** created in {home.label}: check-ins {rec.canonical()} ({zone}), you're its first member.",
            f"Others join with {ctx.cmd('studygroup join ' + group_name)}; check in with {ctx.cmd('checkin what you did 45m')}.",
        ]
        if goal:
            lines.insert(1, f"Goal: {goal}")
        return Reply(text="\n".join(lines))

    @sg.command("join", "Join a study group; your streak starts today.", args=[name_arg], dm_ok=False)
    async def join(ctx: Context, name: str) -> Reply:
        g = await _group(ctx, name)
        if await repo.member(ctx.db, g.id, ctx.actor.id):
            raise CommandError(f"You're already in {g.name}. {ctx.cmd('streak ' + g.name)} shows your streak.")
        svc = service(ctx)
        now = ctx.now()
        today = now.astimezone(await svc.member_zone(ctx.actor.id, g)).date()
        async with ctx.db.transaction() as conn:
            await repo.add_member(conn, g.id, ctx.actor.id, ctx.actor.name, iso_utc(now), today)
        await svc.plan_reminder(ctx.actor.id)
        rec = await svc.recurrence(g)
        zone_note = ""
        if "timezone" not in await ctx.app.settings.personal(ctx.actor.id):
            zone_note = f" Your days follow {await ctx.app.settings.get(ctx.place, 'timezone')} until you set yours: {ctx.cmd('me set timezone Europe/Berlin')}."
        return Reply(text=f"You joined **{g.name}** (check-ins {rec.canonical()}, prompts in {g.channel_label}).{zone_note}")

    @sg.command("leave", "Leave a study group; your past check-ins stay (me forget deletes them).", args=[name_arg], dm_ok=False)
    async def leave(ctx: Context, name: str) -> Reply:
        g = await _group(ctx, name)
        if not await repo.member(ctx.db, g.id, ctx.actor.id):
            raise CommandError(f"You're not in {g.name}, so there's nothing to leave.")
        async with ctx.db.transaction() as conn:
            await repo.remove_member(conn, g.id, ctx.actor.id)
        await service(ctx).plan_reminder(ctx.actor.id)
        return Reply(text=f"You left {g.name}. Rejoining later starts a new streak.")

    @sg.command("list", "The study groups in this server.")
    async def list_(ctx: Context) -> Reply:
        groups = await repo.groups_in(ctx.db, _workspace(ctx))
        if not groups:
            return Reply(text=f"No study groups here yet. Start one: {ctx.cmd('studygroup create lc-grind weekdays 19:00 two mediums a day')}")
        counts = await repo.member_counts(ctx.db, ctx.place.workspace_key)
        mine = {g.id for g in await repo.groups_of(ctx.db, ctx.actor.id, ctx.place.workspace_key)}
        svc = service(ctx)
        lines = []
        for g in groups:
            rec = await svc.recurrence(g)
            you = " · you're in it" if g.id in mine else ""
            goal = f" · {shorten(g.goal, 60)}" if g.goal else ""
            lines.append(f"**{g.name}** · {counts.get(g.id, 0)} members · {rec.canonical()} · {g.channel_label}{goal}{you}")
        return Reply(cards=[Card(title="Study groups", body="\n".join(lines), footer=f"Join one: {ctx.cmd('studygroup join NAME')}")])

    @sg.command("info", "A group's schedule, goal, members and their streaks.", args=[name_arg])
    async def info(ctx: Context, name: str) -> Reply:
        g = await _my_group(ctx, name)
        svc = service(ctx)
        rec, zone = await svc.recurrence(g), await ctx.app.settings.get(place_of(g), "timezone")
        standings = await svc.standings(g, None, date.max)
        lines = [f"{s.name}: {streak_line(s.streak)}" for s in sorted(standings, key=lambda s: (-s.streak.current, s.name.lower()))[:25]]
        body = (f"Goal: {g.goal}\n" if g.goal else "") + f"Check-ins {rec.canonical()} ({zone}) · home {g.channel_label} · created by {g.owner_name or 'a former member'}"
        return Reply(cards=[Card(title=f"{g.name} ({len(standings)} members)", body=body + "\n\n" + ("\n".join(lines) or "No members."))])

    @sg.command(
        "pause", "Pause your streak in a group (vacation): until DATE, for 7d, or until you resume.",
        args=[name_arg, Arg("until", "until YYYY-MM-DD or for 7d (default: until you resume)", rest=True, required=False, max_len=40)],
    )
    async def pause(ctx: Context, name: str, until: str | None = None) -> Reply:
        g = await _my_group(ctx, name)
        if not await repo.member(ctx.db, g.id, ctx.actor.id):
            raise CommandError(f"You're not in {g.name}.")
        svc = service(ctx)
        today = await svc.today_of(ctx.actor.id, g)
        end = parse_until(until, today) if until else None
        async with ctx.db.transaction() as conn:
            await repo.end_pauses(conn, g.id, ctx.actor.id, today)
            await repo.add_pause(conn, g.id, ctx.actor.id, today, end)
        length = f"until {end:%a %d %b %Y} (inclusive)" if end else f"until you {ctx.cmd('studygroup resume ' + g.name)}"
        return Reply(text=f"Your streak in {g.name} is frozen from today {length}: missed days don't count against you, check-ins still count.")

    @sg.command("resume", "End your pause in a group; your streak carries on from today.", args=[name_arg])
    async def resume(ctx: Context, name: str) -> Reply:
        g = await _my_group(ctx, name)
        svc = service(ctx)
        today = await svc.today_of(ctx.actor.id, g)
        active = [p for p in await repo.pauses(ctx.db, g.id, ctx.actor.id) if p.end is None or p.end >= today]
        if not active:
            raise CommandError(f"You have no pause in {g.name} to end.")
        async with ctx.db.transaction() as conn:
            await repo.end_pauses(conn, g.id, ctx.actor.id, today)
        return Reply(text=f"Welcome back: your pause in {g.name} ended; today counts again.")

    @sg.command(
        "schedule", "Change a group's check-in days (owner or moderators); past days keep the old schedule.",
        args=[name_arg, Arg("schedule", FORMS[:100], rest=True, max_len=60)], dm_ok=False,
    )
    async def schedule(ctx: Context, name: str, schedule: str) -> Reply:
        g = await _group(ctx, name)
        if not _can_manage(ctx, g):
            raise CommandError(f"Only {g.owner_name or 'its owner'} or a moderator can change {g.name}'s schedule.")
        try:
            rec = parse_recurrence(schedule, default_time="19:00")
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}") from None
        svc = service(ctx)
        zone = await svc.group_zone(g)
        today = ctx.now().astimezone(zone).date()
        async with ctx.db.transaction() as conn:
            await repo.set_schedule(conn, g.id, today, rec.days, rec.at.strftime("%H:%M"))
            await svc.plan_group(g, rec, zone, conn)
        return Reply(text=f"{g.name} now checks in {rec.canonical()}, from today on. Streaks keep counting across the change.")

    @sg.command("goal", "Set a group's goal (owner or moderators).", args=[name_arg, Arg("goal", "the goal, e.g. two mediums a day", rest=True, max_len=200)], dm_ok=False)
    async def goal(ctx: Context, name: str, goal: str) -> Reply:
        g = await _group(ctx, name)
        if not _can_manage(ctx, g):
            raise CommandError(f"Only {g.owner_name or 'its owner'} or a moderator can change {g.name}'s goal.")
        async with ctx.db.transaction() as conn:
            await repo.set_goal(conn, g.id, defuse_mentions(clean_input(goal)))
        return Reply(text=f"{g.name}'s goal is now: {clean_input(goal)}")

    @sg.command("archive", "Archive a group (owner or moderators): no more prompts; check-ins stay for export.", args=[name_arg], dm_ok=False)
    async def archive(ctx: Context, name: str) -> Reply:
        g = await _group(ctx, name)
        if not _can_manage(ctx, g):
            raise CommandError(f"Only {g.owner_name or 'its owner'} or a moderator can archive {g.name}.")
        async with ctx.db.transaction() as conn:
            await repo.archive(conn, g.id, iso_utc(ctx.now()))
            await ctx.app.scheduler.cancel(PROMPT, str(g.id), conn)
            await ctx.app.scheduler.cancel(SUMMARY, str(g.id), conn)
        return Reply(text=f"{g.name} is archived: no more prompts or summaries. Its name is free for a new group.")

    # -- check-ins -----------------------------------------------------------------------------
    checkin = registry.group("checkin", "Check in to your study group: what you did, minutes, and the group if you're in several.")

    text_arg = Arg("text", "what you did, e.g. two LeetCode mediums", rest=True, required=False, max_len=MAX_TEXT)
    minutes_arg = Arg("minutes", "time spent, e.g. 45m or 1h30m", required=False, max_len=10, matches=looks_like_minutes)
    group_arg = Arg("group", "the group (needed only if you're in several)", required=False, max_len=40, matches=_group_word, complete=_complete_group)

    @checkin.command("add", "Check in for today: what you did, optional minutes (45m) and group.", args=[text_arg, minutes_arg, group_arg], default=True)
    async def add(ctx: Context, text: str | None = None, minutes: str | None = None, group: str | None = None) -> Reply:
        text, group = await _peel_group(ctx, text, group)
        g = await _my_group(ctx, group)
        mins = _minutes(minutes)
        if not await repo.member(ctx.db, g.id, ctx.actor.id):
            raise CommandError(f"You're not in {g.name}. {ctx.cmd('studygroup join ' + g.name)} first.")
        svc = service(ctx)
        now = ctx.now()
        zone = await svc.member_zone(ctx.actor.id, g)
        day = now.astimezone(zone).date()
        words = defuse_mentions(clean_input(text or ""))
        existing = await repo.checkin_on(ctx.db, g.id, ctx.actor.id, day)
        if existing is not None:
            merged = words if existing.text == QUICK_TEXT else " · ".join(t for t in (existing.text, words) if t)
            if len(merged) > MAX_TEXT:
                raise CommandError(f"Today's check-in would be {len(merged)} characters; {ctx.cmd('checkin edit TEXT')} replaces it instead (at most {MAX_TEXT}).")
            row = Checkin(g.id, ctx.actor.id, day, ctx.actor.name, existing.at, existing.zone, min(MAX_MINUTES, existing.minutes + mins),
                          merged or existing.text, iso_utc(now))
        else:
            row = Checkin(g.id, ctx.actor.id, day, ctx.actor.name, iso_utc(now), zone.key, mins, words or QUICK_TEXT, None)
        async with ctx.db.transaction() as conn:
            await repo.put_checkin(conn, row)
        st = await svc.streak(g, ctx.actor.id)
        assert st is not None
        first = "Added to today's check-in" if existing else "Checked in"
        extra = f" · {row.minutes} min today" if row.minutes else ""
        scheduled = "" if st.today_scheduled else " (not a study day for the group: it's kept, but streaks count study days only)"
        hint = f"\nAdd what you did: {ctx.cmd('checkin edit solved two mediums 45m')}" if row.text == QUICK_TEXT else ""
        return Reply(text=f"✅ {first}: **{g.name}**, {day_label(day)} ({zone.key}){scheduled}. Streak **{st.current}** (longest {st.longest}){extra}.{hint}")

    @checkin.command("edit", "Replace today's check-in text (and minutes, if given).", args=[
        Arg("text", "what you did", rest=True, max_len=MAX_TEXT), minutes_arg, group_arg])
    async def edit(ctx: Context, text: str, minutes: str | None = None, group: str | None = None) -> Reply:
        text, group = await _peel_group(ctx, text, group)
        g, day, existing = await _today(ctx, group)
        row = Checkin(g.id, ctx.actor.id, day, ctx.actor.name, existing.at, existing.zone,
                      _minutes(minutes) if minutes else existing.minutes, defuse_mentions(clean_input(text)), iso_utc(ctx.now()))
        async with ctx.db.transaction() as conn:
            await repo.put_checkin(conn, row)
        return Reply(text=f"Today's check-in for {g.name} now reads: {shorten(row.text, 200)}" + (f" ({row.minutes} min)" if row.minutes else ""))

    @checkin.command("undo", "Remove today's check-in.", args=[Arg("group", "the group (if you're in several)", required=False, max_len=40, complete=_complete_group)])
    async def undo(ctx: Context, group: str | None = None) -> Reply:
        g, day, _ = await _today(ctx, group)
        async with ctx.db.transaction() as conn:
            await repo.delete_checkin(conn, g.id, ctx.actor.id, day)
        st = await service(ctx).streak(g, ctx.actor.id)
        return Reply(text=f"Removed today's check-in for {g.name}. Streak {st.current if st else 0}; you can still check in until your midnight.")

    # -- streaks -------------------------------------------------------------------------------
    streak = registry.group("streak", "Streaks: yours or a member's, and a 12-week chart.")
    member_arg = Arg("member", "whose streak (default: yours)", kind="user", required=False, max_len=100)

    @streak.command("show", "Your streak (or a member's) in each group, or one group.", args=[
        Arg("group", "one group", rest=True, required=False, max_len=40, complete=_complete_group), member_arg], default=True)
    async def show(ctx: Context, group: str | None = None, member: UserRef | None = None) -> Reply:
        user_id, who = _who(ctx, member)
        svc = service(ctx)
        groups = [await _my_group(ctx, group, user_id)] if group else await repo.groups_of(ctx.db, user_id, None if ctx.place.is_dm else ctx.place.workspace_key)
        lines = []
        for g in groups:
            st = await svc.streak(g, user_id)
            if st is not None:
                lines.append(f"**{g.name}**: {streak_line(st)}")
        if not lines:
            if user_id == ctx.actor.id:
                return Reply(text=f"You're not in a study group here. {ctx.cmd('studygroup list')} shows them; {ctx.cmd('studygroup join NAME')} joins one.", kind="nomatch")
            return Reply(text=f"{who} isn't in {'that' if group else 'a'} study group here.", kind="nomatch")
        grace = await svc.grace(groups[0])
        return Reply(cards=[Card(title=f"Streaks: {who}", body="\n".join(lines),
                                 footer=f"Streaks count study days on {'your' if user_id == ctx.actor.id else 'their'} local calendar; {grace} missed day per 7 is forgiven.")])

    @streak.command("chart", "A picture of the last 12 weeks: yours, a member's, or a whole group's.", args=[
        Arg("group", "a group: the whole group's check-ins", rest=True, required=False, max_len=40, complete=_complete_group), member_arg])
    async def chart(ctx: Context, group: str | None = None, member: UserRef | None = None) -> Reply:
        from commands.studygroups.chart import CHART_WEEKS, heatmap_png

        svc = service(ctx)
        if group and member is None:
            g = await _my_group(ctx, group)
            today = ctx.now().astimezone(await svc.group_zone(g)).date()
            since = _chart_start(today, CHART_WEEKS)
            values: dict[date, float] = {}
            for c in await repo.group_checkins(ctx.db, g.id, since, today):
                values[c.local_day] = values.get(c.local_day, 0) + 1
            title, unit, who = f"{g.name}, all members", "check-ins", g.name
        else:
            user_id, who = _who(ctx, member)
            g = await _my_group(ctx, group, user_id) if group else None
            groups = [g] if g else await repo.groups_of(ctx.db, user_id)
            if not groups and not await repo.user_checkins(ctx.db, user_id, date.min):
                raise CommandError(f"{'You have' if user_id == ctx.actor.id else who + ' has'} no check-ins to draw yet.")
            today = ctx.now().astimezone(await svc.member_zone(user_id, groups[0] if groups else None)).date()
            since = _chart_start(today, CHART_WEEKS)
            values = {}
            for c in await repo.user_checkins(ctx.db, user_id, since, g.id if g else None):
                values[c.local_day] = values.get(c.local_day, 0) + 1
            title, unit = f"{who}" + (f" in {g.name}" if g else ""), "check-ins"
        # Drawing takes ~20 ms (0.3 s with the first import of matplotlib): off the event loop.
        png = await asyncio.to_thread(heatmap_png, values, today, title=title, unit=unit)
        count = int(sum(values.values()))
        slug = re.sub(r"[^\w\-]", "", who.lower())[:40] or "chart"
        return Reply(
            text=f"{title}: {count} check-in{'s' if count != 1 else ''} in the last {CHART_WEEKS} weeks, to {today:%d %b %Y}.",
            attachments=[Attachment(f"streak-{slug}-{today.isoformat()}.png", png, "image/png", f"{CHART_WEEKS}-week check-in heatmap for {who}")],
        )

    @registry.command("leaderboard", "Who checked in most in a group: this week, month, or all time.", args=[
        Arg("group", "the group (default: this channel's or yours)", rest=True, required=False, max_len=40, complete=_complete_group),
        Arg("period", "week, month or all (default: week)", choices=("week", "month", "all"), required=False),
    ])
    async def leaderboard(ctx: Context, group: str | None = None, period: str | None = None) -> Reply:
        period = period or "week"
        svc = service(ctx)
        if group:
            g = await _my_group(ctx, group)
        else:
            here = [] if ctx.place.is_dm else await repo.groups_in_channel(ctx.db, ctx.place.workspace_key, ctx.place.channel_id)
            g = here[0] if len(here) == 1 else await _my_group(ctx, None)
        today = ctx.now().astimezone(await svc.group_zone(g)).date()
        first = {"week": today - timedelta(days=6), "month": today - timedelta(days=29), "all": None}[period]
        standings = await svc.standings(g, first, today)
        ranked = sorted(standings, key=lambda s: (-s.days, -s.minutes, -s.streak.current, s.name.lower()))
        medals = ["🥇", "🥈", "🥉"]
        lines = [f"{medals[i] if i < 3 else f'{i + 1}.'} {s.name} — {s.days} day{'s' if s.days != 1 else ''}"
                 + (f" · {minutes_label(s.minutes)}" if s.minutes else "") + f" · streak {s.streak.current}" for i, s in enumerate(ranked[:15])]
        label = {"week": "the last 7 days", "month": "the last 30 days", "all": "all time"}[period]
        return Reply(cards=[Card(title=f"{g.name} leaderboard: {label}", body="\n".join(lines) or "No members yet.")])


def _group_word(word: str) -> bool:
    """A word that could be a group name at the end of a check-in; ``_peel_group`` decides."""
    return bool(NAME_RE.match(word)) and not looks_like_minutes(word)


async def _peel_group(ctx: Context, text: str | None, group: str | None) -> tuple[str | None, str | None]:
    """"solved two mediums lc-grind": the last word is the group only if the person is in one by that name.

    Otherwise it was part of what they did ("two mediums") and goes back into the text —
    unless they are in several groups, where a name we don't know is worth saying so.
    """
    if not group:
        return text, group
    mine = await repo.groups_of(ctx.db, ctx.actor.id, None if ctx.place.is_dm else ctx.place.workspace_key)
    if any(g.name.lower() == group.strip().lower() for g in mine):
        return text, group
    if len(mine) > 1 and not text:
        raise CommandError(f"You're not in a group called {quote_input(group, 32)}; yours: {', '.join(g.name for g in mine)}.")
    return " ".join(t for t in (text, group) if t), None


def _chart_start(today: date, weeks: int) -> date:
    """The first day the chart draws: the Monday ``weeks - 1`` weeks before this week's."""
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)


def _minutes(text: str | None) -> int:
    if not text:
        return 0
    try:
        return parse_minutes(text)
    except ValueError as exc:
        raise CommandError(f"{exc}.") from None


def _who(ctx: Context, member: UserRef | None) -> tuple[str, str]:
    if member is None or f"{ctx.place.platform}:{member.id}" == ctx.actor.id:
        return ctx.actor.id, ctx.actor.name
    return f"{ctx.place.platform}:{member.id}", member.name or member.id


async def _today(ctx: Context, group: str | None) -> tuple[Group, date, Checkin]:
    g = await _my_group(ctx, group)
    day = await service(ctx).today_of(ctx.actor.id, g)
    existing = await repo.checkin_on(ctx.db, g.id, ctx.actor.id, day)
    if existing is None:
        raise CommandError(f"You haven't checked in to {g.name} today ({day_label(day)}). {ctx.cmd('checkin what you did 45m')} does.")
    return g, day, existing


async def setup(app: "App") -> None:
    app.settings.define(Key("grace", "missed study days per 7 that do not break a study-group streak", Choice(options=("0", "1", "2", "3")), "1"))
    app.settings.define_user(Key("reminder_time", "when I remind you by DM on a study day you haven't checked in (with dm on)", TimeOfDay(), "19:00"))
    svc = StudyGroups(app)
    app.state[STATE_KEY] = svc
    app.providers.add(StudyGroupsProvider(), aliases=("study", "studygroup"))
    app.personal_data.append(StudyData(app))
