"""Forgetting what is no longer needed: a daily job prunes old rows so the database stays small.

Delivered posts are kept for a while (their idempotency keys stop a late retry from posting
twice, and edits find their message ids), then deleted; failed ones a little longer, for a
moderator to read about. Features add their own rules (advice questions, for instance).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import iso_utc
from bot.scheduler import Outcome
from bot.storage import jobs_repo

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("careerbot.retention")

JOB_KIND = "retention"
EVERY = timedelta(days=1)
SENT_POSTS = timedelta(days=30)
FAILED_POSTS = timedelta(days=90)
NOTIFIED_PROBLEMS = timedelta(days=90)
INBOUND_EVENTS = timedelta(days=1)  # platforms retry an event for minutes; a day is ample

Rule = Callable[[Any, datetime], Awaitable[int]]  # (connection, now) -> rows deleted


async def _sent_posts(conn: Any, now: datetime) -> int:
    cur = await conn.execute(
        "DELETE FROM deliveries WHERE status = 'sent' AND sent_at < ?", (iso_utc(now - SENT_POSTS),)
    )
    return cur.rowcount or 0


async def _failed_posts(conn: Any, now: datetime) -> int:
    cur = await conn.execute(
        "DELETE FROM deliveries WHERE status = 'failed' AND created_at < ?", (iso_utc(now - FAILED_POSTS),)
    )
    return cur.rowcount or 0


async def _old_problems(conn: Any, now: datetime) -> int:
    cur = await conn.execute(
        "DELETE FROM delivery_problems WHERE notified_at IS NOT NULL AND at < ?", (iso_utc(now - NOTIFIED_PROBLEMS),)
    )
    return cur.rowcount or 0


async def _inbound_events(conn: Any, now: datetime) -> int:
    from bot.storage import inbound_repo

    return await inbound_repo.prune(conn, iso_utc(now - INBOUND_EVENTS))


class Retention:
    def __init__(self, app: "App") -> None:
        self.app = app
        self.rules: dict[str, Rule] = {
            "delivered posts": _sent_posts, "failed posts": _failed_posts, "delivery problems": _old_problems,
            "inbound event ids": _inbound_events,
        }
        app.scheduler.handle(JOB_KIND, self.run)

    def add(self, name: str, rule: Rule) -> None:
        self.rules[name] = rule

    async def ensure_job(self) -> None:
        """Schedules the daily run once; an existing job keeps its time."""
        async with self.app.db.transaction() as conn:
            if not await jobs_repo.exists(conn, JOB_KIND, "all"):
                await jobs_repo.upsert(conn, JOB_KIND, "all", iso_utc(self.app.clock.now() + timedelta(minutes=5)))

    async def prune(self, now: datetime) -> dict[str, int]:
        """Runs every rule in one transaction: all of today's pruning, or none of it."""
        deleted: dict[str, int] = {}
        async with self.app.db.transaction() as conn:
            for name, rule in self.rules.items():
                deleted[name] = await rule(conn, now)
        if any(deleted.values()):
            log.info("pruned %s", ", ".join(f"{n} {what}" for what, n in deleted.items() if n))
        return deleted

    async def run(self, job: Any, at: datetime) -> Outcome:
        await self.prune(at)
        return Outcome(next_due=at + EVERY)
