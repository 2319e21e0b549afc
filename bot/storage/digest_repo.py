"""SQL for scheduled digests and the per-channel ledger of items already given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage.db import Database


@dataclass(frozen=True)
class Digest:
    id: int
    platform: str
    workspace: str
    channel: str
    channel_name: str
    schedule: str
    contents: tuple[str, ...]
    paused: bool
    paused_reason: str | None
    created_by: str
    covered_until: datetime


async def _contents(db: Database, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    out: dict[int, list[str]] = {i: [] for i in ids}
    holes = ",".join("?" * len(ids))
    for r in await db.fetchall(
        f"SELECT digest_id, provider FROM digest_contents WHERE digest_id IN ({holes}) ORDER BY digest_id, position", ids
    ):
        out[r["digest_id"]].append(r["provider"])
    return out


async def _build(db: Database, rows: list) -> list[Digest]:
    contents = await _contents(db, [r["id"] for r in rows])
    return [
        Digest(
            r["id"], r["platform"], r["workspace"], r["channel"], r["channel_name"], r["schedule"],
            tuple(contents.get(r["id"], [])), bool(r["paused"]), r["paused_reason"], r["created_by"],
            datetime.fromisoformat(r["covered_until"]),
        )
        for r in rows
    ]


async def get(db: Database, digest_id: int) -> Digest | None:
    rows = await db.fetchall("SELECT * FROM digests WHERE id = ?", (digest_id,))
    built = await _build(db, rows)
    return built[0] if built else None


async def in_workspace(db: Database, workspace: str) -> list[Digest]:
    return await _build(db, await db.fetchall("SELECT * FROM digests WHERE workspace = ? ORDER BY id", (workspace,)))


async def in_channel(db: Database, workspace: str, channel: str) -> list[Digest]:
    rows = await db.fetchall("SELECT * FROM digests WHERE workspace = ? AND channel = ? ORDER BY id", (workspace, channel))
    return await _build(db, rows)


async def count(db: Database, workspace: str, channel: str | None = None) -> int:
    if channel is None:
        row = await db.fetchone("SELECT COUNT(*) AS n FROM digests WHERE workspace = ?", (workspace,))
    else:
        row = await db.fetchone("SELECT COUNT(*) AS n FROM digests WHERE workspace = ? AND channel = ?", (workspace, channel))
    return int(row["n"]) if row else 0


async def insert(
    conn: aiosqlite.Connection,
    platform: str,
    workspace: str,
    channel: str,
    channel_name: str,
    schedule: str,
    contents: list[str],
    created_by: str,
    now: str,
) -> int:
    cur = await conn.execute(
        "INSERT INTO digests (platform, workspace, channel, channel_name, schedule, created_by, created_at, covered_until)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (platform, workspace, channel, channel_name, schedule, created_by, now, now),
    )
    digest_id = int((await cur.fetchone())[0])
    await conn.executemany(
        "INSERT INTO digest_contents (digest_id, position, provider) VALUES (?, ?, ?)",
        [(digest_id, i, p) for i, p in enumerate(contents)],
    )
    return digest_id


async def delete(conn: aiosqlite.Connection, digest_id: int) -> None:
    await conn.execute("DELETE FROM digests WHERE id = ?", (digest_id,))


async def exists(conn: aiosqlite.Connection, digest_id: int) -> bool:
    cur = await conn.execute("SELECT paused FROM digests WHERE id = ?", (digest_id,))
    row = await cur.fetchone()
    return row is not None and not row[0]


async def set_paused(conn: aiosqlite.Connection, digest_id: int, paused: bool, reason: str | None, covered_until: str | None = None) -> None:
    if covered_until is None:
        await conn.execute("UPDATE digests SET paused = ?, paused_reason = ? WHERE id = ?", (int(paused), reason, digest_id))
    else:
        await conn.execute(
            "UPDATE digests SET paused = ?, paused_reason = ?, covered_until = ? WHERE id = ?",
            (int(paused), reason, covered_until, digest_id),
        )


async def set_covered(conn: aiosqlite.Connection, digest_id: int, covered_until: str) -> None:
    await conn.execute("UPDATE digests SET covered_until = ? WHERE id = ?", (covered_until, digest_id))


async def seen(db: Database, workspace: str, channel: str, provider: str) -> set[str]:
    rows = await db.fetchall(
        "SELECT item_key FROM digest_seen WHERE workspace = ? AND channel = ? AND provider = ?", (workspace, channel, provider)
    )
    return {r["item_key"] for r in rows}


async def record_seen(
    conn: aiosqlite.Connection, workspace: str, channel: str, provider: str, keys: list[str], at: str, restart: bool
) -> None:
    if restart:
        await conn.execute(
            "DELETE FROM digest_seen WHERE workspace = ? AND channel = ? AND provider = ?", (workspace, channel, provider)
        )
    await conn.executemany(
        "INSERT INTO digest_seen (workspace, channel, provider, item_key, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(workspace, channel, provider, k, at) for k in keys],
    )
