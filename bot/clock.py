"""Injectable time, so schedules are tested by moving a clock instead of sleeping.

Everything in the core asks ``ctx.clock.now()`` rather than ``datetime.now()``. The console's
``:tick`` advances the clock and notifies listeners (the scheduler subscribes to them).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

TickListener = Callable[[datetime], Awaitable[None]]


class Clock:
    """Real time plus an offset that only ever moves forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._frozen = start
        self._offset = timedelta(0)
        self._listeners: list[TickListener] = []

    def now(self) -> datetime:
        base = self._frozen if self._frozen is not None else datetime.now(timezone.utc)
        return base + self._offset

    def on_tick(self, listener: TickListener) -> None:
        self._listeners.append(listener)

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    async def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._offset += delta
        now = self.now()
        for listener in list(self._listeners):
            await listener(now)
        return now


def frozen_clock(at: str | datetime = "2026-01-05T09:00:00+00:00") -> Clock:
    """A clock that stands still until advanced: what tests use."""
    start = datetime.fromisoformat(at) if isinstance(at, str) else at
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return Clock(start=start)


_DURATION = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
MAX_TICK = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """Parses ``2d``, ``1h30m``, ``90s`` or ``1w 2d``; raises ValueError with what is accepted."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise ValueError(
            f"{text.strip()[:40]!r} is not a duration; use a number with w, d, h, m or s, e.g. 2d or 1h30m"
        )
    total = timedelta(0)
    for amount, unit in _DURATION.findall(compact):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total > MAX_TICK:
        raise ValueError("a single tick can move the clock at most 366 days")
    return total


def iso_utc(moment: datetime) -> str:
    """The one text form of an instant in the database: UTC, fixed width, so strings sort as times."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


MAX_BACKOFF = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """Wait before retry number ``attempts`` (1-based): 30 s doubling, at most an hour."""
    return min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** min(max(0, attempts - 1), 12)))  # no overflow after years of failing


class BackgroundLoop:
    """Owns one long-running task; stopping cancels it and waits until it has ended."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self, run: Callable[[], Awaitable[None]], name: str) -> None:
        if self._task is None:
            self._task = asyncio.create_task(run(), name=name)

    async def stop(self, grace: float = 0.0) -> None:
        """Cancels the task, after letting it end by itself for up to ``grace`` seconds."""
        if self._task is not None:
            if grace > 0:
                try:
                    await asyncio.wait_for(asyncio.shield(self._task), grace)
                except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - it is being stopped either way
                    pass
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
