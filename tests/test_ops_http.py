"""`careerbot serve` with CAREERBOT_HTTP_PORT: /healthz and /metrics, against the local fakes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.clock import frozen_clock
from bot.config import load_config
from bot.serve import Server
from commands import create_app
from tests.fakes.fake_discord import GUILD_ID, FakeDiscord, opt, sub
from tests.fakes.slack_server import FakeSlack

START = "2026-01-05T08:00:00+00:00"


async def get(url: str) -> tuple[int, str, dict]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        body = await resp.text()
        return resp.status, body, dict(resp.headers)


def opener(db: Path):  # noqa: ANN201
    return lambda config: create_app(db, clock=frozen_clock(START), config=config)


@pytest.fixture
async def discord_server(fake: FakeDiscord, db_path: Path) -> AsyncIterator[Server]:
    config = load_config(environ={
        "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DISCORD_GUILD_IDS": GUILD_ID, "CAREERBOT_HTTP_PORT": "0", "CAREERBOT_HTTP_HOST": "127.0.0.1",
    }, env_file=None)
    server = Server(config, opener(db_path), discord={"guild_ready_timeout": 0.05})
    await server.start()
    await server.adapters["discord"].wait_ready(10)
    yield server
    await server.stop()


async def test_healthz_is_200_when_everything_is_up_and_names_each_part(discord_server: Server):
    status, body, _ = await get(discord_server.ops.url + "/healthz")
    assert status == 200, body
    doc = json.loads(body)
    assert doc["status"] == "ok" and doc["unhealthy"] == []
    assert doc["checks"] == {"process": "ok", "database": "ok", "discord": "ok", "sources": "ok"}


async def test_healthz_is_503_naming_a_sick_feed_and_a_lost_gateway(discord_server: Server):
    app = discord_server.app
    await app.db.execute(
        "INSERT INTO feed_sources (name, kind, url, status) VALUES ('arxiv-test', 'arxiv-api', 'http://127.0.0.1/', 'unhealthy')"
    )
    status, body, _ = await get(discord_server.ops.url + "/healthz")
    doc = json.loads(body)
    assert status == 503 and doc["unhealthy"] == ["sources"] and "arxiv-test" in doc["checks"]["sources"]
    await discord_server.adapters["discord"].client.close()  # the gateway goes away
    status, body, _ = await get(discord_server.ops.url + "/healthz")
    doc = json.loads(body)
    assert status == 503 and "discord" in doc["unhealthy"] and doc["checks"]["discord"] == "not connected"


async def test_metrics_count_commands_by_name_and_outcome_in_prometheus_format(discord_server: Server, fake: FakeDiscord):
    sent = await fake.send_interaction("help", [], user="max")
    await sent.wait(1)
    sent = await fake.send_interaction("advice", [sub("topic", opt("name", "zzzqqq"))], user="max")
    await sent.wait(1)
    status, body, headers = await get(discord_server.ops.url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    assert 'careerbot_commands_total{command="help",outcome="info"} 1.0' in body
    assert 'careerbot_commands_total{command="advice topic",outcome="error"} 1.0' in body
    assert 'careerbot_command_seconds_bucket{command="help",le="0.5"} 1.0' in body
    assert 'careerbot_queue_depth{platform="discord"} 0.0' in body
    assert "careerbot_scheduler_lag_seconds " in body
    assert 'careerbot_posts_total{platform="discord",result="delivered"}' in body


async def test_with_slack_over_http_the_endpoints_share_its_port(db_path: Path):
    async with FakeSlack(users={"U1": {}}) as fake:
        config = load_config(environ={
            "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": fake.signing_secret, "SLACK_API_BASE": fake.api_url,
            "CAREERBOT_SLACK_HOST": "127.0.0.1", "CAREERBOT_SLACK_PORT": "0", "CAREERBOT_HTTP_PORT": "0",
        }, env_file=None)
        server = Server(config, opener(db_path))
        await server.start()
        try:
            assert server.ops is None  # no second listener
            slack_url = server.adapters["slack"].url
            status, body, _ = await get(slack_url.replace("/slack/events", "/healthz"))
            assert status == 200 and '"slack": "ok"' in body
        finally:
            await server.stop()


def test_a_bad_http_port_is_refused_by_name():
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="CAREERBOT_HTTP_PORT='http' must be a port number"):
        load_config(environ={"CAREERBOT_HTTP_PORT": "http"}, env_file=None)
