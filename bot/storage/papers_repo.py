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
    code_official: bool = False
    framework: str | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


_SCALARS = ("version", "title", "abstract", "primary_category", "published", "updated", "code_url", "stars",
            "ai_summary", "announce_type", "announced_on", "hf_day", "upvotes", "first_seen", "framework")


def _row_paper(row: Any) -> StoredPaper:
    paper = StoredPaper(arxiv_id=row["arxiv_id"], **{k: row[k] for k in _SCALARS})
    paper.code_official = bool(row["code_official"])
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
        p.categories.sort()  # by code point, as SQLite's BINARY: a PostgreSQL collation may differ
        if p.primary_category in p.categories:
            p.categories.remove(p.primary_category)
            p.categories.insert(0, p.primary_category)
    return papers


async def get(db: Database, arxiv_id: str) -> StoredPaper | None:
    row = await db.fetchone("SELECT * FROM papers WHERE arxiv_id = ?", (arxiv_id,))
    if row is None:
        return None
    return (await _attach(db, [_row_paper(row)]))[0]


async def get_many(db: Database, ids: Sequence[str]) -> list[StoredPaper]:
    if not ids:
        return []
    holes = ",".join("?" * len(ids))
    rows = await db.fetchall(f"SELECT * FROM papers WHERE arxiv_id IN ({holes})", list(ids))
    found = {r["arxiv_id"]: _row_paper(r) for r in rows}
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
            "INSERT INTO paper_categories (arxiv_id, category) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(item.arxiv_id, c) for c in item.categories[:20]],
        )
    if item.upvotes is not None or item.stars is not None:
        await conn.execute(
            "INSERT INTO paper_signals (arxiv_id, source, at, upvotes, stars) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (arxiv_id, source, at) DO UPDATE SET upvotes = excluded.upvotes, stars = excluded.stars",
            (item.arxiv_id, item.source, now, item.upvotes, item.stars),
        )
    cur = await conn.execute("SELECT name FROM paper_authors WHERE arxiv_id = ? ORDER BY position", (item.arxiv_id,))
    authors = ", ".join(r[0] for r in await cur.fetchall())
    dialect = getattr(conn, "dialect", "sqlite")
    cur = await conn.execute(f"SELECT {INDEX_KEY[dialect]} FROM papers WHERE arxiv_id = ?", (item.arxiv_id,))
    key = (await cur.fetchone())[0]
    if dialect == "sqlite":
        await conn.execute("DELETE FROM papers_fts WHERE rowid = ?", (key,))
    await conn.execute(INDEX_SQL[dialect], index_params(dialect, item.arxiv_id, key, values["title"], authors, values["abstract"]))
    return old is None


# The search index, one row per paper: title, authors (", "-joined, in order) and abstract, keyed
# by the paper's arrival order (SQLite's rowid, PostgreSQL's seq). On PostgreSQL a weighted
# tsvector, title A, authors B, abstract C, as FTS5's bm25(10, 1, 3) in ``search``.
INDEX_KEY = {"sqlite": "rowid", "postgres": "seq"}
INDEX_SQL = {
    "sqlite": "INSERT INTO papers_fts (rowid, title, abstract, authors) VALUES (?, ?, ?, ?)",
    "postgres": (
        "INSERT INTO papers_fts (arxiv_id, seq, doc) VALUES (?, ?,"
        " setweight(to_tsvector('english', ?), 'A') || setweight(to_tsvector('english', ?), 'B')"
        " || setweight(to_tsvector('english', ?), 'C')) ON CONFLICT (arxiv_id) DO UPDATE SET doc = excluded.doc"
    ),
}


def index_params(dialect: str, arxiv_id: str, key: int, title: str, authors: str, abstract: str) -> tuple:
    if dialect == "postgres":
        return (arxiv_id, key, title, authors, abstract)
    return (key, title, abstract, authors)


def fts_query(text: str) -> str | None:
    """User text → a safe FTS5 query: each word quoted (no operators), all required."""
    words = re.findall(r"[\w][\w\-']*", text.lower())[:12]
    if not words:
        return None
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


# PostgreSQL's stand-in for bm25(papers_fts, 10.0, 1.0, 3.0): weights are {D, C, B, A} =
# {unused, abstract, authors, title}; bench/search_overlap.py measures how far they agree.
PG_RANK = "ts_rank_cd('{0.1, 0.1, 0.3, 1.0}', doc, q, 2)"
RECENT_WINDOW = 10_000  # rank within the newest papers first; the whole store only if that finds too few


async def search(db: Database, query: str, category: str | None, limit: int) -> list[StoredPaper]:
    """Best matches by BM25 (title weighted over abstract), newest papers first in line.

    Ranking every match of a common word across 50,000 papers costs tens of milliseconds, so
    the first pass ranks only the newest ``RECENT_WINDOW`` papers (FTS5 restricts rowid ranges
    cheaply) and the full store is ranked only when that pass finds fewer than ``limit``.
    """
    match = fts_query(query)
    if match is None:
        return []
    postgres = db.dialect == "postgres"
    top = await db.fetchone("SELECT MAX(seq) AS m FROM papers" if postgres else "SELECT MAX(rowid) AS m FROM papers")
    newest = int(top["m"] or 0) if top else 0
    cat_filter = " AND EXISTS (SELECT 1 FROM paper_categories c WHERE c.arxiv_id = p.arxiv_id AND c.category = ?)" if category else ""
    if postgres:
        # A weighted tsvector under GIN. The words go to plainto_tsquery: all required, no
        # operators, as the quoted FTS5 query (websearch_to_tsquery read "or" as OR and a
        # leading "-" as NOT). Ranked like bm25 as far as ts_rank_cd goes: title/authors/
        # abstract weighted 10:3:1, divided by the document's length (flag 2); ties go to
        # the newer paper. English stop words are not indexed: "the" alone matches nothing.
        ranked = (
            f"SELECT p.arxiv_id FROM (SELECT arxiv_id, seq, {PG_RANK} AS score"
            " FROM papers_fts, plainto_tsquery('english', ?) q WHERE doc @@ q AND seq > ?"
            " ORDER BY score DESC, seq DESC LIMIT ?) f"
            f" JOIN papers p ON p.arxiv_id = f.arxiv_id WHERE 1 = 1{cat_filter} ORDER BY f.score DESC, f.seq DESC"
        )
        match = " ".join(w.strip('"') for w in match.split())
    else:
        ranked = (
            "SELECT p.arxiv_id FROM (SELECT rowid, bm25(papers_fts, 10.0, 1.0, 3.0) AS score FROM papers_fts"
            "  WHERE papers_fts MATCH ? AND rowid > ? ORDER BY score LIMIT ?) f"
            f" JOIN papers p ON p.rowid = f.rowid WHERE 1 = 1{cat_filter} ORDER BY f.score"
        )
    found: list[str] = []
    for floor in ([newest - RECENT_WINDOW, 0] if newest > RECENT_WINDOW else [0]):
        rows = await db.fetchall(ranked, [match, floor, limit * (8 if category else 1)] + ([category] if category else []))
        found = [r["arxiv_id"] for r in rows][:limit]
        if len(found) >= limit:
            break
    return await get_many(db, found)


async def candidates(
    db: Database, categories: Iterable[str], since_day: str, exclude: set[str], hf_only: bool
) -> list[StoredPaper]:
    """Papers in any of ``categories`` listed on HF (hf_day ≥ since) or announced as new (≥ since).

    Driven by the date index (a few days hold few papers), then filtered by category; authors
    and categories are not attached (callers attach the few they show).
    """
    cats = list(categories)
    if not cats:
        return []
    holes = ",".join("?" * len(cats))
    when = "p.hf_day >= ?" if hf_only else "p.announced_on >= ? AND p.announce_type = 'new'"
    # HF lists are a few dozen papers a day; announcements can be thousands: keep the newest.
    # (SQLite sorts NULLs as smallest, so last here; PostgreSQL would put them first.)
    nulls_last = " NULLS LAST" if db.dialect == "postgres" else ""
    tail = "" if hf_only else f" ORDER BY p.announced_on DESC, p.published DESC{nulls_last} LIMIT 500"
    rows = await db.fetchall(
        f"SELECT p.* FROM papers p WHERE {when} AND EXISTS ("
        f" SELECT 1 FROM paper_categories c WHERE c.arxiv_id = p.arxiv_id AND c.category IN ({holes})){tail}",
        [since_day, *cats],
    )
    return [_row_paper(r) for r in rows if r["arxiv_id"] not in exclude]


async def attach(db: Database, papers: list[StoredPaper]) -> list[StoredPaper]:
    """Fills in authors and categories (kept apart so bulk queries stay cheap)."""
    return await _attach(db, papers)


async def latest_signals(db: Database, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The newest Hugging Face upvote count per paper, with when it was seen (one query)."""
    out: dict[str, tuple[int, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        holes = ",".join("?" * len(chunk))
        # The row holding each paper's newest ``at`` (unique per paper and source: the key), found
        # by a correlated MAX on the key's index; SQLite's bare-column GROUP BY is not portable.
        rows = await db.fetchall(
            "SELECT s.arxiv_id, s.upvotes, s.at FROM paper_signals s"
            f" WHERE s.source = 'hf-daily' AND s.upvotes IS NOT NULL AND s.arxiv_id IN ({holes})"
            " AND s.at = (SELECT MAX(t.at) FROM paper_signals t"
            "  WHERE t.arxiv_id = s.arxiv_id AND t.source = 'hf-daily' AND t.upvotes IS NOT NULL)",
            chunk,
        )
        out.update({r["arxiv_id"]: (int(r["upvotes"]), r["at"]) for r in rows})
    return out


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
            "INSERT INTO paper_picks (workspace, channel, day, arxiv_id, reason, picked_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (workspace, channel, day, arxiv_id, reason, at),
        )
        return cur.rowcount == 1


# -- Papers With Code ---------------------------------------------------------------------------
async def pwc_candidates(db: Database, since_day: str, limit: int) -> list[str]:
    """Recent papers the bot may show (listed on Hugging Face or newly announced) not yet checked."""
    rows = await db.fetchall(
        "SELECT arxiv_id FROM papers WHERE pwc_checked IS NULL AND (hf_day >= ? OR announced_on >= ?)"
        " ORDER BY COALESCE(upvotes, 0) DESC, arxiv_id LIMIT ?",
        (since_day, since_day, limit),
    )
    return [r["arxiv_id"] for r in rows]


async def set_pwc(
    conn: aiosqlite.Connection, arxiv_id: str, checked: str, code_url: str | None, stars: int | None, framework: str | None
) -> None:
    """Records a check; an official repository replaces a community code link (it is the paper's own)."""
    if code_url:
        await conn.execute(
            "UPDATE papers SET pwc_checked = ?, code_url = ?, code_official = 1, stars = ?, framework = ? WHERE arxiv_id = ?",
            (checked, code_url, stars, framework, arxiv_id),
        )
    else:
        await conn.execute("UPDATE papers SET pwc_checked = ? WHERE arxiv_id = ?", (checked, arxiv_id))
