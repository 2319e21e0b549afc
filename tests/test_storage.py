"""The database file: WAL, migrations, upgrades, and refusing files that are not ours."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from bot.storage import db as db_module
from bot.storage.db import StorageError, bundled_migrations, open_database
from commands import create_app


async def test_a_new_database_is_wal_with_every_migration(db_path: Path):
    db = await open_database(db_path)
    try:
        mode = await db.fetchone("PRAGMA journal_mode")
        assert mode[0] == "wal"
        timeout = await db.fetchone("PRAGMA busy_timeout")
        assert timeout[0] >= 1000
        versions = [r["version"] for r in await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [m.version for m in bundled_migrations()]
    finally:
        await db.close()


async def test_reopening_applies_nothing_twice(db_path: Path):
    for _ in range(3):
        db = await open_database(db_path)
        rows = await db.fetchall("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version")
        await db.close()
        assert all(r["n"] == 1 for r in rows)


async def test_a_database_from_an_older_release_upgrades_and_keeps_its_data(db_path: Path):
    first = bundled_migrations()[:1]
    old = await open_database(db_path, migrations=first)
    await old.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    await old.close()

    app = await create_app(db_path)
    try:
        versions = [r["version"] for r in await app.db.fetchall("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in bundled_migrations()]
        kept = await app.db.fetchone("SELECT value FROM meta WHERE key = 'kept'")
        assert kept["value"] == "yes"
        assert (await app.handle_text("/advice topics")).cards
    finally:
        await app.close()


async def test_a_failing_migration_rolls_back_completely(db_path: Path):
    from bot.storage.db import Migration

    broken = bundled_migrations()[:1] + [Migration(2, "broken", "CREATE TABLE half (x INT);\nINSERT INTO nowhere VALUES (1);")]
    with pytest.raises(StorageError, match="0002_broken failed and was rolled back"):
        await open_database(db_path, migrations=broken)
    conn = sqlite3.connect(db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    conn.close()
    assert "half" not in tables and versions == [1]


async def test_a_foreign_sqlite_file_is_refused_untouched(db_path: Path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StorageError, match="SQLite database of something else"):
        await open_database(db_path)
    assert db_path.read_bytes() == before


async def test_another_applications_database_is_refused(db_path: Path):
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="belongs to another application"):
        await open_database(db_path)


async def test_a_non_sqlite_file_is_refused(db_path: Path):
    db_path.write_text("name,score\nada,1\n")
    with pytest.raises(StorageError, match="not an SQLite file"):
        await open_database(db_path)
    assert db_path.read_text() == "name,score\nada,1\n"


async def test_a_newer_schema_is_refused(db_path: Path):
    db = await open_database(db_path)
    await db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    await db.close()
    with pytest.raises(StorageError, match="newer careerbot"):
        await open_database(db_path)


async def test_unusable_paths_get_clear_errors(tmp_path: Path):
    with pytest.raises(StorageError, match="does not exist"):
        await open_database(tmp_path / "missing-dir" / "bot.db")
    with pytest.raises(StorageError, match="is a directory"):
        await open_database(tmp_path)
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(StorageError, match="not writable"):
            await open_database(locked / "bot.db")


class _LockedAtOnce:
    """The real connection, except that its first BEGINs answer "locked" at once, as SQLite does
    for a WAL file another process is opening (a state no busy timeout waits out)."""

    def __init__(self, conn, failures: int) -> None:
        self._conn = conn
        self.failures = failures

    def execute(self, sql, *args):
        if sql == "BEGIN IMMEDIATE" and self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


async def test_a_write_that_meets_a_momentary_lock_goes_through(db_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(db_module, "BEGIN_TRIES", 5)  # the lock that never clears gives up after 0.3 s, not 4
    db = await open_database(db_path)
    real = db.conn
    try:
        db.conn = _LockedAtOnce(real, failures=3)
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('after-lock', 'yes')")
        assert db.conn.failures == 0
        row = await db.fetchone("SELECT value FROM meta WHERE key = 'after-lock'")
        assert row["value"] == "yes"
        # A lock that never clears is reported, and the next writer is not stuck behind it.
        db.conn = _LockedAtOnce(real, failures=1000)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('never', 'no')")
        db.conn = real
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('next', 'yes')")
        assert await db.fetchone("SELECT 1 FROM meta WHERE key = 'never'") is None
    finally:
        db.conn = real
        await db.close()
