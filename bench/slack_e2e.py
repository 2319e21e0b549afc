"""Slack end to end: signed requests to careerbot and to a bare Bolt app, in the same run, against the local fake.

For each command and mode: requests/s (sequential), p50/p99 from the request sent to Bolt's
ack, and to the ``respond()`` message arriving at the fake's response_url. The floor is a
bare slack-bolt app that acks and responds with a constant string on the same fake, so the
ratio is what careerbot adds. Run: ``.venv/bin/python bench/slack_e2e.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler  # noqa: E402
from slack_bolt.async_app import AsyncApp  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bot.adapters.slack import SlackAdapter  # noqa: E402
from bot.config import load_config  # noqa: E402
from commands import create_app  # noqa: E402
from tests.fakes.local_http import serve  # noqa: E402
from tests.fakes.slack_server import FakeSlack  # noqa: E402

COMMANDS = {"help": "help", "advice": "advice do i need a phd for an ml internship", "paper today": "paper today"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(fake: FakeSlack, send, runs: int) -> tuple[list[float], list[float], float]:  # noqa: ANN001
    acks, answers = [], []
    started = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        ack_elapsed, response_id = await send()
        acks.append(ack_elapsed)
        await fake.wait_responses(response_id, 1, timeout=10)
        answers.append(time.perf_counter() - t0)
    return acks, answers, runs / (time.perf_counter() - started)


def bare_app(fake: FakeSlack, socket: bool) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
        signing_secret=fake.signing_secret, request_verification_enabled=not socket,
    )

    @app.command("/careerbot")
    async def constant(ack, respond) -> None:  # noqa: ANN001
        await ack()
        await respond(text="ok", response_type="ephemeral")

    return app


async def run(runs: int) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        os.environ.pop(name, None)
    print(f"{'mode':<7} {'command':<12} {'req/s':>7} {'ack p50':>8} {'ack p99':>8} {'answer p50':>11} {'answer p99':>11} {'ack p50 / floor':>16}")
    for socket in (False, True):
        async with FakeSlack() as fake:
            # The floor: a bare Bolt app on the same fake and the same transport.
            floor = bare_app(fake, socket)
            if socket:
                handler = AsyncSocketModeHandler(floor, fake.app_token)
                await handler.connect_async()
                await fake.wait_connections(1)

                async def send_floor():  # noqa: ANN202
                    ack = await fake.socket_slash_command("help")
                    return ack.elapsed, ack.response_id
            else:
                runner, root = await serve(floor.web_app(path="/slack/events"))

                async def send_floor():  # noqa: ANN202
                    ack = await fake.post_slash_command(root + "/slack/events", text="help")
                    return ack.elapsed, ack.response_id
            await measure(fake, send_floor, 10)
            floor_acks, floor_answers, floor_rate = await measure(fake, send_floor, runs)
            if socket:
                await handler.close_async()
            else:
                await runner.cleanup()
            mode = "socket" if socket else "http"
            floor_ack = pct(floor_acks, 0.5)
            print(f"{mode:<7} {'(bare Bolt)':<12} {floor_rate:>7.0f} {floor_ack:>8.2f} {pct(floor_acks, 0.99):>8.2f} "
                  f"{pct(floor_answers, 0.5):>11.2f} {pct(floor_answers, 0.99):>11.2f} {'1.00':>16}")

            with tempfile.TemporaryDirectory() as tmp:
                env = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_BASE": fake.api_url,
                       "CAREERBOT_SLACK_HOST": "127.0.0.1", "CAREERBOT_SLACK_PORT": "0"}
                env["SLACK_APP_TOKEN" if socket else "SLACK_SIGNING_SECRET"] = fake.app_token if socket else fake.signing_secret
                config = load_config(environ=env, env_file=None)
                app = await create_app(Path(tmp) / "bench.db", config=config)
                adapter = SlackAdapter(app, config)
                await app.start(background=False)
                await adapter.start()
                if socket:
                    await fake.wait_connections(2)
                try:
                    for label, text in COMMANDS.items():
                        async def send(text: str = text):  # noqa: ANN202
                            if socket:
                                ack = await fake.socket_slash_command(text)
                            else:
                                ack = await fake.post_slash_command(adapter.url, text=text)
                            return ack.elapsed, ack.response_id

                        await measure(fake, send, 10)
                        acks, answers, rate = await measure(fake, send, runs)
                        print(f"{mode:<7} {label:<12} {rate:>7.0f} {pct(acks, 0.5):>8.2f} {pct(acks, 0.99):>8.2f} "
                              f"{pct(answers, 0.5):>11.2f} {pct(answers, 0.99):>11.2f} {pct(acks, 0.5) / floor_ack:>16.2f}")
                finally:
                    await adapter.close()
                    await app.close()
    print("times in ms; 'answer' is request sent → respond() received; sequential requests on one 2-core machine")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(run(parser.parse_args().runs))
