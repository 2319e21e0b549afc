"""The PostgreSQL engine: the same ``Database`` interface over an asyncpg pool.

Why this shape: repositories are written once, against aiosqlite's small surface (``execute``
returning a cursor, ``?`` placeholders, rows read by name or position). ``PgConn`` offers that
surface over an asyncpg connection, numbering the placeholders (``$1``, ``$2`` …) once per
statement text, so the SQL differs between engines only where the dialects really do (full-text
search, identity columns: see the ``.postgres.sql`` migrations and ``Database.dialect``).

Several careerbot processes may share one database, so migrations run under an advisory lock
(simultaneous starts migrate once), and a URL's password never reaches a log line, an error or
``careerbot status``: only ``redact_url(url)`` is ever shown.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from datetime import datetime, timezone

from bot.clock import iso_utc
from bot.storage.db import Migration, StorageError, bundled_migrations

log = logging.getLogger("careerbot.storage")

# Statements that hand rows back; anything else is run for its status ("UPDATE 3").
_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW|TABLE)\b|\bRETURNING\b", re.IGNORECASE)
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")
_MIGRATE_LOCK = "careerbot:migrate"


def redact_url(url: str) -> str:
    """The URL as it may be shown: no password (``postgresql://bot:***@db/careerbot``)."""
    try:
        parts = urlsplit(url)
        if parts.password is None and "password" not in parts.query.lower():
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:  # unparsable: show only the scheme
        return url.split(":", 1)[0] + "://(unreadable URL)"


def scrub(text: str, url: str) -> str:
    """``text`` (an error message) with the URL's password masked wherever it appears."""
    try:
        secret = urlsplit(url).password
    except ValueError:
        secret = None
    text = text.replace(url, redact_url(url))
    query_secret = re.search(r"(?:^|&)password=([^&]+)", urlsplit(url).query) if "?" in url else None
    for value in (secret, query_secret.group(1) if query_secret else None):
        if value:
            text = text.replace(value, "***")
    return text


@lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """``?`` placeholders as ``$1``, ``$2`` …, leaving quoted text alone."""
    counter = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal counter
        if match.group(0) != "?":
            return match.group(0)
        counter += 1
        return f"${counter}"

    return _TOKEN.sub(swap, sql)


def _count(status: str) -> int:
    """asyncpg's command tag ("INSERT 0 3", "UPDATE 2", "DELETE 0") as a row count."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else -1


class PgCursor:
    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[Any]:
        return list(self._rows)

    async def __aenter__(self) -> "PgCursor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None


class _Pending:
    """``await conn.execute(...)`` and ``async with conn.execute(...) as cur`` both work, as in aiosqlite."""

    def __init__(self, run: Any) -> None:
        self._run = run
        self._cursor: PgCursor | None = None

    def __await__(self):  # noqa: ANN204
        return self._run().__await__()

    async def __aenter__(self) -> PgCursor:
        self._cursor = await self._run()
        return self._cursor

    async def __aexit__(self, *exc: Any) -> None:
        return None


class PgConn:
    """An asyncpg connection with aiosqlite's surface, for repositories written once."""

    dialect = "postgres"  # aiosqlite's connection has none: repositories read getattr(conn, "dialect", "sqlite")

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> _Pending:
        return _Pending(lambda: self._execute(sql, tuple(parameters)))

    async def _execute(self, sql: str, params: tuple[Any, ...]) -> PgCursor:
        query = numbered(sql)
        if _ROWS.search(query):
            rows = await self.raw.fetch(query, *params)
            return PgCursor(rows, len(rows))
        status = await self.raw.execute(query, *params)
        return PgCursor([], _count(status))

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> None:
        rows = [tuple(p) for p in parameters]
        if rows:
            await self.raw.executemany(numbered(sql), rows)


class PostgresDatabase:
    """A pool of connections; writes in one process still take turns (as on SQLite), while
    other processes are kept apart by row locks and the queues' leases."""

    dialect = "postgres"

    def __init__(self, pool: Any, url: str) -> None:
        self.pool = pool
        self.path = redact_url(url)  # never the password
        self.label = self.path
        self._url = url
        self.write_lock = asyncio.Lock()

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        async with self.pool.acquire() as raw:
            return list(await raw.fetch(numbered(sql), *tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any:
        async with self.pool.acquire() as raw:
            return await raw.fetchrow(numbered(sql), *tuple(params))

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> None:
        async with self.write_lock, self.pool.acquire() as raw:
            await PgConn(raw)._execute(sql, tuple(params))

    def transaction(self) -> "_PgTransaction":
        return _PgTransaction(self)

    async def connect_raw(self) -> Any:
        """A connection of its own, outside the pool (LISTEN holds one for the process's life)."""
        import asyncpg

        return await asyncpg.connect(self._url, timeout=15)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.pool.close(), 10)
        except asyncio.TimeoutError:
            self.pool.terminate()


class _PgTransaction:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def __aenter__(self) -> PgConn:
        await self.db.write_lock.acquire()
        try:
            self._raw = await self.db.pool.acquire()
            try:
                self._tx = self._raw.transaction()
                await self._tx.start()
            except BaseException:
                await self.db.pool.release(self._raw)
                raise
        except BaseException:
            self.db.write_lock.release()
            raise
        return PgConn(self._raw)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            try:
                await self.db.pool.release(self._raw)
            finally:
                self.db.write_lock.release()


async def open_postgres(url: str, migrations: list[Migration] | None = None) -> PostgresDatabase:
    """Connects (a small pool), checks the database is ours or empty, and migrates it once."""
    import asyncpg

    shown = redact_url(url)
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=8, timeout=15, command_timeout=60)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        reason = scrub(str(exc) or type(exc).__name__, url)
        raise StorageError(f"cannot connect to the database {shown}: {reason}") from None
    db = PostgresDatabase(pool, url)
    try:
        await _claim(db)
        await apply_migrations(db, bundled_migrations("postgres") if migrations is None else migrations)
    except asyncpg.PostgresError as exc:
        await db.close()
        raise StorageError(f"{shown} could not be used as a careerbot database: {scrub(str(exc), url)}") from None
    except BaseException:
        await db.close()
        raise
    return db


async def _claim(db: PostgresDatabase) -> None:
    rows = await db.fetchall(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    names = {r["table_name"] for r in rows}
    if names and "schema_migrations" not in names:
        raise StorageError(
            f"{db.label} already holds {len(names)} tables, none of them careerbot's; refusing to change it. "
            "Point CAREERBOT_DB at an empty database (or another schema)."
        )


async def apply_migrations(db: PostgresDatabase, migrations: list[Migration]) -> list[int]:
    """Each missing migration in its own transaction, all under one advisory lock: processes
    started together wait for the first to finish, then find nothing left to do."""
    ran: list[int] = []
    async with db.pool.acquire() as raw:
        key = await raw.fetchval("SELECT hashtext(current_schema() || ':' || $1)", _MIGRATE_LOCK)
        await raw.execute("SELECT pg_advisory_lock($1)", key)
        try:
            await raw.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {int(r["version"]) for r in await raw.fetch("SELECT version FROM schema_migrations")}
            known = {m.version for m in migrations}
            if done - known:
                raise StorageError(
                    f"{db.label} was written by a newer careerbot (schema version {max(done)}; this one knows up to "
                    f"{max(known, default=0)}). Upgrade careerbot instead of downgrading the database."
                )
            for m in migrations:
                if m.version in done:
                    continue
                try:
                    async with raw.transaction():
                        await raw.execute(m.sql)  # no arguments: several statements in one go
                        await raw.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                            m.version, m.name, iso_utc(datetime.now(timezone.utc)),
                        )
                except Exception as exc:
                    raise StorageError(f"migration {m.version:04d}_{m.name} failed and was rolled back: {exc}") from exc
                log.info("applied migration %04d_%s", m.version, m.name)
                ran.append(m.version)
        finally:
            await raw.execute("SELECT pg_advisory_unlock($1)", key)
    return ran
