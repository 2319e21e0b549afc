"""``careerbot db copy --to TARGET``: every careerbot table into another, empty database.

Moves an install between engines (an SQLite file to PostgreSQL when a second process needs
the same data, or PostgreSQL back to a file) or makes a portable copy. Both ends are opened
the ordinary way (``open_database``), so they are at the same schema version before a row
moves; the target must hold no rows at all, or nothing is done.

What is not a plain row copy:

* ``schema_migrations`` is the target's own (opening it migrated it); the versions must match.
* The papers full-text index differs by engine (an FTS5 table on SQLite, a ``tsvector`` table
  on PostgreSQL); it is skipped and rebuilt on the target from the copied papers.
* Ids: rows keep their ids, and identity sequences are moved past them (PostgreSQL:
  ``setval``; SQLite: ``sqlite_sequence``), never below the source's own high-water mark, so
  an id that was used and deleted (a digest whose buttons are still on screen) is not handed
  out again. SQLite's implicit ``rowid`` of ``papers`` (arrival order) is PostgreSQL's
  ``papers.seq`` and back.
* ``meta`` is copied: it holds the advice votes' salt (a student voting again after the move
  changes their vote instead of adding one) and which knowledge base is loaded.

Rows are read from one snapshot of the source (a read transaction; REPEATABLE READ on
PostgreSQL) and written in one transaction on the target, parents before children, so a
failure leaves the target as empty as it was.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storage import maintenance, papers_repo
from bot.storage.db import StorageError, is_url, open_database

# Not copied: the target keeps its own migration record, and the search index is rebuilt.
_NOT_COPIED = {"schema_migrations", "papers_fts"}
# The PostgreSQL column that holds what SQLite keeps as a table's implicit rowid.
_ROWID_AS = {"papers": "seq"}
_BATCH = 2000

_PG_TYPES: dict[str, Callable[[Any], Any]] = {
    "integer": int, "bigint": int, "smallint": int,
    "text": str, "character varying": str, "character": str,
    "real": float, "double precision": float, "numeric": float,
    "boolean": bool, "bytea": bytes,
}


@dataclass
class CopyResult:
    counts: dict[str, int] = field(default_factory=dict)  # table -> rows, in the order copied
    indexed: int = 0  # papers put into the target's search index

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _label(target: str | os.PathLike[str]) -> str:
    from bot.config import db_label

    return db_label(str(target))


def _copied(table: str) -> bool:
    return table not in _NOT_COPIED and not table.startswith(("sqlite_", "papers_fts_"))


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    if is_url(a) or is_url(b):
        return str(a) == str(b)
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


async def copy_database(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> CopyResult:
    """Copies every careerbot table from ``source`` into ``target`` (created or empty)."""
    if _same(source, target):
        raise StorageError("the target is the database being copied; give a new file or another database.")
    found = await _row_counts(source)
    if found is None:
        missing = not is_url(source) and not Path(source).expanduser().exists()
        what = "does not exist" if missing else "is not a careerbot database"
        raise StorageError(f"{_label(source)} {what}: there is nothing to copy.")
    holding = {t: n for t, n in (await _row_counts(target) or {}).items() if n}
    if holding:
        raise _not_empty(target, holding)
    src = await open_database(source)
    try:
        dst = await open_database(target)
        try:
            return await copy_between(src, dst)
        finally:
            await dst.close()
    finally:
        await src.close()


def _not_empty(target: str | os.PathLike[str], holding: dict[str, int]) -> StorageError:
    shown = ", ".join(f"{t} ({n})" for t, n in sorted(holding.items())[:5]) + (", …" if len(holding) > 5 else "")
    return StorageError(
        f"{_label(target)} already holds data (rows in {shown}); careerbot db copy only fills a new, empty "
        "database, and changed nothing. Give a new file, or an empty PostgreSQL database or schema."
    )


async def _row_counts(target: str | os.PathLike[str]) -> dict[str, int] | None:
    """Rows per table, read without creating or migrating anything; None when there are no tables."""
    if is_url(target):
        conn = await maintenance.connect_postgres(str(target))
        try:
            async with conn.transaction(readonly=True):
                names = [r[0] for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )]
                return {t: int(await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in names if _copied(t)} or None
        finally:
            await conn.close()
    return await asyncio.to_thread(_sqlite_row_counts, Path(target).expanduser())


def _sqlite_row_counts(path: Path) -> dict[str, int] | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return None  # open_database says what is wrong with it
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in names if _copied(t)} or None
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


# -- reading the two schemas -------------------------------------------------------------------


@dataclass
class _Schema:
    dialect: str
    columns: dict[str, list[str]]  # table -> columns, in order
    types: dict[tuple[str, str], str]  # PostgreSQL: (table, column) -> data type
    parents: dict[str, set[str]]  # table -> the tables its foreign keys point at
    identity: dict[str, str]  # table -> its identity / AUTOINCREMENT column
    versions: set[int]


async def _rows(conn: Any, sql: str, params: tuple = ()) -> list[Any]:
    cur = await conn.execute(sql, params)
    return list(await cur.fetchall())


async def _schema(conn: Any, dialect: str) -> _Schema:
    versions = {int(r[0]) for r in await _rows(conn, "SELECT version FROM schema_migrations")}
    columns: dict[str, list[str]] = {}
    types: dict[tuple[str, str], str] = {}
    parents: dict[str, set[str]] = {}
    identity: dict[str, str] = {}
    if dialect == "postgres":
        for r in await _rows(conn, (
            "SELECT c.table_name, c.column_name, c.data_type, c.is_identity FROM information_schema.columns c"
            " JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
            " ORDER BY c.table_name, c.ordinal_position"
        )):
            columns.setdefault(r[0], []).append(r[1])
            types[(r[0], r[1])] = r[2]
            if r[3] == "YES":
                identity[r[0]] = r[1]
        for r in await _rows(conn, (
            "SELECT child.relname, parent.relname FROM pg_constraint k"
            " JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid"
            " JOIN pg_namespace n ON n.oid = child.relnamespace WHERE k.contype = 'f' AND n.nspname = current_schema()"
        )):
            parents.setdefault(r[0], set()).add(r[1])
    else:
        for (name, sql) in await _rows(conn, "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            info = await _rows(conn, f"PRAGMA table_info('{name}')")
            columns[name] = [r[1] for r in info]
            if "AUTOINCREMENT" in (sql or "").upper():
                identity[name] = next(r[1] for r in info if r[5])  # the INTEGER PRIMARY KEY
            parents[name] = {r[2] for r in await _rows(conn, f"PRAGMA foreign_key_list('{name}')")}
    columns = {t: c for t, c in columns.items() if _copied(t)}
    return _Schema(dialect, columns, types, parents, identity, versions)


def _in_order(schema: _Schema) -> list[str]:
    """Tables with every table they point at first (alphabetical where it does not matter)."""
    done: list[str] = []
    waiting = sorted(schema.columns)
    while waiting:
        ready = [t for t in waiting if all(p in done or p == t or p not in schema.columns for p in schema.parents.get(t, ()))]
        if not ready:
            raise StorageError(f"cannot order the tables {', '.join(waiting)}: their foreign keys form a cycle.")
        done += ready
        waiting = [t for t in waiting if t not in ready]
    return done


# -- the copy --------------------------------------------------------------------------------


@asynccontextmanager
async def _snapshot(db: Any) -> AsyncIterator[Any]:
    """A read-only view of the source as of one moment, even while a bot writes to it."""
    if db.dialect == "postgres":
        from bot.storage.postgres import PgConn

        async with db.pool.acquire() as raw, raw.transaction(isolation="repeatable_read", readonly=True):
            yield PgConn(raw)
        return
    await db.conn.execute("BEGIN")  # deferred: the first read fixes the snapshot (WAL)
    try:
        yield db.conn
    finally:
        await db.conn.execute("COMMIT")


async def copy_between(src: Any, dst: Any) -> CopyResult:
    """Copies every table of the open database ``src`` into the open, empty ``dst``."""
    result = CopyResult()
    async with _snapshot(src) as inp, dst.transaction() as out:
        source = await _schema(inp, src.dialect)
        target = await _schema(out, dst.dialect)
        if source.versions != target.versions:
            raise StorageError(
                f"the two databases are at different schema versions ({max(source.versions, default=0)} and "
                f"{max(target.versions, default=0)}); run the same careerbot on both first."
            )
        if set(source.columns) != set(target.columns):
            odd = sorted(set(source.columns) ^ set(target.columns))
            raise StorageError(f"the two databases do not have the same tables ({', '.join(odd)}); nothing was copied.")
        holding = {}
        for table in target.columns:
            n = (await _rows(out, f'SELECT count(*) FROM "{table}"'))[0][0]
            if n:
                holding[table] = n
        if holding:
            raise _not_empty(dst.label, holding)
        marks = await _high_water(inp, source)
        for table in _in_order(target):
            try:
                result.counts[table] = await _copy_table(inp, out, table, source, target)
            except StorageError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bad row on either engine: say which table, roll back
                raise StorageError(f"copying {table} failed, so nothing was copied: {_scrubbed(exc, dst)}") from None
        await _move_sequences(out, target, marks)
        result.indexed = await rebuild_paper_index(out, dst.dialect)
    return result


def _scrubbed(exc: Exception, db: Any) -> str:
    text = str(exc) or type(exc).__name__
    url = getattr(db, "_url", None)
    if url:
        from bot.storage.postgres import scrub

        text = scrub(text, url)
    return text.splitlines()[0][:300]


async def _copy_table(inp: Any, out: Any, table: str, source: _Schema, target: _Schema) -> int:
    wanted = list(target.columns[table])
    reads: list[str] = []
    for column in wanted:
        if column in source.columns[table]:
            reads.append(f'"{column}"')
        elif source.dialect == "sqlite" and _ROWID_AS.get(table) == column:
            reads.append("rowid")
        else:
            raise StorageError(f"{table}.{column} exists only in the target; run the same careerbot on both first.")
    if target.dialect == "sqlite" and table in _ROWID_AS:
        wanted.append("rowid")  # the arrival order (PostgreSQL's seq) becomes SQLite's rowid again
        reads.append("rowid" if source.dialect == "sqlite" else f'"{_ROWID_AS[table]}"')
    missing = set(source.columns[table]) - set(target.columns[table]) - {_ROWID_AS.get(table)}
    if missing:
        raise StorageError(f"{table} has columns the target lacks ({', '.join(sorted(missing))}); nothing was copied.")

    order = " ORDER BY rowid" if source.dialect == "sqlite" else ""  # keep SQLite's arrival order
    rows = await _rows(inp, f'SELECT {", ".join(reads)} FROM "{table}"{order}')
    if not rows:
        return 0
    names = ", ".join("rowid" if c == "rowid" else f'"{c}"' for c in wanted)
    overriding = " OVERRIDING SYSTEM VALUE" if target.dialect == "postgres" and table in target.identity else ""
    insert = f'INSERT INTO "{table}" ({names}){overriding} VALUES ({", ".join("?" * len(wanted))})'
    convert = [_converter(target, table, c) for c in wanted]
    values = [tuple(v if v is None or f is None else f(v) for f, v in zip(convert, row)) for row in rows]
    for start in range(0, len(values), _BATCH):
        await out.executemany(insert, values[start:start + _BATCH])
    return len(values)


def _converter(target: _Schema, table: str, column: str) -> Callable[[Any], Any] | None:
    """asyncpg wants each value in its column's Python type; SQLite stores what it is given."""
    if target.dialect != "postgres":
        return None
    kind = target.types.get((table, column), "")
    return _PG_TYPES.get(kind)


async def _high_water(inp: Any, source: _Schema) -> dict[str, int]:
    """The largest id each table's sequence has handed out on the source (deleted rows included)."""
    marks: dict[str, int] = {}
    if source.dialect == "sqlite":
        if "sqlite_sequence" in {r[0] for r in await _rows(inp, "SELECT name FROM sqlite_master WHERE type = 'table'")}:
            marks = {r[0]: int(r[1]) for r in await _rows(inp, "SELECT name, seq FROM sqlite_sequence")}
        return marks
    for table, column in source.identity.items():
        value = (await _rows(
            inp, "SELECT pg_sequence_last_value(pg_get_serial_sequence(?, ?)::regclass)", (f'"{table}"', column)
        ))[0][0]
        if value is not None:
            marks[table] = int(value)
    return marks


async def _move_sequences(out: Any, target: _Schema, marks: dict[str, int]) -> None:
    """Past the copied ids and the source's high-water mark: the next new row gets a fresh id."""
    for table, column in sorted(target.identity.items()):
        top = (await _rows(out, f'SELECT max("{column}") FROM "{table}"'))[0][0]
        mark = max(int(top or 0), marks.get(table, 0))
        if not mark:
            continue
        if target.dialect == "postgres":
            await out.execute("SELECT setval(pg_get_serial_sequence(?, ?), ?)", (f'"{table}"', column, mark))
        else:
            cur = await out.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (mark, table))
            if not cur.rowcount:
                await out.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, mark))


async def rebuild_paper_index(conn: Any, dialect: str) -> int:
    """Puts every stored paper into the search index (``papers_repo.INDEX_SQL``, as ``upsert``
    does one by one). Returns how many papers were indexed."""
    await conn.execute("DELETE FROM papers_fts")
    authors: dict[str, list[str]] = {}
    for r in await _rows(conn, "SELECT arxiv_id, name FROM paper_authors ORDER BY arxiv_id, position"):
        authors.setdefault(r[0], []).append(r[1])
    key = papers_repo.INDEX_KEY[dialect]
    papers = await _rows(conn, f"SELECT arxiv_id, {key} AS k, title, abstract FROM papers ORDER BY {key}")
    insert = papers_repo.INDEX_SQL[dialect]
    rows = [papers_repo.index_params(dialect, p[0], p[1], p[2], ", ".join(authors.get(p[0], ())), p[3]) for p in papers]
    for start in range(0, len(rows), _BATCH):
        await conn.executemany(insert, rows[start:start + _BATCH])
    return len(rows)
