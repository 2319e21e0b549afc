"""The Slack fake against the real slack-bolt AsyncApp, slack-sdk AsyncWebClient and Socket Mode handler."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.local_http import serve
from tests.fakes.slack_server import FakeSlack

BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Internships"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*ML intern* at Example"}},
    {"type": "actions", "elements": [
        {"type": "button", "action_id": "apply", "value": "job-1", "text": {"type": "plain_text", "text": "Apply"}},
    ]},
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SLACK_") or name.lower() in ("http_proxy", "https_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels={"C0GENERAL", "C0JOBS", "C0OLD", "C0PRIVATE"}, archived={"C0OLD"},
                         not_in_channel={"C0PRIVATE"}, inactive_users={"U0GONE"}) as f:
        yield f


def client_for(fake: FakeSlack, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token or fake.bot_token, base_url=fake.api_url)


def bolt_app(fake: FakeSlack, seen: list[Any]) -> AsyncApp:
    app = AsyncApp(client=client_for(fake), signing_secret=fake.signing_secret)

    @app.command("/careerbot")
    async def careerbot(ack: Any, respond: Any, client: AsyncWebClient, command: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"you said {command['text']}", response_type="ephemeral")
        await client.chat_postMessage(channel=command["channel_id"], text="Internships", blocks=BLOCKS)

    @app.action("apply")
    async def apply(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        seen.append(body)
        await respond(text=f"applied to {body['actions'][0]['value']}", replace_original=True)

    @app.event("app_mention")
    async def mention(event: dict[str, Any], say: Any) -> None:
        seen.append(event)
        await say(f"hello <@{event['user']}>")

    return app


@asynccontextmanager
async def http_mode(app: AsyncApp) -> AsyncIterator[str]:
    runner, root = await serve(app.web_app(path="/slack/events"))
    try:
        yield f"{root}/slack/events"
    finally:
        await runner.cleanup()


async def test_http_slash_command_acks_then_responds_and_posts(fake: FakeSlack) -> None:
    async with http_mode(bolt_app(fake, [])) as url:
        ack = await fake.post_slash_command(url, fake.signing_secret, text="internships", channel_id="C0JOBS")
        status, body, elapsed = ack
        assert status == 200 and body == "" and elapsed < 3
        [response] = await fake.wait_responses(ack.response_id, 1)
        assert response["text"] == "you said internships" and response["response_type"] == "ephemeral"
        [message] = await fake.wait_messages("C0JOBS", 1)
    assert message["blocks"] == BLOCKS and message["text"] == "Internships"
    assert fake.calls("auth.test"), "bolt authorizes through auth.test on the fake"
    assert fake.violations == []


async def test_http_rejects_bad_signature_and_stale_timestamp(fake: FakeSlack) -> None:
    async with http_mode(bolt_app(fake, [])) as url:
        forged = await fake.post_slash_command(url, text="x", bad_signature=True)
        stale = await fake.post_slash_command(url, text="x", age=6 * 60)
        fresh_enough = await fake.post_event(url, event=fake.app_mention("hi"), age=60)
        assert (forged.status, stale.status, fresh_enough.status) == (401, 401, 200)
        await fake.wait_messages("C0GENERAL", 1)
        verification = await fake.post_url_verification(url, challenge="abc")
    assert verification.json() == {"challenge": "abc"}
    assert fake.responses_to(forged.response_id) == [] and fake.responses_to(stale.response_id) == []


async def test_block_actions_and_app_mention_reach_listeners(fake: FakeSlack) -> None:
    seen: list[Any] = []
    posted = await client_for(fake).chat_postMessage(channel="C0JOBS", text="Internships", blocks=BLOCKS)
    async with http_mode(bolt_app(fake, seen)) as url:
        ack = await fake.post_interaction(url, action_id="apply", value="job-1", channel_id="C0JOBS",
                                          message_ts=posted["ts"], user_id="U0ADA")
        assert ack.status == 200
        [response] = await fake.wait_responses(ack.response_id, 1)
        assert response["replace_original"] and response["text"] == "applied to job-1"
        assert seen[0]["type"] == "block_actions" and seen[0]["user"]["id"] == "U0ADA"
        assert seen[0]["message"]["ts"] == posted["ts"]

        mention = await fake.post_event(url, event=fake.app_mention("any internships?", user_id="U0ADA"))
        assert mention.status == 200
        [reply] = await fake.wait_messages("C0GENERAL", 1)
    assert seen[1]["type"] == "app_mention" and reply["text"] == "hello <@U0ADA>"
    [original] = fake.in_channel("C0JOBS")
    assert original["text"] == "applied to job-1" and original["updates"] == 1


async def test_socket_mode_acks_responds_and_reconnects(fake: FakeSlack) -> None:
    seen: list[Any] = []
    handler = AsyncSocketModeHandler(bolt_app(fake, seen), fake.app_token)
    await handler.connect_async()
    try:
        await fake.wait_connections(1)
        ack = await fake.socket_slash_command("hello", channel_id="C0JOBS")
        assert ack.acked and ack.payload is None and ack.elapsed < 3
        assert (await fake.wait_responses(ack.response_id, 1))[0]["text"] == "you said hello"
        await fake.wait_messages("C0JOBS", 1)

        await fake.socket_disconnect()  # {"type": "disconnect", "reason": "refresh_requested"}
        assert fake.connections == 2 and len(fake.calls("apps.connections.open")) == 2
        click = await fake.socket_interaction(action_id="apply", value="job-2")
        assert click.acked
        await fake.wait_responses(click.response_id, 1)

        await fake.socket_disconnect(None)  # the server just closes the websocket
        assert fake.connections == 3
        mention = await fake.socket_event(fake.app_mention("hi there"))
        assert mention.acked
        await fake.wait_messages("C0GENERAL", 1)
        unknown = await fake.socket_slash_command("x", command="/other", timeout=0.3)
        assert not unknown.acked  # bolt does not ack what no listener handles
    finally:
        await handler.close_async()
    assert [e["type"] for e in fake.envelopes] == ["slash_commands", "interactive", "events_api", "slash_commands"]
    assert fake.envelopes[0]["accepts_response_payload"] is True
    assert [s["type"] for s in seen] == ["block_actions", "app_mention"]


async def test_tokens_are_checked(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as wrong:
        await client_for(fake, "xoxb-someone-else").auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_token:
        await client_for(fake, fake.app_token).chat_postMessage(channel="C0GENERAL", text="hi")
    assert app_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as bot_token:
        await client_for(fake).apps_connections_open(app_token=fake.bot_token)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    opened = await client_for(fake).apps_connections_open(app_token=fake.app_token)
    assert opened["url"].startswith(fake.base_url.replace("http", "ws") + "/socket")
    me = await client_for(fake).auth_test()
    assert (me["user_id"], me["team_id"], me["bot_id"]) == (fake.bot_user_id, fake.team_id, fake.bot_id)


async def test_rate_limit_is_a_429_with_retry_after(fake: FakeSlack) -> None:
    fake.rate_limit_next["chat.postMessage"] = 7
    client = client_for(fake)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C0GENERAL", text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C0GENERAL", text="hi"))["ok"]
    assert fake.rate_limited == 1


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "divider"}] * 51, "/blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0/text/text"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}], "/blocks/0/text/type"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}], "/blocks/0/text/text"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "/blocks/0/text/text"),
        ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "/blocks/0/text/type"),
        ([{"type": "actions", "elements": [
            {"type": "button", "action_id": f"a{i}", "text": {"type": "plain_text", "text": "b"}} for i in range(26)
        ]}], "/blocks/0/elements"),
        ([{"type": "actions", "elements": [
            {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "b" * 76}}
        ]}], "/blocks/0/elements/0/text/text"),
        ([{"type": "actions", "elements": [
            {"type": "button", "action_id": "a" * 256, "text": {"type": "plain_text", "text": "b"}}
        ]}], "/blocks/0/elements/0/action_id"),
        ([{"type": "actions", "elements": [
            {"type": "button", "action_id": "a", "value": "v" * 2001, "text": {"type": "plain_text", "text": "b"}}
        ]}], "/blocks/0/elements/0/value"),
        ([{"type": "image", "image_url": "https://example.com/x.png", "alt_text": "x"}], "/blocks/0/type"),
    ],
)
async def test_block_kit_limits_are_enforced(fake: FakeSlack, blocks: list[Any], pointer: str) -> None:
    with pytest.raises(SlackApiError) as rejected:
        await client_for(fake).chat_postMessage(channel="C0GENERAL", text="fallback", blocks=blocks)
    assert rejected.value.response["error"] == "invalid_blocks"
    assert pointer in fake.errors[0]["pointer"] and fake.messages == []


async def test_text_rules_and_warnings(fake: FakeSlack) -> None:
    client = client_for(fake)
    with pytest.warns(UserWarning, match="top-level `text`"):
        ok = await client.chat_postMessage(channel="C0GENERAL", blocks=BLOCKS)
    assert ok["ok"] and [w["error"] for w in fake.warnings] == ["missing_text"]
    with pytest.raises(SlackApiError) as empty, pytest.warns(UserWarning):
        await client.chat_postMessage(channel="C0GENERAL", text="")
    with pytest.raises(SlackApiError) as too_long:
        await client.chat_postMessage(channel="C0GENERAL", text="x" * 40_001)
    assert (empty.value.response["error"], too_long.value.response["error"]) == ("no_text", "msg_too_long")
    assert [v["error"] for v in fake.errors] == ["no_text", "msg_too_long"]


async def test_metadata_round_trips_through_history_json_and_form(fake: FakeSlack) -> None:
    client = client_for(fake)
    metadata = {"event_type": "digest_posted", "event_payload": {"digest": "weekly", "items": 3}}
    first = await client.chat_postMessage(channel="C0JOBS", text="weekly digest", metadata=metadata)
    second = await client.api_call(  # form-encoded, blocks and metadata as JSON strings, like older callers
        "chat.postMessage",
        data={"channel": "C0JOBS", "text": "reply", "thread_ts": first["ts"],
              "blocks": '[{"type": "divider"}]', "metadata": '{"event_type": "x", "event_payload": {}}'},
    )
    assert second["ok"] and fake.messages[1]["blocks"] == [{"type": "divider"}]
    await client.chat_update(channel="C0JOBS", ts=first["ts"], text="weekly digest (edited)")
    history = await client.conversations_history(channel="C0JOBS", include_all_metadata=True, limit=10)
    [top] = history["messages"]  # thread replies stay out of history, as in Slack
    assert top["metadata"] == metadata and top["text"] == "weekly digest (edited)" and "edited" in top
    none_newer = await client.conversations_history(channel="C0JOBS", oldest=first["ts"])
    assert none_newer["messages"] == []
    seeded = {"event_type": "t", "event_payload": {}}
    fake.seed_message("C0GENERAL", "a person's message", user="U0ADA", metadata=seeded)
    plain = await client.conversations_history(channel="C0GENERAL")
    full = await client.conversations_history(channel="C0GENERAL", include_all_metadata=True)
    assert "metadata" not in plain["messages"][0] and full["messages"][0]["metadata"]["event_type"] == "t"
    with pytest.raises(SlackApiError) as bad:
        await client.chat_postMessage(channel="C0JOBS", text="x", metadata={"event_payload": {}})
    assert bad.value.response["error"] == "invalid_metadata_format"


async def test_channels_users_and_dms(fake: FakeSlack) -> None:
    fake.users = {"U0ADA": {"is_admin": True, "tz": "Europe/Berlin"}, "U0BOB": {}}
    client = client_for(fake)
    for channel, error in [("C0NOPE", "channel_not_found"), ("C0OLD", "is_archived"),
                           ("C0PRIVATE", "not_in_channel")]:
        with pytest.raises(SlackApiError) as rejected:
            await client.chat_postMessage(channel=channel, text="hi")
        assert rejected.value.response["error"] == error
    first = await client.conversations_open(users="U0ADA")
    again = await client.conversations_open(users=["U0ADA"])
    assert first["channel"]["id"] == again["channel"]["id"] and first["channel"]["id"].startswith("D")
    await client.chat_postMessage(channel=first["channel"]["id"], text="welcome")
    await client.chat_postMessage(channel="U0ADA", text="posting to a user id lands in the DM")
    assert [m["text"] for m in fake.dms_to("U0ADA")][0] == "welcome" and len(fake.dms_to("U0ADA")) == 2
    for users, error in [("U0GONE", "account_inactive"), (fake.bot_user_id, "cannot_dm_bot"),
                         ("U0WHO", "user_not_found")]:
        with pytest.raises(SlackApiError) as rejected:
            await client.conversations_open(users=users)
        assert rejected.value.response["error"] == error
    ada = (await client.users_info(user="U0ADA"))["user"]
    assert ada["is_admin"] and not ada["is_owner"] and ada["tz"] == "Europe/Berlin" and not ada["deleted"]
    assert (await client.users_info(user="U0GONE"))["user"]["deleted"] is True
    eph = await client.chat_postEphemeral(channel="C0GENERAL", user="U0BOB", text="only you")
    assert fake.ephemerals[0]["user"] == "U0BOB" and eph["message_ts"]


async def test_response_url_allows_five_uses_within_thirty_minutes(fake: FakeSlack) -> None:
    now = [0.0]
    fake.clock = lambda: now[0]
    hook = AsyncWebhookClient(fake.response_url("r1"))
    statuses = [(await hook.send(text=f"update {i}")).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert len(await fake.wait_responses("r1", 5)) == 5
    late = AsyncWebhookClient(fake.response_url("r2"))
    now[0] += 31 * 60
    expired = await late.send(text="too late")
    assert (expired.status_code, expired.body) == (404, "expired_url")
    invalid = await AsyncWebhookClient(fake.response_url("r3")).send(
        text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}])
    assert (invalid.status_code, invalid.body) == (400, "invalid_blocks")
    assert fake.errors[-1]["method"] == "response_url"


# -- many workspaces: the OAuth v2 install flow, per-team tokens, event retries ----------------------
REDIRECT = "https://careerbot.example/slack/oauth_redirect"


async def consent(fake: FakeSlack, **query: str) -> tuple[int, str, str]:
    """A browser visiting Slack's consent page: (status, page, Location)."""
    params = {"client_id": fake.client_id, "scope": "chat:write,commands", "state": "s-1", **query}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.base_url}/oauth/v2/authorize", params=params, allow_redirects=False) as res:
            return res.status, await res.text(), res.headers.get("Location", "")


async def approved_code(fake: FakeSlack, team: str, user: str = "U0INST", **options: Any) -> str:
    fake.will_approve(team, user, **options)
    status, _, location = await consent(fake)
    assert status == 302 and location.startswith(REDIRECT + "?")
    answer = parse_qs(urlsplit(location).query)
    assert answer["state"] == ["s-1"]
    return answer["code"][0]


async def test_oauth_v2_install_flow_gives_each_workspace_its_own_token(fake: FakeSlack) -> None:
    fake.redirect_urls = [REDIRECT]
    fake.add_team("T0A", "Alpha", channels={"C0A"}, users={"U0A"})
    fake.add_team("T0B", "Beta", channels={"C0B"}, users={"U0B"})
    # What Slack shows instead of redirecting: the consent page, or an error for a wrong app or URL.
    status, page, _ = await consent(fake)
    assert status == 200 and "requesting permission" in page
    status, page, _ = await consent(fake, client_id="1.2")
    assert status == 400 and "Invalid client_id parameter" in page
    assert (await consent(fake, redirect_uri="https://evil.example/cb"))[0] == 400
    fake.will_deny()
    _, _, denied = await consent(fake)
    assert parse_qs(urlsplit(denied).query) == {"error": ["access_denied"], "state": ["s-1"]}

    anon = AsyncWebClient(base_url=fake.api_url)  # oauth.v2.access needs no token: the app's credentials
    code_a = await approved_code(fake, "T0A", "U0A")
    alpha = await anon.oauth_v2_access(client_id=fake.client_id, client_secret=fake.client_secret, code=code_a)
    assert alpha["access_token"].startswith("xoxb-") and alpha["token_type"] == "bot"
    assert alpha["team"] == {"id": "T0A", "name": "Alpha"} and alpha["enterprise"] is None
    assert alpha["authed_user"] == {"id": "U0A"} and alpha["scope"] == "chat:write,commands"
    assert alpha["app_id"] == fake.api_app_id and alpha["bot_user_id"] == fake.teams["T0A"]["bot_user_id"]
    assert alpha["is_enterprise_install"] is False
    for bad, error in [({"code": code_a}, "invalid_code"), ({"code": "nope"}, "invalid_code")]:
        with pytest.raises(SlackApiError) as refused:
            await anon.oauth_v2_access(client_id=fake.client_id, client_secret=fake.client_secret, **bad)
        assert refused.value.response["error"] == error  # a code works once
    with pytest.raises(SlackApiError) as wrong_secret:
        await anon.oauth_v2_access(client_id=fake.client_id, client_secret="guess", code=await approved_code(fake, "T0B"))
    assert wrong_secret.value.response["error"] == "bad_client_secret"
    # Credentials as form parameters work too (Slack prefers HTTP Basic, which slack-sdk sends).
    code_b = await approved_code(fake, "T0B", "U0B")
    beta = await anon.api_call("oauth.v2.access", data={"client_id": fake.client_id,
                                                        "client_secret": fake.client_secret, "code": code_b})
    assert beta["team"]["id"] == "T0B" and beta["access_token"] != alpha["access_token"]

    a, b = client_for(fake, alpha["access_token"]), client_for(fake, beta["access_token"])
    me = await a.auth_test()
    assert (me["team_id"], me["team"], me["user_id"]) == ("T0A", "Alpha", fake.teams["T0A"]["bot_user_id"])
    assert (await b.auth_test())["team_id"] == "T0B"
    await a.chat_postMessage(channel="C0A", text="alpha only")
    for client, channel in [(a, "C0B"), (b, "C0A"), (a, "C0GENERAL")]:  # another workspace's channel
        with pytest.raises(SlackApiError) as unseen:
            await client.chat_postMessage(channel=channel, text="hi")
        assert unseen.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as stranger:
        await a.conversations_open(users="U0B")
    assert stranger.value.response["error"] == "user_not_found"
    [posted] = fake.in_channel("C0A")
    assert posted["team"] == "T0A" and posted["bot_user"] == fake.teams["T0A"]["bot_user_id"]

    # A re-install keeps the token; an uninstall revokes it, and the next install gets a new one.
    again = await anon.oauth_v2_access(client_id=fake.client_id, client_secret=fake.client_secret,
                                       code=await approved_code(fake, "T0A"))
    assert again["access_token"] == alpha["access_token"]
    assert fake.uninstall("T0A") == {"type": "app_uninstalled"}
    with pytest.raises(SlackApiError) as revoked:
        await a.chat_postMessage(channel="C0A", text="still here?")
    assert revoked.value.response["error"] == "token_revoked"
    fresh = await anon.oauth_v2_access(client_id=fake.client_id, client_secret=fake.client_secret,
                                       code=await approved_code(fake, "T0A"))
    assert fresh["access_token"] != alpha["access_token"] and fake.token_for("T0A") == fresh["access_token"]


async def test_an_org_wide_install_works_in_every_workspace_of_the_org(fake: FakeSlack) -> None:
    fake.redirect_urls = [REDIRECT]
    fake.add_team("T0E1", "Org One", enterprise_id="E0ORG", channels={"C0E1"})
    fake.add_team("T0E2", "Org Two", enterprise_id="E0ORG", channels={"C0E2"})
    fake.add_team("T0OUT", "Outside", channels={"C0OUT"})
    anon = AsyncWebClient(base_url=fake.api_url)
    org = await anon.oauth_v2_access(client_id=fake.client_id, client_secret=fake.client_secret,
                                     code=await approved_code(fake, "T0E1", enterprise_install=True))
    assert org["team"] is None and org["enterprise"]["id"] == "E0ORG" and org["is_enterprise_install"] is True
    client = client_for(fake, org["access_token"])
    me = await client.auth_test()
    assert me["is_enterprise_install"] is True and me["enterprise_id"] == "E0ORG"
    await client.chat_postMessage(channel="C0E1", text="one")
    await client.chat_postMessage(channel="C0E2", text="two")
    with pytest.raises(SlackApiError) as outside:
        await client.chat_postMessage(channel="C0OUT", text="no")
    assert outside.value.response["error"] == "channel_not_found"
    envelope = fake.event_callback(fake.app_mention("hi", channel_id="C0E2", team_id="T0E2"), team_id="T0E2")
    assert envelope["authorizations"][0] | {"user_id": None} == {
        "enterprise_id": "E0ORG", "team_id": None, "user_id": None, "is_bot": True, "is_enterprise_install": True}
    assert envelope["team_id"] == "T0E2" and envelope["enterprise_id"] == "E0ORG"


async def test_an_event_is_delivered_again_with_retry_headers(fake: FakeSlack) -> None:
    seen: list[tuple[dict[str, str], dict[str, Any]]] = []

    async def events(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.json()))
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runners = [await serve(app), await serve(app)]
    try:
        urls = [f"{root}/slack/events" for _, root in runners]
        acks = await fake.deliver_event(urls, fake.app_mention("hi"), times=3, event_id="Ev0ONE")
    finally:
        for runner, _ in runners:
            await runner.cleanup()
    assert [a.status for a in acks] == [200, 200, 200]
    assert [body["event_id"] for _, body in seen] == ["Ev0ONE"] * 3
    assert len({json.dumps(body, sort_keys=True) for _, body in seen}) == 1  # the very same body each time
    assert [h.get("X-Slack-Retry-Num") for h, _ in seen] == [None, "1", "2"]
    assert [h.get("X-Slack-Retry-Reason") for h, _ in seen] == [None, "http_timeout", "http_timeout"]
    assert all(h["X-Slack-Signature"].startswith("v0=") for h, _ in seen)
