"""careerbot on Slack, end to end: the real slack-bolt and slack-sdk against a local fake of Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.slack import SlackAdapter, SlackTransport
from bot.clock import frozen_clock
from bot.config import load_config
from bot.delivery import RateLimiter, Target
from bot.models import Reply
from bot.storage import delivery_repo
from commands import create_app
from tests.fakes.fake_time import FakeTime
from tests.fakes.slack_server import FakeSlack

START = "2026-01-05T08:00:00+00:00"
ADMIN, MEMBER, ANA = "U0ADMIN", "U0USER", "U0ANA"


@pytest.fixture(autouse=True)
def no_slack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(users={ADMIN: {"is_admin": True}, MEMBER: {}, ANA: {}, "U7": {}, "U8": {}}) as server:
        yield server


def slack_config(fake: FakeSlack, db: Path, socket: bool = False):  # noqa: ANN201
    env = {
        "CAREERBOT_DB": str(db), "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_BASE": fake.api_url,
        "CAREERBOT_SLACK_HOST": "127.0.0.1", "CAREERBOT_SLACK_PORT": "0",
    }
    env["SLACK_APP_TOKEN" if socket else "SLACK_SIGNING_SECRET"] = fake.app_token if socket else fake.signing_secret
    return load_config(environ=env, env_file=None)


class Bot:
    def __init__(self, app, adapter: SlackAdapter, ticks: FakeTime) -> None:  # noqa: ANN001
        self.app, self.adapter, self.ticks = app, adapter, ticks


async def start_bot(fake: FakeSlack, db: Path, socket: bool = False, transport_cls=SlackTransport, at: str = START) -> Bot:  # noqa: ANN001
    config = slack_config(fake, db, socket)
    app = await create_app(db, clock=frozen_clock(at), config=config)
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    transport = transport_cls(client)
    ticks = FakeTime()
    app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=1)
    adapter = SlackAdapter(app, config, client=client)
    await app.start(background=False)
    await adapter.start()
    if socket:
        await fake.wait_connections(1)
    return Bot(app, adapter, ticks)


@pytest.fixture
async def bot(fake: FakeSlack, db_path: Path) -> AsyncIterator[Bot]:
    running = await start_bot(fake, db_path)
    yield running
    await running.adapter.close()
    await running.app.close()


async def command(fake: FakeSlack, bot: Bot, text: str, user: str = MEMBER, **fields) -> list[dict]:  # noqa: ANN003
    ack = await fake.post_slash_command(bot.adapter.url, text=text, user_id=user, **fields)
    assert ack.status == 200, ack.body
    return await fake.wait_responses(ack.response_id, 1)


def shown(response: dict) -> str:
    return json.dumps(response["blocks"]) + response["text"]


async def test_a_signed_question_is_acknowledged_then_answered(fake, bot):
    ack = await fake.post_slash_command(bot.adapter.url, text="advice do i need a phd")
    assert ack.status == 200 and ack.elapsed < 1.0
    [answer] = await fake.wait_responses(ack.response_id, 1)
    assert answer["response_type"] == "in_channel" and "PhD" in shown(answer)
    assert "/careerbot advice topic" in shown(answer)  # command names as Slack users type them
    assert fake.errors == [] and fake.warnings == []


@pytest.mark.parametrize("how", [{"bad_signature": True}, {"age": 360}])
async def test_bad_or_stale_signatures_are_refused(fake, bot, how):
    ack = await fake.post_slash_command(bot.adapter.url, text="help", **how)
    assert ack.status == 401
    assert fake.responses == []


async def test_every_command_family_answers(fake, bot):
    empty = await command(fake, bot, "")
    assert empty[0]["response_type"] == "ephemeral" and "/careerbot help" in shown(empty[0])  # /careerbot alone: help
    for text, expect in [
        ("advice topics", "interview-process"),
        ("paper today", "follows no arXiv categories"),
        ("digest list", "No digests yet"),
        ("help digest", "/careerbot digest add"),
    ]:
        [reply] = await command(fake, bot, text)
        assert expect in shown(reply), (text, shown(reply))
    [refused] = await command(fake, bot, "config show")
    assert refused["response_type"] == "ephemeral" and "is for moderators" in shown(refused)
    [config] = await command(fake, bot, "config show", user=ADMIN)  # a workspace admin, from users.info
    assert "timezone = UTC" in shown(config)
    assert fake.errors == []


async def test_moderators_by_mention_and_ephemeral_errors(fake, bot):
    [done] = await command(fake, bot, "config set mod_users <@U0ANA|ana>", user=ADMIN)
    assert "mod_users" in shown(done)
    [shown_to_ana] = await command(fake, bot, "config show", user=ANA)
    assert "timezone = UTC" in shown(shown_to_ana)
    [error] = await command(fake, bot, "digest add nonsense daily 09:00", user=ANA)
    assert error["response_type"] == "ephemeral" and "not something a digest can contain" in shown(error)


async def test_a_user_group_in_mod_roles_makes_moderators(fake, bot):
    fake.usergroups["S0MENTORS"] = {"handle": "mentors", "users": ["U8"]}
    [refused] = await command(fake, bot, "config show", user="U8")
    assert "is for moderators" in shown(refused)
    assert not fake.calls("usergroups.list")  # not read until a workspace uses mod_roles
    await command(fake, bot, "config set mod_roles <!subteam^S0MENTORS|@mentors>", user=ADMIN)
    [allowed] = await command(fake, bot, "config show", user="U8")
    assert "timezone = UTC" in shown(allowed)
    [still_member] = await command(fake, bot, "config show", user="U7")
    assert "is for moderators" in shown(still_member)


async def test_a_button_click_runs_as_the_clicker(fake, bot):
    await command(fake, bot, "digest add tips daily 09:00", user=ADMIN)
    [listed] = await command(fake, bot, "digest list")
    pause = next(e for b in listed["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert pause["action_id"] == "cb1:digest.pause?id=1"
    member = await fake.post_interaction(bot.adapter.url, action_id=pause["action_id"], value=pause["value"], user_id=MEMBER)
    [refused] = await fake.wait_responses(member.response_id, 1)
    assert refused["response_type"] == "ephemeral" and "is for moderators" in shown(refused)
    admin = await fake.post_interaction(bot.adapter.url, action_id=pause["action_id"], value=pause["value"], user_id=ADMIN)
    [paused] = await fake.wait_responses(admin.response_id, 1)
    assert "Digest #1 is paused" in shown(paused)


async def test_a_digest_reaches_chat_post_message_with_its_key_in_metadata(fake, bot):
    await command(fake, bot, "digest add tips daily 09:00", user=ADMIN, channel_id="C0NEWS", channel_name="news")
    await bot.app.clock.advance(timedelta(hours=1))
    [posted] = fake.in_channel("C0NEWS")
    key = posted["metadata"]["event_payload"]["key"]
    assert key.startswith("slack|slack:T0FAKE|C0NEWS|digest-1|") and posted["metadata"]["event_type"] == "careerbot_post"
    assert "Tip of the day" in shown(posted) and fake.errors == []


async def test_hostile_text_in_a_post_is_shown_literally(fake, bot):
    # What a moderator typed (Slack escapes it on the way in) and what a feed could carry.
    typed = "&lt;!channel&gt; &lt;@U1&gt; &lt;http://evil.example|bank&gt; &amp;lt; hi"
    await command(fake, bot, f"config set digest_quiet_line {typed}", user=ADMIN)
    await bot.app.outbox.post(
        Target("slack", "slack:T0FAKE", "C0GENERAL", "general"), "notice", "n1",
        Reply(text="<!channel> <!here> <@U1> <http://evil.example|bank> &lt;"),
    )
    await bot.app.outbox.drain()
    assert await bot.app.settings.get(bot.adapter.place("T0FAKE", "C0GENERAL"), "digest_quiet_line") == (
        "<!channel> <@U1> <http://evil.example|bank> &lt; hi"  # stored as the moderator wrote it
    )
    [posted] = fake.in_channel("C0GENERAL")
    text = shown(posted)
    for bad in ("<!channel>", "<!here>", "<@U1>", "<http://evil.example|bank>"):
        assert bad not in text
    assert "&amp;lt;" in text and fake.errors == []


async def test_a_dm_opens_the_conversation_first(fake, bot):
    await bot.app.outbox.post(Target.user("slack", "slack:T0FAKE", "U7", "ana"), "alert", "p1", Reply(text="New posting"))
    await bot.app.outbox.drain()
    [dm] = fake.dms_to("U7")
    assert dm["text"] == "New posting" and fake.calls("conversations.open")


async def test_a_429_pauses_and_nothing_is_lost_or_duplicated(fake, bot):
    fake.rate_limit_next["chat.postMessage"] = [3]
    await bot.app.outbox.post(Target("slack", "slack:T0FAKE", "C0GENERAL", "general"), "notice", "n1", Reply(text="once"))
    await bot.app.outbox.drain()
    assert [m["text"] for m in fake.in_channel("C0GENERAL")] == ["once"]
    assert fake.rate_limited == 1 and bot.ticks.now >= 3.0  # waited Retry-After before trying again
    assert await delivery_repo.counts(bot.app.db, "slack") == {"sent": 1}


async def test_not_in_channel_stops_retries_and_tells_moderators(fake, bot):
    fake.not_in_channel.add("C0SECRET")
    await command(fake, bot, "config set mod_channel <#C0MODS|mods>", user=ADMIN)
    await command(fake, bot, "digest add tips daily 09:00", user=ADMIN, channel_id="C0SECRET", channel_name="secret")
    await bot.app.clock.advance(timedelta(hours=1))
    assert fake.in_channel("C0SECRET") == []
    [notice] = fake.in_channel("C0MODS")
    assert "not a member of the channel" in shown(notice)
    assert len(fake.calls("chat.postMessage")) == 2  # one refused post, one notice: no retries
    [listed] = await command(fake, bot, "digest list")
    assert "paused" in shown(listed)


async def test_mentions_and_dms_are_answered_like_the_command(fake, bot):
    ack = await fake.post_event(bot.adapter.url, event=fake.app_mention("advice is kaggle worth it"))
    assert ack.status == 200
    [answer] = await fake.wait_messages("C0GENERAL", 1)
    assert answer["thread_ts"] and "Kaggle" in shown(answer)
    ack = await fake.post_event(bot.adapter.url, event=fake.im_message("advice topics", user_id="U8"))
    assert ack.status == 200
    [dm] = await fake.wait_for(lambda: fake.dms_to("U8") or None)
    assert "interview-process" in shown(dm)


class Crash(BaseException):
    """Stands in for the process dying (not an Exception: nothing in the bot may catch it)."""


class CrashAfterSend(SlackTransport):
    """Slack accepts the post, then the process dies before recording it."""

    async def send(self, target, reply, key):  # noqa: ANN001, ANN201
        await super().send(target, reply, key)
        raise Crash()


async def test_a_crash_after_slack_accepted_a_post_sends_no_second_message(fake, db_path):
    first = await start_bot(fake, db_path, transport_cls=CrashAfterSend)
    try:
        admin = await first.adapter.actor(ADMIN)
        await first.app.handle(admin, first.adapter.place("T0FAKE", "C0GENERAL", "general"), "/digest add tips daily 09:00")
        with pytest.raises(Crash):
            await first.app.clock.advance(timedelta(hours=1))
    finally:
        await first.adapter.close()
        await first.app.close()
    assert len(fake.in_channel("C0GENERAL")) == 1
    # Back a minute later: the row left "sending" is looked up by its key, found, not resent.
    second = await start_bot(fake, db_path, at="2026-01-05T09:01:00+00:00")
    try:
        assert len(fake.in_channel("C0GENERAL")) == 1
        assert fake.calls("conversations.history")
        assert await delivery_repo.counts(second.app.db, "slack") == {"sent": 1}
    finally:
        await second.adapter.close()
        await second.app.close()


async def test_socket_mode_answers_commands_buttons_and_reconnects(fake, db_path):
    running = await start_bot(fake, db_path, socket=True)
    try:
        ack = await fake.socket_slash_command("advice do i need a phd", user_id=MEMBER)
        assert ack.acked
        [answer] = await fake.wait_responses(ack.response_id, 1)
        assert "PhD" in shown(answer)
        await fake.socket_disconnect()
        again = await fake.socket_slash_command("help", user_id=MEMBER)
        assert again.acked and (await fake.wait_responses(again.response_id, 1))
        assert fake.connections == 2
    finally:
        await running.adapter.close()
        await running.app.close()
