"""Fair streaks: counted on the member's own local days, on the group's scheduled days only.

Check-ins arrive already labelled with the member's local date (stored when they checked
in), so nothing here touches UTC: a streak cannot break because of where midnight UTC falls,
a daylight-saving change (a 23- or 25-hour day is still one day) or a later move to another
timezone. What can break it is a missed scheduled day, and even that is forgiven ``grace``
times in any ``window`` consecutive scheduled days, so one sick day or a holiday does not
wipe out two months. Days a member paused (a vacation) and days the schedule skips neither
count nor break. Today never breaks a streak: the member still has until their midnight.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

WINDOW = 7  # scheduled days in which ``grace`` misses are forgiven
MAX_DAYS = 730  # how far back a streak is computed: two years of history is plenty


@dataclass(frozen=True)
class ScheduleSpan:
    """From ``since`` on (until the next span) the group meets on ``days`` (Monday = 0)."""

    since: date
    days: frozenset[int]


@dataclass(frozen=True)
class Pause:
    start: date
    end: date | None = None  # inclusive; None: until resumed

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Streak:
    current: int  # scheduled days checked in, in the unbroken run that reaches today
    longest: int
    today_scheduled: bool
    today_done: bool
    paused_today: bool
    forgiven: int  # misses forgiven inside the current run
    grace_left: int  # misses still forgiven right now (within the window)


def schedule_on(spans: Sequence[ScheduleSpan], day: date) -> frozenset[int]:
    """The days of the week in effect on ``day``; before the first span, the first span's."""
    current = spans[0].days if spans else frozenset(range(7))
    for span in spans:
        if span.since <= day:
            current = span.days
        else:
            break
    return current


def compute(
    checked: Collection[date],
    spans: Sequence[ScheduleSpan],
    start: date,
    today: date,
    pauses: Sequence[Pause] = (),
    grace: int = 1,
    window: int = WINDOW,
) -> Streak:
    """Walks the scheduled days from ``start`` (joining) to ``today`` in order.

    A run grows by one for each scheduled day checked in. A missed scheduled day is
    forgiven while the run holds at most ``grace`` misses among its last ``window``
    scheduled days; one more and the run ends (the next check-in starts a new one).
    Check-ins on unscheduled days are kept (minutes, summaries) but do not add to a streak.
    """
    spans = sorted(spans, key=lambda s: s.since)
    checked = checked if isinstance(checked, (set, frozenset)) else set(checked)
    start = max(start, today - timedelta(days=MAX_DAYS))
    current = longest = forgiven = 0
    run: list[bool] = []  # the run's scheduled, unpaused days: True = missed
    today_scheduled = today_done = paused_today = False
    day = start
    while day <= today:
        scheduled = day.weekday() in schedule_on(spans, day)
        hit = day in checked
        paused = any(p.covers(day) for p in pauses)
        if day == today:
            today_scheduled, today_done, paused_today = scheduled, hit, paused
        if scheduled:
            if hit:
                current += 1
                run.append(False)
            elif paused or day == today:
                pass  # frozen, or still open until the member's midnight
            elif current:
                recent = run[-(window - 1):] if window > 1 else []
                if sum(recent) + 1 > grace:
                    current, forgiven, run = 0, 0, []
                else:
                    forgiven += 1
                    run.append(True)
            longest = max(longest, current)
        day += timedelta(days=1)
    recent = run[-(window - 1):] if window > 1 else []
    grace_left = max(0, grace - sum(recent)) if current else grace
    return Streak(current, longest, today_scheduled, today_done, paused_today, forgiven, grace_left)


def scheduled_days(spans: Sequence[ScheduleSpan], first: date, last: date, pauses: Sequence[Pause] = ()) -> int:
    """How many scheduled, unpaused days fall in [first, last]: the "of N" in a summary."""
    spans = sorted(spans, key=lambda s: s.since)
    count, day = 0, first
    while day <= last:
        if day.weekday() in schedule_on(spans, day) and not any(p.covers(day) for p in pauses):
            count += 1
        day += timedelta(days=1)
    return count
