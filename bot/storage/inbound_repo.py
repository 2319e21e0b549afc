"""Deduplicating inbound platform events across processes (``inbound_events``).

The first process to record an event handles it; any later delivery of the same event (a
Slack retry, a duplicate gateway dispatch) is told it was already taken. One INSERT decides,
so two processes racing on the same retry cannot both win: the primary key does the arbitration
on either engine.
"""

from __future__ import annotations

from bot.storage.db import Database


async def first_sight(db: Database, source: str, event_id: str, now: str, owner: str = "") -> bool:
    """True exactly once per (source, event_id), for whichever caller recorded it first."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO inbound_events (source, event_id, seen_at, owner) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, event_id) DO NOTHING",
            (source, event_id, now, owner),
        )
        return (cur.rowcount or 0) == 1


async def prune(conn: object, before: str) -> int:
    cur = await conn.execute("DELETE FROM inbound_events WHERE seen_at < ?", (before,))  # type: ignore[attr-defined]
    return cur.rowcount or 0
