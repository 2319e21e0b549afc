"""Discord end to end: interactions answered by careerbot and by a bare discord.py bot, in the same run, on the local fake.

For /help, /advice ask and /paper today: interactions/s (sequential) and p50/p99 from the fake
sending INTERACTION_CREATE to the interaction callback arriving. The floor is a bare
discord.py client answering every interaction with a constant string over the same fake,
so the ratio is what careerbot adds. Run: ``.venv/bin/python bench/discord_e2e.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import discord  # noqa: E402

from bot.adapters.discord import DiscordAdapter, point_at  # noqa: E402
from bot.clock import frozen_clock, iso_utc  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.storage import papers_repo  # noqa: E402
from feeds.papers import parse_arxiv_rss  # noqa: E402
from bot.models import Actor, Place, Role  # noqa: E402
from commands import create_app  # noqa: E402
from tests.fakes.fake_discord import CHANNEL_IDS, GUILD_ID, FakeDiscord, opt, sub, token_for  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "feeds"
COMMANDS = {
    "/help": ("help", []),
    "/advice ask": ("advice", [sub("ask", opt("question", "do i need a phd for an ml internship"))]),
    "/paper today": ("paper", [sub("today")]),
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(fake: FakeDiscord, name: str, options: list, runs: int) -> tuple[list[float], float]:  # noqa: ANN001
    latencies = []
    started = time.perf_counter()
    for _ in range(runs):
        sent = await fake.send_interaction(name, options, user="max")
        await sent.wait(1, timeout=10)
        latencies.append(sent.latency or 0.0)
    return latencies, runs / (time.perf_counter() - started)


async def floor(runs: int) -> tuple[list[float], float]:
    fake = FakeDiscord(token=token_for(), strict_commands=False)
    await fake.start()
    point_at(fake.base_url, fake.gateway_url)
    client = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    task = asyncio.create_task(client.start(fake.token))
    try:
        await fake.wait_ready()
        await measure(fake, "help", [], 20)
        return await measure(fake, "help", [], runs)
    finally:
        await client.close()
        await task
        await fake.stop()


async def careerbot(runs: int) -> dict[str, tuple[list[float], float]]:
    fake = FakeDiscord(token=token_for())
    await fake.start()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(environ={
            "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
            "DISCORD_GUILD_IDS": GUILD_ID,
        }, env_file=None)
        app = await create_app(Path(tmp) / "bench.db", config=config, clock=frozen_clock("2025-04-28T12:00:00+00:00"))
        adapter = DiscordAdapter(app, config, guild_ready_timeout=0.05)
        await app.start(background=False)
        await adapter.start()
        await adapter.wait_ready()
        # A day of real arXiv announcements and a channel following them, so /paper today picks one.
        parsed = parse_arxiv_rss((FIXTURES / "quant-ph_2025-04-28.xml").read_bytes())
        async with app.db.transaction() as conn:
            for item in parsed.items:
                await papers_repo.upsert(conn, item, iso_utc(app.clock.now()), announced_on=(item.published or "")[:10] or None)
        await app.handle(Actor("discord:1", "mod", Role.MODERATOR), Place("discord", GUILD_ID, CHANNEL_IDS["general"], "general"),
                         "/papers follow quant-ph")
        try:
            for label, (name, options) in COMMANDS.items():
                await measure(fake, name, options, 20)
                out[label] = await measure(fake, name, options, runs)
        finally:
            await adapter.close()
            await app.close()
            await fake.stop()
    return out


async def main(runs: int) -> None:
    floor_lat, floor_rate = await floor(runs)
    results = await careerbot(runs)
    print(f"{'command':<14} {'per s':>6} {'p50 ms':>7} {'p99 ms':>7} {'p50 / floor':>12}   ({runs} sequential interactions each)")
    print(f"{'(bare bot)':<14} {floor_rate:>6.0f} {pct(floor_lat, 0.5):>7.2f} {pct(floor_lat, 0.99):>7.2f} {'1.00':>12}")
    for label, (lat, rate) in results.items():
        print(f"{label:<14} {rate:>6.0f} {pct(lat, 0.5):>7.2f} {pct(lat, 0.99):>7.2f} {pct(lat, 0.5) / pct(floor_lat, 0.5):>12.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    asyncio.run(main(parser.parse_args().runs))
