"""`careerbot db backup` and `careerbot db check`: safe beside a running bot, clear when not."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.storage import maintenance
from bot.storage.db import StorageError, bundled_migrations, open_database
from commands import create_app
from tests.conftest import subprocess_env

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent


def sqlite_only(engine: str, why: str) -> None:
    if engine == "postgres":
        pytest.skip(why)


def careerbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=REPO, timeout=60,
                          env=subprocess_env())


async def test_a_backup_taken_while_the_bot_writes_is_consistent(db_path: Path, tmp_path: Path, engine: str):
    sqlite_only(engine, "SQLite's online backup of a file; PostgreSQL is backed up with pg_dump (tested below)")
    app = await create_app(db_path)
    try:
        await write(app, range(200))
        writer = asyncio.create_task(write(app, range(200, 400)))  # keeps writing during the backup
        copy = tmp_path / "copy.db"
        report = await asyncio.to_thread(maintenance.backup, db_path, copy)
        await writer
    finally:
        await app.close()
    assert report.ok and copy.exists() and not (tmp_path / ".copy.db.partial").exists()
    conn = sqlite3.connect(copy)
    keys = {r[0] for r in conn.execute("SELECT key FROM meta WHERE key LIKE 'k%' OR key LIKE 'pair%'")}
    conn.close()
    assert {f"k{i}" for i in range(200)} <= keys  # everything written before the backup began
    # each transaction wrote a k-row and a pair-row: a consistent snapshot never has one without the other
    assert {k[1:] for k in keys if k.startswith("k")} == {k[4:] for k in keys if k.startswith("pair")}
    reopened = await open_database(copy)  # a careerbot database in its own right
    await reopened.close()


async def write(app, numbers: range) -> None:  # noqa: ANN001
    """Each transaction writes a k-row and its pair-row together."""
    for i in numbers:
        async with app.db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"k{i}", "x" * 2000))
            await conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"pair{i}", "y"))
        await asyncio.sleep(0)


async def test_backup_refuses_to_overwrite_or_copy_onto_itself(db_path: Path, tmp_path: Path, engine: str):
    sqlite_only(engine, "about backup files of an SQLite database")
    db = await open_database(db_path)
    await db.close()
    target = tmp_path / "b.db"
    maintenance.backup(db_path, target)
    with pytest.raises(StorageError, match="already exists"):
        maintenance.backup(db_path, target)
    assert maintenance.backup(db_path, target, overwrite=True).ok
    with pytest.raises(StorageError, match="another file"):
        maintenance.backup(db_path, db_path)
    with pytest.raises(StorageError, match="does not exist"):
        maintenance.backup(db_path, tmp_path / "no-such-folder" / "b.db")
    (tmp_path / "backups").mkdir()
    into_folder = maintenance.backup(db_path, tmp_path / "backups")
    assert Path(into_folder.path) == tmp_path / "backups" / db_path.name


async def test_check_reports_pending_migrations_and_damage(db_path: Path, tmp_path: Path, engine: str):
    sqlite_only(engine, "scribbles over an SQLite file's pages; PostgreSQL's pending migrations are tested below")
    older = tmp_path / "older.db"
    db = await open_database(older, bundled_migrations()[:-1])
    await db.close()
    report = maintenance.check(older)
    assert report.ok and len(report.pending) == 1 and "applies 1 more at start-up" in "\n".join(report.lines())

    damaged = tmp_path / "damaged.db"
    db = await open_database(damaged)
    await db.execute("INSERT INTO meta (key, value) VALUES ('big', ?)", ("z" * 200_000,))
    await db.close()
    data = bytearray(damaged.read_bytes())
    for i in range(8192, len(data) - 4096, 997):  # scribble over pages past the header
        data[i] = 0xFF
    damaged.write_bytes(bytes(data))
    report = maintenance.check(damaged)
    assert not report.ok and report.problems


def test_the_command_line_says_what_happened(tmp_path: Path):
    db = str(tmp_path / "c.db")
    assert careerbot("--db", db, "console", "-c", "/help").returncode == 0
    ok = careerbot("--db", db, "db", "check")
    assert ok.returncode == 0 and "OK" in ok.stdout and "up to date" in ok.stdout
    made = careerbot("--db", db, "db", "backup", str(tmp_path / "copy.db"))
    assert made.returncode == 0 and "checked: OK" in made.stdout
    again = careerbot("--db", db, "db", "backup", str(tmp_path / "copy.db"))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    (tmp_path / "junk.db").write_text("not a database")
    junk = careerbot("--db", str(tmp_path / "junk.db"), "db", "check")
    assert junk.returncode == 2 and "not an SQLite database" in junk.stderr and "Traceback" not in junk.stderr
    missing = careerbot("--db", str(tmp_path / "none.db"), "db", "check")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


async def test_check_on_the_command_line_on_either_engine(db_path: Path, engine: str):
    db = await open_database(db_path)
    await db.close()
    out = careerbot("--db", str(db_path), "db", "check")
    assert out.returncode == 0, out.stderr
    assert ": OK" in out.stdout and f"schema version {len(bundled_migrations(engine))} (up to date)" in out.stdout
    if engine == "postgres":
        assert "PostgreSQL " in out.stdout and ":***@" in out.stdout
        assert urlsplit(str(db_path)).password not in out.stdout + out.stderr


async def test_check_of_postgres_finds_pending_migrations_and_a_sequence_left_behind(db_path: Path, engine: str):
    if engine == "sqlite":
        pytest.skip("PostgreSQL only: the SQLite check is tested above")
    db = await open_database(db_path, bundled_migrations("postgres")[:-1])
    await db.close()
    report = await maintenance.check_database(str(db_path))
    assert report.ok and len(report.pending) == 1 and "applies 1 more at start-up" in "\n".join(report.lines())

    db = await open_database(db_path)  # up to date; then a hand-made restore puts rows past the sequence
    try:
        await db.execute(
            "INSERT INTO settings_audit (id, batch, workspace, key, action, actor_id, actor_name, at)"
            " VALUES (41, 1, 'w', 'timezone', 'set', 'u', 'u', '2027-01-01T00:00:00Z')"
        )
    finally:
        await db.close()
    out = careerbot("--db", str(db_path), "db", "check")
    assert out.returncode == 1 and "PROBLEMS FOUND" in out.stdout
    assert "the id sequence of settings_audit.id would hand out 1 next, but settings_audit already has ids up to 41" in out.stdout
    assert "setval(pg_get_serial_sequence('settings_audit', 'id'), 41)" in out.stdout


async def test_backup_of_postgres_points_at_pg_dump(db_path: Path, engine: str, tmp_path: Path):
    if engine == "sqlite":
        pytest.skip("PostgreSQL only: SQLite backups are tested above")
    db = await open_database(db_path)
    await db.close()
    out = careerbot("--db", str(db_path), "db", "backup", str(tmp_path / "b.db"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "pg_dump" in out.stderr and "careerbot db copy" in out.stderr
    assert urlsplit(str(db_path)).password not in out.stdout + out.stderr
    assert not (tmp_path / "b.db").exists()
    with pytest.raises(StorageError, match="pg_dump"):
        maintenance.backup(str(db_path), tmp_path / "b.db")
