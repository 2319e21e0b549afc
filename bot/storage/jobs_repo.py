"""SQL for the scheduler's jobs table."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage.changes import notify_work
from bot.storage.db import Database


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    ref: str
    due_at: datetime
    attempts: int
    last_error: str | None


def _job(r) -> Job:  # noqa: ANN001
    return Job(r["id"], r["kind"], r["ref"], datetime.fromisoformat(r["due_at"]), r["attempts"], r["last_error"])


def _not_kinds(kinds: Collection[str]) -> tuple[str, list[object]]:
    return (f" AND kind NOT IN ({','.join('?' * len(kinds))})", list(kinds)) if kinds else ("", [])


async def earliest(
    db: Database, due_by: str | None = None, skip: Collection[int] = (), free_at: str | None = None,
    exclude_kinds: Collection[str] = (),
) -> Job | None:
    """The next job (due by ``due_by``), leaving out ``skip`` (jobs already running here),
    ``exclude_kinds`` (jobs of a role another process holds) and, given ``free_at``, jobs
    another process holds a lease on at that instant."""
    where: list[str] = []
    params: list[object] = []
    if exclude_kinds:
        where.append(f"kind NOT IN ({','.join('?' * len(exclude_kinds))})")
        params.extend(exclude_kinds)
    if free_at is not None:
        where.append("(lease_until IS NULL OR lease_until <= ?)")
        params.append(free_at)
    if due_by is not None:
        where.append("due_at <= ?")
        params.append(due_by)
    if skip:
        where.append(f"id NOT IN ({','.join('?' * len(skip))})")
        params.extend(skip)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    row = await db.fetchone(f"SELECT * FROM jobs{clause} ORDER BY due_at, id LIMIT 1", params)
    return _job(row) if row else None


async def claim_due(
    db: Database, due_by: str, now: str, owner: str, lease_until: str, skip: Collection[int] = (),
    exclude_kinds: Collection[str] = (),
) -> Job | None:
    """Takes the next due job no other process is running, under a lease, in one statement
    (PostgreSQL's SKIP LOCKED passes over a job another process is claiming this instant)."""
    extra = f" AND id NOT IN ({','.join('?' * len(skip))})" if skip else ""
    not_kinds, kinds = _not_kinds(exclude_kinds)
    lock = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgres" else ""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = (SELECT id FROM jobs"
            f" WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?){extra}{not_kinds} ORDER BY due_at, id LIMIT 1{lock})"
            " RETURNING *",
            (owner, lease_until, due_by, now, *skip, *kinds),
        )
        row = await cur.fetchone()
    return _job(row) if row else None


async def release_leases(db: Database) -> int:
    """At start on a database one process owns (SQLite): whatever it was running when it stopped is free."""
    async with db.transaction() as conn:
        cur = await conn.execute("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
        return cur.rowcount


async def get(db: Database, kind: str, ref: str) -> Job | None:
    row = await db.fetchone("SELECT * FROM jobs WHERE kind = ? AND ref = ?", (kind, ref))
    return _job(row) if row else None


async def exists(conn: aiosqlite.Connection, kind: str, ref: str) -> bool:
    """Inside a writer's transaction: whether a job is planned (e.g. to keep its later due time)."""
    cur = await conn.execute("SELECT 1 FROM jobs WHERE kind = ? AND ref = ?", (kind, ref))
    return await cur.fetchone() is not None


async def upsert(conn: aiosqlite.Connection, kind: str, ref: str, due_at: str) -> None:
    await conn.execute(
        "INSERT INTO jobs (kind, ref, due_at) VALUES (?, ?, ?)"
        " ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at, attempts = 0, last_error = NULL",
        (kind, ref, due_at),
    )
    await notify_work(conn)


async def delete(conn: aiosqlite.Connection, kind: str, ref: str) -> None:
    await conn.execute("DELETE FROM jobs WHERE kind = ? AND ref = ?", (kind, ref))


async def delete_id(conn: aiosqlite.Connection, job_id: int) -> None:
    await conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))


async def reschedule(conn: aiosqlite.Connection, job_id: int, due_at: str) -> None:
    await conn.execute(
        "UPDATE jobs SET due_at = ?, attempts = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = ?",
        (due_at, job_id),
    )
    await notify_work(conn)


async def failed(conn: aiosqlite.Connection, job_id: int, retry_at: str, error: str) -> None:
    await conn.execute(
        "UPDATE jobs SET due_at = ?, attempts = attempts + 1, last_error = ?, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ?",
        (retry_at, error, job_id),
    )
