"""Study-group jobs and the reads commands share: prompts, reminders, weekly summaries, streaks.

Three persistent job kinds, each rescheduled from the group's or member's *local* calendar:
- ``studygroup-prompt`` (ref: group id) posts "time to check in" with a button in the group's
  channel at each scheduled time, in the channel's timezone;
- ``study-reminder`` (ref: user id) DMs a member who opted in (``/me set dm on``) at their own
  ``reminder_time`` on a study day they have not checked in yet;
- ``studygroup-summary`` (ref: group id) posts last week's summary on Monday morning.
Posts go through the outbox with the occurrence's date as the period, so a restart never
sends one twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.delivery import Target
from bot.models import ActionButton, Card, Field, Place, Reply
from bot.recurrence import Recurrence
from bot.scheduler import Outcome
from bot.storage import studygroups_repo as repo
from bot.storage.jobs_repo import Job
from bot.storage.studygroups_repo import Group
from bot.text import shorten
from commands.studygroups.streaks import Pause, ScheduleSpan, Streak, compute, scheduled_days

if TYPE_CHECKING:
    from bot.app import App

PROMPT, REMINDER, SUMMARY = "studygroup-prompt", "study-reminder", "studygroup-summary"
PROMPT_STALE = timedelta(hours=6)  # after downtime, a prompt older than this is skipped, not posted late
SUMMARY_AT = time(9, 0)  # Monday, group timezone: last week's summary


@dataclass
class MemberStanding:
    user_id: str
    name: str
    streak: Streak
    days: int  # check-in days in the period
    minutes: int
    possible: int = 0  # scheduled days in the period the member was not paused (0 without a period)


def place_of(g: Group) -> Place:
    return Place(g.platform, g.workspace.split(":", 1)[-1], g.channel, g.channel_name)


def checkin_button(g: Group) -> ActionButton:
    return ActionButton("Check in", "checkin add", {"group": g.name}, style="primary")


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


class StudyGroups:
    def __init__(self, app: "App") -> None:
        self.app = app
        self.db = app.db
        app.scheduler.handle(PROMPT, self.run_prompt)
        app.scheduler.handle(REMINDER, self.run_reminder)
        app.scheduler.handle(SUMMARY, self.run_summary)
        app.settings.user_listeners.append(self.user_changed)

    # -- zones, schedules, streaks ---------------------------------------------------------------
    async def group_zone(self, g: Group) -> ZoneInfo:
        return await self.app.settings.zone(place_of(g))

    async def member_zone(self, user_id: str, g: Group | None) -> ZoneInfo:
        return await self.app.settings.user_zone(user_id, place_of(g) if g else None)

    async def grace(self, g: Group) -> int:
        return int(await self.app.settings.get(place_of(g), "grace"))

    async def spans(self, g: Group) -> list[ScheduleSpan]:
        return [ScheduleSpan(s.since, s.days) for s in await repo.schedules(self.db, g.id)]

    async def recurrence(self, g: Group) -> Recurrence:
        rows = await repo.schedules(self.db, g.id)
        last = rows[-1]
        return Recurrence(last.days, time.fromisoformat(last.at))

    async def today_of(self, user_id: str, g: Group | None, now: datetime | None = None) -> date:
        return (now or self.app.clock.now()).astimezone(await self.member_zone(user_id, g)).date()

    async def streak(self, g: Group, user_id: str, now: datetime | None = None) -> Streak | None:
        """A member's streak as of ``now`` (a job passes its own instant: a stepped clock is already past it)."""
        member = await repo.member(self.db, g.id, user_id)
        if member is None:
            return None
        today = await self.today_of(user_id, g, now)
        spans, grace = await self.spans(g), await self.grace(g)
        days = await repo.checkin_days(self.db, g.id, user_id, member.joined_day)
        pauses = [Pause(p.start, p.end) for p in await repo.pauses(self.db, g.id, user_id)]
        return compute(days, spans, member.joined_day, today, pauses, grace)

    async def standings(self, g: Group, first: date | None, last: date, now: datetime | None = None) -> list[MemberStanding]:
        """Every member's streak plus check-in days and minutes in [first, last] (group-local dates)."""
        spans, grace = await self.spans(g), await self.grace(g)
        members = await repo.members(self.db, g.id)
        if not members:
            return []
        since = min(m.joined_day for m in members)
        all_days = await repo.group_days(self.db, g.id, since)
        totals = await repo.totals(self.db, g.id, first or date.min, last)
        pauses = await repo.group_pauses(self.db, g.id)
        own_zones = await repo.member_settings(self.db, g.id, "timezone")
        fallback = await self.group_zone(g) if len(own_zones) < len(members) else None
        now = now or self.app.clock.now()
        out = []
        for m in members:
            zone = ZoneInfo(own_zones[m.user_id]) if m.user_id in own_zones else fallback
            today = now.astimezone(zone).date()
            st = compute(all_days.get(m.user_id, set()), spans, m.joined_day, today,
                         [Pause(p.start, p.end) for p in pauses.get(m.user_id, [])], grace)
            days, minutes = totals.get(m.user_id, (0, 0))
            own = [Pause(p.start, p.end) for p in pauses.get(m.user_id, [])]
            possible = scheduled_days(spans, max(first, m.joined_day), min(last, today), own) if first else 0
            out.append(MemberStanding(m.user_id, m.user_name, st, days, minutes, possible))
        return out

    # -- jobs: planning --------------------------------------------------------------------------
    async def plan_group(self, g: Group, rec: Recurrence, zone: ZoneInfo, conn: Any) -> None:
        """Plans the prompt and summary jobs in the caller's transaction (no reads: the group may be uncommitted)."""
        now = self.app.clock.now()
        await self.app.scheduler.schedule(PROMPT, str(g.id), rec.next_after(now, zone), conn)
        await self.app.scheduler.schedule(SUMMARY, str(g.id), next_monday(now, zone), conn)

    async def plan_reminder(self, user_id: str, conn: Any | None = None) -> None:
        """Plans (or drops) a person's reminder job from their dm setting and memberships."""
        wants = bool(await self.app.settings.for_user(user_id, None, "dm"))
        groups = await repo.groups_of(self.db, user_id)
        if not wants or not groups:
            await self.app.scheduler.cancel(REMINDER, user_id, conn)
            return
        due = await self._next_reminder(user_id, groups[0], self.app.clock.now())
        await self.app.scheduler.schedule(REMINDER, user_id, due, conn)

    async def _next_reminder(self, user_id: str, g: Group, after: datetime) -> datetime:
        zone = await self.member_zone(user_id, g)
        at = time.fromisoformat(await self.app.settings.for_user(user_id, None, "reminder_time"))
        day = after.astimezone(zone).date()
        for offset in range(0, 3):
            instant = datetime.combine(day + timedelta(days=offset), at, tzinfo=zone).astimezone(timezone.utc)
            if instant > after:
                return instant
        raise AssertionError("a daily time always comes within two days")

    async def user_changed(self, user_id: str, key: str) -> None:
        if key in ("dm", "reminder_time", "timezone"):
            await self.plan_reminder(user_id)

    # -- jobs: running ---------------------------------------------------------------------------
    async def run_prompt(self, job: Job, at: datetime) -> Outcome:
        g = await repo.get_group(self.db, int(job.ref))
        if g is None or g.archived_at:
            return Outcome(next_due=None)
        zone, rec = await self.group_zone(g), await self.recurrence(g)
        occurrence = rec.latest_at_or_before(at, zone)
        next_due = rec.next_after(at, zone)
        if at - occurrence > PROMPT_STALE:
            return Outcome(next_due=next_due)  # the bot was down through it: a late "check in now" helps no one
        day = occurrence.astimezone(zone).date()
        members = await repo.members(self.db, g.id)
        done = {c.user_id for c in await repo.group_checkins(self.db, g.id, day, day)}
        body = f"Goal: {g.goal}\n" if g.goal else ""
        body += f"{len(done & {m.user_id for m in members})} of {len(members)} members checked in so far today."
        reply = Reply(cards=[Card(
            title=f"Check-in time: {g.name}", body=body,
            footer=f"Press Check in, or type {self.app.frontend(g.platform).cmd('checkin what you did 45m')}",
            buttons=[checkin_button(g)],
        )])
        target = Target(g.platform, g.workspace, g.channel, g.channel_name)

        async def write(conn: Any) -> None:
            await self.app.outbox.queue(conn, target, f"studygroup-{g.id}", f"prompt-{day.isoformat()}", reply, at)

        return Outcome(next_due=next_due, write=write)

    async def run_reminder(self, job: Job, at: datetime) -> Outcome:
        user_id = job.ref
        if not await self.app.settings.for_user(user_id, None, "dm"):
            return Outcome(next_due=None)
        groups = await repo.groups_of(self.db, user_id)
        if not groups:
            return Outcome(next_due=None)
        next_due = await self._next_reminder(user_id, groups[0], at)
        zone = await self.member_zone(user_id, groups[0])
        today = at.astimezone(zone).date()
        due = []
        for g in groups:
            st = await self.streak(g, user_id, at)
            if st is not None and st.today_scheduled and not st.today_done and not st.paused_today:
                due.append((g, st))
        if not due:
            return Outcome(next_due=next_due)
        cmd = self.app.frontend(groups[0].platform).cmd
        lines = [f"**{g.name}**: " + (f"your streak is {st.current} — check in before midnight to keep it." if st.current else "start a streak today.")
                 for g, st in due]
        reply = Reply(cards=[Card(
            title="You haven't checked in today",
            body="\n".join(lines),
            footer=f"{cmd('checkin what you did 30m')} · stop these: {cmd('me set dm off')}",
            buttons=[checkin_button(g) for g, _ in due[:5]],
        )])
        member = await repo.member(self.db, due[0][0].id, user_id)
        name = member.user_name if member else ""
        target = Target.user(groups[0].platform, groups[0].workspace, user_id.split(":", 1)[-1], name)

        async def write(conn: Any) -> None:
            await self.app.outbox.queue(conn, target, "study-reminder", today.isoformat(), reply, at)

        return Outcome(next_due=next_due, write=write)

    async def run_summary(self, job: Job, at: datetime) -> Outcome:
        g = await repo.get_group(self.db, int(job.ref))
        if g is None or g.archived_at:
            return Outcome(next_due=None)
        zone = await self.group_zone(g)
        local = at.astimezone(zone).date()
        last = local - timedelta(days=local.weekday() + 1)  # the Sunday that ended last week
        first = last - timedelta(days=6)
        reply = await self.summary(g, first, last, at)
        target = Target(g.platform, g.workspace, g.channel, g.channel_name)

        async def write(conn: Any) -> None:
            if reply is not None:
                await self.app.outbox.queue(conn, target, f"studygroup-{g.id}", f"week-{first.isoformat()}", reply, at)

        return Outcome(next_due=next_monday(at, zone), write=write)

    # -- summaries -------------------------------------------------------------------------------
    async def summary(self, g: Group, first: date, last: date, at: datetime, quiet: bool = False) -> Reply | None:
        """Who checked in how often, the longest streaks, total minutes and a highlight, for [first, last].

        ``quiet``: nothing when nobody checked in (a digest section), rather than "Nobody checked in".
        """
        standings = await self.standings(g, first, last, at)
        if not standings:
            return None
        rows = await repo.group_checkins(self.db, g.id, first, last)
        if not rows and quiet:
            return None
        return Reply(cards=[summary_card(g, first, last, standings, rows, await self.spans(g))])


def summary_card(g: Group, first: date, last: date, standings: list[MemberStanding], rows: list[Any], spans: list[ScheduleSpan]) -> Card:
    ranked = sorted(standings, key=lambda s: (-s.days, -s.minutes, s.name.lower()))
    lines = []
    for s in ranked[:20]:
        of = f"{s.days} of {s.possible} study day{'s' if s.possible != 1 else ''}" if s.possible and s.days <= s.possible else (
            f"{s.days} check-in{'s' if s.days != 1 else ''} · paused" if s.streak.paused_today or not s.days else f"{s.days} check-ins")
        lines.append(f"{s.name} — {of}" + (f" · {minutes_label(s.minutes)}" if s.minutes else "")
                     + (f" · streak {s.streak.current}" if s.streak.current else ""))
    if len(ranked) > 20:
        lines.append(f"…and {len(ranked) - 20} more members")
    total = sum(s.minutes for s in standings)
    active = sum(1 for s in standings if s.days)
    best = sorted((s for s in standings if s.streak.current), key=lambda s: (-s.streak.current, s.name.lower()))[:3]
    fields = [
        Field("Checked in", f"{active} of {len(standings)} members · {len(rows)} check-ins", inline=True),
        Field("Total time", minutes_label(total), inline=True),
    ]
    if best:
        fields.append(Field("Longest streaks", ", ".join(f"{s.name} {s.streak.current}" for s in best), inline=True))
    highlight = highlight_of(rows)
    if highlight is not None:
        fields.append(Field("Highlight", f"“{shorten(highlight.text, 180)}” — {highlight.user_name}"))
    period = f"{day_label(first)} – {day_label(last)}"
    return Card(title=f"{g.name}: week of {period}" if (last - first).days == 6 else f"{g.name}: {period}",
                body="\n".join(lines) or "Nobody checked in.", fields=fields,
                footer=f"Goal: {shorten(g.goal, 120)}" if g.goal else "")


def minutes_label(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def highlight_of(rows: list[Any]) -> Any | None:
    """The check-in most worth quoting: the most minutes, then the longest text."""
    worded = [c for c in rows if c.text and c.text != "(checked in)"]
    if not worded:
        return None
    return max(worded, key=lambda c: (c.minutes, len(c.text)))


def next_monday(after: datetime, zone: ZoneInfo) -> datetime:
    local = after.astimezone(zone).date()
    for offset in range(0, 8):
        day = local + timedelta(days=offset)
        if day.weekday() == 0:
            instant = datetime.combine(day, SUMMARY_AT, tzinfo=zone).astimezone(timezone.utc)
            if instant > after:
                return instant
    return datetime.combine(local + timedelta(days=7 - local.weekday()) + timedelta(days=7), SUMMARY_AT, tzinfo=zone).astimezone(timezone.utc)
