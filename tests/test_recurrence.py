"""Schedules in local time: parsing every form, refusing bad ones, and DST in both directions."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.recurrence import parse_recurrence
from bot.settings import SettingError

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text,canonical",
    [
        ("daily 09:00", "daily 09:00"),
        ("Daily 9:05", "daily 09:05"),
        ("weekdays 08:30", "weekdays 08:30"),
        ("weekends 10am", "weekends 10:00"),
        ("weekly mon 10:00", "weekly mon 10:00"),
        ("weekly Monday 5:30pm", "weekly mon 17:30"),
        ("weekly mon,thu 07:15", "weekly mon,thu 07:15"),
        ("fri 16:00", "weekly fri 16:00"),
        ("daily", "daily 09:00"),
    ],
)
def test_accepted_forms(text: str, canonical: str) -> None:
    assert parse_recurrence(text).canonical() == canonical
    assert parse_recurrence(canonical).canonical() == canonical


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("", "a schedule is needed"),
        ("hourly 09:00", "is not a schedule"),
        ("daily 25:00", "not a time of day"),
        ("daily 9", "not a time of day"),
        ("daily 13pm", "not a time of day"),
        ("daily 09:60", "not a time of day"),
        ("weekly 10:00", "is not a day"),
        ("weekly", "weekly needs a day"),
        ("weekly funday 10:00", "is not a day"),
        ("daily 09:00 10:00", "too many parts"),
        ("@everyone 09:00", "is not a schedule"),
    ],
)
def test_bad_schedules_say_what_is_accepted(text: str, fragment: str) -> None:
    with pytest.raises(SettingError) as info:
        parse_recurrence(text)
    assert fragment in str(info.value)
    assert "daily" in str(info.value) or "mon, tue" in str(info.value)


def test_berlin_spring_forward_keeps_nine_local() -> None:
    rec = parse_recurrence("daily 09:00")
    # 2026-03-29: Berlin moves from UTC+1 to UTC+2.
    first = rec.next_after(utc("2026-03-27T12:00"), BERLIN)
    second = rec.next_after(first, BERLIN)
    third = rec.next_after(second, BERLIN)
    assert [first, second, third] == [utc("2026-03-28T08:00"), utc("2026-03-29T07:00"), utc("2026-03-30T07:00")]
    assert {t.astimezone(BERLIN).strftime("%H:%M") for t in (first, second, third)} == {"09:00"}


def test_berlin_fall_back_keeps_nine_local() -> None:
    rec = parse_recurrence("daily 09:00")
    # 2026-10-25: back from UTC+2 to UTC+1.
    times = [rec.next_after(utc("2026-10-23T12:00"), BERLIN)]
    for _ in range(2):
        times.append(rec.next_after(times[-1], BERLIN))
    assert times == [utc("2026-10-24T07:00"), utc("2026-10-25T08:00"), utc("2026-10-26T08:00")]


def test_skipped_and_repeated_local_times_fire_once() -> None:
    rec = parse_recurrence("daily 02:30")
    # 2026-03-08 in New York: 02:30 does not exist; it fires at the same instant as 03:30 EDT.
    spring = rec.next_after(utc("2026-03-08T00:00"), NEW_YORK)
    assert spring == utc("2026-03-08T07:30") and spring.astimezone(NEW_YORK).strftime("%H:%M") == "03:30"
    # 2026-11-01: 01:30 happens twice; it fires only at the first.
    rec = parse_recurrence("daily 01:30")
    autumn = rec.next_after(utc("2026-11-01T04:00"), NEW_YORK)
    assert autumn == utc("2026-11-01T05:30")
    assert rec.next_after(autumn, NEW_YORK) == utc("2026-11-02T06:30")


def test_weekdays_skip_the_weekend_and_counting_missed_runs() -> None:
    rec = parse_recurrence("weekdays 08:30")
    friday = utc("2026-01-09T08:30")
    assert rec.next_after(friday, ZoneInfo("UTC")) == utc("2026-01-12T08:30")
    assert rec.count_between(utc("2026-01-08T09:00"), utc("2026-01-13T09:00"), ZoneInfo("UTC")) == 3
    assert rec.latest_at_or_before(utc("2026-01-11T12:00"), ZoneInfo("UTC")) == friday


def test_backoff_doubles_to_an_hour_and_never_overflows() -> None:
    from bot.clock import backoff

    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(8).total_seconds() == 3600 and backoff(10**6).total_seconds() == 3600  # a source down for years
