"""Slack for many workspaces: the OAuth install flow, per-workspace tokens and Events API retries.

Everything real but Slack: careerbot's HTTP listener, slack-bolt's OAuth flow and authorize,
slack-sdk's clients, our installation and OAuth-state stores on a real database (SQLite and
PostgreSQL), and a browser (an aiohttp session with a cookie jar) following the redirects from
``/slack/install`` through the fake's consent page back to ``/slack/oauth_redirect``. The fake
Slack gives each workspace its own token, which works only in that workspace's channels.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import NOT_INSTALLED, SlackAdapter, SlackTransport, Workspaces
from bot.app import App
from bot.clock import frozen_clock
from bot.config import load_config
from bot.delivery import RateLimiter, Target
from bot.models import Reply
from bot.storage import delivery_repo, inbound_repo, slack_installs_repo
from commands import create_app
from tests.fakes.fake_time import FakeTime
from tests.fakes.slack_server import FakeSlack, HttpAck

pytestmark = pytest.mark.both_engines

START = "2026-01-05T08:00:00+00:00"
ALPHA, BETA, GAMMA = "T0ALPHA", "T0BETA", "T0GAMMA"
ALICE, AL_ADMIN, BOB, BE_ADMIN = "U0ALICE", "U0ALADMIN", "U0BOB", "U0BEADMIN"


@pytest.fixture(autouse=True)
def no_slack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
                 "SLACK_REDIRECT_URI", "SLACK_SCOPES", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    users = {AL_ADMIN: {"is_admin": True}, BE_ADMIN: {"is_admin": True}, ALICE: {}, BOB: {}, "U0USER": {}}
    async with FakeSlack(users=users) as server:
        server.add_team(ALPHA, "Alpha Club", channels={"C0ALPHA", "C0ALNEWS"}, users={ALICE, AL_ADMIN})
        server.add_team(BETA, "Beta Society", channels={"C0BETA"}, users={BOB, BE_ADMIN})
        server.add_team(GAMMA, "Gamma Group", channels={"C0GAMMA"})
        yield server


class Bot:
    """One careerbot process: an App with its Slack adapter listening on 127.0.0.1."""

    def __init__(self, app: App, adapter: SlackAdapter, ticks: FakeTime) -> None:
        self.app, self.adapter, self.ticks = app, adapter, ticks

    @property
    def url(self) -> str:
        return self.adapter.url

    async def close(self) -> None:
        await self.adapter.close()
        await self.app.close()


def config_for(fake: FakeSlack, db: Any, oauth: bool = True):  # noqa: ANN201
    env = {
        "CAREERBOT_DB": str(db), "SLACK_API_BASE": fake.api_url, "SLACK_SIGNING_SECRET": fake.signing_secret,
        "CAREERBOT_SLACK_HOST": "127.0.0.1", "CAREERBOT_SLACK_PORT": "0",
    }
    if oauth:
        env.update(SLACK_CLIENT_ID=fake.client_id, SLACK_CLIENT_SECRET=fake.client_secret)
    else:
        env["SLACK_BOT_TOKEN"] = fake.bot_token
    return load_config(environ=env, env_file=None)


async def start_bot(fake: FakeSlack, db: Any, *, oauth: bool = True) -> Bot:
    config = config_for(fake, db, oauth)
    app = await create_app(db, clock=frozen_clock(START), config=config)
    # The outbox's sender paces posts on a fake clock (Slack's one post a second per channel).
    client = AsyncWebClient(token=None if oauth else fake.bot_token, base_url=fake.api_url)
    transport = SlackTransport(client, workspaces=Workspaces(client, app.db if oauth else None))
    ticks = FakeTime()
    app.outbox.add_transport(transport, RateLimiter(transport.limits, ticks.monotonic, ticks.sleep), concurrency=1)
    adapter = SlackAdapter(app, config)
    await app.start(background=False)
    await adapter.start()
    redirect = f"{adapter.base_url}/slack/oauth_redirect"
    if redirect not in fake.redirect_urls:
        fake.redirect_urls.append(redirect)  # the app's Redirect URLs, as set in its Slack settings
    return Bot(app, adapter, ticks)


@pytest.fixture
async def bot(fake: FakeSlack, db_path: Path) -> AsyncIterator[Bot]:
    running = await start_bot(fake, db_path)
    yield running
    await running.close()


class Browser:
    """Someone's browser: keeps cookies (the state cookie is Secure; loopback counts as a secure origin)."""

    def __init__(self, *origins: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=list(origins))
        self.session = aiohttp.ClientSession(cookie_jar=jar)

    async def get(self, url: str, *, follow: bool = True, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, page text, Location header) of one visit."""
        async with self.session.get(url, allow_redirects=follow, headers=headers) as res:
            return res.status, await res.text(), res.headers.get("Location", "")

    async def close(self) -> None:
        await self.session.close()


async def install(fake: FakeSlack, bot: Bot, team: str, user: str) -> str:
    """A person in ``team`` installs careerbot: /slack/install → Slack's consent page (Allow) → back
    (to the app's Redirect URL: with several processes, maybe another one than the install started in)."""
    browser = Browser(fake.base_url, *(url.rsplit("/slack/", 1)[0] for url in fake.redirect_urls))
    try:
        fake.will_approve(team, user)
        status, page, _ = await browser.get(f"{bot.adapter.base_url}/slack/install")
    finally:
        await browser.close()
    assert status == 200, page
    return page


def shown(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or []) + message.get("text", "")


async def command(fake: FakeSlack, url: str, text: str, team: str, user: str, channel: str) -> list[dict[str, Any]]:
    ack = await fake.post_slash_command(url, text=text, team_id=team, user_id=user, channel_id=channel,
                                        channel_name=channel.lower())
    assert ack.status == 200, ack.body
    return await fake.wait_responses(ack.response_id, 1)


async def test_two_workspaces_install_and_each_is_served_with_its_own_token(fake, bot, caplog):
    caplog.set_level(logging.DEBUG, logger="careerbot")
    page = await install(fake, bot, ALPHA, AL_ADMIN)
    assert "careerbot is now installed in <strong>Alpha Club</strong>" in page
    assert "careerbot is now installed in <strong>Beta Society</strong>" in await install(fake, bot, BETA, BE_ADMIN)
    [asked, _] = fake.authorize_requests  # what /slack/install sent the browser to Slack with
    assert asked["client_id"] == fake.client_id and asked["state"]
    assert set(asked["scope"].split(",")) >= {"chat:write", "commands", "app_mentions:read", "im:write", "users:read"}
    alpha_token, beta_token = fake.token_for(ALPHA), fake.token_for(BETA)
    assert alpha_token and beta_token and alpha_token != beta_token
    alpha = await slack_installs_repo.for_team(bot.app.db, ALPHA)
    assert alpha is not None and alpha.team_name == "Alpha Club" and alpha.installer_user_id == AL_ADMIN
    assert alpha.bot_token not in repr(alpha)

    # A slash command in each workspace: the person's role is read with that workspace's token.
    [answer] = await command(fake, bot.url, "advice do i need a phd", ALPHA, ALICE, "C0ALPHA")
    assert "PhD" in shown(answer)
    [config] = await command(fake, bot.url, "config show", BETA, BE_ADMIN, "C0BETA")
    assert "timezone = UTC" in shown(config)  # Beta's admin, as Beta's users.info says
    assert {(c["params"]["user"], c["team"]) for c in fake.calls("users.info")} == {(ALICE, ALPHA), (BE_ADMIN, BETA)}

    # A mention in each workspace is answered in its channel, posted with that workspace's token.
    for team, channel in ((ALPHA, "C0ALPHA"), (BETA, "C0BETA")):
        ack = await fake.post_event(bot.url, event=fake.app_mention("advice is kaggle worth it", user_id=ALICE if team == ALPHA else BOB,
                                                                    channel_id=channel, team_id=team), team_id=team)
        assert ack.status == 200
        [reply] = await fake.wait_messages(channel, 1)
        assert "Kaggle" in shown(reply) and reply["team"] == team and reply["bot_user"] == fake.teams[team]["bot_user_id"]

    # A digest in each workspace, posted by the outbox at 09:00 with that workspace's token.
    await command(fake, bot.url, "digest add tips daily 09:00", ALPHA, AL_ADMIN, "C0ALNEWS")
    await command(fake, bot.url, "digest add tips daily 09:00", BETA, BE_ADMIN, "C0BETA")
    await bot.app.clock.advance(timedelta(hours=1))
    [alpha_post] = [m for m in fake.in_channel("C0ALNEWS") if m["metadata"]]
    [beta_post] = [m for m in fake.in_channel("C0BETA") if m["metadata"]]  # the outbox's posts carry their key
    assert "Tip of the day" in shown(alpha_post) and "Tip of the day" in shown(beta_post)
    assert alpha_post["metadata"]["event_payload"]["key"].startswith(f"slack|slack:{ALPHA}|C0ALNEWS|digest-")
    assert (alpha_post["team"], beta_post["team"]) == (ALPHA, BETA)
    posts = [c for c in fake.calls("chat.postMessage") if c["params"].get("metadata")]
    assert sorted((c["params"]["channel"], c["team"]) for c in posts) == [("C0ALNEWS", ALPHA), ("C0BETA", BETA)]
    assert await delivery_repo.counts(bot.app.db, "slack") == {"sent": 2}
    # No call was refused anywhere: no token was ever used outside its own workspace.
    assert [c for c in fake.requests if c["error"]] == [] and fake.errors == []
    # Tokens never reach careerbot's log lines.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("careerbot"))
    assert alpha_token not in logged and beta_token not in logged and fake.client_secret not in logged


async def test_a_post_to_a_workspace_that_never_installed_is_a_clear_permanent_failure(fake, bot):
    await bot.app.outbox.post(Target("slack", f"slack:{GAMMA}", "C0GAMMA", "gamma"), "notice", "n1", Reply(text="hello"))
    await bot.app.outbox.drain()
    assert fake.in_channel("C0GAMMA") == [] and fake.calls("chat.postMessage") == []
    assert await delivery_repo.counts(bot.app.db, "slack") == {"failed": 1}
    [problem] = await delivery_repo.unnotified(bot.app.db, f"slack:{GAMMA}")
    assert problem.reason == NOT_INSTALLED and problem.target_gone


async def test_uninstalling_deletes_the_token_and_a_reinstall_brings_a_new_one(fake, bot):
    await install(fake, bot, ALPHA, AL_ADMIN)
    await install(fake, bot, BETA, BE_ADMIN)
    await install(fake, bot, ALPHA, AL_ADMIN)  # installed twice: still one installation, the same token
    assert (await slack_installs_repo.for_team(bot.app.db, ALPHA)).bot_token == fake.token_for(ALPHA)
    [(count,)] = await bot.app.db.fetchall("SELECT COUNT(*) FROM slack_installations")
    assert count == 2
    await command(fake, bot.url, "config set mod_channel <#C0ALPHA|alpha>", ALPHA, AL_ADMIN, "C0ALPHA")
    old_token = fake.token_for(ALPHA)

    ack = await fake.post_event(bot.url, event=fake.uninstall(ALPHA), team_id=ALPHA)
    assert ack.status == 200
    await fake.wait_for(lambda: fake.token_for(ALPHA) is None)
    for _ in range(200):
        if await slack_installs_repo.for_team(bot.app.db, ALPHA) is None:
            break
        await asyncio.sleep(0.01)
    assert await slack_installs_repo.for_team(bot.app.db, ALPHA) is None
    assert await slack_installs_repo.for_team(bot.app.db, BETA) is not None  # the other workspace keeps its token

    # A post queued for the uninstalled workspace fails at once, for a reason a moderator can act on.
    await bot.app.outbox.post(Target("slack", f"slack:{ALPHA}", "C0ALNEWS", "news"), "notice", "n1", Reply(text="hi"))
    await bot.app.outbox.drain()
    assert fake.in_channel("C0ALNEWS") == []
    # Someone still typing the command there is told to ask an admin to reinstall.
    ack = await fake.post_slash_command(bot.url, text="help", team_id=ALPHA, user_id=ALICE, channel_id="C0ALPHA")
    [told] = await fake.wait_responses(ack.response_id, 1)
    assert "not installed in this workspace any more" in shown(told)

    # Reinstalled: a new token (the old one was revoked), and the moderators hear what went wrong.
    await install(fake, bot, ALPHA, AL_ADMIN)
    assert fake.token_for(ALPHA) != old_token
    assert (await slack_installs_repo.for_team(bot.app.db, ALPHA)).bot_token == fake.token_for(ALPHA)
    ack = await fake.post_slash_command(bot.url, text="digest list", team_id=ALPHA, user_id=AL_ADMIN, channel_id="C0ALPHA")
    responses = await fake.wait_responses(ack.response_id, 2)
    assert any("not installed in this Slack workspace any more" in shown(r) for r in responses)

    # A revoked bot token (tokens_revoked) is forgotten as well.
    ack = await fake.post_event(bot.url, event=fake.revoke_bot_token(BETA), team_id=BETA)
    assert ack.status == 200
    for _ in range(200):
        if await slack_installs_repo.for_team(bot.app.db, BETA) is None:
            break
        await asyncio.sleep(0.01)
    assert await slack_installs_repo.for_team(bot.app.db, BETA) is None


async def test_an_expired_reused_or_foreign_state_is_refused_with_a_clear_page(fake, bot):
    base = bot.adapter.base_url
    browser = Browser(base, fake.base_url)
    try:
        # Step by step: /slack/install → Slack (Allow) → back with code and state.
        status, _, to_slack = await browser.get(f"{base}/slack/install", follow=False)
        assert status == 302 and to_slack.startswith(f"{fake.base_url}/oauth/v2/authorize?")
        state = parse_qs(urlsplit(to_slack).query)["state"][0]
        fake.will_approve(ALPHA, AL_ADMIN)
        status, _, back = await browser.get(to_slack, follow=False)
        assert status == 302 and back.startswith(f"{base}/slack/oauth_redirect?")
        status, page, _ = await browser.get(back)
        assert status == 200 and "installed in <strong>Alpha Club</strong>" in page

        # The same answer again, replayed with the state cookie: the state was used.
        replay = Browser()
        try:
            status, page, _ = await replay.get(back, headers={"Cookie": f"slack-app-oauth-state={state}"})
        finally:
            await replay.close()
        assert status == 401 and "This install link has expired or was already used" in page
        assert 'href="/slack/install"' in page  # and how to start again

        # A state older than ten minutes (the app clock) is refused, and nothing is installed.
        _, _, to_slack = await browser.get(f"{base}/slack/install", follow=False)
        fake.will_approve(BETA, BE_ADMIN)
        _, _, back = await browser.get(to_slack, follow=False)
        await bot.app.clock.advance(timedelta(minutes=11))
        status, page, _ = await browser.get(back)
        assert status == 401 and "expired or was already used" in page
        assert await slack_installs_repo.for_team(bot.app.db, BETA) is None

        # Finished in another browser (no state cookie): refused, saying so.
        _, _, to_slack = await browser.get(f"{base}/slack/install", follow=False)
        fake.will_approve(BETA, BE_ADMIN)
        _, _, back = await browser.get(to_slack, follow=False)
        other = Browser(base)
        try:
            status, page, _ = await other.get(back)
        finally:
            await other.close()
        assert status == 400 and "started in another browser" in page

        # Cancelled on Slack's page.
        fake.will_deny()
        status, page, _ = await browser.get(f"{base}/slack/install")
        assert "The install was cancelled" in page
        assert await slack_installs_repo.for_team(bot.app.db, BETA) is None
        assert len(fake.installs) == 1
    finally:
        await browser.close()


def answers(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in fake.in_channel(channel) if m["bot_id"]]


async def settle(fake: FakeSlack, channel: str, n: int) -> list[dict[str, Any]]:
    """Waits for ``n`` answers in ``channel``, then a little longer for any that should not come."""
    await fake.wait_for(lambda: len(answers(fake, channel)) >= n)
    await asyncio.sleep(0.3)
    return answers(fake, channel)


async def test_an_event_retried_three_times_is_handled_once(fake, bot):
    await install(fake, bot, ALPHA, AL_ADMIN)
    event = fake.app_mention("advice is kaggle worth it", user_id=ALICE, channel_id="C0ALPHA", team_id=ALPHA)
    acks = await fake.deliver_event(bot.url, event, times=3, team_id=ALPHA, event_id="Ev0RETRIED")
    assert [a.status for a in acks] == [200, 200, 200] and max(a.elapsed for a in acks) < 1.0
    [answer] = await settle(fake, "C0ALPHA", 1)
    assert "Kaggle" in shown(answer)
    assert await inbound_repo.first_sight(bot.app.db, "slack", "Ev0RETRIED", "2026-01-05T08:00:00+00:00") is False


async def test_two_processes_behind_one_url_handle_each_retried_event_once(fake, db_path, engine):
    if engine == "sqlite":
        pytest.skip("several bot processes share a database only on PostgreSQL (a SQLite file has one)")
    first, second = await start_bot(fake, db_path), await start_bot(fake, db_path)
    try:
        await install(fake, first, ALPHA, AL_ADMIN)
        await install(fake, second, BETA, BE_ADMIN)  # started in the second, finished in the first (the Redirect URL)
        urls = [first.url, second.url]
        mention = fake.app_mention("advice is kaggle worth it", user_id=ALICE, channel_id="C0ALPHA", team_id=ALPHA)
        together = await fake.deliver_event(urls, mention, times=3, team_id=ALPHA, concurrent=True)
        dm = fake.im_message("advice topics", user_id=BOB, team_id=BETA)
        in_turn = await fake.deliver_event(list(reversed(urls)), dm, times=3, team_id=BETA)
        assert all(a.status == 200 for a in [*together, *in_turn])
        [answer] = await settle(fake, "C0ALPHA", 1)
        assert "Kaggle" in shown(answer) and answer["team"] == ALPHA
        [dm_answer] = await settle(fake, fake.dm_channels[BOB], 1)
        assert "interview-process" in shown(dm_answer) and dm_answer["team"] == BETA
        [(taken,)] = await first.app.db.fetchall("SELECT COUNT(*) FROM inbound_events WHERE source = 'slack'")
        assert taken == 2  # one row per event, whichever process took it
    finally:
        await first.close()
        await second.close()


async def test_single_token_mode_is_unchanged(fake, db_path):
    running = await start_bot(fake, db_path, oauth=False)
    try:
        assert not running.adapter.oauth
        browser = Browser(running.adapter.base_url)
        try:
            status, _, _ = await browser.get(f"{running.adapter.base_url}/slack/install")
        finally:
            await browser.close()
        assert status == 404  # no install pages with one token
        ack: HttpAck = await fake.post_slash_command(running.url, text="advice do i need a phd")
        [answer] = await fake.wait_responses(ack.response_id, 1)
        assert "PhD" in shown(answer)
        acks = await fake.deliver_event(running.url, fake.app_mention("advice is kaggle worth it"), times=3)
        assert [a.status for a in acks] == [200, 200, 200]
        [reply] = await settle(fake, "C0GENERAL", 1)
        assert "Kaggle" in shown(reply) and reply["team"] == fake.team_id
        await running.app.outbox.post(Target("slack", "slack:T0FAKE", "C0NEWS", "news"), "notice", "n1", Reply(text="once"))
        await running.app.outbox.drain()
        assert [m["text"] for m in fake.in_channel("C0NEWS")] == ["once"]
        assert {c["team"] for c in fake.requests if c["method"] != "response_url"} == {fake.team_id}
        assert await running.app.db.fetchall("SELECT * FROM slack_installations") == []
    finally:
        await running.close()


async def test_an_org_wide_install_serves_every_workspace_of_the_org(fake, bot):
    fake.add_team("T0ORG1", "Org One", enterprise_id="E0ORG", channels={"C0ORG1"}, users={"U0ORGA"})
    fake.add_team("T0ORG2", "Org Two", enterprise_id="E0ORG", channels={"C0ORG2"}, users={"U0ORGB"})
    browser = Browser(bot.adapter.base_url, fake.base_url)
    try:
        fake.will_approve("T0ORG1", "U0ORGA", enterprise_install=True)
        status, page, _ = await browser.get(f"{bot.adapter.base_url}/slack/install")
    finally:
        await browser.close()
    assert status == 200 and "installed in <strong>Org E0ORG</strong>" in page
    [(enterprise, team, org_wide)] = await bot.app.db.fetchall(
        "SELECT enterprise_id, team_id, is_enterprise_install FROM slack_installations")
    assert (enterprise, team, org_wide) == ("E0ORG", "", 1)  # one token for the whole organization

    # A mention from a workspace of the org is answered with the org's token ...
    ack = await fake.post_event(bot.url, event=fake.app_mention("advice is kaggle worth it", user_id="U0ORGB",
                                                                channel_id="C0ORG2", team_id="T0ORG2"), team_id="T0ORG2")
    assert ack.status == 200
    [answer] = await settle(fake, "C0ORG2", 1)
    assert "Kaggle" in shown(answer) and answer["team"] == "T0ORG2"
    # ... and posts queued for that workspace go out with it too.
    await bot.app.outbox.post(Target("slack", "slack:T0ORG2", "C0ORG2", "org2"), "notice", "n1", Reply(text="org post"))
    await bot.app.outbox.drain()
    assert [m["text"] for m in answers(fake, "C0ORG2")][-1] == "org post"
    assert await delivery_repo.counts(bot.app.db, "slack") == {"sent": 1}
