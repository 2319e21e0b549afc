"""A monotonic clock and sleep that only move when something waits: rate limits, politeness
spacing and backoff are checked by what was waited, without spending the time."""

from __future__ import annotations


class FakeTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds
