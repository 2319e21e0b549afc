"""Replies with files on Discord, end to end: the real discord.py and our REST transport against
the local fake, which reads the multipart uploads as Discord does and keeps every file's bytes.

A test-only feature answers ``/chart`` with a PNG (the way a streak chart would), so these tests
do not depend on which real features exist.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord_rest import DiscordRestTransport
from bot.app import App
from bot.clock import frozen_clock
from bot.config import load_config
from bot.delivery import RateLimiter, Target
from bot.models import Reply
from bot.storage import delivery_repo
from commands import help as help_feature
from tests.fakes.fake_discord import ATTACH_FILES, CHANNEL_IDS, GUILD_ID, ROLE_IDS, USER_IDS, FakeDiscord, sub
from tests.fakes.chart_feature import ALT, PNG, ChartFeature, chart
from tests.fakes.fake_time import FakeTime

START = "2026-01-05T08:00:00+00:00"
GENERAL, JOBS = CHANNEL_IDS["general"], CHANNEL_IDS["jobs"]
class Bot:
    def __init__(self, app: App, adapter: DiscordAdapter, ticks: FakeTime) -> None:
        self.app, self.adapter, self.ticks = app, adapter, ticks

    async def close(self) -> None:
        await self.adapter.close()
        await self.app.close()


@pytest.fixture
async def bot(fake: FakeDiscord, db_path: Path) -> AsyncIterator[Bot]:
    config = load_config(environ={
        "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DISCORD_GUILD_IDS": GUILD_ID,
    }, env_file=None)
    app = await App.create(db_path, [help_feature, ChartFeature("streak-max.png")], clock=frozen_clock(START), config=config)
    transport = DiscordRestTransport(fake.token, base_url=fake.base_url)
    ticks = FakeTime()
    app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=1)
    adapter = DiscordAdapter(app, config, guild_ready_timeout=0.05, transport=transport)
    await app.start(background=False)
    await adapter.start()
    await adapter.wait_ready(10)
    running = Bot(app, adapter, ticks)
    yield running
    await running.close()


def files_of(fake: FakeDiscord, message: dict) -> list[tuple[str, bytes, str, str | None]]:
    """What a reader sees attached: (filename, bytes, content type, alt text) per file."""
    return [(a["filename"], a["data"], a["content_type"], a["description"]) for a in fake.attachments(message)]


# -- interaction replies -------------------------------------------------------------------------
async def test_a_public_reply_carries_the_png_once(fake, bot):
    sent = await fake.send_interaction("chart", [sub("show")], user="max")
    [answer] = await sent.wait(1)
    assert answer.kind == "callback" and answer.type == 4 and not answer.ephemeral
    assert answer.content == "Check-ins this week"
    assert files_of(fake, answer.message) == [("chart.png", PNG, "image/png", ALT)]
    [upload] = [c for c in fake.calls if c.files]  # one multipart request, one file part
    assert [f["field"] for f in upload.files] == ["files[0]"]
    assert sent.rejected == []


async def test_a_private_reply_keeps_its_file_private(fake, bot):
    sent = await fake.send_interaction("chart", [sub("mine")], user="max")
    [answer] = await sent.wait(1)
    assert answer.ephemeral and answer.flags & 64
    assert answer.content == "Your check-ins"
    assert files_of(fake, answer.message) == [("streak-max.png", PNG, "image/png", ALT)]
    assert answer.message["attachments"][0].get("ephemeral") is True


async def test_a_deferred_reply_sends_the_file_with_its_follow_up(fake, bot):
    sent = await fake.send_interaction("chart", [sub("slow")], user="max")
    deferred, followup = await sent.wait(2)
    assert deferred.type == 5 and fake.attachments(deferred.message) == []
    assert followup.kind == "followup" and followup.content == "Drawn slowly"
    assert files_of(fake, followup.message) == [("slow.png", PNG, "image/png", ALT)]


async def test_more_files_than_one_message_holds_follow_in_a_second_message(fake, bot):
    sent = await fake.send_interaction("chart", [sub("many")], user="max")
    first, second = await sent.wait(2)
    assert first.content == "Every chart"
    names = [a["filename"] for r in (first, second) for a in fake.attachments(r.message)]
    assert names == [f"chart-{n:02d}.png" for n in range(12)]
    assert len(first.message["attachments"]) == 10 and second.content == ""
    assert all(a["data"] == PNG for r in (first, second) for a in fake.attachments(r.message))


async def test_a_file_discord_refuses_still_leaves_the_text_and_says_why(fake, bot):
    fake.upload_limit = 64  # smaller than the chart: Discord answers 413
    sent = await fake.send_interaction("chart", [sub("show")], user="max")
    answer, note = await sent.wait(2)
    assert answer.kind == "callback" and answer.content == "Check-ins this week"
    assert fake.attachments(answer.message) == []
    assert note.ephemeral and "could not attach `chart.png`" in note.content
    assert "Request entity too large" in note.content and "Traceback" not in note.content


# -- outbox posts over REST ----------------------------------------------------------------------
def general() -> Target:
    return Target("discord", f"discord:{GUILD_ID}", GENERAL, "general")


async def test_an_outbox_post_uploads_the_png_as_multipart(fake, bot):
    await bot.app.outbox.post(general(), "chart", "w1", Reply(text="Weekly chart", attachments=[chart("week-1.png")]))
    await bot.app.outbox.drain()
    [posted] = fake.in_channel(GENERAL)
    assert posted["content"] == "Weekly chart"
    assert files_of(fake, posted) == [("week-1.png", PNG, "image/png", ALT)]
    [call] = fake.calls_to("POST", f"/channels/{GENERAL}/messages")
    assert [f["field"] for f in call.files] == ["files[0]"] and call.files[0]["data"] == PNG
    assert call.body["attachments"] == [{"id": 0, "filename": "week-1.png", "description": ALT}]
    assert call.body["enforce_nonce"] is True and call.body["nonce"]
    assert await delivery_repo.counts(bot.app.db, "discord") == {"sent": 1}


async def test_a_dm_with_a_file_reaches_the_user(fake, bot):
    target = Target.user("discord", f"discord:{GUILD_ID}", USER_IDS["max"], "max")
    await bot.app.outbox.post(target, "chart", "w1", Reply(text="Your week", attachments=[chart()]))
    await bot.app.outbox.drain()
    [dm] = fake.dms_to(USER_IDS["max"])
    assert dm["content"] == "Your week" and files_of(fake, dm) == [("chart.png", PNG, "image/png", ALT)]


async def test_a_lost_acknowledgement_is_resent_with_the_same_nonce_and_one_file_arrives(fake, bot):
    fake.drop_ack.add(GENERAL)  # Discord stores the message, the answer never arrives
    await bot.app.outbox.post(general(), "chart", "w1", Reply(text="Weekly chart", attachments=[chart()]))
    await bot.app.outbox.drain()
    await bot.app.clock.advance(timedelta(seconds=30))
    await bot.app.outbox.drain()
    [posted] = fake.in_channel(GENERAL)
    assert files_of(fake, posted) == [("chart.png", PNG, "image/png", ALT)] and fake.deduplicated == 1
    assert await delivery_repo.counts(bot.app.db, "discord") == {"sent": 1}


async def test_a_429_on_a_post_with_a_file_is_paced_and_not_duplicated(fake, bot):
    fake.fail_next[GENERAL] = [429]
    await bot.app.outbox.post(general(), "chart", "w1", Reply(text="Weekly chart", attachments=[chart()]))
    await bot.app.outbox.drain()
    [posted] = fake.in_channel(GENERAL)
    assert len(fake.attachments(posted)) == 1 and fake.rate_limited == 1
    assert 2.5 in bot.ticks.slept  # waited the route's retry_after
    assert await delivery_repo.counts(bot.app.db, "discord") == {"sent": 1}


async def test_an_edit_keeps_the_file_instead_of_uploading_it_again(fake, bot):
    [key] = await bot.app.outbox.post(general(), "chart", "w1", Reply(text="Weekly chart", attachments=[chart()]))
    await bot.app.outbox.drain()
    [posted] = fake.in_channel(GENERAL)
    before = [a["id"] for a in posted["attachments"]]
    assert await bot.app.outbox.edit(key, Reply(text="Weekly chart (final)", attachments=[chart()]))
    [edited] = fake.in_channel(GENERAL)
    assert edited["content"] == "Weekly chart (final)"
    assert [a["id"] for a in edited["attachments"]] == before and files_of(fake, edited)[0][1] == PNG
    [patch] = fake.calls_to("PATCH", f"/channels/{GENERAL}/messages/")
    assert patch.files == [] and "attachments" not in patch.body


async def test_without_attach_files_the_text_goes_and_says_the_file_is_missing(fake, bot):
    fake.channel("jobs")["permission_overwrites"].append(
        {"id": ROLE_IDS["careerbot"], "type": 0, "allow": "0", "deny": str(ATTACH_FILES)})
    target = Target("discord", f"discord:{GUILD_ID}", JOBS, "jobs")
    await bot.app.outbox.post(target, "chart", "w1", Reply(text="Weekly chart", attachments=[chart()]))
    await bot.app.outbox.drain()
    [posted] = fake.in_channel(JOBS)
    assert posted["content"].startswith("Weekly chart\n\n")
    assert "could not attach `chart.png`: the bot lacks the Attach Files permission" in posted["content"]
    assert fake.attachments(posted) == []
    assert await delivery_repo.counts(bot.app.db, "discord") == {"sent": 1}  # the channel is not given up on


# -- the fake reads uploads as Discord does ------------------------------------------------------
async def post_form(fake: FakeDiscord, form: aiohttp.FormData | bytes, content_type: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bot {fake.token}"}
    if content_type:
        headers["Content-Type"] = content_type
    url = f"{fake.base_url}/channels/{GENERAL}/messages"
    async with aiohttp.ClientSession() as session, session.post(url, data=form, headers=headers) as resp:
        return resp.status, await resp.json()


def form_with(payload: object, *files: tuple[str, bytes, str | None]) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", payload if isinstance(payload, str) else json.dumps(payload), content_type="application/json")
    for field, data, filename in files:
        form.add_field(field, data, filename=filename, content_type="image/png")
    return form


@pytest.mark.parametrize(("form", "status", "code"), [
    (lambda: form_with("{not json", ("files[0]", PNG, "a.png")), 400, 50109),
    (lambda: form_with({"content": "x"}, ("file", PNG, "a.png")), 400, 50035),  # not files[n]
    (lambda: form_with({"content": "x"}, ("files[0]", PNG, "a.png"), ("files[0]", PNG, "b.png")), 400, 50035),
    (lambda: form_with({"content": "x", "attachments": [{"id": 3, "filename": "a.png"}]}, ("files[0]", PNG, "a.png")), 400, 50035),
    (lambda: b"--nope\r\nthis is not multipart", 400, 50035),
])
async def test_malformed_uploads_get_discords_json_errors(fake, form, status, code):
    body = form()
    got, answer = await post_form(fake, body, None if isinstance(body, aiohttp.FormData) else "multipart/form-data; boundary=xyz")
    assert (got, answer["code"]) == (status, code) and answer["message"]
    assert fake.in_channel(GENERAL) == []


async def test_a_file_over_the_limit_is_413(fake):
    fake.upload_limit = 100
    status, answer = await post_form(fake, form_with({"content": "x"}, ("files[0]", PNG, "a.png")))
    assert (status, answer["code"]) == (413, 40005) and fake.in_channel(GENERAL) == []
