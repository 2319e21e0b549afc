"""`careerbot status`: what is configured and whether it is healthy, in a moderator's words.

It reads the database read-only (plain sqlite3 on the file, or a read-only transaction on
PostgreSQL; never a migration), so it can run next to a live bot, and it never prints a
secret: only whether each one is set, and a database URL without its password.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import Config, db_label
from bot.storage import maintenance
from bot.storage.db import StorageError, is_url

LATE = timedelta(minutes=10)  # a job this far past due means the bot is not running, or stuck


@dataclass
class Status:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def _ago(then: str | None, now: datetime) -> str:
    if not then:
        return "never"
    seconds = (now - datetime.fromisoformat(then)).total_seconds()
    if seconds < 120:
        return "just now"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


# What the status reads, the same SQL on both engines; a missing table (an older schema) is
# reported, not raised.
_QUERIES = {
    "jobs": "SELECT kind, due_at, attempts, last_error FROM jobs",
    "outbox": "SELECT status, count(*) AS n FROM deliveries GROUP BY status",
    "oldest": "SELECT min(created_at) AS t FROM deliveries WHERE status IN ('pending', 'sending')",
    "problems": "SELECT channel_name, channel, reason FROM delivery_problems WHERE notified_at IS NULL",
    "sources": "SELECT name, status, last_success, last_error FROM feed_sources ORDER BY name",
}


async def collect(config: Config, now: datetime) -> Status:
    out = Status()
    platforms = []
    if config.discord_token:
        guilds = f" (servers {', '.join(map(str, config.discord_guild_ids))})" if config.discord_guild_ids else ""
        platforms.append(f"Discord{guilds}")
    if config.slack_bot_token:
        mode = "Socket Mode" if config.slack_app_token else ("HTTP events" if config.slack_signing_secret else "incomplete")
        platforms.append(f"Slack ({mode})")
        if mode == "incomplete":
            out.problems.append("Slack has a bot token but neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET")
    out.lines.append("Platforms: " + (", ".join(platforms) if platforms else "none configured (the bot runs as the local console)"))
    if is_url(config.db_path):
        await _postgres(config.db_path, now, out)
    else:
        await asyncio.to_thread(_sqlite, Path(config.db_path), now, out)
    return out


def _sqlite(path: Path, now: datetime, out: Status) -> None:
    if not path.exists():
        out.lines.append(f"Database: {path} does not exist yet (it is created on first run).")
        return
    report = maintenance.check(path)
    out.lines.append(
        f"Database: {path}, {report.size_bytes / 1e6:.1f} MB, schema version {report.schema_version}"
        + (" (up to date)" if not report.pending else f" ({len(report.pending)} migrations run at next start)")
        + (", integrity OK" if report.ok else "")
    )
    out.problems += [f"database: {p}" for p in report.problems]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        for section, names in _SECTIONS:
            section({n: conn.execute(_QUERIES[n]).fetchall() for n in names}, now, out)
    except sqlite3.OperationalError as exc:  # an older schema: say what can be said
        out.lines.append(f"(some parts could not be read: {exc}; start the bot once to upgrade the database)")
    finally:
        conn.close()


async def _postgres(url: str, now: datetime, out: Status) -> None:
    """The same report over a read-only connection of its own; the URL shown without its password."""
    import asyncpg

    shown = db_label(url)
    try:
        report = await maintenance.check_postgres(url)
    except StorageError as exc:  # unreachable, refused, wrong password: that is the status
        out.lines.append(f"Database: {exc}")
        out.problems.append("the database cannot be reached")
        return
    where = f"Database: {shown} (PostgreSQL {report.server}, schema {report.schema})"
    if report.schema_version == 0 and not report.problems:
        out.lines.append(f"{where} is empty (careerbot creates its tables on first run).")
        return
    out.lines.append(
        f"{where}, {report.size_bytes / 1e6:.1f} MB, schema version {report.schema_version}"
        + (" (up to date)" if not report.pending else f" ({len(report.pending)} migrations run at next start)")
        + (", connection OK" if report.ok else "")
    )
    out.problems += [f"database: {p}" for p in report.problems]
    conn = await maintenance.connect_postgres(url)
    try:
        async with conn.transaction(readonly=True):
            for section, names in _SECTIONS:
                section({n: await conn.fetch(_QUERIES[n]) for n in names}, now, out)
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as exc:
        out.lines.append(f"(some parts could not be read: {exc}; start the bot once to upgrade the database)")
    finally:
        await conn.close()


def _scheduler(found: dict[str, list[Any]], now: datetime, out: Status) -> None:
    jobs = found["jobs"]
    late = [j for j in jobs if datetime.fromisoformat(j["due_at"]) < now - LATE]
    failing = [j for j in jobs if j["attempts"]]
    line = f"Scheduled work: {len(jobs)} jobs"
    if late:
        oldest = min(datetime.fromisoformat(j["due_at"]) for j in late)
        line += f"; {len(late)} overdue (the oldest since {_ago(oldest.isoformat(), now)}: is the bot running?)"
        out.problems.append(f"{len(late)} scheduled jobs are overdue")
    out.lines.append(line)
    for j in failing[:5]:
        out.lines.append(f"  retrying {j['kind']} (attempt {j['attempts']}): {(j['last_error'] or '')[:100]}")


def _outbox(found: dict[str, list[Any]], now: datetime, out: Status) -> None:
    rows = {r["status"]: r["n"] for r in found["outbox"]}
    oldest = found["oldest"][0]["t"] if found["oldest"] else None
    waiting = rows.get("pending", 0) + rows.get("sending", 0)
    line = f"Posts: {rows.get('sent', 0)} delivered, {waiting} waiting, {rows.get('failed', 0)} failed (kept 30/90 days)"
    if waiting and oldest and datetime.fromisoformat(oldest) < now - LATE:
        line += f"; the oldest waiting since {_ago(oldest, now)}"
        out.problems.append("posts are waiting longer than they should")
    out.lines.append(line)
    problems = found["problems"]
    for p in problems[:5]:
        out.lines.append(f"  cannot post in #{p['channel_name'] or p['channel']}: {p['reason'][:100]}")
    if problems:
        out.problems.append(f"{len(problems)} delivery problems no moderator has seen yet")


def _sources(found: dict[str, list[Any]], now: datetime, out: Status) -> None:
    sources = sorted(found["sources"], key=lambda s: s["name"])  # code-point order on either engine
    if not sources:
        out.lines.append("Feeds: none polled yet")
        return
    healthy = [s for s in sources if s["status"] == "ok"]
    never = [s for s in sources if s["status"] == "never"]
    out.lines.append(
        f"Feeds: {len(healthy)} of {len(sources)} healthy" + (f", {len(never)} not fetched yet" if never else "")
    )
    for s in sources:
        if s["status"] not in ("ok", "never"):
            out.lines.append(f"  {s['name']}: {s['status']}, last success {_ago(s['last_success'], now)}: {(s['last_error'] or '')[:100]}")
            if s["status"] == "unhealthy":
                out.problems.append(f"feed {s['name']} is unhealthy")


# Each part of the report and the queries it reads, in the order they are shown.
_SECTIONS = [(_scheduler, ("jobs",)), (_outbox, ("outbox", "oldest", "problems")), (_sources, ("sources",))]
