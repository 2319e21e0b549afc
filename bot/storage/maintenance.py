"""Looking after the database: consistent backups while the bot runs, and health checks.

Both work on an SQLite file directly with the standard sqlite3 module and never migrate or
write the source: a moderator must be able to run them next to a live bot, or on a copy,
safely. The backup uses SQLite's online backup API, which copies a consistent snapshot even
while another process writes (WAL mode), then checks the copy before moving it into place.

On PostgreSQL (``CAREERBOT_DB=postgresql://…``) the check connects with a read-only
transaction and compares the schema version; backups are the server's business (pg_dump),
and a URL is only ever shown without its password (``bot.config.db_label``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storage.db import APPLICATION_ID, StorageError, bundled_migrations, is_url

PG_BACKUP_HINT = (
    "careerbot db backup copies SQLite files; back up PostgreSQL with its own tools, e.g. "
    'pg_dump --format=custom --file=careerbot.dump "$CAREERBOT_DB" (see deploy/README.md), '
    "or copy it into a new SQLite file with careerbot db copy --to careerbot-backup.db."
)


@dataclass
class CheckReport:
    path: str  # what may be shown: a file path, or a URL without its password
    ok: bool
    size_bytes: int = 0
    journal_mode: str = ""
    schema_version: int = 0
    known_version: int = 0
    pending: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    engine: str = "sqlite"
    server: str = ""  # PostgreSQL: the server's version
    schema: str = ""  # PostgreSQL: the schema careerbot's tables live in

    def lines(self) -> list[str]:
        out = [f"{self.path}: {'OK' if self.ok else 'PROBLEMS FOUND'}"]
        if self.engine == "postgres":
            out.append(f"  PostgreSQL {self.server or '?'}, schema {self.schema or '?'}, {self.size_bytes / 1e6:.1f} MB")
        else:
            out.append(f"  size {self.size_bytes / 1e6:.1f} MB, journal mode {self.journal_mode or '?'}")
        if self.schema_version == self.known_version:
            out.append(f"  schema version {self.schema_version} (up to date)")
        elif self.schema_version < self.known_version:
            out.append(
                f"  schema version {self.schema_version}; this careerbot applies {len(self.pending)} more at start-up: "
                + ", ".join(self.pending)
            )
        out += [f"  problem: {p}" for p in self.problems]
        return out


def _connect_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StorageError(f"{path} does not exist.")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        conn.execute("PRAGMA query_only = ON")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise StorageError(f"{path} is not an SQLite database ({exc}).") from None
    if app_id != APPLICATION_ID:
        conn.close()
        raise StorageError(f"{path} is not a careerbot database (application_id {app_id:#x}).")
    return conn


def _versions(report: CheckReport, done: set[int], dialect: str) -> None:
    """Fills in the schema version, what this careerbot would still apply, and a newer database."""
    known = {m.version: m for m in bundled_migrations(dialect)}
    report.schema_version = max(done, default=0)
    report.known_version = max(known, default=0)
    report.pending = [f"{v:04d}_{known[v].name}" for v in sorted(set(known) - done)]
    newer = sorted(done - set(known))
    if newer:
        report.problems.append(
            f"written by a newer careerbot (schema version {max(newer)}); this one knows up to {report.known_version}"
        )


async def check_database(target: str | os.PathLike[str]) -> CheckReport:
    """``check`` for either engine: an SQLite file (in a thread) or a postgresql:// URL."""
    if is_url(target):
        return await check_postgres(str(target))
    return await asyncio.to_thread(check, target)


async def connect_postgres(url: str) -> Any:
    """One asyncpg connection of our own; a failure is a one-line StorageError without the password."""
    import asyncpg

    from bot.config import db_label
    from bot.storage.postgres import scrub

    try:
        return await asyncpg.connect(url, timeout=15, command_timeout=60)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        reason = scrub(str(exc) or type(exc).__name__, url)
        raise StorageError(f"cannot connect to the database {db_label(url)}: {reason}") from None


async def check_postgres(url: str) -> CheckReport:
    """Connects, reads the schema version in a read-only transaction, never migrates or writes.

    PostgreSQL keeps its own pages and foreign keys consistent, so there is no integrity
    check to run; what can drift after a hand-made restore is an identity sequence left
    behind its table's ids (the next insert would collide), so that is checked too.
    """
    import asyncpg

    from bot.config import db_label
    from bot.storage.postgres import scrub

    conn = await connect_postgres(url)
    report = CheckReport(db_label(url), ok=True, engine="postgres")
    try:
        async with conn.transaction(readonly=True):
            report.server = str(await conn.fetchval("SHOW server_version")).split(" ", 1)[0]
            report.schema = str(await conn.fetchval("SELECT current_schema()"))
            tables = {
                r["table_name"]
                for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                )
            }
            report.size_bytes = int(await conn.fetchval(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            ))
            if tables and "schema_migrations" not in tables:
                report.problems.append(f"schema {report.schema} holds {len(tables)} tables, none of them careerbot's")
                done: set[int] = set()
            elif not tables:
                done = set()
            else:
                done = {int(r["version"]) for r in await conn.fetch("SELECT version FROM schema_migrations")}
            _versions(report, done, "postgres")
            if "schema_migrations" in tables:
                for table, column, following, top in await _sequences_behind(conn):
                    report.problems.append(
                        f"the id sequence of {table}.{column} would hand out {following} next, but {table} already has "
                        f"ids up to {top}, so new rows would fail "
                        f"(fix: SELECT setval(pg_get_serial_sequence('{table}', '{column}'), {top}))"
                    )
    except asyncpg.PostgresError as exc:
        report.problems.append(f"cannot be read: {scrub(str(exc), url)}")
    finally:
        await conn.close()
    report.ok = not report.problems
    return report


async def _sequences_behind(conn: Any) -> list[tuple[str, str, int, int]]:
    """Identity columns whose sequence would hand out an id that is already taken:
    (table, column, the id it would hand out next, the largest id in the table)."""
    behind = []
    rows = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name"
    )
    for r in rows:
        table, column = r["table_name"], r["column_name"]
        top = await conn.fetchval(f'SELECT max("{column}") FROM "{table}"')
        if top is None:
            continue
        seq = await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", f'"{table}"', column)
        value = await conn.fetchval("SELECT pg_sequence_last_value($1::regclass)", seq)
        following = 1 if value is None else int(value) + 1  # None: never used, so it starts at 1
        if following <= top:
            behind.append((table, column, following, int(top)))
    return behind


def check(path: str | os.PathLike[str]) -> CheckReport:
    """Integrity, foreign keys and migration state, without writing anything."""
    if is_url(path):
        raise StorageError("check() reads SQLite files; use check_database() for a postgresql:// URL.")
    target = Path(path).expanduser()
    conn = _connect_read_only(target)
    wal = target.with_name(target.name + "-wal")  # a running bot's recent writes live here until checkpointed
    size = target.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    report = CheckReport(str(target), ok=True, size_bytes=size)
    try:
        report.journal_mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if integrity != ["ok"]:
            report.problems += [f"integrity: {line}" for line in integrity[:10]]
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            report.problems.append(f"{len(broken)} rows point at rows that no longer exist (first in table {broken[0][0]})")
        try:
            done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
        except sqlite3.OperationalError:
            done = set()
        _versions(report, done, "sqlite")
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # damage can garble text as well as pages
        report.problems.append(f"cannot be read: {exc}")
    finally:
        conn.close()
    report.ok = not report.problems
    return report


def backup(source: str | os.PathLike[str], destination: str | os.PathLike[str], overwrite: bool = False) -> CheckReport:
    """A consistent copy of a (possibly running) database, checked before it is put in place.

    The copy is written next to the destination under a temporary name and renamed only
    when complete and intact, so an interrupted backup never leaves a half-written file that
    looks like a good one.
    """
    if is_url(source):
        raise StorageError(PG_BACKUP_HINT)
    src_path = Path(source).expanduser()
    dest = Path(destination).expanduser()
    if dest.exists() and dest.is_dir():
        dest = dest / src_path.name
    if dest.resolve() == src_path.resolve():
        raise StorageError("the backup must go to another file than the database itself.")
    if dest.exists() and not overwrite:
        raise StorageError(f"{dest} already exists; choose a new name or pass --force to replace it.")
    if not dest.parent.is_dir():
        raise StorageError(f"cannot write {dest}: the folder {dest.parent} does not exist.")
    partial = dest.with_name(f".{dest.name}.partial")
    src = _connect_read_only(src_path)
    try:
        partial.unlink(missing_ok=True)
        out = sqlite3.connect(partial)
        try:
            src.backup(out, pages=1024)
            out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        finally:
            out.close()
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"the backup failed and nothing was written: {exc}") from None
    finally:
        src.close()
    report = check(partial)
    if not report.ok:
        partial.unlink(missing_ok=True)
        raise StorageError("the copy did not pass its check and was removed: " + "; ".join(report.problems))
    os.replace(partial, dest)
    report.path = str(dest)
    return report
