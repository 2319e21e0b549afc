"""`careerbot status`: configured parts and their health, in words, without secrets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.clock import frozen_clock, iso_utc
from bot.config import load_config
from bot.status import collect
from commands import create_app
from tests.conftest import subprocess_env

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)

NOW = datetime(2027, 1, 1, 12, tzinfo=timezone.utc)
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.secret-part-never-shown"


async def test_a_fresh_install_is_healthy_and_names_what_is_configured(db_path: Path, engine: str):
    app = await create_app(db_path, clock=frozen_clock(NOW))
    await app.close()
    config = load_config(environ={"CAREERBOT_DB": str(db_path), "DISCORD_TOKEN": TOKEN, "DISCORD_GUILD_IDS": "123456789012345678"}, env_file=None)
    status = await collect(config, NOW)
    text = "\n".join(status.lines)
    assert status.healthy, status.problems
    assert "Platforms: Discord (servers 123456789012345678)" in text and "schema version" in text and "(up to date)" in text
    assert TOKEN not in text and "secret-part" not in text
    if engine == "sqlite":
        assert "integrity OK" in text
    else:
        assert "(PostgreSQL " in text and "connection OK" in text and "Scheduled work:" in text
        password = urlsplit(str(db_path)).password
        assert password and password not in text and ":***@" in text


async def test_a_database_not_created_yet_is_said_so(db_path: Path, engine: str):
    status = await collect(load_config(environ={"CAREERBOT_DB": str(db_path)}, env_file=None), NOW)
    text = "\n".join(status.lines)
    assert status.healthy, status.problems
    if engine == "sqlite":
        assert "does not exist yet (it is created on first run)" in text
    else:
        assert "is empty (careerbot creates its tables on first run)" in text


async def test_overdue_work_waiting_posts_and_sick_feeds_need_attention(db_path: Path):
    app = await create_app(db_path, clock=frozen_clock(NOW))
    try:
        old = iso_utc(NOW - timedelta(hours=3))
        await app.db.execute("UPDATE jobs SET due_at = ?", (old,))
        await app.db.execute(
            "INSERT INTO deliveries (idem_key, platform, workspace, channel, kind, period, payload, status, not_before, "
            "created_at) VALUES ('k', 'discord', 'discord:1', '2', 'digest', 'p', '{}', 'pending', ?, ?)", (old, old),
        )
        await app.db.execute(
            "INSERT INTO feed_sources (name, kind, url, status, last_success, last_error) "
            "VALUES ('arxiv', 'arxiv-api', 'http://127.0.0.1/x', 'unhealthy', ?, 'HTTP 500 from 127.0.0.1') "
            "ON CONFLICT (name) DO UPDATE SET status = 'unhealthy', last_success = excluded.last_success, "
            "last_error = excluded.last_error", (iso_utc(NOW - timedelta(days=2)),),
        )
    finally:
        await app.close()
    status = await collect(load_config(environ={"CAREERBOT_DB": str(db_path)}, env_file=None), NOW)
    text = "\n".join(status.lines)
    assert not status.healthy
    assert any("overdue" in p for p in status.problems) and "is the bot running?" in text
    assert "the oldest waiting since 3 h ago" in text
    assert "arxiv: unhealthy, last success 2 days ago: HTTP 500" in text
    assert "feed arxiv is unhealthy" in status.problems


def test_careerbot_status_on_the_command_line(tmp_path: Path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    env = subprocess_env()
    db = str(tmp_path / "s.db")
    run = lambda *a: subprocess.run([sys.executable, "-m", "bot", "--db", db, *a], capture_output=True, text=True,  # noqa: E731
                                    cwd=repo, env=env, timeout=60)
    assert run("console", "-c", "/help").returncode == 0
    out = run("status")
    assert out.returncode == 0, out.stderr
    assert "Platforms: none configured" in out.stdout and out.stdout.rstrip().endswith("All healthy.")


def test_an_unreachable_postgres_is_a_problem_shown_without_its_password(tmp_path: Path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    url = "postgresql://careerbot:Sup3r-Secret-Pw@127.0.0.1:9/careerbot"  # nothing listens on port 9
    out = subprocess.run([sys.executable, "-m", "bot", "--db", url, "status"], capture_output=True, text=True,
                         cwd=repo, env=subprocess_env(), timeout=60)
    assert out.returncode == 1, out.stderr
    assert "Database: cannot connect to the database postgresql://careerbot:***@127.0.0.1:9/careerbot" in out.stdout
    assert "the database cannot be reached" in out.stdout and "Traceback" not in out.stderr
    assert "Sup3r-Secret-Pw" not in out.stdout + out.stderr
