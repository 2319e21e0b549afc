"""Test harness: a real App on a fresh SQLite file per test, driven through the console adapter.

Modules marked ``pytestmark = pytest.mark.both_engines`` run every test that uses ``db_path``
twice: on a SQLite file and on PostgreSQL, in a schema of its own (``db_path`` is then a
``postgresql://`` URL). PostgreSQL comes from the environment ``make test`` sets up with
``pg_virtualenv`` (PGHOST, PGPORT, …) or from ``CAREERBOT_TEST_POSTGRES``; without either, the
PostgreSQL half is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import secrets
import socket
from urllib.parse import quote
from pathlib import Path
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.adapters.console import ConsoleSession
from bot.app import App
from bot.clock import frozen_clock
from bot.models import Role
from commands import create_app
from tests.fakes.feed_server import FeedServer

pytest_plugins = ["pytester", "tests.discord_fixtures"]

REPO = Path(__file__).resolve().parent.parent


class Console:
    """Types lines into a ConsoleSession and hands back what the user would see."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.session = ConsoleSession(app, user="ada", role=Role.MEMBER)

    async def say(self, line: str) -> dict[str, Any]:
        events = await self.session.feed(line)
        assert len(events) == 1, events
        return events[0]["reply"]

    async def posts(self, line: str) -> list[dict[str, Any]]:
        """Runs a line (typically :tick) and returns the scheduled posts it produced, in order."""
        events = await self.session.feed(line)
        assert events[-1]["type"] in ("reply", "meta"), events
        return [e for e in events if e["type"] == "post"]

    async def text(self, line: str) -> str:
        reply = await self.say(line)
        parts = [reply["text"]]
        for card in reply["cards"]:
            parts += [card["title"], card["body"], card["footer"]]
            parts += [f"{f['name']}: {f['value']}" for f in card["fields"]]
        return "\n".join(p for p in parts if p)


_real_getaddrinfo = socket.getaddrinfo
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def _loopback_only(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """Tests talk to 127.0.0.1 only: a name that would need DNS is a test bug, caught here."""
    name = host.decode() if isinstance(host, bytes) else (host or "")
    if name and name not in _LOOPBACK:
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {name!r} (loopback only)") from None
    return _real_getaddrinfo(host, *args, **kwargs)


# The in-process guard above cannot reach a bot started as a subprocess: these point its paper
# feeds at a loopback port nothing listens on, so a poll is refused at once instead of waiting
# on DNS (which also held a closing console for a minute, in the default executor).
OFFLINE_FEEDS = {
    name: "http://127.0.0.1:9/"
    for name in ("CAREERBOT_ARXIV_API_URL", "CAREERBOT_ARXIV_RSS_URL", "CAREERBOT_HF_PAPERS_URL", "CAREERBOT_PWC_API_URL")
}


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a careerbot subprocess: none of the caller's settings, loopback feeds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREERBOT_", "DISCORD_", "SLACK_"))}
    return env | OFFLINE_FEEDS | extra


@pytest.fixture(autouse=True, scope="session")
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """The advice index cache goes to this run's own directory, never the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only)


def postgres_url() -> str | None:
    """The throwaway server's URL, or None when this run has none."""
    url = os.environ.get("CAREERBOT_TEST_POSTGRES")
    if url:
        return url
    if not os.environ.get("PGHOST") or not os.environ.get("PGPORT"):
        return None
    user = quote(os.environ.get("PGUSER", "postgres"), safe="")
    password = quote(os.environ.get("PGPASSWORD", ""), safe="")
    auth = f"{user}:{password}" if password else user
    return f"postgresql://{auth}@{os.environ['PGHOST']}:{os.environ['PGPORT']}/{os.environ.get('PGDATABASE', 'postgres')}"


NO_POSTGRES = (
    "PostgreSQL tests skipped: no server for this run (`make test` starts one with pg_virtualenv from "
    "Debian's postgresql-common; install it with `apt-get install postgresql`, or set CAREERBOT_TEST_POSTGRES)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_engines: run the module's db_path tests on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_path" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        postgres = pytest.param("postgres", marks=[] if postgres_url() else [pytest.mark.skip(reason=NO_POSTGRES)])
        metafunc.parametrize("engine", ["sqlite", postgres], indirect=True)


def pytest_report_header(config: pytest.Config) -> str:
    url = postgres_url()
    if url is None:
        return NO_POSTGRES
    from bot.storage.postgres import redact_url

    return f"PostgreSQL for both_engines tests: {redact_url(url)}"


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


async def admin_sql(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@contextlib.asynccontextmanager
async def postgres_schema(base: str | None = None, prefix: str = "t") -> AsyncIterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards (tests, benches)."""
    base = base or postgres_url()
    if base is None:
        raise RuntimeError(NO_POSTGRES)
    schema = f"{prefix}_{secrets.token_hex(6)}"
    await admin_sql(base, f"CREATE SCHEMA {schema}")
    try:
        yield in_schema(base, schema)
    finally:
        await admin_sql(base, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def db_path(tmp_path: Path, engine: str):
    """A fresh database: a SQLite file, or an empty PostgreSQL schema of this test's own."""
    if engine == "sqlite":
        yield tmp_path / "careerbot.db"
        return
    base = postgres_url() or ""
    schema = f"t_{secrets.token_hex(6)}"
    asyncio.run(admin_sql(base, f"CREATE SCHEMA {schema}"))
    try:
        yield in_schema(base, schema)
    finally:
        asyncio.run(admin_sql(base, f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
async def app(db_path: Path):
    application = await create_app(db_path, clock=frozen_clock())
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def console(app: App) -> Console:
    return Console(app)


@pytest.fixture
async def server():
    """A local HTTP server serving the real sample payloads (tests/fixtures/feeds)."""
    feed_server = FeedServer()
    await feed_server.start()
    yield feed_server
    await feed_server.stop()
