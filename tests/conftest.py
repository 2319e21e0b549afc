"""Test harness: a real App on a fresh SQLite file per test, driven through the console adapter."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "careerbot.db"


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
