"""SQL for the outbound queue / delivery log and the problems moderators must hear about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.storage.changes import notify_work
from bot.storage.db import Database


@dataclass(frozen=True)
class Delivery:
    id: int
    idem_key: str
    platform: str
    workspace: str
    channel: str
    channel_name: str
    kind: str
    period: str
    part: int
    parts: int
    payload: str
    status: str
    attempts: int
    target_kind: str = "channel"
    message_id: str | None = None
    sent_channel: str | None = None
    last_error: str | None = None
    created_at: str = ""


# last_error of a row that was in flight when the process stopped: it may or may not have arrived.
INTERRUPTED = "interrupted while sending"


@dataclass(frozen=True)
class Problem:
    id: int
    platform: str
    workspace: str
    channel: str
    channel_name: str
    reason: str
    at: str
    target_gone: bool = True
    is_user: bool = False  # a DM to a person failed (e.g. they block DMs): not a channel's problem


def _delivery(r) -> Delivery:  # noqa: ANN001
    return Delivery(
        r["id"], r["idem_key"], r["platform"], r["workspace"], r["channel"], r["channel_name"], r["kind"],
        r["period"], r["part"], r["parts"], r["payload"], r["status"], r["attempts"],
        r["target_kind"], r["message_id"], r["sent_channel"], r["last_error"], r["created_at"],
    )


async def insert(
    conn: aiosqlite.Connection, rows: Sequence[tuple[str, str, str, str, str, str, str, str, int, int, str, str]]
) -> int:
    """Queues posts; a key already present (the same post queued again) is ignored."""
    added = 0
    for r in rows:
        cur = await conn.execute(
            "INSERT INTO deliveries (idem_key, platform, workspace, channel, channel_name, target_kind, kind,"
            " period, part, parts, payload, not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (idem_key) DO NOTHING",
            (*r, r[-1]),
        )
        added += max(0, cur.rowcount)
    if added:
        await notify_work(conn)
    return added


async def recover(db: Database, platform: str) -> int:
    """Every row left 'sending' goes back to the queue; the resend carries the same key.

    Only for a database one process owns (SQLite): with several processes sharing one, a row
    in flight may be another's, and only its expired lease frees it (``reap``).
    """
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE deliveries SET status = 'pending', last_error = ?, lease_owner = NULL, lease_until = NULL"
            " WHERE platform = ? AND status = 'sending'",
            (INTERRUPTED, platform),
        )
        return cur.rowcount


async def reap(db: Database, platform: str, now: str) -> int:
    """Rows whose lease ran out (their process died mid-send) go back to the queue."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE deliveries SET status = 'pending', last_error = ?, lease_owner = NULL, lease_until = NULL"
            " WHERE platform = ? AND status = 'sending' AND (lease_until IS NULL OR lease_until <= ?)",
            (INTERRUPTED, platform, now),
        )
        return cur.rowcount


async def shorten_leases(db: Database, platform: str, owner: str, until: str) -> int:
    """A process that just became the platform's sender: posts other owners left in flight end
    their leases by ``until`` (those owners no longer hold the role, so they stop soon)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE deliveries SET lease_until = ? WHERE platform = ? AND status = 'sending'"
            " AND lease_owner <> ? AND lease_until > ?",
            (until, platform, owner, until),
        )
        return cur.rowcount


class Contended(Exception):
    """Another process claimed a post of the same channel at the same moment: look again."""


async def claim_next(
    db: Database, platform: str, now: str, owner: str, lease_until: str, skip: Sequence[str] = ()
) -> Delivery | None:
    """Claims the oldest ready row on a channel with nothing in flight, under a lease, in one
    statement: several processes may claim at once (PostgreSQL's SKIP LOCKED passes over rows
    another is claiming; the one-in-flight-per-channel index refuses a second post of a busy
    channel, raised here as ``Contended``). ``attempts`` comes back already counting this one.
    """
    extra = f" AND d.channel NOT IN ({','.join('?' * len(skip))})" if skip else ""
    lock = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgres" else ""
    sql = (
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_owner = ?, lease_until = ?"
        " WHERE id = (SELECT d.id FROM deliveries d WHERE d.platform = ? AND d.status = 'pending' AND d.not_before <= ?"
        f"{extra} AND NOT EXISTS (SELECT 1 FROM deliveries s WHERE s.status = 'sending' AND s.platform = d.platform"
        " AND s.workspace = d.workspace AND s.channel = d.channel)"
        # Only the first ready post of its channel: SKIP LOCKED would otherwise pass over a post
        # another process is claiming and take the next one of the same channel, and whichever
        # UPDATE reached the index first would win, out of order.
        " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending' AND e.platform = d.platform"
        " AND e.workspace = d.workspace AND e.channel = d.channel AND e.not_before <= ? AND e.id < d.id)"
        f" ORDER BY d.id LIMIT 1{lock}) RETURNING *"
    )
    try:
        async with db.transaction() as conn:
            cur = await conn.execute(sql, (owner, lease_until, platform, now, *skip, now))
            row = await cur.fetchone()
    except Exception as exc:
        if type(exc).__name__ in ("UniqueViolationError", "IntegrityError"):
            raise Contended() from exc
        raise
    return _delivery(row) if row else None


async def earliest_pending(db: Database, platform: str) -> str | None:
    """When there is next something to do: a row coming due, or a lease running out."""
    row = await db.fetchone(
        "SELECT MIN(t) AS t FROM (SELECT MIN(not_before) AS t FROM deliveries WHERE platform = ? AND status = 'pending'"
        " UNION ALL SELECT MIN(lease_until) AS t FROM deliveries WHERE platform = ? AND status = 'sending') x",
        (platform, platform),
    )
    return row["t"] if row else None


async def has_pending(db: Database, platform: str) -> bool:
    row = await db.fetchone("SELECT 1 FROM deliveries WHERE platform = ? AND status = 'pending' LIMIT 1", (platform,))
    return row is not None


async def mark_sent(db: Database, delivery_id: int, message_id: str, sent_channel: str, at: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE deliveries SET status = 'sent', message_id = ?, sent_channel = ?, sent_at = ?, last_error = NULL,"
            " lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (message_id, sent_channel, at, delivery_id),
        )


async def release(db: Database, delivery_id: int, not_before: str, error: str | None, count_attempt: bool = True) -> None:
    """Back to the queue (rate limit or transient error); a rate limit does not count as an attempt."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE deliveries SET status = 'pending', not_before = ?, last_error = ?,"
            " attempts = attempts - ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (not_before, error, 0 if count_attempt else 1, delivery_id),
        )


async def fail(db: Database, delivery_id: int, error: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE deliveries SET status = 'failed', last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (error, delivery_id),
        )


async def fail_target(
    db: Database, platform: str, workspace: str, channel: str, channel_name: str, reason: str, at: str,
    target_kind: str = "channel",
) -> int:
    """Stops every queued post to a target that can never accept them, and records the problem."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE deliveries SET status = 'failed', last_error = ?"
            " WHERE platform = ? AND workspace = ? AND channel = ? AND target_kind = ? AND status IN ('pending', 'sending')",
            (reason, platform, workspace, channel, target_kind),
        )
        cur = await conn.execute(
            "INSERT INTO delivery_problems (platform, workspace, channel, channel_name, reason, at, target_kind)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (platform, workspace, channel, channel_name, reason, at, target_kind),
        )
        return int((await cur.fetchone())[0])


async def add_problem(
    db: Database, platform: str, workspace: str, channel: str, channel_name: str, reason: str, at: str,
    target_kind: str = "channel",
) -> int:
    """One post failed for good (the target itself may still work)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO delivery_problems (platform, workspace, channel, channel_name, reason, target_gone, at, target_kind)"
            " VALUES (?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
            (platform, workspace, channel, channel_name, reason, at, target_kind),
        )
        return int((await cur.fetchone())[0])


async def unnotified(db: Database, workspace: str) -> list[Problem]:
    """Channel problems moderators have not heard about (a person's closed DMs are not theirs to fix)."""
    rows = await db.fetchall(
        "SELECT * FROM delivery_problems WHERE workspace = ? AND notified_at IS NULL AND target_kind = 'channel'"
        " ORDER BY id",
        (workspace,),
    )
    return [
        Problem(r["id"], r["platform"], r["workspace"], r["channel"], r["channel_name"], r["reason"], r["at"], bool(r["target_gone"]))
        for r in rows
    ]


async def workspaces_with_unnotified(db: Database) -> set[str]:
    """Read once at start; afterwards the outbox keeps this set in memory."""
    rows = await db.fetchall(
        "SELECT DISTINCT workspace FROM delivery_problems WHERE notified_at IS NULL AND target_kind = 'channel'"
    )
    return {r["workspace"] for r in rows}


async def mark_notified(conn: aiosqlite.Connection, problem_ids: Sequence[int], at: str) -> None:
    await conn.executemany(
        "UPDATE delivery_problems SET notified_at = ? WHERE id = ?", [(at, pid) for pid in problem_ids]
    )


async def counts(db: Database, platform: str | None = None) -> dict[str, int]:
    sql = "SELECT status, COUNT(*) AS n FROM deliveries"
    params: tuple = ()
    if platform:
        sql += " WHERE platform = ?"
        params = (platform,)
    rows = await db.fetchall(sql + " GROUP BY status", params)
    return {r["status"]: r["n"] for r in rows}


async def by_key(db: Database, idem_key: str) -> Delivery | None:
    row = await db.fetchone("SELECT * FROM deliveries WHERE idem_key = ?", (idem_key,))
    return _delivery(row) if row else None
