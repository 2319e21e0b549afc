"""Replies with files on Slack, end to end: real slack-bolt and slack-sdk (``files_upload_v2``)
against the local fake, which hands out upload URLs on its own loopback server, stores the bytes
and shares them in channels the way Slack does (or refuses, as Slack would).

A test-only feature answers ``/careerbot chart …`` with a PNG (the way a streak chart would).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import SlackAdapter, SlackTransport
from bot.app import App
from bot.clock import frozen_clock
from bot.config import load_config
from bot.delivery import RateLimiter, Target
from bot.models import Reply
from bot.storage import delivery_repo
from commands import help as help_feature
from tests.fakes.fake_time import FakeTime
from tests.fakes.chart_feature import ALT, PNG, ChartFeature, chart
from tests.fakes.slack_server import FakeSlack

START = "2026-01-05T08:00:00+00:00"
MEMBER, ANA = "U0USER", "U0ANA"
@pytest.fixture(autouse=True)
def no_slack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(users={MEMBER: {}, ANA: {}, "U7": {}}) as server:
        yield server


class Bot:
    def __init__(self, app: App, adapter: SlackAdapter, ticks: FakeTime) -> None:
        self.app, self.adapter, self.ticks = app, adapter, ticks


@pytest.fixture
async def bot(fake: FakeSlack, db_path: Path) -> AsyncIterator[Bot]:
    config = load_config(environ={
        "CAREERBOT_DB": str(db_path), "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_BASE": fake.api_url,
        "CAREERBOT_SLACK_HOST": "127.0.0.1", "CAREERBOT_SLACK_PORT": "0", "SLACK_SIGNING_SECRET": fake.signing_secret,
    }, env_file=None)
    app = await App.create(db_path, [help_feature, ChartFeature("streak_ana.png")], clock=frozen_clock(START), config=config)
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    ticks = FakeTime()  # Retry-After waits move this clock instead of sleeping
    transport = SlackTransport(client, sleep=ticks.sleep)
    app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=1)
    adapter = SlackAdapter(app, config, client=client, sleep=ticks.sleep)
    await app.start(background=False)
    await adapter.start()
    yield Bot(app, adapter, ticks)
    await adapter.close()
    await app.close()


async def command(fake: FakeSlack, bot: Bot, text: str, n: int = 1, user: str = ANA, **fields: str) -> list[dict]:
    ack = await fake.post_slash_command(bot.adapter.url, text=text, user_id=user, **fields)
    assert ack.status == 200, ack.body
    return await fake.wait_responses(ack.response_id, n)


def shown(response: dict) -> str:
    return json.dumps(response["blocks"]) + response["text"]


def files(records: list[dict]) -> list[tuple[str, bytes, str, str | None]]:
    """What a reader sees shared: (filename, bytes, title, alt text) per file."""
    return [(f["filename"], f["data"], f["title"], f["alt_txt"]) for f in records]


# -- slash command replies -----------------------------------------------------------------------
async def test_a_public_reply_is_answered_then_its_png_is_shared_in_the_channel(fake, bot):
    [answer] = await command(fake, bot, "chart show")
    assert answer["response_type"] == "in_channel" and "Check-ins this week" in shown(answer)
    shared = await fake.wait_for(lambda: fake.files_in("C0GENERAL"))
    assert files(shared) == [("chart.png", PNG, "chart.png", ALT)]
    [share] = [m for m in fake.in_channel("C0GENERAL") if m.get("files")]
    assert share["text"] == ""  # no initial comment: nothing that could mention anyone
    assert len(fake.calls("files.getUploadURLExternal")) == 1 and len(fake.calls("files.completeUploadExternal")) == 1
    assert [u["status"] for u in fake.uploads] == [200]
    assert fake.errors == [] and fake.warnings == []


async def test_a_private_reply_sends_its_png_by_dm_and_says_so(fake, bot):
    [answer] = await command(fake, bot, "chart mine")
    assert answer["response_type"] == "ephemeral"
    assert "Your check-ins" in shown(answer)
    assert "I sent `streak_ana.png` to you in a direct message." in shown(answer)
    assert files(fake.files_to(ANA)) == [("streak_ana.png", PNG, "streak_ana.png", ALT)]
    assert fake.files_in("C0GENERAL") == []  # nothing private shows in the channel
    assert fake.errors == [] and fake.warnings == []


async def test_a_failed_upload_keeps_the_text_and_tells_the_user(fake, bot):
    fake.not_in_channel.add("C0SECRET")  # respond() works anywhere; sharing a file needs membership
    answer, note = await command(fake, bot, "chart show", n=2, channel_id="C0SECRET", channel_name="secret")
    assert answer["response_type"] == "in_channel" and "Check-ins this week" in shown(answer)
    assert note["response_type"] == "ephemeral"
    assert "I could not attach `chart.png`: I am not a member of this channel (invite me with /invite @careerbot)." in shown(note)
    assert "Traceback" not in shown(note) and fake.files_in("C0SECRET") == []


async def test_a_failed_dm_upload_is_said_in_the_private_reply(fake, bot):
    fake.file_uploads_disabled = True
    [answer] = await command(fake, bot, "chart mine")
    assert "Your check-ins" in shown(answer)
    assert "I could not send you `streak_ana.png` in a direct message: this workspace has turned file uploads off." in shown(answer)
    assert fake.files_to(ANA) == []


async def test_a_short_429_on_an_upload_step_is_waited_out(fake, bot):
    fake.rate_limit_next["files.completeUploadExternal"] = [1]
    [answer] = await command(fake, bot, "chart show")
    assert "Check-ins this week" in shown(answer)
    shared = await fake.wait_for(lambda: fake.files_in("C0GENERAL"))
    assert files(shared) == [("chart.png", PNG, "chart.png", ALT)]  # once: the first upload was never completed
    assert bot.ticks.slept == [1.0] and len(fake.calls("files.getUploadURLExternal")) == 2
    assert len(fake.responses_to(fake.responses[0]["id"])) == 1  # no error line for a retry that worked


async def test_a_long_429_on_an_upload_step_is_reported_not_raised(fake, bot):
    fake.rate_limit_next["files.getUploadURLExternal"] = [120]
    answer, note = await command(fake, bot, "chart show", n=2)
    assert "Check-ins this week" in shown(answer)
    assert note["response_type"] == "ephemeral"
    assert "I could not attach `chart.png`: Slack is limiting uploads right now; try again in a minute." in shown(note)
    assert fake.files_in("C0GENERAL") == [] and bot.ticks.slept == []  # told at once, not after two minutes


async def test_a_mention_gets_its_png_in_the_thread(fake, bot):
    event = fake.app_mention("chart show", user_id=ANA)
    ack = await fake.post_event(bot.adapter.url, event=event)
    assert ack.status == 200
    shared = await fake.wait_for(lambda: fake.files_in("C0GENERAL"))
    [text] = [m for m in fake.in_channel("C0GENERAL") if not m.get("files")]
    assert "Check-ins this week" in shown(text) and text["thread_ts"] == event["ts"]
    assert files(shared) == [("chart.png", PNG, "chart.png", ALT)] and shared[0]["thread_ts"] == event["ts"]


# -- outbox posts --------------------------------------------------------------------------------
def general() -> Target:
    return Target("slack", "slack:T0FAKE", "C0GENERAL", "general")


async def test_an_outbox_post_is_posted_then_its_png_shared(fake, bot):
    await bot.app.outbox.post(general(), "chart", "w1", Reply(text="Weekly chart", attachments=[chart("week-1.png")]))
    await bot.app.outbox.drain()
    text, share = fake.in_channel("C0GENERAL")
    assert text["text"] == "Weekly chart" and text["metadata"]["event_payload"]["key"].startswith("slack|slack:T0FAKE|C0GENERAL|chart|w1|")
    assert share["files"] and files(fake.files_in("C0GENERAL")) == [("week-1.png", PNG, "week-1.png", ALT)]
    assert await delivery_repo.counts(bot.app.db, "slack") == {"sent": 1}
    assert fake.errors == [] and fake.warnings == []


async def test_an_outbox_post_to_a_person_shares_the_png_in_their_dm(fake, bot):
    await bot.app.outbox.post(Target.user("slack", "slack:T0FAKE", "U7", "u7"), "chart", "w1",
                              Reply(text="Your week", attachments=[chart()]))
    await bot.app.outbox.drain()
    assert [m["text"] for m in fake.dms_to("U7") if not m.get("files")] == ["Your week"]
    assert files(fake.files_to("U7")) == [("chart.png", PNG, "chart.png", ALT)]
    assert len(fake.calls("conversations.open")) == 1


async def test_an_outbox_upload_that_keeps_failing_leaves_the_text_once_and_a_line(fake, bot):
    fake.upload_fail_next = [429, 429, 429]  # Slack's upload URL refuses every attempt
    await bot.app.outbox.post(general(), "chart", "w1", Reply(text="Weekly chart", attachments=[chart()]))
    await bot.app.outbox.drain()
    texts = [m["text"] for m in fake.in_channel("C0GENERAL")]
    assert texts == ["Weekly chart", "I could not attach `chart.png`: Slack's file service did not take the file."]
    assert fake.files_in("C0GENERAL") == [] and [u["status"] for u in fake.uploads] == [429, 429, 429]
    assert bot.ticks.slept.count(1.0) == 2  # a short pause between attempts, on the test's clock
    assert await delivery_repo.counts(bot.app.db, "slack") == {"sent": 1}  # not resent: the text is there


async def test_an_outbox_429_on_an_upload_step_is_waited_out_without_a_second_text(fake, bot):
    fake.rate_limit_next["files.getUploadURLExternal"] = [2]
    await bot.app.outbox.post(general(), "chart", "w1", Reply(text="Weekly chart", attachments=[chart()]))
    await bot.app.outbox.drain()
    assert [m["text"] for m in fake.in_channel("C0GENERAL") if not m.get("files")] == ["Weekly chart"]
    assert len(fake.files_in("C0GENERAL")) == 1 and 2.0 in bot.ticks.slept
    assert await delivery_repo.counts(bot.app.db, "slack") == {"sent": 1}


# -- the fake's upload protocol ------------------------------------------------------------------
async def slack_error(call: Awaitable[object]) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value.response["error"]


async def test_the_fake_checks_each_upload_step_like_slack(fake):
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    assert await slack_error(client.files_getUploadURLExternal(filename="", length=10)) == "invalid_arguments"
    assert await slack_error(client.files_getUploadURLExternal(filename="a.png", length=0)) == "missing_argument"
    step1 = await client.files_getUploadURLExternal(filename="a.png", length=len(PNG))
    assert step1["upload_url"].startswith(fake.base_url) and step1["file_id"].startswith("F")
    # Completing before the bytes arrived, or with bytes of the wrong length, finds no file.
    assert await slack_error(client.files_completeUploadExternal(files=[{"id": step1["file_id"]}])) == "file_not_found"
    async with aiohttp.ClientSession() as session:
        async with session.post(step1["upload_url"], data=PNG[:-1]) as short:
            assert short.status == 400
        async with session.post(step1["upload_url"], data=PNG) as ok:
            assert ok.status == 200 and (await ok.text()) == f"OK - {len(PNG)}"
    fake.not_in_channel.add("C0SECRET")
    done = client.files_completeUploadExternal(files=[{"id": step1["file_id"]}], channel_id="C0SECRET")
    assert await slack_error(done) == "not_in_channel"
    fake.channels = {"C0GENERAL"}
    assert await slack_error(client.files_completeUploadExternal(files=[{"id": step1["file_id"]}], channel_id="C0GONE")) == "channel_not_found"
    shared = await client.files_completeUploadExternal(files=[{"id": step1["file_id"], "title": "a chart"}], channel_id="C0GENERAL")
    assert shared["files"] == [{"id": step1["file_id"], "title": "a chart"}]
    assert [(f["filename"], f["data"]) for f in fake.files_in("C0GENERAL")] == [("a.png", PNG)]
    assert await slack_error(client.files_completeUploadExternal(files=[{"id": step1["file_id"]}], channel_id="C0GENERAL")) == "file_not_found"


async def test_the_fake_flags_uploads_that_would_ping(fake):
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    await client.files_upload_v2(content=b"x", filename="x.txt", title="hi <!channel>", channel="C0GENERAL")
    assert [w["error"] for w in fake.warnings] == ["pings"]
