"""SQL for the advice feature. Handlers never write SQL; they call these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.storage.db import Database, serialize_ids


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
    examples: tuple[str, ...] = ()

_HASH_KEY = "advice.builtin_hash"


async def builtin_hash(db: Database) -> str | None:
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (_HASH_KEY,))
    return row["value"] if row else None


async def replace_builtin(db: Database, entries: list[Entry], topics: dict[str, str], content_hash: str) -> None:
    """Swaps the built-in entries in one transaction: readers see the old set or the new, never half.

    Processes starting together on one database take turns (``serialize_ids``); the ones after
    the first find the set already current and leave it.
    """
    async with db.transaction() as conn:
        await serialize_ids(conn, "advice_entries")
        cur = await conn.execute("SELECT value FROM meta WHERE key = ?", (_HASH_KEY,))
        row = await cur.fetchone()
        if row is not None and row[0] == content_hash:
            return
        await conn.execute("DELETE FROM advice_entries WHERE origin = 'builtin'")
        await conn.execute("DELETE FROM advice_topics")
        await conn.executemany("INSERT INTO advice_topics (name, title) VALUES (?, ?)", list(topics.items()))
        await conn.executemany(
            "INSERT INTO advice_entries (id, workspace_id, title, topic, body, origin) VALUES (?, NULL, ?, ?, ?, 'builtin')",
            [(e.id, e.title, e.topic, e.body) for e in entries],
        )
        await conn.executemany(
            "INSERT INTO advice_keywords (entry_id, keyword) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(e.id, k) for e in entries for k in e.keywords],
        )
        await conn.executemany(
            "INSERT INTO advice_sources (entry_id, source_id) VALUES (?, ?)",
            [(e.id, s) for e in entries for s in e.sources],
        )
        await conn.executemany(
            "INSERT INTO advice_examples (entry_id, position, question) VALUES (?, ?, ?)",
            [(e.id, i, q) for e in entries for i, q in enumerate(e.examples)],
        )
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_HASH_KEY, content_hash),
        )


# Text is ordered in Python, not by ORDER BY: a PostgreSQL database's collation (en_US, say)
# sorts "myth-x" and "myths" differently from SQLite, and the index must not depend on the engine.


def _by_text(rows: list[Any], *keys: str) -> list[Any]:
    return sorted(rows, key=lambda r: tuple(r[k] for k in keys))


async def load_entries(db: Database) -> list[Entry]:
    rows = _by_text(await db.fetchall("SELECT id, workspace_id, title, topic, body FROM advice_entries"), "id")
    keywords: dict[str, list[str]] = {}
    for r in _by_text(await db.fetchall("SELECT entry_id, keyword FROM advice_keywords"), "entry_id", "keyword"):
        keywords.setdefault(r["entry_id"], []).append(r["keyword"])
    sources: dict[str, list[str]] = {}
    for r in _by_text(await db.fetchall("SELECT entry_id, source_id FROM advice_sources"), "entry_id", "source_id"):
        sources.setdefault(r["entry_id"], []).append(r["source_id"])
    examples: dict[str, list[str]] = {}
    for r in await db.fetchall("SELECT entry_id, question FROM advice_examples ORDER BY entry_id, position"):
        examples.setdefault(r["entry_id"], []).append(r["question"])
    return [
        Entry(
            id=r["id"],
            title=r["title"],
            topic=r["topic"],
            body=r["body"],
            keywords=tuple(keywords.get(r["id"], ())),
            sources=tuple(sources.get(r["id"], ())),
            workspace_id=r["workspace_id"],
            examples=tuple(examples.get(r["id"], ())),
        )
        for r in rows
    ]


async def load_topics(db: Database) -> dict[str, str]:
    return {r["name"]: r["title"] for r in _by_text(await db.fetchall("SELECT name, title FROM advice_topics"), "name")}


# -- what students asked, and what they thought of the answers ---------------------------------


async def record_ask(
    db: Database, ask_id: str, workspace: str, question: str, key: str, outcome: str, entry_id: str | None, at: str
) -> None:
    await db.execute(
        "INSERT INTO advice_asks (id, workspace, question, question_key, outcome, entry_id, asked_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (ask_id, workspace, question, key, outcome, entry_id, at),
    )


async def get_ask(db: Database, ask_id: str) -> dict[str, Any] | None:
    row = await db.fetchone("SELECT id, workspace, question, outcome, entry_id FROM advice_asks WHERE id = ?", (ask_id,))
    return dict(row) if row else None


async def vote(db: Database, ask_id: str, voter: str, entry_id: str, value: int, at: str) -> int | None:
    """Records (or changes) one person's vote on one answer; returns their previous vote."""
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT vote FROM advice_votes WHERE ask_id = ? AND voter = ?", (ask_id, voter))
        row = await cur.fetchone()
        await conn.execute(
            "INSERT INTO advice_votes (ask_id, voter, entry_id, vote, voted_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (ask_id, voter) DO UPDATE SET vote = excluded.vote, entry_id = excluded.entry_id, "
            "voted_at = excluded.voted_at",
            (ask_id, voter, entry_id, value, at),
        )
    return row[0] if row else None


async def prune_asks(conn: Any, before: str) -> int:
    """Forgets questions (and their votes) older than the retention period (the daily retention job)."""
    cur = await conn.execute("DELETE FROM advice_asks WHERE asked_at < ?", (before,))
    return cur.rowcount or 0


async def refused_questions(db: Database, since: str, workspace: str | None, limit: int) -> list[dict[str, Any]]:
    """Questions the bot could not answer or was unsure about, most often asked first."""
    where, params = _scope(since, workspace)
    rows = await db.fetchall(
        "SELECT question_key, min(lower(question)) AS question, count(*) AS n, "
        "sum(CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END) AS refused, max(asked_at) AS last "
        f"FROM advice_asks WHERE outcome IN ('refused', 'unsure') AND {where} "
        "GROUP BY question_key ORDER BY n DESC, last DESC LIMIT ?",
        (*params, limit),
    )
    return [dict(r) for r in rows]


async def entry_votes(db: Database, since: str, workspace: str | None) -> list[dict[str, Any]]:
    """Per entry: 👍, 👎 and how often it was shown first, most down-voted first."""
    where, params = _scope(since, workspace, "a.")
    rows = await db.fetchall(
        "SELECT v.entry_id AS entry_id, sum(CASE WHEN v.vote > 0 THEN 1 ELSE 0 END) AS up, "
        "sum(CASE WHEN v.vote < 0 THEN 1 ELSE 0 END) AS down "
        f"FROM advice_votes v JOIN advice_asks a ON a.id = v.ask_id WHERE {where} "
        "GROUP BY v.entry_id",
        params,
    )
    return sorted((dict(r) for r in rows), key=lambda r: (-r["down"], r["up"], r["entry_id"]))


async def downvoted_questions(db: Database, since: str, workspace: str | None, limit: int) -> list[dict[str, Any]]:
    """The questions whose answers were voted down, with the entry that was shown."""
    where, params = _scope(since, workspace, "a.")
    rows = await db.fetchall(
        "SELECT min(lower(a.question)) AS question, v.entry_id AS entry_id, count(*) AS n "
        f"FROM advice_votes v JOIN advice_asks a ON a.id = v.ask_id WHERE v.vote < 0 AND {where} "
        "GROUP BY a.question_key, v.entry_id",
        params,
    )
    return sorted((dict(r) for r in rows), key=lambda r: (-r["n"], r["question"]))[:limit]


async def ask_counts(db: Database, since: str, workspace: str | None) -> dict[str, int]:
    where, params = _scope(since, workspace)
    rows = await db.fetchall(f"SELECT outcome, count(*) AS n FROM advice_asks WHERE {where} GROUP BY outcome", params)
    return {r["outcome"]: r["n"] for r in rows}


def _scope(since: str, workspace: str | None, alias: str = "") -> tuple[str, tuple[Any, ...]]:
    if workspace is None:
        return f"{alias}asked_at >= ?", (since,)
    return f"{alias}asked_at >= ? AND {alias}workspace = ?", (since, workspace)
