"""SQL for papers, their signals, the full-text index, source health and per-channel picks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from bot.storage.db import Database


@dataclass
class StoredPaper:
    arxiv_id: str
    title: str
    version: int | None = None
    abstract: str = ""
    primary_category: str | None = None
    published: str | None = None
    updated: str | None = None
    code_url: str | None = None
    stars: int | None = None
    ai_summary: str | None = None
    announce_type: str | None = None
    announced_on: str | None = None
    hf_day: str | None = None
    upvotes: int | None = None
    first_seen: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


@dataclass
class Source:
    name: str
    kind: str
    url: str
    status: str
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    failing_since: str | None
    failures: int
    items_last: int | None
    etag: str | None
    last_modified: str | None
    next_poll: str | None


_SCALARS = ("version", "title", "abstract", "primary_category", "published", "updated", "code_url", "stars",
            "ai_summary", "announce_type", "announced_on", "hf_day", "upvotes", "first_seen")


async def _row_paper(db_or_conn: Any, row: Any) -> StoredPaper:
    paper = StoredPaper(arxiv_id=row["arxiv_id"], **{k: row[k] for k in _SCALARS})
    return paper


async def _attach(db: Database, papers: list[StoredPaper]) -> list[StoredPaper]:
    if not papers:
        return papers
    by_id = {p.arxiv_id: p for p in papers}
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        holes = ",".join("?" * len(chunk))
        for r in await db.fetchall(
            f"SELECT arxiv_id, name FROM paper_authors WHERE arxiv_id IN ({holes}) ORDER BY arxiv_id, position", chunk
        ):
            by_id[r["arxiv_id"]].authors.append(r["name"])
        for r in await db.fetchall(
            f"SELECT arxiv_id, category FROM paper_categories WHERE arxiv_id IN ({holes}) ORDER BY arxiv_id, category", chunk
        ):
            by_id[r["arxiv_id"]].categories.append(r["category"])
    for p in papers:  # the primary category first, as arXiv lists it
        if p.primary_category in p.categories:
            p.categories.remove(p.primary_category)
            p.categories.insert(0, p.primary_category)
    return papers


async def get(db: Database, arxiv_id: str) -> StoredPaper | None:
    row = await db.fetchone("SELECT * FROM papers WHERE arxiv_id = ?", (arxiv_id,))
    if row is None:
        return None
    return (await _attach(db, [await _row_paper(db, row)]))[0]


async def get_many(db: Database, ids: Sequence[str]) -> list[StoredPaper]:
    if not ids:
        return []
    holes = ",".join("?" * len(ids))
    rows = await db.fetchall(f"SELECT * FROM papers WHERE arxiv_id IN ({holes})", list(ids))
    found = {r["arxiv_id"]: await _row_paper(db, r) for r in rows}
    return await _attach(db, [found[i] for i in ids if i in found])


async def count(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM papers")
    return int(row["n"]) if row else 0


async def upsert(
    conn: aiosqlite.Connection,
    item: Any,  # feeds.papers.Paper
    now: str,
    hf_day: str | None = None,
    announced_on: str | None = None,
) -> bool:
    """Merges one parsed item into its row; returns True when the paper is new.

    arXiv sources own title, abstract, authors and categories (a newer version replaces them);
    Hugging Face adds the community signals (upvotes, code link, stars, AI summary).
    """
    cur = await conn.execute("SELECT * FROM papers WHERE arxiv_id = ?", (item.arxiv_id,))
    old = await cur.fetchone()
    from_arxiv = item.source.startswith("arxiv")
    newer = old is None or (item.version or 0) >= (old["version"] or 0)
    values = {
        "version": max(item.version or 0, (old["version"] or 0) if old else 0) or None,
        "title": item.title if (old is None or (from_arxiv and newer)) else old["title"],
        "abstract": item.abstract if (old is None or (from_arxiv and newer and item.abstract)) else old["abstract"],
        "primary_category": item.primary_category or (old["primary_category"] if old else None),
        "published": (old["published"] if old and old["published"] else None) or item.published,
        "updated": item.updated or (old["updated"] if old else None),
        "code_url": item.code_url or (old["code_url"] if old else None),
        "stars": item.stars if item.stars is not None else (old["stars"] if old else None),
        "ai_summary": item.ai_summary or (old["ai_summary"] if old else None),
        "announce_type": item.announce_type or (old["announce_type"] if old else None),
        "announced_on": announced_on or (old["announced_on"] if old else None),
        "hf_day": min([d for d in (hf_day, old["hf_day"] if old else None) if d], default=None),  # the day it was listed
        "upvotes": item.upvotes if item.upvotes is not None else (old["upvotes"] if old else None),
    }
    if from_arxiv and item.published and old is not None and old["published"] and item.source == "arxiv-api":
        values["published"] = item.published  # the API knows the true first-version date
    if old is None:
        await conn.execute(
            f"INSERT INTO papers (arxiv_id, {', '.join(values)}, first_seen, last_seen) VALUES (?, {', '.join('?' * len(values))}, ?, ?)",
            (item.arxiv_id, *values.values(), now, now),
        )
    else:
        sets = ", ".join(f"{k} = ?" for k in values)
        await conn.execute(f"UPDATE papers SET {sets}, last_seen = ? WHERE arxiv_id = ?", (*values.values(), now, item.arxiv_id))
    if item.authors and (old is None or from_arxiv):
        await conn.execute("DELETE FROM paper_authors WHERE arxiv_id = ?", (item.arxiv_id,))
        await conn.executemany(
            "INSERT INTO paper_authors (arxiv_id, position, name) VALUES (?, ?, ?)",
            [(item.arxiv_id, i, name) for i, name in enumerate(item.authors[:200])],
        )
    if item.categories:
        await conn.executemany(
            "INSERT OR IGNORE INTO paper_categories (arxiv_id, category) VALUES (?, ?)",
            [(item.arxiv_id, c) for c in item.categories[:20]],
        )
    if item.upvotes is not None or item.stars is not None:
        await conn.execute(
            "INSERT OR REPLACE INTO paper_signals (arxiv_id, source, at, upvotes, stars) VALUES (?, ?, ?, ?, ?)",
            (item.arxiv_id, item.source, now, item.upvotes, item.stars),
        )
    cur = await conn.execute("SELECT rowid FROM papers WHERE arxiv_id = ?", (item.arxiv_id,))
    rowid = (await cur.fetchone())[0]
    cur = await conn.execute("SELECT group_concat(name, ', ') FROM paper_authors WHERE arxiv_id = ?", (item.arxiv_id,))
    authors = (await cur.fetchone())[0] or ""
    await conn.execute("DELETE FROM papers_fts WHERE rowid = ?", (rowid,))
    await conn.execute(
        "INSERT INTO papers_fts (rowid, title, abstract, authors) VALUES (?, ?, ?, ?)",
        (rowid, values["title"], values["abstract"], authors),
    )
    return old is None


def fts_query(text: str) -> str | None:
    """User text → a safe FTS5 query: each word quoted (no operators), all required."""
    words = re.findall(r"[\w][\w\-']*", text.lower())[:12]
    if not words:
        return None
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


async def search(db: Database, query: str, category: str | None, limit: int) -> list[StoredPaper]:
    match = fts_query(query)
    if match is None:
        return []
    sql = (
        "SELECT p.* FROM papers_fts f JOIN papers p ON p.rowid = f.rowid WHERE papers_fts MATCH ?"
        + (" AND EXISTS (SELECT 1 FROM paper_categories c WHERE c.arxiv_id = p.arxiv_id AND c.category = ?)" if category else "")
        + " ORDER BY bm25(papers_fts, 10.0, 1.0, 3.0), p.published DESC LIMIT ?"
    )
    params: list[Any] = [match] + ([category] if category else []) + [limit]
    rows = await db.fetchall(sql, params)
    return await _attach(db, [await _row_paper(db, r) for r in rows])


async def candidates(
    db: Database, categories: Iterable[str], since_day: str, exclude: set[str], hf_only: bool
) -> list[StoredPaper]:
    """Papers in any of ``categories`` seen on HF (hf_day ≥ since) or announced (≥ since)."""
    cats = list(categories)
    if not cats:
        return []
    holes = ",".join("?" * len(cats))
    when = "p.hf_day >= ?" if hf_only else "p.announced_on >= ? AND p.announce_type = 'new'"
    rows = await db.fetchall(
        f"SELECT DISTINCT p.* FROM papers p JOIN paper_categories c ON c.arxiv_id = p.arxiv_id"
        f" WHERE c.category IN ({holes}) AND {when}",
        [*cats, since_day],
    )
    papers = [await _row_paper(db, r) for r in rows if r["arxiv_id"] not in exclude]
    return await _attach(db, papers)


async def settled_upvotes(db: Database, arxiv_id: str, not_before: str) -> int | None:
    """The latest upvote count observed at or after ``not_before`` (a day after listing)."""
    row = await db.fetchone(
        "SELECT upvotes FROM paper_signals WHERE arxiv_id = ? AND source = 'hf-daily' AND at >= ? AND upvotes IS NOT NULL"
        " ORDER BY at DESC LIMIT 1",
        (arxiv_id, not_before),
    )
    return int(row["upvotes"]) if row else None


async def missing_categories(db: Database, limit: int = 100) -> list[str]:
    rows = await db.fetchall(
        "SELECT p.arxiv_id FROM papers p WHERE NOT EXISTS (SELECT 1 FROM paper_categories c WHERE c.arxiv_id = p.arxiv_id)"
        " ORDER BY p.last_seen DESC LIMIT ?",
        (limit,),
    )
    return [r["arxiv_id"] for r in rows]


# -- picks -------------------------------------------------------------------------------------
async def pick_for(db: Database, workspace: str, channel: str, day: str) -> tuple[str, str] | None:
    row = await db.fetchone(
        "SELECT arxiv_id, reason FROM paper_picks WHERE workspace = ? AND channel = ? AND day = ?", (workspace, channel, day)
    )
    return (row["arxiv_id"], row["reason"]) if row else None


async def picked_ids(db: Database, workspace: str, channel: str) -> set[str]:
    rows = await db.fetchall("SELECT arxiv_id FROM paper_picks WHERE workspace = ? AND channel = ?", (workspace, channel))
    return {r["arxiv_id"] for r in rows}


async def record_pick(db: Database, workspace: str, channel: str, day: str, arxiv_id: str, reason: str, at: str) -> bool:
    """Stores the day's pick unless one exists (two people asking at once get the same paper)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT OR IGNORE INTO paper_picks (workspace, channel, day, arxiv_id, reason, picked_at) VALUES (?, ?, ?, ?, ?, ?)",
            (workspace, channel, day, arxiv_id, reason, at),
        )
        return cur.rowcount == 1


# -- sources -----------------------------------------------------------------------------------
def _source(r: Any) -> Source:
    return Source(**{k: r[k] for k in r.keys()})


async def sources(db: Database) -> list[Source]:
    return [_source(r) for r in await db.fetchall("SELECT * FROM feed_sources ORDER BY name")]


async def source(db: Database, name: str) -> Source | None:
    row = await db.fetchone("SELECT * FROM feed_sources WHERE name = ?", (name,))
    return _source(row) if row else None


async def ensure_source(db: Database, name: str, kind: str, url: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO feed_sources (name, kind, url) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url",
            (name, kind, url),
        )


async def source_ok(conn: aiosqlite.Connection, name: str, at: str, items: int, etag: str | None, last_modified: str | None) -> None:
    await conn.execute(
        "UPDATE feed_sources SET status = 'ok', last_success = ?, failures = 0, failing_since = NULL, items_last = ?,"
        " etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) WHERE name = ?",
        (at, items, etag, last_modified, name),
    )


async def source_failed(db: Database, name: str, at: str, error: str, unhealthy_after: int) -> Source | None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE feed_sources SET failures = failures + 1, last_error = ?, last_error_at = ?,"
            " failing_since = COALESCE(failing_since, ?),"
            " status = CASE WHEN failures + 1 >= ? THEN 'unhealthy' ELSE 'failing' END WHERE name = ?",
            (error[:300], at, at, unhealthy_after, name),
        )
    return await source(db, name)


async def unnoticed_incidents(db: Database, workspace: str) -> list[Source]:
    rows = await db.fetchall(
        "SELECT s.* FROM feed_sources s WHERE s.status = 'unhealthy' AND NOT EXISTS ("
        " SELECT 1 FROM source_notices n WHERE n.source = s.name AND n.workspace = ? AND n.incident = s.failing_since)",
        (workspace,),
    )
    return [_source(r) for r in rows]


async def mark_noticed(db: Database, workspace: str, incidents: list[Source]) -> None:
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT OR IGNORE INTO source_notices (source, workspace, incident) VALUES (?, ?, ?)",
            [(s.name, workspace, s.failing_since) for s in incidents],
        )
