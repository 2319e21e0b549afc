"""Opening the database safely, on either engine.

``CAREERBOT_DB`` is a file path (SQLite, the zero-setup default) or a ``postgresql://`` URL
(several processes sharing one database; ``bot/storage/postgres.py``). Repositories see one
interface: ``Database`` (``fetchall``/``fetchone``/``execute``/``transaction``) and, inside a
transaction, a ``Conn`` whose ``execute`` returns a cursor with ``fetchone``/``fetchall``/
``rowcount``. SQL is written once with ``?`` placeholders; the PostgreSQL engine numbers them.

We refuse to touch a file that is not ours: a moderator who points ``CAREERBOT_DB`` at the
wrong file should get an error, not a database with our tables grafted onto theirs. Our
files are marked with SQLite's ``application_id`` header field.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Protocol

import aiosqlite

log = logging.getLogger("careerbot.storage")

APPLICATION_ID = 0x43424F54  # "CBOT"
SQLITE_MAGIC = b"SQLite format 3\x00"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)(?:\.(sqlite|postgres))?\.sql$")


class Cursor(Protocol):
    rowcount: int

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """What a repository writes through inside ``async with db.transaction() as conn``.

    aiosqlite's connection is one; ``postgres.PgConn`` is the other. Rows read by name
    (``row["id"]``) or position (``row[0]``) on both.
    """

    async def execute(self, sql: str, parameters: Iterable[Any] = ...) -> Any: ...

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Any: ...


class StorageError(Exception):
    """A database problem worded for the person running the bot."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations(dialect: str = "sqlite") -> list[Migration]:
    """Numbered ``NNNN_name.sql`` files shipped in ``bot/storage/migrations``.

    ``NNNN_name.sql`` is written once for both engines; where the dialects must differ, a
    ``NNNN_name.sqlite.sql``/``NNNN_name.postgres.sql`` pair replaces it for its engine.
    """
    shared: dict[int, Migration] = {}
    own: dict[int, Migration] = {}
    for entry in resources.files("bot.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match and match.group(3) in (None, dialect):
            found_one = Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8"))
            (own if match.group(3) else shared)[found_one.version] = found_one
    found = list({**shared, **own}.values())
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return found


async def serialize_ids(conn: Conn, table: str) -> None:
    """Makes "MAX(id) + 1, then insert" safe across processes: on PostgreSQL, one transaction at a
    time per table and schema (released at commit or rollback); on SQLite, the writer's lock does it."""
    if getattr(conn, "dialect", "sqlite") == "postgres":
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ?))", (f":careerbot:ids:{table}",))


class Database:
    """SQLite: one shared connection, one transaction style; the other engine has the same methods."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self.label = path  # what messages and `careerbot status` may show
        # One connection is shared by every task (commands, scheduler, delivery). Writers take
        # this lock so one task's COMMIT can never land in the middle of another's transaction.
        self.write_lock = asyncio.Lock()

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> None:
        async with self.transaction() as conn:
            await conn.execute(sql, tuple(params))

    def transaction(self) -> "_Transaction":
        """Inside, write through the yielded connection only: the lock is not reentrant."""
        return _Transaction(self.conn, self.write_lock)

    async def close(self) -> None:
        await self.conn.close()


class _Transaction:
    """``async with db.transaction():`` — all or nothing, so a failure leaves no half-write."""

    def __init__(self, conn: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self.conn = conn
        self.lock = lock

    async def __aenter__(self) -> aiosqlite.Connection:
        await self.lock.acquire()
        try:
            await self._begin()
        except BaseException:
            self.lock.release()
            raise
        return self.conn

    async def _begin(self) -> None:
        """BEGIN IMMEDIATE, tried again when SQLite answers "locked" without waiting.

        busy_timeout makes a writer wait its turn, but a few lock states of a WAL file shared by
        processes (another process opening or recovering it) answer "locked" at once. Nothing has
        been done yet, so beginning again is safe; a "locked" that took the whole busy timeout is
        real contention and is raised.
        """
        loop = asyncio.get_running_loop()
        for attempt in range(BEGIN_TRIES):
            started = loop.time()
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                waited = loop.time() - started
                if "locked" not in str(exc) or waited > 1.0 or attempt == BEGIN_TRIES - 1:
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                await self.conn.commit()
            else:
                await self.conn.rollback()
        finally:
            self.lock.release()


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise StorageError(f"{path} is a directory, not a database file; set CAREERBOT_DB to a file path.")
    if path.exists():
        if path.stat().st_size == 0:
            return
        with path.open("rb") as fh:
            if fh.read(16) != SQLITE_MAGIC:
                raise StorageError(f"{path} is not a careerbot database (it is not an SQLite file at all).")
        if not os.access(path, os.W_OK):
            raise StorageError(f"{path} is not writable by this user; fix its permissions or choose another CAREERBOT_DB.")
    else:
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.exists():
            raise StorageError(f"cannot create {path}: the folder {parent} does not exist.")
        if not os.access(parent, os.W_OK):
            raise StorageError(f"cannot create {path}: the folder {parent} is not writable.")


def is_url(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


async def open_database(path: str | os.PathLike[str], migrations: list[Migration] | None = None) -> Database:
    """Opens (creating if needed) a careerbot database and brings its schema up to date."""
    if is_url(path):
        from bot.storage import postgres

        return await postgres.open_postgres(str(path), migrations)
    target = Path(path).expanduser()
    _check_file(target)
    try:
        conn = await aiosqlite.connect(str(target), isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {target}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    db = Database(conn, str(target))
    try:
        await conn.execute("PRAGMA busy_timeout = 5000")
        for attempt in range(OPEN_TRIES):
            try:
                await _prepare(db, target, migrations)
                break
            except sqlite3.OperationalError as exc:
                # Processes opening one new file together: a few SQLite locks (switching to WAL,
                # recovering its index) answer "locked" at once instead of waiting. Each step is
                # its own transaction, so trying again picks up where the other process left off.
                if "locked" not in str(exc) or attempt == OPEN_TRIES - 1:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
    except sqlite3.DatabaseError as exc:
        await conn.close()
        raise StorageError(f"{target} could not be used as a careerbot database: {exc}") from exc
    except BaseException:
        await conn.close()
        raise
    return db


OPEN_TRIES = 20
BEGIN_TRIES = 20  # about 4 s of short waits in all


async def _prepare(db: Database, target: Path, migrations: list[Migration] | None) -> None:
    await _claim(db, target)
    mode = await db.fetchone("PRAGMA journal_mode = WAL")
    if mode is None or str(mode[0]).lower() != "wal":
        log.warning("could not switch %s to WAL mode (got %s)", target, mode and mode[0])
    await db.conn.execute("PRAGMA foreign_keys = ON")
    await db.conn.execute("PRAGMA synchronous = NORMAL")
    await apply_migrations(db, bundled_migrations() if migrations is None else migrations)


async def _claim(db: Database, target: Path) -> None:
    """Marks a new file as ours; in one write transaction, since two processes may open a new file at once."""
    await db.conn.execute("BEGIN IMMEDIATE")
    try:
        await _claim_locked(db, target)
        await db.conn.commit()
    except BaseException:
        await db.conn.rollback()
        raise


async def _claim_locked(db: Database, target: Path) -> None:
    row = await db.fetchone("PRAGMA application_id")
    app_id = int(row[0]) if row else 0
    if app_id == APPLICATION_ID:
        return
    if app_id != 0:
        raise StorageError(f"{target} belongs to another application (application_id {app_id:#x}); refusing to change it.")
    tables = await db.fetchall("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    if tables:
        raise StorageError(
            f"{target} is an SQLite database of something else ({len(tables)} tables, none of them careerbot's); "
            "refusing to change it. Point CAREERBOT_DB at a new file."
        )
    await db.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


async def apply_migrations(db: Database, migrations: list[Migration]) -> list[int]:
    """Applies each missing migration in its own transaction and records it; returns what ran."""
    await db.conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    done = {int(r["version"]) for r in await db.fetchall("SELECT version FROM schema_migrations")}
    known = {m.version for m in migrations}
    newer = sorted(done - known)
    if newer:
        raise StorageError(
            f"{db.path} was written by a newer careerbot (schema version {max(done)}; this one knows up to "
            f"{max(known, default=0)}). Upgrade careerbot instead of downgrading the database."
        )
    ran = []
    for m in migrations:
        if m.version in done:
            continue
        try:
            await db.conn.execute("BEGIN IMMEDIATE")
            # Another process opening the same new file may have applied it while we waited.
            if await db.fetchone("SELECT 1 FROM schema_migrations WHERE version = ?", (m.version,)):
                await db.conn.rollback()
                continue
            for statement in _statements(m.sql):
                await db.conn.execute(statement)
            await db.conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (m.version, m.name))
            await db.conn.commit()
        except sqlite3.Error as exc:
            await db.conn.rollback()
            raise StorageError(f"migration {m.version:04d}_{m.name} failed and was rolled back: {exc}") from exc
        log.info("applied migration %04d_%s", m.version, m.name)
        ran.append(m.version)
    return ran


def _statements(script: str) -> list[str]:
    """Splits a migration into statements so it can run inside one explicit transaction.

    ``executescript`` would commit on its own; ``sqlite3.complete_statement`` tells us where
    each statement (including ones containing ``;`` inside triggers) really ends.
    """
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if not buf and line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
