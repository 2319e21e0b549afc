"""SQL for internship postings, the source entries they came from, and alerts.

List-valued posting fields are stored '|'-joined with a '|' at both ends, so "has this term"
is ``LIKE '%|term|%'`` on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from bot.storage.db import Database, serialize_ids


def join_terms(values: Iterable[str]) -> str:
    return "|" + "|".join(v.replace("|", " ") for v in values) + "|"


def split_terms(text: str | None) -> list[str]:
    return [t for t in (text or "").split("|") if t]


@dataclass
class StoredPosting:
    id: str
    company: str
    title: str
    locations: list[str]
    places: list[str]
    remote: bool
    seasons: list[str]
    category: str
    sponsorship: str
    degrees: list[str]
    url: str
    posted_at: str | None
    active: bool
    first_seen: str
    closed_at: str | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def season(self) -> str | None:
        return self.seasons[0] if self.seasons else None


def _posting(r: Any) -> StoredPosting:
    try:
        locations = json.loads(r["locations"])
    except ValueError:
        locations = []
    return StoredPosting(
        id=r["id"], company=r["company"], title=r["title"], locations=locations, places=split_terms(r["places"]),
        remote=bool(r["remote"]), seasons=split_terms(r["seasons"]), category=r["category"], sponsorship=r["sponsorship"],
        degrees=split_terms(r["degrees"]), url=r["url"], posted_at=r["posted_at"], active=bool(r["active"]),
        first_seen=r["first_seen"], closed_at=r["closed_at"],
    )


_VISIBLE = "EXISTS (SELECT 1 FROM posting_items i JOIN workspace_sources w ON w.source = i.source WHERE i.posting_id = p.id AND w.workspace = ?)"


async def get(db: Database, posting_id: str, workspace: str | None = None) -> StoredPosting | None:
    if workspace is None:
        row = await db.fetchone("SELECT * FROM postings p WHERE id = ?", (posting_id,))
    else:
        row = await db.fetchone(f"SELECT * FROM postings p WHERE id = ? AND {_VISIBLE}", (posting_id, workspace))
    if row is None:
        return None
    posting = _posting(row)
    posting.sources = [r["source"] for r in await db.fetchall("SELECT source FROM posting_items WHERE posting_id = ? ORDER BY source", (posting_id,))]
    return posting


async def get_many(db: Database, ids: Sequence[str]) -> list[StoredPosting]:
    found: dict[str, StoredPosting] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = await db.fetchall(f"SELECT * FROM postings p WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        found.update({r["id"]: _posting(r) for r in rows})
    return [found[i] for i in ids if i in found]


async def visible(
    db: Database, workspace: str, since: str | None = None, until: str | None = None, active_only: bool = True, limit: int = 20_000
) -> list[StoredPosting]:
    """Postings from the workspace's sources, newest first (by first sight, then posting date)."""
    where = [_VISIBLE]
    params: list[Any] = [workspace]
    if active_only:
        where.append("p.active = 1")
    if since is not None:
        where.append("p.first_seen > ?")
        params.append(since)
    if until is not None:
        where.append("p.first_seen <= ?")
        params.append(until)
    rows = await db.fetchall(
        f"SELECT p.* FROM postings p WHERE {' AND '.join(where)}"
        " ORDER BY p.first_seen DESC, COALESCE(p.posted_at, '') DESC, p.id LIMIT ?",
        [*params, limit],
    )
    return [_posting(r) for r in rows]


async def count_visible(db: Database, workspace: str) -> tuple[int, int]:
    row = await db.fetchone(
        f"SELECT COUNT(*) AS n, COALESCE(SUM(p.active), 0) AS open FROM postings p WHERE {_VISIBLE}", (workspace,)
    )
    return (int(row["n"]), int(row["open"])) if row else (0, 0)


# -- ingestion -----------------------------------------------------------------------------------
async def source_items(conn: aiosqlite.Connection, source: str) -> dict[str, tuple[str, bool, str]]:
    """item id → (posting id, active, url) for everything a source has brought."""
    cur = await conn.execute("SELECT item_id, posting_id, active, url FROM posting_items WHERE source = ?", (source,))
    return {r[0]: (r[1], bool(r[2]), r[3]) for r in await cur.fetchall()}


async def existing_ids(conn: aiosqlite.Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        cur = await conn.execute(f"SELECT id FROM postings WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        found.update(r[0] for r in await cur.fetchall())
    return found


async def insert_postings(conn: aiosqlite.Connection, rows: Sequence[tuple]) -> None:
    await conn.executemany(
        "INSERT INTO postings (id, dedupe_key, company, title, locations, places, remote, seasons, category, sponsorship,"
        " degrees, url, posted_at, active, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        rows,
    )


async def insert_items(conn: aiosqlite.Connection, rows: Sequence[tuple]) -> None:
    """(source, item id, posting id, active, url, seen at) rows."""
    await conn.executemany(
        "INSERT INTO posting_items (source, item_id, posting_id, active, url, seen_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (source, item_id) DO UPDATE SET posting_id = excluded.posting_id, active = excluded.active,"
        " url = excluded.url, seen_at = excluded.seen_at",
        rows,
    )


async def refresh_state(conn: aiosqlite.Connection, posting_id: str, now: str) -> tuple[bool, bool]:
    """Recomputes a posting's open/closed and url from its entries; returns (was active, is active).

    Closed as soon as one source says so: lists that mark closings (Simplify's ``active``)
    know; a feed that merely still carries an old entry does not.
    """
    cur = await conn.execute("SELECT active, url FROM postings WHERE id = ?", (posting_id,))
    old = await cur.fetchone()
    if old is None:
        return False, False
    cur = await conn.execute(
        "SELECT MIN(active), MAX(CASE WHEN active = 1 THEN url ELSE '' END), MAX(url) FROM posting_items WHERE posting_id = ?",
        (posting_id,),
    )
    active_now, open_url, any_url = await cur.fetchone()
    is_active = bool(active_now)
    url = open_url or any_url or old[1]
    if is_active != bool(old[0]) or url != old[1]:
        await conn.execute(
            "UPDATE postings SET active = ?, url = ?, changed_at = ?, last_seen = ?,"
            " closed_at = CASE WHEN ? = 1 THEN NULL ELSE COALESCE(closed_at, ?) END WHERE id = ?",
            (1 if is_active else 0, url, now, now, 1 if is_active else 0, now, posting_id),
        )
    return bool(old[0]), is_active


async def forget_source(conn: aiosqlite.Connection, source: str) -> None:
    await conn.execute("DELETE FROM posting_items WHERE source = ?", (source,))


# -- alerts ----------------------------------------------------------------------------------------
@dataclass
class Alert:
    id: int
    platform: str
    workspace: str
    owner: str
    owner_name: str
    target_kind: str
    channel: str
    channel_name: str
    filters: str
    paused: bool
    paused_reason: str | None
    created_at: str

    @property
    def is_user(self) -> bool:
        return self.target_kind == "user"


def _alert(r: Any) -> Alert:
    return Alert(**{k: (bool(r[k]) if k == "paused" else r[k]) for k in r.keys()})


async def next_alert_id(conn: aiosqlite.Connection) -> int:
    """Ids come from the app (portable): one more than the largest, inside the writer's transaction.

    SQLite's ``BEGIN IMMEDIATE`` already keeps writers apart; on PostgreSQL several processes may
    add alerts at once, so they take turns on an advisory lock held until the transaction ends.
    """
    await serialize_ids(conn, "alerts")
    cur = await conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM alerts")
    return int((await cur.fetchone())[0])


async def insert_alert(conn: aiosqlite.Connection, alert: Alert) -> None:
    await conn.execute(
        "INSERT INTO alerts (id, platform, workspace, owner, owner_name, target_kind, channel, channel_name, filters, paused,"
        " paused_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (alert.id, alert.platform, alert.workspace, alert.owner, alert.owner_name, alert.target_kind, alert.channel,
         alert.channel_name, alert.filters, 1 if alert.paused else 0, alert.paused_reason, alert.created_at),
    )


async def get_alert(db: Database, alert_id: int) -> Alert | None:
    row = await db.fetchone("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    return _alert(row) if row else None


async def alerts_in(db: Database, workspace: str) -> list[Alert]:
    return [_alert(r) for r in await db.fetchall("SELECT * FROM alerts WHERE workspace = ? ORDER BY id", (workspace,))]


async def alerts_of_owner(db: Database, owner: str) -> list[Alert]:
    return [_alert(r) for r in await db.fetchall("SELECT * FROM alerts WHERE owner = ? ORDER BY id", (owner,))]


async def active_alerts(conn: aiosqlite.Connection, workspaces: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, workspace, filters) of every unpaused alert in ``workspaces``."""
    if not workspaces:
        return []
    cur = await conn.execute(
        f"SELECT id, workspace, filters FROM alerts WHERE paused = 0 AND workspace IN ({','.join('?' * len(workspaces))})",
        list(workspaces),
    )
    return [(int(r[0]), r[1], r[2]) for r in await cur.fetchall()]


async def channel_alerts(db: Database, workspace: str, channel: str) -> list[Alert]:
    rows = await db.fetchall(
        "SELECT * FROM alerts WHERE workspace = ? AND channel = ? AND target_kind = 'channel' ORDER BY id", (workspace, channel)
    )
    return [_alert(r) for r in rows]


async def set_paused(conn: aiosqlite.Connection, alert_id: int, paused: bool, reason: str | None) -> None:
    await conn.execute("UPDATE alerts SET paused = ?, paused_reason = ? WHERE id = ?", (1 if paused else 0, reason, alert_id))


async def forget_owner(conn: aiosqlite.Connection, owner: str) -> list[int]:
    """Deletes a person's DM alerts and unnames channel alerts they created; returns the deleted ids."""
    cur = await conn.execute("SELECT id FROM alerts WHERE owner = ? AND target_kind = 'user'", (owner,))
    ids = [r[0] for r in await cur.fetchall()]
    for alert_id in ids:
        await delete_alert(conn, alert_id)
    await conn.execute("UPDATE alerts SET owner = '', owner_name = '' WHERE owner = ?", (owner,))
    return ids


async def delete_alert(conn: aiosqlite.Connection, alert_id: int) -> None:
    await conn.execute("DELETE FROM alert_queue WHERE alert_id = ?", (alert_id,))
    await conn.execute("DELETE FROM alert_sends WHERE alert_id = ?", (alert_id,))
    await conn.execute("DELETE FROM alerts WHERE id = ?", (alert_id,))


async def enqueue(conn: aiosqlite.Connection, rows: Sequence[tuple[int, str, str]]) -> None:
    """(alert id, posting id, matched at); a posting an alert already handled is never queued again."""
    await conn.executemany(
        "INSERT INTO alert_queue (alert_id, posting_id, matched_at) SELECT ?, ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM alert_sends s WHERE s.alert_id = ? AND s.posting_id = ?) ON CONFLICT DO NOTHING",
        [(a, p, at, a, p) for a, p, at in rows],
    )


async def queued(db: Database, alert_id: int) -> list[str]:
    rows = await db.fetchall(
        "SELECT q.posting_id FROM alert_queue q JOIN postings p ON p.id = q.posting_id WHERE q.alert_id = ?"
        " ORDER BY COALESCE(p.posted_at, '') DESC, p.id",
        (alert_id,),
    )
    return [r["posting_id"] for r in rows]


async def sent_since(db: Database, alert_id: int, since: str) -> list[str]:
    """When each post of this alert went out since ``since`` (overflow lines not counted)."""
    rows = await db.fetchall(
        "SELECT sent_at FROM alert_sends WHERE alert_id = ? AND delivery_key IS NOT NULL AND sent_at > ? ORDER BY sent_at",
        (alert_id, since),
    )
    return [r["sent_at"] for r in rows]


async def record_sends(conn: aiosqlite.Connection, alert_id: int, posting_ids: Sequence[str], key: str | None, at: str) -> None:
    await conn.executemany(
        "INSERT INTO alert_sends (alert_id, posting_id, delivery_key, sent_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(alert_id, p, key, at) for p in posting_ids],
    )
    await conn.executemany("DELETE FROM alert_queue WHERE alert_id = ? AND posting_id = ?", [(alert_id, p) for p in posting_ids])


async def sends_of(db: Database, posting_id: str) -> list[tuple[int, str]]:
    """(alert id, delivery keys) of posts that carried this posting and are not yet marked closed."""
    rows = await db.fetchall(
        "SELECT alert_id, delivery_key FROM alert_sends WHERE posting_id = ? AND delivery_key IS NOT NULL AND closed_marked = 0",
        (posting_id,),
    )
    return [(int(r["alert_id"]), r["delivery_key"]) for r in rows]


async def mark_closed_noted(conn: aiosqlite.Connection, posting_id: str, alert_ids: Sequence[int]) -> None:
    await conn.executemany(
        "UPDATE alert_sends SET closed_marked = 1 WHERE posting_id = ? AND alert_id = ?", [(posting_id, a) for a in alert_ids]
    )


async def closed_unmarked(db: Database, alert_ids: Sequence[int], until: str) -> list[tuple[int, StoredPosting]]:
    """Postings these alerts sent that closed since and whose post could not be edited to say so."""
    if not alert_ids:
        return []
    rows = await db.fetchall(
        "SELECT s.alert_id, p.* FROM alert_sends s JOIN postings p ON p.id = s.posting_id"
        f" WHERE s.alert_id IN ({','.join('?' * len(alert_ids))}) AND s.delivery_key IS NOT NULL AND s.closed_marked = 0"
        " AND p.active = 0 AND p.closed_at <= ? ORDER BY p.closed_at",
        [*alert_ids, until],
    )
    return [(int(r["alert_id"]), _posting(r)) for r in rows]


async def get_alert_in(conn: aiosqlite.Connection, alert_id: int) -> Alert | None:
    """The alert as the caller's transaction sees it (still there, not paused since)."""
    cur = await conn.execute("SELECT * FROM alerts WHERE id = ? AND paused = 0", (alert_id,))
    row = await cur.fetchone()
    return _alert(row) if row else None
