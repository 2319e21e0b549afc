"""Recurring schedules in a community's local time: ``daily 09:00``, ``weekdays 08:30``, ``weekly mon 10:00``.

Occurrences are computed on the local calendar and only then turned into UTC instants, so a
09:00 Europe/Berlin digest stays at 09:00 local across daylight-saving changes. Two edge
cases follow from zoneinfo's rules and are deliberate: a time skipped by a spring-forward
change (02:30 on that day) fires at the equivalent later instant (03:30 local), and a time
that happens twice in autumn fires once, at its first occurrence (``fold=0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.settings import SettingError, parse_time_of_day
from bot.text import quote_input

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    **{d: i for i, d in enumerate(DAYS)},
    **{name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    "tues": 1, "wednes": 2, "thur": 3, "thurs": 3,
}
FORMS = "daily [HH:MM], weekdays [HH:MM], weekends [HH:MM] or weekly DAY[,DAY] [HH:MM] (e.g. weekly mon 10:00)"
MAX_SCAN_DAYS = 8  # every schedule fires at least once a week


@dataclass(frozen=True)
class Recurrence:
    days: frozenset[int]  # weekday numbers, Monday = 0
    at: time

    @property
    def kind(self) -> str:
        if self.days == frozenset(range(7)):
            return "daily"
        if self.days == frozenset(range(5)):
            return "weekdays"
        if self.days == frozenset({5, 6}):
            return "weekends"
        return "weekly"

    def canonical(self) -> str:
        hhmm = self.at.strftime("%H:%M")
        if self.kind != "weekly":
            return f"{self.kind} {hhmm}"
        return f"weekly {','.join(DAYS[d] for d in sorted(self.days))} {hhmm}"

    @property
    def period_name(self) -> str:
        return {"daily": "day", "weekdays": "weekday", "weekends": "weekend day"}.get(self.kind, "week")

    def _instant(self, day: date, zone: ZoneInfo) -> datetime:
        return datetime.combine(day, self.at, tzinfo=zone).astimezone(timezone.utc)

    def next_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first occurrence strictly after ``moment`` (an aware datetime), in UTC."""
        local_day = moment.astimezone(zone).date()
        for offset in range(-1, MAX_SCAN_DAYS + 1):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                instant = self._instant(day, zone)
                if instant > moment:
                    return instant
        raise AssertionError("a recurrence with at least one day always fires within a week")

    def latest_at_or_before(self, moment: datetime, zone: ZoneInfo) -> datetime:
        local_day = moment.astimezone(zone).date()
        for offset in range(1, -MAX_SCAN_DAYS - 1, -1):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                instant = self._instant(day, zone)
                if instant <= moment:
                    return instant
        raise AssertionError("a recurrence with at least one day always fires within a week")

    def count_between(self, after: datetime, until: datetime, zone: ZoneInfo, cap: int = 1000) -> int:
        """How many occurrences fall in (after, until]: the runs a catch-up post stands for."""
        count, cursor = 0, after
        while count < cap:
            cursor = self.next_after(cursor, zone)
            if cursor > until:
                break
            count += 1
        return count


def parse_recurrence(text: str, default_time: str = "09:00") -> Recurrence:
    """Parses a schedule a moderator typed; the error lists every accepted form."""
    words = [w for w in re.split(r"[\s]+", text.strip().lower()) if w]
    if not words:
        raise SettingError(f"a schedule is needed: {FORMS}")
    head, rest = words[0], words[1:]
    if head in ("daily", "everyday", "every-day"):
        days = frozenset(range(7))
    elif head in ("weekdays", "weekday"):
        days = frozenset(range(5))
    elif head in ("weekends", "weekend"):
        days = frozenset({5, 6})
    elif head in ("weekly", "every") or _is_days(head):
        if head in ("weekly", "every"):
            if not rest:
                raise SettingError(f"weekly needs a day, e.g. weekly mon 10:00. Accepted: {FORMS}")
            head, rest = rest[0], rest[1:]
        days = _days(head)
    else:
        raise SettingError(f"{quote_input(text)} is not a schedule; use {FORMS}")
    if len(rest) > 1:
        raise SettingError(f"{quote_input(text)} has too many parts; use {FORMS}")
    try:
        at = parse_time_of_day(rest[0] if rest else default_time)
    except SettingError as exc:
        raise SettingError(f"{exc}. Schedules look like {FORMS}") from None
    return Recurrence(days=days, at=at)


def _is_days(word: str) -> bool:
    return all(part in _DAY_NAMES for part in word.split(",") if part) and bool(word.strip(","))


def _days(word: str) -> frozenset[int]:
    parts = [p for p in word.split(",") if p]
    bad = [p for p in parts if p not in _DAY_NAMES]
    if bad or not parts:
        raise SettingError(f"{quote_input(word, 20)} is not a day; use mon, tue, wed, thu, fri, sat or sun")
    return frozenset(_DAY_NAMES[p] for p in parts)
