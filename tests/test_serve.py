"""``careerbot serve`` as a person runs it: a real process, configured by environment, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import pytest

from tests.fakes.slack_server import FakeSlack
from tests.conftest import subprocess_env

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_serve(tmp_path: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    clean = subprocess_env(**env, CAREERBOT_DB=str(tmp_path / "serve.db"), CAREERBOT_LOG_LEVEL="INFO")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=clean,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    return process.returncode or 0, err.decode()


async def until(check, timeout: float = 20.0):  # noqa: ANN001, ANN201
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = await check()
            if result:
                return result
        except OSError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("careerbot serve did not answer in time")
        await asyncio.sleep(0.1)


async def test_serve_answers_slack_over_http_and_stops_cleanly(tmp_path: Path):
    async with FakeSlack() as fake:
        port = free_port()
        process = await start_serve(tmp_path, {
            "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": fake.signing_secret,
            "SLACK_API_BASE": fake.api_url, "CAREERBOT_SLACK_HOST": "127.0.0.1", "CAREERBOT_SLACK_PORT": str(port),
        })
        url = f"http://127.0.0.1:{port}/slack/events"

        async def answered():  # noqa: ANN202
            ack = await fake.post_slash_command(url, text="advice do i need a phd", timeout=2)
            return ack if ack.status == 200 else None

        try:
            ack = await until(answered)
            [answer] = await fake.wait_responses(ack.response_id, 1, timeout=10)
            assert "PhD" in str(answer["blocks"])
        finally:
            code, err = await stop(process)
        assert code == 0, err
        assert fake.bot_token not in err  # secrets never reach the log


async def test_serve_answers_slack_over_socket_mode(tmp_path: Path):
    async with FakeSlack() as fake:
        process = await start_serve(tmp_path, {
            "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_APP_TOKEN": fake.app_token, "SLACK_API_BASE": fake.api_url,
        })
        try:
            await fake.wait_connections(1, timeout=20)
            ack = await fake.socket_slash_command("advice do i need a phd")
            assert ack.acked
            [answer] = await fake.wait_responses(ack.response_id, 1, timeout=10)
            assert "PhD" in str(answer["blocks"])
        finally:
            code, err = await stop(process)
        assert code == 0, err


async def test_serve_without_tokens_says_what_to_set(tmp_path: Path):
    process = await start_serve(tmp_path, {})
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert "no platform is configured" in err.decode() and "DISCORD_TOKEN" in err.decode()


@pytest.mark.parametrize("env, message", [
    ({"DISCORD_TOKEN": "x", "DISCORD_GUILD_IDS": "general"}, "DISCORD_GUILD_IDS must be"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "CAREERBOT_SLACK_PORT": "http"}, "CAREERBOT_SLACK_PORT"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_COMMAND": "careerbot"}, "SLACK_COMMAND"),
    ({"DISCORD_TOKEN": "x", "DISCORD_GATEWAY_URL": "http://example"}, "DISCORD_GATEWAY_URL"),
])
async def test_bad_settings_stop_start_up_naming_the_variable(tmp_path: Path, env, message):
    process = await start_serve(tmp_path, env)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2 and message in err.decode()


async def test_serve_answers_discord(tmp_path: Path):
    from tests.fakes.fake_discord import GUILD_ID, FakeDiscord, opt, sub, token_for

    fake = FakeDiscord(token=token_for())
    await fake.start()
    try:
        process = await start_serve(tmp_path, {
            "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
            "DISCORD_GUILD_IDS": GUILD_ID,
        })
        try:
            await fake.wait_synced(1, timeout=20)
            sent = await fake.send_interaction("advice", [sub("ask", opt("question", "do i need a phd"))], user="max")
            [answer] = await sent.wait(1, timeout=10)
            assert "PhD" in str(answer.data)
        finally:
            code, err = await stop(process)
        assert code == 0, err
        assert fake.token not in err
    finally:
        await fake.stop()


async def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    clean = subprocess_env(**env, CAREERBOT_DB=str(tmp_path / "cli.db"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=tmp_path, env=clean,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode(), err.decode()


async def test_discord_invite_and_sync_commands(tmp_path: Path):
    from tests.fakes.fake_discord import APP_ID, GUILD_ID, FakeDiscord, token_for

    code, out, _ = await run_cli(tmp_path, {"DISCORD_TOKEN": token_for()}, "discord", "invite")
    assert code == 0 and f"client_id={APP_ID}" in out and "scope=bot+applications.commands" in out
    fake = FakeDiscord(token=token_for())
    await fake.start()
    try:
        env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url}
        code, out, err = await run_cli(tmp_path, env, "discord", "sync", "--guild", GUILD_ID)
        assert code == 0, err
        assert f"server {GUILD_ID}" in out and fake.syncs == 1
        assert {c["name"] for c in fake.commands[GUILD_ID]} >= {"advice", "paper", "digest"}
        code, _, err = await run_cli(tmp_path, {**env, "DISCORD_TOKEN": token_for() + "x"}, "discord", "sync")
        assert code == 2 and "could not log in to Discord" in err and "Traceback" not in err
    finally:
        await fake.stop()
    code, _, err = await run_cli(tmp_path, {}, "discord", "invite")
    assert code == 2 and "DISCORD_TOKEN is not set" in err
