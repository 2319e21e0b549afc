"""Looking after the database file: consistent backups while the bot runs, and health checks.

Both work on the file directly with the standard sqlite3 module and never migrate or write
the source: a moderator must be able to run them next to a live bot, or on a copy, safely.
The backup uses SQLite's online backup API, which copies a consistent snapshot even while
another process writes (WAL mode), then checks the copy before moving it into place.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from bot.storage.db import APPLICATION_ID, StorageError, bundled_migrations


@dataclass
class CheckReport:
    path: str
    ok: bool
    size_bytes: int = 0
    journal_mode: str = ""
    schema_version: int = 0
    known_version: int = 0
    pending: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.path}: {'OK' if self.ok else 'PROBLEMS FOUND'}"]
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


def check(path: str | os.PathLike[str]) -> CheckReport:
    """Integrity, foreign keys and migration state, without writing anything."""
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
        known = {m.version: m for m in bundled_migrations()}
        report.schema_version = max(done, default=0)
        report.known_version = max(known, default=0)
        report.pending = [f"{v:04d}_{known[v].name}" for v in sorted(set(known) - done)]
        newer = sorted(done - set(known))
        if newer:
            report.problems.append(
                f"written by a newer careerbot (schema version {max(newer)}); this one knows up to {report.known_version}"
            )
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
