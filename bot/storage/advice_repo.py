"""SQL for the advice feature. Handlers never write SQL; they call these."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Database


@dataclass(frozen=True)
class Entry:
    """One advice entry as stored; ``workspace_id`` is None for built-in entries."""

    id: str
    title: str
    topic: str
    body: str
    keywords: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    workspace_id: str | None = None

_HASH_KEY = "advice.builtin_hash"


async def builtin_hash(db: Database) -> str | None:
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (_HASH_KEY,))
    return row["value"] if row else None


async def replace_builtin(db: Database, entries: list[Entry], topics: dict[str, str], content_hash: str) -> None:
    """Swaps the built-in entries in one transaction: readers see the old set or the new, never half."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM advice_entries WHERE origin = 'builtin'")
        await conn.execute("DELETE FROM advice_topics")
        await conn.executemany("INSERT INTO advice_topics (name, title) VALUES (?, ?)", list(topics.items()))
        await conn.executemany(
            "INSERT INTO advice_entries (id, workspace_id, title, topic, body, origin) VALUES (?, NULL, ?, ?, ?, 'builtin')",
            [(e.id, e.title, e.topic, e.body) for e in entries],
        )
        await conn.executemany(
            "INSERT OR IGNORE INTO advice_keywords (entry_id, keyword) VALUES (?, ?)",
            [(e.id, k) for e in entries for k in e.keywords],
        )
        await conn.executemany(
            "INSERT INTO advice_sources (entry_id, source_id) VALUES (?, ?)",
            [(e.id, s) for e in entries for s in e.sources],
        )
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_HASH_KEY, content_hash),
        )


async def load_entries(db: Database) -> list[Entry]:
    rows = await db.fetchall("SELECT id, workspace_id, title, topic, body FROM advice_entries ORDER BY id")
    keywords: dict[str, list[str]] = {}
    for r in await db.fetchall("SELECT entry_id, keyword FROM advice_keywords ORDER BY entry_id, keyword"):
        keywords.setdefault(r["entry_id"], []).append(r["keyword"])
    sources: dict[str, list[str]] = {}
    for r in await db.fetchall("SELECT entry_id, source_id FROM advice_sources ORDER BY entry_id, source_id"):
        sources.setdefault(r["entry_id"], []).append(r["source_id"])
    return [
        Entry(
            id=r["id"],
            title=r["title"],
            topic=r["topic"],
            body=r["body"],
            keywords=tuple(keywords.get(r["id"], ())),
            sources=tuple(sources.get(r["id"], ())),
            workspace_id=r["workspace_id"],
        )
        for r in rows
    ]


async def load_topics(db: Database) -> dict[str, str]:
    return {r["name"]: r["title"] for r in await db.fetchall("SELECT name, title FROM advice_topics ORDER BY name")}
