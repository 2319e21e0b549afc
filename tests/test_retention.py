"""Old rows are pruned daily, by the scheduler, on the app clock; recent ones stay."""

from __future__ import annotations

import pytest

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.clock import frozen_clock, iso_utc
from bot.retention import JOB_KIND
from commands import create_app

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)

START = datetime(2027, 1, 1, 12, tzinfo=timezone.utc)


async def _delivery(app, key: str, status: str, created: datetime, sent: datetime | None) -> None:  # noqa: ANN001
    await app.db.execute(
        "INSERT INTO deliveries (idem_key, platform, workspace, channel, kind, period, payload, status, not_before, "
        "created_at, sent_at) VALUES (?, 'console', 'console:w', 'c', 'digest', 'p', '{}', ?, ?, ?, ?)",
        (key, status, iso_utc(created), iso_utc(created), iso_utc(sent) if sent else None),
    )


async def test_the_daily_job_prunes_old_posts_and_questions_and_keeps_recent_ones(db_path: Path):
    clock = frozen_clock(START)
    app = await create_app(db_path, clock=clock)
    try:
        job = await app.db.fetchone("SELECT due_at FROM jobs WHERE kind = ?", (JOB_KIND,))
        assert job is not None  # scheduled at start-up, once
        await _delivery(app, "old-sent", "sent", START - timedelta(days=40), START - timedelta(days=40))
        await _delivery(app, "new-sent", "sent", START - timedelta(days=3), START - timedelta(days=3))
        await _delivery(app, "old-failed", "failed", START - timedelta(days=100), None)
        await _delivery(app, "recent-failed", "failed", START - timedelta(days=40), None)
        await _delivery(app, "old-pending", "pending", START - timedelta(days=100), None)  # never pruned: still owed
        await app.db.execute(
            "INSERT INTO advice_asks (id, workspace, question, question_key, outcome, entry_id, asked_at) "
            "VALUES ('a1', 'w', 'q', 'q', 'refused', NULL, ?), ('a2', 'w', 'q', 'q', 'refused', NULL, ?)",
            (iso_utc(START - timedelta(days=200)), iso_utc(START - timedelta(days=10))),
        )
        await clock.advance(timedelta(minutes=10))
        await app.scheduler.run_due(clock.now())
        keys = {r["idem_key"] for r in await app.db.fetchall("SELECT idem_key FROM deliveries")}
        assert keys == {"new-sent", "recent-failed", "old-pending"}
        assert [r["id"] for r in await app.db.fetchall("SELECT id FROM advice_asks")] == ["a2"]
        again = await app.db.fetchone("SELECT due_at FROM jobs WHERE kind = ?", (JOB_KIND,))
        assert datetime.fromisoformat(again["due_at"]) > clock.now() + timedelta(hours=23)  # tomorrow
    finally:
        await app.close()
    reopened = await create_app(db_path, clock=clock)  # a restart does not add a second job
    try:
        rows = await reopened.db.fetchall("SELECT id FROM jobs WHERE kind = ?", (JOB_KIND,))
        assert len(rows) == 1
    finally:
        await reopened.close()
