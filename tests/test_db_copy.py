"""`careerbot db copy --to TARGET`: an install moved from SQLite to PostgreSQL and back.

The data comes from real commands (settings, digests and their posts, advice votes, papers
from the sample feeds served on 127.0.0.1); the copy is made by the command line, as a
moderator would; then each copy must answer every command as the original did.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.console import ConsoleSession
from bot.app import App
from bot.clock import frozen_clock
from bot.models import Role
from commands import create_app
from commands.papers import service
from tests.conftest import NO_POSTGRES, postgres_url, subprocess_env
from tests.fakes.feed_server import FeedServer
from tests.test_papers import make_app

REPO = Path(__file__).resolve().parent.parent
NOW = "2025-04-28T12:00:00+00:00"

pytestmark = [
    pytest.mark.skipif(postgres_url() is None, reason=NO_POSTGRES),
    pytest.mark.parametrize("engine", ["postgres"], indirect=True),  # db_path: an empty PostgreSQL schema
]

# Four stored papers mention Rydberg atoms: every copy lists all four from its own index (the
# engines rank them differently, so on PostgreSQL the order may differ).
SEARCH = "/paper search rydberg"
# What a moderator and a member see; each copy must answer exactly the same.
QUESTIONS = [
    ("mod", "/config show"),
    ("mod", "/config show #jobs"),
    ("mod", "/config history"),
    ("mod", "/digest list"),
    ("mod", "/advice report"),
    ("mod", "/papers sources"),
    ("ada", SEARCH),
]


def careerbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=subprocess_env())


async def open_app(db: str | Path, server: FeedServer) -> App:
    return await make_app(db, server, NOW)  # the papers tests' app: feeds on the local server, fake politeness clock


def text_of(events: list[dict[str, Any]]) -> str:
    reply = [e for e in events if e["type"] == "reply"][-1]["reply"]
    parts = [reply["text"]]
    for card in reply["cards"]:
        parts += [card["title"], card["body"], card["footer"]] + [f"{f['name']}: {f['value']}" for f in card["fields"]]
    return "\n".join(p for p in parts if p)


async def answers(app: App) -> dict[str, str]:
    sessions = {"mod": ConsoleSession(app, user="mo", role=Role.ADMIN), "ada": ConsoleSession(app, user="ada")}
    return {line: text_of(await sessions[who].feed(line)) for who, line in QUESTIONS}


async def fill(app: App, server: FeedServer) -> None:
    """An install that has been used: settings, digests (one removed), posts, a vote, papers."""
    server.serve_fixture("/rss/quant-ph", "quant-ph_2025-04-28.xml")
    server.serve_fixture("/api/daily_papers", "daily_papers_2026-08-21_reserialized.json")
    mod = ConsoleSession(app, user="mo", role=Role.ADMIN)
    for line in (
        "/config set timezone Europe/Berlin", "/config set features advice, papers, digest #jobs",
        "/config set mod_users alice, bob", "/papers follow quant-ph",
        "/digest add tips daily 13:00", "/digest add tips daily 18:00", "/digest remove 2",
    ):
        reply = (await mod.feed(line))[-1]["reply"]
        assert reply["kind"] not in ("error", "refusal"), (line, reply)
    assert [e for e in await mod.feed(":tick 1d") if e["type"] == "post"]  # a digest was posted
    await service(app).refresh_all()  # the day's tick polled them already; now for certain
    assert (await app.db.fetchone("SELECT count(*) AS n FROM papers"))["n"] > 20
    ada = ConsoleSession(app, user="ada")
    answer = await ada.feed("/advice do i need a phd for an ml internship")
    labels = [b["label"] for card in answer[-1]["reply"]["cards"] for b in card["buttons"]]
    assert "Thanks — noted" in text_of(await ada.feed(f":click {labels.index('👎 Not helpful') + 1}"))
    await ada.feed("/advice best banana bread recipe")


def sqlite_rows(path: Path) -> dict[str, list[str]]:
    """Every copied table of an SQLite file, rows in a stable order (papers with their rowid)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for name in names:
            if name == "schema_migrations" or name.startswith(("sqlite_", "papers_fts")):
                continue
            extra = "rowid, " if name == "papers" else ""
            out[name] = sorted(repr(tuple(r)) for r in conn.execute(f'SELECT {extra}* FROM "{name}"'))
        out["sqlite_sequence"] = sorted(repr(tuple(r)) for r in conn.execute("SELECT * FROM sqlite_sequence"))
        return out
    finally:
        conn.close()


async def postgres_rows(url: str, like: dict[str, list[str]], source: Path) -> dict[str, list[str]]:
    """The same tables read from PostgreSQL in the SQLite file's column order (papers.seq as rowid)."""
    import asyncpg

    conn = sqlite3.connect(source)
    columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info('{t}')")] for t in like if t != "sqlite_sequence"}
    conn.close()
    pg = await asyncpg.connect(url)
    try:
        out = {}
        for table, names in columns.items():
            select = ", ".join((["seq"] if table == "papers" else []) + [f'"{c}"' for c in names])
            out[table] = sorted(repr(tuple(r)) for r in await pg.fetch(f'SELECT {select} FROM "{table}"'))
        return out
    finally:
        await pg.close()


async def test_sqlite_to_postgres_and_back_keeps_every_row_and_answer(db_path: str, tmp_path: Path, server: FeedServer):
    original, back = tmp_path / "original.db", tmp_path / "back.db"
    app = await open_app(original, server)
    try:
        await fill(app, server)
        before = await answers(app)
    finally:
        await app.close()
    assert before[SEARCH].count("/paper ") == 4, before[SEARCH]
    assert "13:00" in before["/digest list"] and "Europe/Berlin" in before["/config show"]
    asked_arxiv = len(server.hits("/api/query"))

    there = careerbot("--db", str(original), "db", "copy", "--to", db_path)
    assert there.returncode == 0, there.stderr
    assert_no_password(there)
    counts = {name: int(n) for name, n in (line.split() for line in there.stdout.splitlines() if line.startswith("  "))}
    assert counts["settings_audit"] == 4 and counts["digests"] == 1 and counts["advice_votes"] == 1
    assert counts["advice_asks"] == 2 and counts["meta"] >= 2 and counts["papers"] > 20
    assert "papers_fts" not in counts and "schema_migrations" not in counts
    assert f"the paper search index was rebuilt for {counts['papers']} papers" in there.stdout

    home = careerbot("--db", db_path, "db", "copy", "--to", str(back))
    assert home.returncode == 0, home.stderr
    assert_no_password(home)
    original_rows = sqlite_rows(original)
    assert sqlite_rows(back) == original_rows  # every row, the papers' arrival order, the id high-water marks
    on_postgres = await postgres_rows(db_path, original_rows, original)
    assert on_postgres == {t: rows for t, rows in original_rows.items() if t != "sqlite_sequence"}

    for where in (db_path, back):
        app = await open_app(where, server)
        try:
            after = await answers(app)
            if where == db_path:
                assert sorted(after.pop(SEARCH).splitlines()) == sorted(before[SEARCH].splitlines())
            for line in after:
                assert after[line] == before[line], (where, line)
            mod = ConsoleSession(app, user="mo", role=Role.ADMIN)
            # #2 was used and removed before the copy: the next digest is #3 on every copy, as on the original
            added = text_of(await mod.feed("/digest add tips daily 20:00"))
            assert "Digest #3 will post" in added, added
            assert "date_format" in text_of(await mod.feed("/config set date_format dmy"))
            assert "set date_format" in text_of(await mod.feed("/config history"))
        finally:
            await app.close()
    assert len(server.hits("/api/query")) == asked_arxiv  # the copies searched the papers in their own index


def assert_no_password(out: subprocess.CompletedProcess) -> None:
    password = password_of(postgres_url() or "")
    if password:
        assert password not in out.stdout + out.stderr
        assert "***@" in out.stdout + out.stderr


def password_of(url: str) -> str | None:
    from urllib.parse import unquote, urlsplit

    secret = urlsplit(url).password
    return unquote(secret) if secret else None


async def test_a_target_that_holds_data_is_refused_and_left_alone(db_path: str, tmp_path: Path):
    source, other = tmp_path / "source.db", tmp_path / "other.db"
    for where, zone in ((source, "Europe/Berlin"), (db_path, "Asia/Tokyo"), (other, "America/New_York")):
        app = await create_app(where, clock=frozen_clock(NOW))
        try:
            await ConsoleSession(app, user="mo", role=Role.ADMIN).feed(f"/config set timezone {zone}")
        finally:
            await app.close()
    on_postgres = await postgres_rows(db_path, sqlite_rows(source), source)
    on_file = sqlite_rows(other)

    into_postgres = careerbot("--db", str(source), "db", "copy", "--to", db_path)
    assert into_postgres.returncode == 2 and "Traceback" not in into_postgres.stderr
    assert "already holds data" in into_postgres.stderr and "changed nothing" in into_postgres.stderr
    assert_no_password(into_postgres)
    into_file = careerbot("--db", db_path, "db", "copy", "--to", str(other))
    assert into_file.returncode == 2 and "already holds data" in into_file.stderr
    onto_itself = careerbot("--db", str(source), "db", "copy", "--to", str(source))
    assert onto_itself.returncode == 2 and "the target is the database being copied" in onto_itself.stderr
    missing = careerbot("--db", str(tmp_path / "typo.db"), "db", "copy", "--to", str(tmp_path / "new.db"))
    assert missing.returncode == 2 and "typo.db does not exist" in missing.stderr
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "new.db").exists()

    assert await postgres_rows(db_path, sqlite_rows(source), source) == on_postgres
    assert sqlite_rows(other) == on_file
