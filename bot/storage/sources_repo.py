"""SQL for polled sources (papers and postings alike): health, validators, and who uses them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from bot.storage.db import Database


@dataclass
class Source:
    name: str
    kind: str
    url: str
    status: str = "never"
    last_success: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    failing_since: str | None = None
    failures: int = 0
    items_last: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    next_poll: str | None = None
    feature: str = "papers"
    options: dict[str, Any] = field(default_factory=dict)
    baseline_at: str | None = None
    created_at: str | None = None
    items_total: int = 0


def _source(r: Any) -> Source:
    values = {k: r[k] for k in r.keys()}
    try:
        values["options"] = json.loads(values.get("options") or "{}")
    except ValueError:
        values["options"] = {}
    return Source(**values)


async def all_sources(db: Database, feature: str | None = None) -> list[Source]:
    if feature is None:
        rows = await db.fetchall("SELECT * FROM feed_sources ORDER BY name")
    else:
        rows = await db.fetchall("SELECT * FROM feed_sources WHERE feature = ? ORDER BY name", (feature,))
    return _by_name([_source(r) for r in rows])


def _by_name(sources: list[Source]) -> list[Source]:
    """By code point, as SQLite's BINARY collation sorts; a PostgreSQL database's collation may
    not (en_US ignores case and punctuation), and these lists are shown to moderators."""
    return sorted(sources, key=lambda s: s.name)


async def get(db: Database, name: str) -> Source | None:
    row = await db.fetchone("SELECT * FROM feed_sources WHERE name = ?", (name,))
    return _source(row) if row else None


async def ensure(
    conn: aiosqlite.Connection, name: str, kind: str, url: str, feature: str, now: str, options: dict[str, Any] | None = None
) -> None:
    """Creates the source, or updates its kind and URL (validators reset when the URL changes)."""
    await conn.execute(
        "INSERT INTO feed_sources (name, kind, url, feature, options, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, feature = excluded.feature, options = excluded.options,"
        " etag = CASE WHEN feed_sources.url = excluded.url THEN feed_sources.etag END,"
        " last_modified = CASE WHEN feed_sources.url = excluded.url THEN feed_sources.last_modified END,"
        " url = excluded.url",
        (name, kind, url, feature, json.dumps(options or {}, sort_keys=True), now),
    )


async def set_kind(conn: aiosqlite.Connection, name: str, kind: str) -> None:
    await conn.execute("UPDATE feed_sources SET kind = ? WHERE name = ?", (kind, name))


async def delete(conn: aiosqlite.Connection, name: str) -> None:
    await conn.execute("DELETE FROM workspace_sources WHERE source = ?", (name,))
    await conn.execute("DELETE FROM source_notices WHERE source = ?", (name,))
    await conn.execute("DELETE FROM feed_sources WHERE name = ?", (name,))


async def ok(
    conn: aiosqlite.Connection,
    name: str,
    at: str,
    items: int,
    etag: str | None,
    last_modified: str | None,
    added: int = 0,
    baseline: bool = False,
) -> None:
    await conn.execute(
        "UPDATE feed_sources SET status = 'ok', last_success = ?, failures = 0, failing_since = NULL, items_last = ?,"
        " etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified), items_total = items_total + ?,"
        " baseline_at = CASE WHEN ? = 1 THEN COALESCE(baseline_at, ?) ELSE baseline_at END WHERE name = ?",
        (at, items, etag, last_modified, added, 1 if baseline else 0, at, name),  # "? = 1": PostgreSQL wants a boolean after WHEN
    )


async def failed(db: Database, name: str, at: str, error: str, unhealthy_after: int) -> Source | None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE feed_sources SET failures = failures + 1, last_error = ?, last_error_at = ?,"
            " failing_since = COALESCE(failing_since, ?),"
            " status = CASE WHEN failures + 1 >= ? THEN 'unhealthy' ELSE 'failing' END WHERE name = ?",
            (error[:300], at, at, unhealthy_after, name),
        )
    return await get(db, name)


async def set_next_poll(conn: aiosqlite.Connection, name: str, at: str | None) -> None:
    await conn.execute("UPDATE feed_sources SET next_poll = ? WHERE name = ?", (at, name))


# -- which workspaces use a source ------------------------------------------------------------
async def link(conn: aiosqlite.Connection, workspace: str, source: str, by: str, at: str) -> bool:
    cur = await conn.execute(
        "INSERT INTO workspace_sources (workspace, source, added_by, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (workspace, source, by, at),
    )
    return cur.rowcount == 1


async def unlink(conn: aiosqlite.Connection, workspace: str, source: str) -> int:
    """Removes the link; returns how many workspaces still use the source."""
    await conn.execute("DELETE FROM workspace_sources WHERE workspace = ? AND source = ?", (workspace, source))
    cur = await conn.execute("SELECT COUNT(*) FROM workspace_sources WHERE source = ?", (source,))
    return int((await cur.fetchone())[0])


async def for_workspace(db: Database, workspace: str) -> list[Source]:
    rows = await db.fetchall(
        "SELECT s.* FROM feed_sources s JOIN workspace_sources w ON w.source = s.name WHERE w.workspace = ? ORDER BY s.name",
        (workspace,),
    )
    return _by_name([_source(r) for r in rows])


async def workspaces_of(conn: aiosqlite.Connection, source: str) -> list[str]:
    cur = await conn.execute("SELECT workspace FROM workspace_sources WHERE source = ? ORDER BY workspace", (source,))
    return [r[0] for r in await cur.fetchall()]


# -- telling moderators once per incident ------------------------------------------------------
async def unnoticed_incidents(db: Database, workspace: str, feature: str, linked_only: bool) -> list[Source]:
    """Unhealthy sources of ``feature`` this workspace has not been told about (this incident)."""
    linked = " AND EXISTS (SELECT 1 FROM workspace_sources w WHERE w.source = s.name AND w.workspace = ?)" if linked_only else ""
    rows = await db.fetchall(
        "SELECT s.* FROM feed_sources s WHERE s.status = 'unhealthy' AND s.feature = ?" + linked + " AND NOT EXISTS ("
        " SELECT 1 FROM source_notices n WHERE n.source = s.name AND n.workspace = ? AND n.incident = s.failing_since)",
        (feature, workspace, workspace) if linked_only else (feature, workspace),
    )
    return [_source(r) for r in rows]


async def mark_noticed(db: Database, workspace: str, incidents: list[Source]) -> None:
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO source_notices (source, workspace, incident) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(s.name, workspace, s.failing_since) for s in incidents],
        )
