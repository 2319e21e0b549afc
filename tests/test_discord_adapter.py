"""careerbot on Discord, end to end: the real discord.py over real sockets to a local fake of Discord."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord_rest import DiscordRestTransport
from bot.clock import frozen_clock
from bot.config import load_config
from bot.delivery import RateLimiter, Target
from bot.models import Reply
from bot.storage import delivery_repo
from commands import create_app
from tests.fakes.fake_discord import CHANNEL_IDS, GUILD_ID, USER_IDS, FakeDiscord, opt, sub
from tests.fakes.fake_time import FakeTime

START = "2026-01-05T08:00:00+00:00"
GENERAL, MENTORS = CHANNEL_IDS["general"], CHANNEL_IDS["mentors"]


class Bot:
    def __init__(self, app, adapter: DiscordAdapter, ticks: FakeTime) -> None:  # noqa: ANN001
        self.app, self.adapter, self.ticks = app, adapter, ticks

    async def close(self) -> None:
        await self.adapter.close()
        await self.app.close()


async def start_bot(fake: FakeDiscord, db: Path, at: str = START, **options) -> Bot:  # noqa: ANN003
    config = load_config(environ={
        "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DISCORD_GUILD_IDS": GUILD_ID,
    }, env_file=None)
    app = await create_app(db, clock=frozen_clock(at), config=config)
    transport = DiscordRestTransport(fake.token, base_url=fake.base_url)
    ticks = FakeTime()
    app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=1)
    adapter = DiscordAdapter(app, config, guild_ready_timeout=0.05, transport=transport, **options)
    await app.start(background=False)
    await adapter.start()
    await adapter.wait_ready(10)
    return Bot(app, adapter, ticks)


@pytest.fixture
async def bot(fake: FakeDiscord, db_path: Path) -> AsyncIterator[Bot]:
    running = await start_bot(fake, db_path)
    yield running
    await running.close()


def everything(responses) -> str:  # noqa: ANN001
    return json.dumps([r.data for r in responses])


async def ask(fake: FakeDiscord, name: str, options: list, user: str = "max", count: int = 1, **kw):  # noqa: ANN001, ANN003, ANN201
    sent = await fake.send_interaction(name, options, user=user, **kw)
    return await sent.wait(count)


async def test_the_synced_tree_is_the_registry_and_is_sent_only_when_it_changes(fake, db_path):
    first = await start_bot(fake, db_path)
    await first.close()
    names = {c["name"] for c in fake.commands[GUILD_ID]}
    assert names == {"help", "config", "me", "advice", "digest", "paper", "papers", "postings", "alerts", "studygroup", "checkin", "streak", "leaderboard"}
    assert fake.syncs == 1
    second = await start_bot(fake, db_path)  # a restart with the same tree: no sync request
    await second.close()
    assert fake.syncs == 1


async def test_advice_is_answered_publicly_with_buttons_and_pings_nobody(fake, bot):
    [answer] = await ask(fake, "advice", [sub("ask", opt("question", "@everyone do i need a phd"))])
    assert answer.type == 4 and not answer.flags & 64
    text = everything([answer])
    assert "PhD" in text and "/advice topic" in text
    assert answer.data["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in text
    buttons = [c for row in answer.data.get("components", []) for c in row["components"]]
    see_also = [b for b in buttons if b["custom_id"].startswith("cb1:advice.topic")]
    votes = [b for b in buttons if b["custom_id"].startswith("cb1:advice.vote")]
    assert see_also and [b["label"] for b in votes] == ["👍 Helpful", "👎 Not helpful"]
    assert len(see_also) + len(votes) == len(buttons)
    # 👎 pressed by someone else in the channel: thanked privately, counted once, stored without a name
    [thanks] = await (await fake.send_component(votes[1]["custom_id"], user="mia")).wait(1)
    assert thanks.flags & 64 and "noted. Moderators see which answers miss" in everything([thanks])
    rows = await bot.app.db.fetchall("SELECT vote, voter FROM advice_votes")
    assert [r["vote"] for r in rows] == [-1] and "mia" not in rows[0]["voter"]


async def test_every_command_family_round_trips(fake, bot):
    [help_] = await ask(fake, "help", [])
    assert help_.flags & 64 and "/advice ask" in everything([help_])  # Discord names default subcommands in full
    [topics] = await ask(fake, "advice", [sub("topics")])
    assert "interview-process" in everything([topics])
    [today] = await ask(fake, "paper", [sub("today")])
    assert "follows no arXiv categories" in everything([today])
    [listed] = await ask(fake, "digest", [sub("list")])
    assert "No digests yet" in everything([listed])
    [shown] = await ask(fake, "config", [sub("show")], user="mia")  # Manage Server: a moderator
    assert shown.flags & 64 and "timezone = UTC" in everything([shown])
    [bad] = await ask(fake, "digest", [sub("remove", opt("id", 99))], user="mia")
    assert bad.flags & 64 and "There is no digest #99" in everything([bad])


async def test_moderators_by_permission_bits_and_by_mod_roles(fake, bot):
    with pytest.raises(PermissionError):  # Discord does not even offer /config to a member
        await fake.send_interaction("config", [sub("show")], user="max")
    [refused] = await ask(fake, "digest", [sub("add", opt("contents", "tips"), opt("schedule", "daily 09:00"))], user="mo")
    assert refused.flags & 64 and "is for moderators" in everything([refused])
    [set_] = await ask(fake, "config", [sub("set", opt("key", "mod_roles"), opt("value", "<@&1100000000000000012>"))], user="ada")
    assert "mod_roles" in everything([set_])
    [added] = await ask(fake, "digest", [sub("add", opt("contents", "tips"), opt("schedule", "daily 09:00"), opt("channel", "jobs"))], user="mo")
    assert "Digest #1 will post tips in #jobs" in everything([added])


async def test_autocomplete_answers_from_the_core(fake, bot):
    sent = await fake.send_autocomplete("advice", [sub("topic", opt("name", "myth"))], focused="name", user="max")
    [result] = await sent.wait(1)
    assert result.type == 8
    names = [c["value"] for c in result.data["choices"]]
    assert "myths-phd-required" in names and len(names) <= 25


async def test_autocomplete_offers_this_servers_digests_as_numbers(fake, bot):
    await ask(fake, "digest", [sub("add", opt("contents", "tips"), opt("schedule", "daily 09:00"))], user="mia")
    sent = await fake.send_autocomplete("digest", [sub("remove", opt("id", ""))], focused="id", user="mia")
    [result] = await sent.wait(1)
    assert result.data["choices"] == [{"name": "#1 · tips · daily 09:00 · #general", "value": 1}]


async def test_a_slow_command_is_deferred_then_followed_up(fake, bot):
    sent = await fake.send_interaction("paper", [sub("search", opt("query", "retrieval augmented generation"))], user="max")
    deferred, followup = await sent.wait(2, timeout=10)
    assert deferred.type == 5 and followup.kind == "followup"
    assert "retrieval augmented generation" in everything([followup])
    assert sent.rejected == []


async def test_a_button_click_runs_as_the_clicker(fake, bot):
    await ask(fake, "digest", [sub("add", opt("contents", "tips"), opt("schedule", "daily 09:00"))], user="mia")
    [listed] = await ask(fake, "digest", [sub("list")], user="max")
    [pause] = [c for row in listed.data["components"] for c in row["components"]]
    assert pause["custom_id"] == "cb1:digest.pause?id=1"
    refused = await (await fake.send_component(pause["custom_id"], user="max")).wait(1)
    assert refused[0].flags & 64 and "is for moderators" in everything(refused)
    paused = await (await fake.send_component(pause["custom_id"], user="mia")).wait(1)
    assert "Digest #1 is paused" in everything(paused)


async def test_a_scheduled_digest_reaches_the_channel(fake, bot):
    await ask(fake, "digest", [sub("add", opt("contents", "tips"), opt("schedule", "daily 09:00"), opt("channel", "general"))], user="mia")
    await bot.app.clock.advance(timedelta(hours=1))
    [posted] = fake.in_channel(GENERAL)
    assert posted["content"].startswith("**Digest #1**") and posted["embeds"][0]["title"].startswith("Tip of the day")


async def test_a_dm_reaches_the_user(fake, bot):
    await bot.app.outbox.post(Target.user("discord", f"discord:{GUILD_ID}", USER_IDS["max"], "max"), "alert", "p1", Reply(text="New posting"))
    await bot.app.outbox.drain()
    assert [m["content"] for m in fake.dms_to(USER_IDS["max"])] == ["New posting"]


async def test_a_429_on_a_post_is_paced_with_nothing_lost_or_duplicated(fake, bot):
    fake.fail_next[GENERAL] = [429]
    await bot.app.outbox.post(Target("discord", f"discord:{GUILD_ID}", GENERAL, "general"), "notice", "n1", Reply(text="once"))
    await bot.app.outbox.drain()
    assert [m["content"] for m in fake.in_channel(GENERAL)] == ["once"]
    assert fake.rate_limited == 1 and await delivery_repo.counts(bot.app.db, "discord") == {"sent": 1}


async def test_missing_access_stops_retries_and_tells_moderators(fake, bot):
    # #mentors is hidden from the bot: /digest add refuses it up front ...
    [refused] = await ask(fake, "digest", [sub("add", opt("contents", "tips"), opt("schedule", "daily 09:00"), opt("channel", "mentors"))], user="mia")
    assert "can't post in #mentors" in everything([refused])
    # ... and a post that gets there anyway fails for good, and a moderator hears of it once, privately.
    await bot.app.outbox.post(Target("discord", f"discord:{GUILD_ID}", MENTORS, "mentors"), "notice", "n1", Reply(text="hi"))
    await bot.app.outbox.drain()
    assert await delivery_repo.counts(bot.app.db, "discord") == {"failed": 1}
    assert len(fake.calls_to("POST", f"/channels/{MENTORS}/messages")) == 1
    [reply, notice] = await ask(fake, "digest", [sub("list")], user="mia", count=2)
    assert "Moderator notice" not in everything([reply])
    assert notice.flags & 64 and "cannot see the channel" in everything([notice])


async def test_the_gateway_resumes_after_a_dropped_connection(fake, bot):
    await fake.drop_connection()
    await fake.wait_resumed(1)
    [answer] = await ask(fake, "advice", [sub("topics")])
    assert "interview-process" in everything([answer])


async def test_answers_stay_within_discords_deadline(fake, bot):
    sent = await fake.send_interaction("advice", [sub("ask", opt("question", "how do i find an internship"))], user="max")
    await sent.wait(1)
    assert sent.rejected == [] and sent.latency is not None and sent.latency < 3.0
