"""A local fake of the parts of Slack the careerbot Slack adapter touches, served on 127.0.0.1.

It speaks enough of the wire protocol for the *real* slack-bolt ``AsyncApp``, slack-sdk
``AsyncWebClient`` / ``AsyncWebhookClient`` and the aiohttp ``AsyncSocketModeHandler``:

* Web API under ``{base}/api/{method}`` (form, query or JSON bodies, as slack-sdk sends them),
  checking the ``Authorization: Bearer`` token (bot token for chat/conversations/users/auth,
  app token for ``apps.connections.open``) and answering HTTP 200 ``{"ok": false, "error": ...}``
  like Slack does, or HTTP 429 + ``Retry-After`` for injected rate limits (``rate_limit_next``),
  or an HTML 5xx page for injected outages (``fail_next``).
* Validation of what the bot posts (Block Kit limits, text/no_text/msg_too_long, metadata);
  every problem is recorded in ``violations``; a missing top-level ``text`` next to blocks is a
  warning (Slack accepts the message), everything else makes the call fail like Slack.
* ``response_url`` sinks at ``{base}/respond/{id}``: at most 5 uses within 30 minutes.
* File uploads the way ``files_upload_v2`` does them: ``files.getUploadURLExternal`` (checks
  ``filename`` and ``length``) hands out an ``upload_url`` on this fake's own loopback server
  and a ``file_id``; a POST of the bytes there is stored (and its length checked against the
  one announced); ``files.completeUploadExternal`` shares uploaded files in a channel the bot
  can post in (else ``channel_not_found``/``not_in_channel``/``is_archived`` like Slack), records
  them with their bytes (``files``, ``files_in``) and adds the file-share message Slack shows.
  Titles and comments with mention markup are recorded as ``pings`` warnings.
* Helpers that drive the bot as Slack does: signed HTTP slash commands, Events API callbacks
  and interactions; Socket Mode envelopes over a websocket with acks, ``hello`` and
  ``disconnect`` (``refresh_requested``) so the client reconnects. An event can be delivered
  again the way Slack retries one it thinks was missed: the same ``event_id`` with
  ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason`` (``deliver_event``), to one URL or several
  (processes behind a load balancer).
* Many workspaces (``add_team``): each team has its own channels, people and bot user, and a
  bot token works only for its own team's channels (another team's channel is
  ``channel_not_found``, as on Slack); an org-wide (Enterprise Grid) token works in every
  workspace of its organization. ``auth.test`` answers per token.
* The OAuth v2 install flow: ``/oauth/v2/authorize`` stands in for Slack's consent page (it
  checks ``client_id``, ``scope`` and ``redirect_uri`` against the app's redirect URLs, shows a
  consent page, or redirects to the ``redirect_uri`` with ``code`` and ``state`` once the test
  ``will_approve``s, or with ``error=access_denied`` after ``will_deny``); ``oauth.v2.access``
  (form-encoded; ``client_id``/``client_secret`` by HTTP Basic or as parameters) exchanges a
  code once, within ten minutes, for the real response shape (``access_token`` ``xoxb-…``,
  ``team``, ``enterprise``, ``bot_user_id``, ``app_id``, ``scope``, ``authed_user`` …).
  A re-install of a team returns its existing token; ``uninstall`` revokes the team's tokens
  (calls with them then fail ``token_revoked``) and returns the ``app_uninstalled`` event.

Nothing here talks to the network beyond loopback.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import mimetypes
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import WSMsgType, web

from tests.fakes.local_http import serve

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
CLIENT_AUTH_METHODS = frozenset({"oauth.v2.access"})  # the app's client id and secret, no token
CODE_TTL = 600.0  # an OAuth code is good for ten minutes, once
_MENTION_MARKUP = re.compile(r"<(?:@|!|#)[^>]*>")
DEFAULT_BLOCK_TYPES = frozenset({"header", "section", "context", "actions", "divider"})
INTERACTIVE_ELEMENTS = frozenset(
    {
        "button",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "overflow",
        "datepicker",
        "timepicker",
        "checkboxes",
        "radio_buttons",
    }
)


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


@dataclass
class HttpAck:
    """What Slack saw when it delivered a request to the bot over HTTP.

    Unpacks as ``status, body, elapsed = ack``; ``response_id`` names the response_url the
    request carried (for ``wait_responses``), ``json()`` parses the body (None if empty)."""

    status: int
    body: str
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)
    response_id: str | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.body, self.elapsed))

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class SocketAck:
    """The bot's acknowledgement of a Socket Mode envelope (``acked`` False: none within the timeout)."""

    envelope_id: str
    acked: bool
    payload: dict[str, Any] | None
    elapsed: float
    response_id: str | None = None


def _fail(error: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": error, **extra}


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True", "TRUE")


def _text_object(obj: Any, at: str, *, max_len: int, plain_only: bool = False) -> list[tuple[str, str]]:
    if not isinstance(obj, dict):
        return [(at, "must be an object")]
    kind = obj.get("type")
    if kind not in ("plain_text", "mrkdwn"):
        return [(f"{at}/type", "must be either plain_text or mrkdwn")]
    if plain_only and kind != "plain_text":
        return [(f"{at}/type", "must be plain_text")]
    out: list[tuple[str, str]] = []
    text = obj.get("text")
    if not isinstance(text, str):
        out.append((f"{at}/text", "must be a string"))
    elif not text:
        out.append((f"{at}/text", "must be more than 0 characters"))
    elif len(text) > max_len:
        out.append((f"{at}/text", f"must be less than {max_len + 1} characters"))
    flag = "emoji" if kind == "plain_text" else "verbatim"
    if flag in obj and not isinstance(obj[flag], bool):
        out.append((f"{at}/{flag}", "must be a boolean"))
    for key in obj:
        if key not in ("type", "text", flag):
            out.append((f"{at}/{key}", f"unsupported property {key!r} for {kind}"))
    return out


def _element(el: Any, at: str) -> list[tuple[str, str]]:
    if not isinstance(el, dict):
        return [(at, "must be an object")]
    kind = el.get("type")
    if kind not in INTERACTIVE_ELEMENTS:
        return [(f"{at}/type", f"must be a valid enum value, not {kind!r}")]
    out: list[tuple[str, str]] = []
    action_id = el.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or not 0 < len(action_id) <= 255):
        out.append((f"{at}/action_id", "must be a string of 1 to 255 characters"))
    if kind == "button":
        out += _text_object(el.get("text"), f"{at}/text", max_len=75, plain_only=True)
        value = el.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            out.append((f"{at}/value", "must be a string of at most 2000 characters"))
        url = el.get("url")
        if url is not None and (not isinstance(url, str) or len(url) > 3000):
            out.append((f"{at}/url", "must be a string of at most 3000 characters"))
        if "style" in el and el["style"] not in ("primary", "danger"):
            out.append((f"{at}/style", "must be primary or danger"))
    return out


def validate_blocks(
    blocks: Any, *, max_blocks: int = 50, block_types: frozenset[str] = DEFAULT_BLOCK_TYPES
) -> list[tuple[str, str]]:
    """Slack's Block Kit checks for a message: a list of ``(json-pointer, problem)``, empty if fine."""
    if not isinstance(blocks, list):
        return [("/blocks", "must be an array")]
    out: list[tuple[str, str]] = []
    if len(blocks) > max_blocks:
        out.append(("/blocks", f"no more than {max_blocks} items allowed"))
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            out.append((at, "must be an object with a string type"))
            continue
        kind = block["type"]
        if kind not in block_types:
            out.append((f"{at}/type", f"must be a valid enum value, not {kind!r}"))
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                out.append((f"{at}/block_id", "must be a string of 1 to 255 characters"))
            elif block_id in seen_ids:
                out.append((f"{at}/block_id", f"duplicate block_id {block_id!r}"))
            else:
                seen_ids.add(block_id)
        if kind == "header":
            out += _text_object(block.get("text"), f"{at}/text", max_len=150, plain_only=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                out.append((at, "must provide text or fields"))
            if "text" in block:
                out += _text_object(block["text"], f"{at}/text", max_len=3000)
            if "fields" in block:
                fields = block["fields"]
                if not isinstance(fields, list) or not 0 < len(fields) <= 10:
                    out.append((f"{at}/fields", "must be an array of 1 to 10 items"))
                else:
                    for j, f in enumerate(fields):
                        out += _text_object(f, f"{at}/fields/{j}", max_len=2000)
            if "accessory" in block:
                out += _element(block["accessory"], f"{at}/accessory")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10:
                out.append((f"{at}/elements", "must be an array of 1 to 10 items"))
            else:
                for j, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") == "image":
                        if not el.get("image_url") or not el.get("alt_text"):
                            out.append((f"{at}/elements/{j}", "image needs image_url and alt_text"))
                    else:
                        out += _text_object(el, f"{at}/elements/{j}", max_len=3000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 25:
                out.append((f"{at}/elements", "must be an array of 1 to 25 items"))
            else:
                for j, el in enumerate(elements):
                    out += _element(el, f"{at}/elements/{j}")
    return out


@dataclass
class FakeSlack:
    bot_token: str = "xoxb-fake-bot-token"
    app_token: str = "xapp-1-A0CAREER-fake-app-token"
    signing_secret: str = "fake-signing-secret"
    verification_token: str = "fake-verification-token"  # the deprecated `token` field Slack still sends
    team_id: str = "T0FAKE"
    team_domain: str = "fakeworkspace"
    api_app_id: str = "A0CAREER"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    bot_name: str = "careerbot"
    channels: set[str] | None = None  # None: every channel id exists
    not_in_channel: set[str] = field(default_factory=set)  # the bot is not a member: not_in_channel
    archived: set[str] = field(default_factory=set)  # is_archived on posts
    users: dict[str, dict[str, Any]] | None = None  # None: every U/W id exists; values override users.info fields
    inactive_users: set[str] = field(default_factory=set)  # deactivated: users.info deleted, DMs fail
    inactive_error: str = "account_inactive"  # the error DMs to inactive users get
    bot_users: set[str] = field(default_factory=set)  # other bots: conversations.open -> cannot_dm_bot
    rate_limit_next: dict[str, int | list[int]] = field(default_factory=dict)  # method -> Retry-After secs
    # method -> HTTP statuses (5xx) to answer its next calls with, as Slack's edge does in an
    # outage: an HTML error page, no JSON (optional fault injection for soak benches).
    fail_next: dict[str, list[int]] = field(default_factory=dict)
    usergroups: dict[str, dict[str, Any]] = field(default_factory=dict)  # S id -> {"handle", "users": [...]}
    max_text: int = 40_000
    max_blocks: int = 50
    block_types: frozenset[str] = DEFAULT_BLOCK_TYPES
    response_url_max_uses: int = 5
    response_url_ttl: float = 30 * 60
    max_file_bytes: int = 1024 * 1024 * 1024  # files.getUploadURLExternal: file_upload_size_restricted beyond
    file_uploads_disabled: bool = False  # the workspace turned uploads off: file_uploads_disabled
    upload_fail_next: list[int] = field(default_factory=list)  # HTTP statuses for the next POSTs to upload_url
    clock: Callable[[], float] = time.monotonic  # ages response_urls and OAuth codes
    # The app's OAuth credentials (Basic Information → App Credentials) and its Redirect URLs
    # (OAuth & Permissions); a redirect_uri must match one of these, as on Slack.
    client_id: str = "1234567890.1234567890123"
    client_secret: str = "fake-client-secret"
    redirect_urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.violations: list[dict[str, Any]] = []
        self.envelopes: list[dict[str, Any]] = []  # Socket Mode envelopes sent to the bot
        self.socket_acks: list[dict[str, Any]] = []  # what the bot sent back on the websocket
        self.dm_channels: dict[str, str] = {}  # user id -> D channel id
        # file id -> {"id", "filename", "length", "alt_txt", "data" (None until uploaded), "title",
        # "channels": [shared in], "completed"}: every upload the bot started
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: list[dict[str, Any]] = []  # POSTs to upload URLs: {"file_id", "status", "size", "content_type"}
        self.rate_limited = 0
        self.server_errors = 0  # calls answered from fail_next
        self.connections = 0  # websocket connections ever accepted
        self.base_url = ""
        self.api_url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._draining: set[int] = set()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._last_ts = 0
        # Workspaces: team id -> {"id", "name", "domain", "enterprise_id", "enterprise_name", "bot_user_id", "bot_id"}.
        self.teams: dict[str, dict[str, Any]] = {}
        self.channel_teams: dict[str, str] = {}  # channel id -> team (unlisted: the default team)
        self.user_teams: dict[str, str] = {}  # user id -> team (unlisted: the default team)
        # Bot tokens: token -> {"team_id" (None for an org-wide grant), "enterprise_id", "bot_user_id",
        # "bot_id", "scopes", "revoked"}. The default bot_token belongs to the default team.
        self.tokens: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []  # every visit to /oauth/v2/authorize (its query)
        self.installs: list[dict[str, Any]] = []  # every successful oauth.v2.access: {"team_id", "enterprise_id", "user_id", "token"}
        self._consent: list[dict[str, Any]] = []  # what the next visits to the consent page do
        self._codes: dict[str, dict[str, Any]] = {}
        self._grant: dict[str, Any] | None = None  # the token grant of the Web API call being answered
        self.add_team(self.team_id, "Fake Workspace", domain=self.team_domain, bot_user_id=self.bot_user_id,
                      bot_id=self.bot_id)
        self.tokens[self.bot_token] = self._new_grant(self.team_id, None)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web_api)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_post("/upload/v1/{ticket}", self._upload)
        app.router.add_get("/socket/link", self._socket)
        app.router.add_get("/oauth/v2/authorize", self._authorize)
        self._runner, self.base_url = await serve(app)
        self.api_url = f"{self.base_url}/api/"
        self._session = aiohttp.ClientSession()
        return self.api_url

    async def stop(self) -> None:
        for future in self._pending.values():
            future.cancel()
        for ws in list(self._sockets):
            try:
                await asyncio.wait_for(ws.close(code=1001, message=b"server shutting down"), 1.0)
            except (asyncio.TimeoutError, ConnectionError):
                pass
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ workspaces and installs

    def add_team(
        self, team_id: str, name: str, *, domain: str | None = None, enterprise_id: str | None = None,
        enterprise_name: str | None = None, channels: Iterable[str] = (), users: Iterable[str] = (),
        bot_user_id: str | None = None, bot_id: str | None = None,
    ) -> dict[str, Any]:
        """A workspace (with its channels and people) the app can be installed in. Each workspace
        has its own bot user, as on Slack; ``enterprise_id`` puts it in an Enterprise Grid org."""
        n = len(self.teams)
        team = {
            "id": team_id, "name": name, "domain": domain or name.lower().replace(" ", "-"),
            "enterprise_id": enterprise_id, "enterprise_name": enterprise_name or (enterprise_id and f"Org {enterprise_id}"),
            "bot_user_id": bot_user_id or f"U0BOT{n}", "bot_id": bot_id or f"B0BOT{n}",
        }
        self.teams[team_id] = team
        for channel in channels:
            self.channel_teams[channel] = team_id
            if self.channels is not None:
                self.channels.add(channel)
        for user in users:
            self.user_teams[user] = team_id
            if self.users is not None:
                self.users.setdefault(user, {})
        return team

    def _new_grant(self, team_id: str | None, enterprise_id: str | None, scopes: str = "") -> dict[str, Any]:
        team = self.teams.get(team_id or "") or {}
        return {"team_id": team_id, "enterprise_id": enterprise_id or team.get("enterprise_id"),
                "bot_user_id": team.get("bot_user_id", self.bot_user_id), "bot_id": team.get("bot_id", self.bot_id),
                "scopes": scopes, "revoked": False}

    def will_approve(self, team_id: str, user_id: str = "U0INSTALLER", *, enterprise_install: bool = False) -> None:
        """The next visit to the consent page is a person in ``team_id`` clicking Allow (with
        ``enterprise_install``: an org admin installing for the team's whole organization)."""
        self._consent.append({"approve": True, "team_id": team_id, "user_id": user_id,
                              "enterprise_install": enterprise_install})

    def will_deny(self) -> None:
        """The next visit to the consent page is someone clicking Cancel."""
        self._consent.append({"approve": False})

    def token_for(self, team_id: str) -> str | None:
        """The live bot token an install issued for ``team_id`` (its own, else its organization's)."""
        enterprise = (self.teams.get(team_id) or {}).get("enterprise_id")
        for token, grant in self.tokens.items():
            if not grant["revoked"] and token != self.bot_token and grant["team_id"] == team_id:
                return token
        for token, grant in self.tokens.items():
            if not grant["revoked"] and grant["team_id"] is None and enterprise and grant["enterprise_id"] == enterprise:
                return token
        return None

    def uninstall(self, team_id: str | None = None, *, enterprise_id: str | None = None) -> dict[str, Any]:
        """Someone removed the app from the workspace (or, with only ``enterprise_id``, from the
        org): its tokens stop working at once; returns the ``app_uninstalled`` event to deliver."""
        for grant in self.tokens.values():
            if (team_id is not None and grant["team_id"] == team_id) or (
                team_id is None and grant["team_id"] is None and grant["enterprise_id"] == enterprise_id
            ):
                grant["revoked"] = True
        return {"type": "app_uninstalled"}

    def revoke_bot_token(self, team_id: str) -> dict[str, Any]:
        """An admin revoked the bot's token; returns the ``tokens_revoked`` event to deliver."""
        bots = []
        for grant in self.tokens.values():
            if grant["team_id"] == team_id and not grant["revoked"]:
                grant["revoked"] = True
                bots.append(grant["bot_user_id"])
        return {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": bots}}

    def team_of_channel(self, channel: str) -> str:
        user = next((u for u, c in self.dm_channels.items() if c == channel), None)
        if user is not None:
            return self.user_teams.get(user, self.team_id)
        return self.channel_teams.get(channel, self.team_id)

    def _reaches(self, grant: dict[str, Any] | None, team_id: str) -> bool:
        """Whether a token's grant may act in ``team_id``: its own team, or any of its organization's."""
        if grant is None:
            return True
        if grant["team_id"] is not None:
            return grant["team_id"] == team_id
        return grant["enterprise_id"] is not None and (self.teams.get(team_id) or {}).get("enterprise_id") == grant["enterprise_id"]

    def _bot(self, message: dict[str, Any] | None = None) -> tuple[str, str]:
        """(bot user id, bot id) of the caller's workspace, or of the one a message was posted by."""
        if message is not None:
            return message.get("bot_user", self.bot_user_id), message.get("bot_id") or self.bot_id
        grant = self._grant or {}
        return grant.get("bot_user_id", self.bot_user_id), grant.get("bot_id", self.bot_id)

    # ------------------------------------------------------------------ queries

    def in_channel(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel]

    def dms_to(self, user: str) -> list[dict[str, Any]]:
        channel = self.dm_channels.get(user)
        return self.in_channel(channel) if channel else []

    def files_in(self, channel: str) -> list[dict[str, Any]]:
        """Files shared in a channel, in order: ``{"id", "filename", "title", "alt_txt", "data", ...}``."""
        return [f for f in self.files.values() if channel in f["channels"]]

    def files_to(self, user: str) -> list[dict[str, Any]]:
        channel = self.dm_channels.get(user)
        return self.files_in(channel) if channel else []

    def responses_to(self, response_id: str) -> list[dict[str, Any]]:
        return [r for r in self.responses if r["id"] == response_id]

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["severity"] == "error"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["severity"] == "warning"]

    def dm_channel(self, user: str) -> str:
        """The user's DM channel id (``D…``), the same one every time."""
        if user not in self.dm_channels:
            self.dm_channels[user] = f"D{next(self._ids):08d}"
        return self.dm_channels[user]

    def seed_message(
        self, channel: str, text: str, *, user: str = "U0USER", metadata: dict[str, Any] | None = None
    ) -> str:
        """Puts a message from a person into a channel's history; returns its ts."""
        ts = self._next_ts()
        self.messages.append(
            {"channel": channel, "ts": ts, "text": text, "blocks": [], "metadata": metadata, "thread_ts": None,
             "user": user, "bot_id": None, "edited": False, "updates": 0, "deleted": False}
        )
        return ts

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Polls ``predicate`` until it returns something truthy; returns that, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.005)

    async def wait_responses(self, response_id: str, n: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.responses_to(response_id)) >= n, timeout)
        return self.responses_to(response_id)

    async def wait_messages(self, channel: str, n: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.in_channel(channel)) >= n, timeout)
        return self.in_channel(channel)

    async def wait_connections(self, n: int = 1, timeout: float = 5.0) -> None:
        """Waits until ``n`` websocket connections were made and one is open for envelopes."""
        await self.wait_for(lambda: self.connections >= n and self._live_socket() is not None, timeout)

    # ------------------------------------------------------------------ Web API

    def _next_ts(self) -> str:
        micro = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micro
        return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in ("blocks", "metadata", "attachments", "files"):  # JSON strings inside form fields
            value = params.get(key)
            if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    pass
        return params

    async def _web_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else params.pop("token", None)
        params.pop("token", None)
        entry: dict[str, Any] = {"method": method, "params": params, "at": time.monotonic(), "error": None,
                                 "team": None}
        self.requests.append(entry)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            entry["error"] = "unknown_method"
            return web.json_response(_fail("unknown_method", req_method=method), status=404)
        grant: dict[str, Any] | None = None
        if method in CLIENT_AUTH_METHODS:
            error = self._client_auth(auth, params)
        elif method in APP_TOKEN_METHODS:
            error = None if token == self.app_token else "not_authed" if not token else (
                "not_allowed_token_type" if token in self.tokens else "invalid_auth"
            )
        else:
            grant = self.tokens.get(token or "")
            error = "not_authed" if not token else (
                "not_allowed_token_type" if token == self.app_token else "invalid_auth" if grant is None else
                "token_revoked" if grant["revoked"] else None
            )
        if error:
            entry["error"] = error
            return web.json_response(_fail(error))
        entry["team"] = grant["team_id"] or grant["enterprise_id"] if grant else None
        queued = self.rate_limit_next.get(method)
        if queued is not None:
            if isinstance(queued, list):
                retry_after = queued.pop(0)
                if not queued:
                    del self.rate_limit_next[method]
            else:
                retry_after = queued
                del self.rate_limit_next[method]
            self.rate_limited += 1
            entry["error"] = "ratelimited"
            return web.json_response(
                _fail("ratelimited"), status=429, headers={"Retry-After": str(int(retry_after))}
            )
        failures = self.fail_next.get(method)
        if failures:
            status = failures.pop(0)
            if not failures:
                del self.fail_next[method]
            self.server_errors += 1
            entry["error"] = f"http_{status}"
            return web.Response(status=status, text="<html><body><h1>Service Unavailable</h1></body></html>",
                                content_type="text/html")
        self._grant = grant  # handlers run without awaiting: nothing else runs in between
        try:
            result = handler(params)
        finally:
            self._grant = None
        entry["error"] = result.get("error")
        return web.json_response(result)

    def _client_auth(self, auth: str, params: dict[str, Any]) -> str | None:
        """The app's credentials, by HTTP Basic (as Slack prefers) or as parameters."""
        client_id, secret = params.pop("client_id", None), params.pop("client_secret", None)
        if auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[len("Basic "):]).decode().partition(":")
            except ValueError:
                return "invalid_client_id"
        if client_id != self.client_id:
            return "invalid_client_id"
        if secret != self.client_secret:
            return "bad_client_secret"
        return None

    def _violation(self, method: str, channel: str | None, severity: str, error: str, message: str,
                   pointer: str | None = None) -> None:
        self.violations.append(
            {"method": method, "channel": channel, "severity": severity, "error": error,
             "message": message, "pointer": pointer}
        )

    def _user_exists(self, user: str) -> bool:
        """A person (or bot) the caller's workspace can see: people of other workspaces are not found."""
        if not self._reaches(self._grant, self.user_teams.get(user, self.team_id)):
            return False
        if user in self.inactive_users or user in self.bot_users or user == self._bot()[0]:
            return True
        if self.users is None:
            return bool(user) and user[0] in "UW"
        return user in self.users

    def _resolve(self, channel: Any) -> tuple[str | None, str | None]:
        """A channel argument -> (channel id, error). User ids post to the user's DM, like Slack."""
        if not isinstance(channel, str) or not channel:
            return None, "channel_not_found"
        if channel[0] in "UW":
            if not self._user_exists(channel):
                return None, "channel_not_found"
            if channel in self.inactive_users:
                return None, self.inactive_error
            return self.dm_channel(channel), None
        if not self._reaches(self._grant, self.team_of_channel(channel)):
            return None, "channel_not_found"  # another workspace's channel: this token cannot see it
        dm_user = next((u for u, c in self.dm_channels.items() if c == channel), None)
        if dm_user is not None:
            return (None, self.inactive_error) if dm_user in self.inactive_users else (channel, None)
        if self.channels is not None and channel not in self.channels:
            return None, "channel_not_found"
        return channel, None

    def _postable(self, channel: Any) -> tuple[str | None, str | None]:
        resolved, error = self._resolve(channel)
        if error:
            return None, error
        assert resolved is not None
        if resolved in self.archived:
            return None, "is_archived"
        if resolved in self.not_in_channel:
            return None, "not_in_channel"
        return resolved, None

    def _check_content(self, method: str, channel: str | None, p: dict[str, Any]) -> dict[str, Any] | None:
        """Slack's checks of a message body; records violations, returns the error answer or None."""
        text = p.get("text")
        blocks = p.get("blocks")
        has_text = isinstance(text, str) and bool(text.strip())
        if not has_text and not blocks and not p.get("attachments") and not p.get("markdown_text"):
            self._violation(method, channel, "error", "no_text", "no text, blocks or attachments")
            return _fail("no_text")
        if isinstance(text, str) and len(text) > self.max_text:
            self._violation(method, channel, "error", "msg_too_long", f"text has {len(text)} characters")
            return _fail("msg_too_long")
        if blocks is not None:
            if isinstance(blocks, str):
                self._violation(method, channel, "error", "invalid_blocks_format", "blocks is not valid JSON")
                return _fail("invalid_blocks_format")
            problems = validate_blocks(blocks, max_blocks=self.max_blocks, block_types=self.block_types)
            if problems:
                errors = [f"{message} [json-pointer:{pointer}]" for pointer, message in problems]
                for pointer, message in problems:
                    self._violation(method, channel, "error", "invalid_blocks", message, pointer)
                return _fail(
                    "invalid_blocks", errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
            if blocks and not has_text:
                self._violation(method, channel, "warning", "missing_text",
                                "blocks without a top-level text fallback (notifications and screen readers)")
        metadata = p.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str) and metadata["event_type"]
            and isinstance(metadata.get("event_payload"), dict)
        ):
            self._violation(method, channel, "error", "invalid_metadata_format",
                            "metadata must be {event_type: str, event_payload: object}")
            return _fail("invalid_metadata_format")
        return None

    def _public(self, message: dict[str, Any], *, all_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "text": message["text"], "ts": message["ts"]}
        bot_user, bot_id = self._bot(message)
        if message["bot_id"]:
            out.update(user=bot_user, bot_id=bot_id, app_id=self.api_app_id)
        else:
            out["user"] = message["user"]
        if message["blocks"]:
            out["blocks"] = message["blocks"]
        if message["thread_ts"]:
            out["thread_ts"] = message["thread_ts"]
        if message["edited"]:
            out["edited"] = {"user": bot_user, "ts": message["edited"]}
        if message["metadata"] and (all_metadata or message["bot_id"]):
            out["metadata"] = message["metadata"]
        if message.get("files"):
            out.update(subtype="file_share", upload=True, files=[self._file_object(self.files[f]) for f in message["files"]])
        return out

    def _file_object(self, record: dict[str, Any]) -> dict[str, Any]:
        """A file as the Web API shows it (no bytes: Slack serves those from ``url_private``)."""
        name = record["filename"]
        out = {
            "id": record["id"], "name": name, "title": record["title"] or name, "size": record["length"],
            "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
            "user": record.get("bot_user", self.bot_user_id), "url_private": f"{self.base_url}/files/{record['id']}/{name}",
            "channels": [c for c in record["channels"] if c[0] == "C"], "ims": [c for c in record["channels"] if c[0] == "D"],
            "groups": [c for c in record["channels"] if c[0] == "G"],
        }
        if record["alt_txt"]:
            out["alt_txt"] = record["alt_txt"]
        return out

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        """Who the calling token is: its workspace (for an org-wide token, the organization) and bot."""
        grant = self._grant or self._new_grant(self.team_id, None)
        bot_user, bot_id = self._bot()
        if grant["team_id"] is None:  # an org-wide install
            enterprise = grant["enterprise_id"]
            name = next((t["enterprise_name"] for t in self.teams.values() if t["enterprise_id"] == enterprise), enterprise)
            return {"ok": True, "url": f"https://{str(enterprise).lower()}.enterprise.slack.com/", "team": name,
                    "user": self.bot_name, "team_id": enterprise, "user_id": bot_user, "bot_id": bot_id,
                    "enterprise_id": enterprise, "is_enterprise_install": True}
        team = self.teams[grant["team_id"]]
        out = {"ok": True, "url": f"https://{team['domain']}.slack.com/", "team": team["name"], "user": self.bot_name,
               "team_id": team["id"], "user_id": bot_user, "bot_id": bot_id, "is_enterprise_install": False}
        if team["enterprise_id"]:
            out["enterprise_id"] = team["enterprise_id"]
        return out

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._postable(p.get("channel"))
        if error:
            return _fail(error)
        problem = self._check_content("chat.postMessage", channel, p)
        if problem:
            return problem
        bot_user, bot_id = self._bot()
        message = {
            "channel": channel, "ts": self._next_ts(), "text": p.get("text") or "",
            "blocks": p.get("blocks") or [], "metadata": p.get("metadata"), "thread_ts": p.get("thread_ts"),
            "user": bot_user, "bot_id": bot_id, "edited": False, "updates": 0, "deleted": False,
            "team": self.team_of_channel(channel or ""), "bot_user": bot_user,
        }
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": self._public(message)}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._postable(p.get("channel"))
        if error:
            return _fail(error)
        message = next((m for m in self.in_channel(channel or "") if m["ts"] == p.get("ts")), None)
        if message is None or message["deleted"]:
            return _fail("message_not_found")
        if not message["bot_id"]:
            return _fail("cant_update_message")
        problem = self._check_content("chat.update", channel, p)
        if problem:
            return problem
        message.update(text=p.get("text") or "", edited=self._next_ts(), updates=message["updates"] + 1)
        if "blocks" in p:
            message["blocks"] = p["blocks"] or []
        if p.get("metadata") is not None:
            message["metadata"] = p["metadata"]
        return {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"],
                "message": self._public(message)}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._postable(p.get("channel"))
        if error:
            return _fail(error)
        user = p.get("user")
        if not isinstance(user, str) or not self._user_exists(user):
            return _fail("user_not_found")
        if user in self.inactive_users:
            return _fail("user_not_in_channel")
        problem = self._check_content("chat.postEphemeral", channel, p)
        if problem:
            return problem
        ts = self._next_ts()
        self.ephemerals.append(
            {"channel": channel, "user": user, "ts": ts, "text": p.get("text") or "",
             "blocks": p.get("blocks") or [], "thread_ts": p.get("thread_ts")}
        )
        return {"ok": True, "message_ts": ts}

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        users = [u.strip() for u in str(p.get("users") or "").split(",") if u.strip()]
        if not users:
            return _fail("users_list_not_supplied")
        for user in users:
            if not self._user_exists(user):
                return _fail("user_not_found")
            if user == self._bot()[0] or user in self.bot_users:
                return _fail("cannot_dm_bot")
            if user in self.inactive_users:
                return _fail(self.inactive_error)
        if len(users) == 1:
            existed = users[0] in self.dm_channels
            channel = self.dm_channel(users[0])
            extra = {"no_op": True, "already_open": True} if existed else {}
            return {"ok": True, "channel": {"id": channel}, **extra}
        key = ",".join(sorted(users))
        return {"ok": True, "channel": {"id": "G" + hashlib.sha1(key.encode()).hexdigest()[:10].upper()}}

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._resolve(p.get("channel"))
        if error:
            return _fail(error)
        if channel in self.not_in_channel:
            return _fail("not_in_channel")
        inclusive = _truthy(p.get("inclusive"))
        oldest = float(p.get("oldest") or 0)
        latest = float(p["latest"]) if p.get("latest") else float("inf")
        limit = min(int(p.get("limit") or 100), 999)
        offset = int(str(p.get("cursor") or "next:0").split(":")[-1] or 0)
        all_metadata = _truthy(p.get("include_all_metadata"))

        def within(ts: float) -> bool:
            return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

        found = [
            m for m in self.in_channel(channel or "")
            if not m["deleted"] and within(float(m["ts"])) and (not m["thread_ts"] or m["thread_ts"] == m["ts"])
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        page = found[offset:offset + limit]
        has_more = len(found) > offset + limit
        out: dict[str, Any] = {
            "ok": True, "messages": [self._public(m, all_metadata=all_metadata) for m in page],
            "has_more": has_more, "pin_count": 0,
        }
        if has_more:
            out["response_metadata"] = {"next_cursor": f"next:{offset + limit}"}
        return out

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = p.get("user")
        if not isinstance(user, str) or not self._user_exists(user):
            return _fail("user_not_found")
        info: dict[str, Any] = {
            "id": user, "team_id": self.user_teams.get(user, self.team_id), "name": user.lower(), "real_name": user,
            "deleted": user in self.inactive_users, "tz": "UTC",
            "is_admin": False, "is_owner": False, "is_primary_owner": False, "is_restricted": False,
            "is_ultra_restricted": False, "is_bot": user == self._bot()[0] or user in self.bot_users,
            "is_app_user": False, "updated": 1_700_000_000,
        }
        info.update((self.users or {}).get(user, {}))
        offset = datetime.now(ZoneInfo(info["tz"])).utcoffset() if info["tz"] else None
        info.setdefault("tz_offset", int(offset.total_seconds()) if offset else 0)
        info.setdefault("tz_label", info["tz"])
        info.setdefault("profile", {"real_name": info["real_name"], "display_name": info["name"]})
        return {"ok": True, "user": info}

    def _m_usergroups_list(self, p: dict[str, Any]) -> dict[str, Any]:
        """User groups (needs usergroups:read); members only with include_users, as Slack does."""
        with_users = _truthy(p.get("include_users"))
        groups = []
        for gid, group in self.usergroups.items():
            team_id = group.get("team_id", self.team_id)
            if not self._reaches(self._grant, team_id):
                continue  # another workspace's group
            entry = {"id": gid, "team_id": team_id, "handle": group.get("handle", gid.lower()),
                     "name": group.get("name", gid), "date_delete": 0, "user_count": len(group.get("users", []))}
            if with_users:
                entry["users"] = list(group.get("users", []))
            groups.append(entry)
        return {"ok": True, "usergroups": groups}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        """Step 1 of an upload: checks the announced name and size, hands out a one-use upload URL."""
        filename, length, alt_txt = p.get("filename"), p.get("length"), p.get("alt_txt")
        if not isinstance(filename, str) or not filename.strip():
            return _fail("invalid_arguments")
        try:
            size = int(str(length))
        except ValueError:
            return _fail("invalid_arguments")
        if size <= 0:
            return _fail("missing_argument")  # what Slack answers for length 0 (or none)
        if alt_txt is not None and len(str(alt_txt)) > 1000:
            return _fail("alt_txt_too_large")
        if self.file_uploads_disabled:
            return _fail("file_uploads_disabled")
        if size > self.max_file_bytes:
            return _fail("file_upload_size_restricted")
        file_id = f"F{next(self._ids):08d}"
        ticket = uuid.uuid4().hex
        self.files[file_id] = {"id": file_id, "ticket": ticket, "filename": filename, "length": size,
                               "bot_user": self._bot()[0],
                               "alt_txt": alt_txt, "data": None, "title": None, "channels": [], "completed": False,
                               "initial_comment": None, "thread_ts": None}
        return {"ok": True, "upload_url": f"{self.base_url}/upload/v1/{ticket}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """Step 2: the bytes, raw or as a multipart file part, to the URL step 1 gave (no token needed)."""
        record = next((f for f in self.files.values() if f["ticket"] == request.match_info["ticket"]), None)
        entry: dict[str, Any] = {"file_id": record["id"] if record else None, "status": 0, "size": 0,
                                 "content_type": request.content_type, "at": time.monotonic()}
        self.uploads.append(entry)
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = next((v for v in form.values() if isinstance(v, web.FileField)), None)
            data = part.file.read() if part is not None else b""
        else:
            data = await request.read()
        entry["size"] = len(data)
        if self.upload_fail_next:
            entry["status"] = self.upload_fail_next.pop(0)
            headers = {"Retry-After": "1"} if entry["status"] == 429 else {}
            return web.Response(status=entry["status"], text="upload failed", headers=headers)
        if record is None or record["data"] is not None:
            entry["status"] = 404
            return web.Response(status=404, text="unknown or used upload URL")
        if len(data) != record["length"]:
            entry["status"] = 400
            return web.Response(status=400, text=f"expected {record['length']} bytes, got {len(data)}")
        record["data"] = data
        entry["status"] = 200
        return web.Response(text=f"OK - {len(data)}")

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        """Step 3: shares uploaded files (private when no channel is given), as one file-share message."""
        files = p.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            return _fail("invalid_arguments")
        records = []
        for item in files:
            record = self.files.get(str(item.get("id")))
            if record is None or record["data"] is None or record["completed"]:
                return _fail("file_not_found")
            records.append(record)
        targets = [p["channel_id"]] if p.get("channel_id") else [c for c in str(p.get("channels") or "").split(",") if c]
        channels = []
        for target in targets:
            channel, error = self._postable(target)
            if error:
                return _fail(error)
            channels.append(channel)
        comment = p.get("initial_comment")
        for text in [comment, *(item.get("title") for item in files)]:
            if isinstance(text, str) and _MENTION_MARKUP.search(text):
                self._violation("files.completeUploadExternal", ",".join(c or "" for c in channels), "warning", "pings",
                                f"mention markup in an upload's title or comment: {text!r}")
        for record, item in zip(records, files):
            record.update(completed=True, title=item.get("title") or record["filename"], channels=list(channels),
                          initial_comment=comment, thread_ts=p.get("thread_ts"))
        bot_user, bot_id = self._bot()
        for channel in channels:
            self.messages.append({
                "channel": channel, "ts": self._next_ts(), "text": comment or "", "blocks": [], "metadata": None,
                "thread_ts": p.get("thread_ts"), "user": bot_user, "bot_id": bot_id, "edited": False,
                "updates": 0, "deleted": False, "files": [r["id"] for r in records],
                "team": self.team_of_channel(channel or ""), "bot_user": bot_user,
            })
        return {"ok": True, "files": [{"id": r["id"], "title": r["title"]} for r in records]}

    # ------------------------------------------------------------------ OAuth v2

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        """Slack's consent page (``/oauth/v2/authorize``), as far as a browser sees it.

        A bad ``client_id``, no ``scope`` or a ``redirect_uri`` that is not one of the app's
        Redirect URLs is an error page (Slack never redirects to an unknown URL). Otherwise:
        after ``will_approve``, a 302 to the redirect URL with ``code`` and ``state``; after
        ``will_deny``, with ``error=access_denied`` and ``state``; with neither, the consent page.
        """
        query = dict(request.query)
        self.authorize_requests.append(query)
        if query.get("client_id") != self.client_id:
            return self._oauth_page("Invalid client_id parameter", status=400)
        scopes = [s for s in (query.get("scope") or "").split(",") if s]
        if not scopes and not query.get("user_scope"):
            return self._oauth_page("Invalid permissions requested: no scope", status=400)
        given = query.get("redirect_uri")
        if given is not None and not any(given.startswith(url) for url in self.redirect_urls):
            return self._oauth_page("redirect_uri did not match any configured URIs", status=400)
        target = given or (self.redirect_urls[0] if self.redirect_urls else None)
        if target is None:
            return self._oauth_page("No redirect URL is configured for this app", status=400)
        if not self._consent:
            team = self.teams[self.team_id]
            return self._oauth_page(f"careerbot is requesting permission to access the {team['name']} Slack workspace",
                                    detail=f"It will be able to: {', '.join(scopes)}")
        consent = self._consent.pop(0)
        answer: dict[str, str] = {}
        if consent["approve"]:
            code = f"{next(self._ids)}.{uuid.uuid4().hex}"
            self._codes[code] = {**consent, "scopes": ",".join(scopes), "redirect_uri": given, "issued": self.clock(),
                                 "used": False}
            answer["code"] = code
        else:
            answer["error"] = "access_denied"
        if "state" in query:
            answer["state"] = query["state"]
        parts = urlsplit(target)
        location = urlunsplit(parts._replace(query=urlencode([*parse_qsl(parts.query), *answer.items()])))
        raise web.HTTPFound(location)

    def _oauth_page(self, title: str, *, status: int = 200, detail: str = "") -> web.Response:
        body = f"<!DOCTYPE html><html><body><h1>{title}</h1><p>{detail}</p></body></html>"
        return web.Response(status=status, text=body, content_type="text/html")

    def _m_oauth_v2_access(self, p: dict[str, Any]) -> dict[str, Any]:
        """A code (once, within ten minutes) for the bot token of the workspace that approved.

        A team that already has a live token gets the same one back (Slack keeps a workspace's
        bot token across re-installs unless it was revoked).
        """
        grant = self._codes.get(str(p.get("code") or ""))
        if grant is None or grant["used"] or self.clock() - grant["issued"] > CODE_TTL:
            return _fail("invalid_code")
        if grant["redirect_uri"] is not None and p.get("redirect_uri") != grant["redirect_uri"]:
            return _fail("bad_redirect_uri")
        grant["used"] = True
        team = self.teams[grant["team_id"]]
        org_wide = grant["enterprise_install"]
        if org_wide and not team["enterprise_id"]:
            return _fail("not_enterprise_team")
        token = self.token_for(team["id"]) if not org_wide else next(
            (t for t, g in self.tokens.items()
             if not g["revoked"] and g["team_id"] is None and g["enterprise_id"] == team["enterprise_id"]), None)
        if token is None:
            token = f"xoxb-{next(self._ids)}-{uuid.uuid4().hex[:12]}-{uuid.uuid4().hex[:24]}"
            self.tokens[token] = self._new_grant(None if org_wide else team["id"], team["enterprise_id"], grant["scopes"])
            if org_wide:
                self.tokens[token].update(bot_user_id=team["bot_user_id"], bot_id=team["bot_id"])
        self.tokens[token]["scopes"] = grant["scopes"]
        self.installs.append({"team_id": None if org_wide else team["id"], "enterprise_id": team["enterprise_id"],
                              "user_id": grant["user_id"], "token": token})
        enterprise = {"id": team["enterprise_id"], "name": team["enterprise_name"]} if team["enterprise_id"] else None
        return {
            "ok": True, "app_id": self.api_app_id, "authed_user": {"id": grant["user_id"]},
            "scope": grant["scopes"], "token_type": "bot", "access_token": token,
            "bot_user_id": self.tokens[token]["bot_user_id"],
            "team": None if org_wide else {"id": team["id"], "name": team["name"]},
            "enterprise": enterprise, "is_enterprise_install": org_wide,
        }

    def _m_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        ws_root = self.base_url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_root}/socket/link?ticket={ticket}&app_id={self.api_app_id}"}

    # ------------------------------------------------------------------ response_url

    def response_url(self, response_id: str) -> str:
        """``http://127.0.0.1:PORT/respond/{id}``; its 30 minutes start at the first call."""
        self._response_urls.setdefault(response_id, {"issued": self.clock(), "uses": 0, "source": None})
        return f"{self.base_url}/respond/{response_id}"

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        rid = request.match_info["id"]
        raw = await request.text()
        entry: dict[str, Any] = {"method": "response_url", "params": {"id": rid, "body": raw},
                                 "at": time.monotonic(), "error": None}
        self.requests.append(entry)
        state = self._response_urls.get(rid)
        error, status = None, 404
        if state is None:
            error = "no_service"
        elif self.clock() - state["issued"] > self.response_url_ttl:
            error = "expired_url"
        elif state["uses"] >= self.response_url_max_uses:
            error = "used_too_many_times"
        if error is None:
            assert state is not None
            state["uses"] += 1
            status = 400
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                error = "invalid_payload"
            else:
                problem = self._check_content("response_url", None, body)
                if problem:
                    error = problem["error"]
        if error is not None:
            entry["error"] = error
            return web.Response(status=status, text=error)
        record = {
            "id": rid, "at": time.monotonic(), "body": body, "text": body.get("text", ""),
            "blocks": body.get("blocks") or [], "response_type": body.get("response_type") or "ephemeral",
            "replace_original": _truthy(body.get("replace_original")),
            "delete_original": _truthy(body.get("delete_original")),
            "thread_ts": body.get("thread_ts"), "metadata": body.get("metadata"),
        }
        self.responses.append(record)
        source = state["source"] if state else None
        if source is not None and (record["replace_original"] or record["delete_original"]):
            for m in self.in_channel(source[0]):
                if m["ts"] == source[1]:
                    if record["delete_original"]:
                        m["deleted"] = True
                    else:
                        m.update(text=record["text"], blocks=record["blocks"], edited=self._next_ts(),
                                 updates=m["updates"] + 1)
        return web.Response(text="ok")

    # ------------------------------------------------------------------ payload builders

    def _trigger_id(self) -> str:
        return f"{next(self._ids)}.{int(time.time())}.{uuid.uuid4().hex[:16]}"

    def _org_wide(self, team_id: str) -> bool:
        """Whether the app is in ``team_id`` through an org-wide (Enterprise Grid) install."""
        enterprise = self.teams[team_id]["enterprise_id"]
        return bool(enterprise) and self.token_for(team_id) is not None and not any(
            g["team_id"] == team_id and not g["revoked"] for g in self.tokens.values()
        )

    def slash_command(
        self, text: str = "", *, user_id: str = "U0USER", user_name: str = "ada", channel_id: str = "C0GENERAL",
        channel_name: str | None = None, command: str = "/careerbot", response_id: str | None = None,
        trigger_id: str | None = None, team_id: str | None = None,
    ) -> dict[str, str]:
        """Exactly the fields Slack sends for a slash command (all strings), from ``team_id`` (default: the fake's)."""
        rid = response_id or f"cmd-{next(self._ids)}"
        team = self.teams[team_id or self.team_id]
        if channel_name is None:
            channel_name = "directmessage" if channel_id.startswith("D") else "general"
        out = {
            "token": self.verification_token, "team_id": team["id"], "team_domain": team["domain"],
            "channel_id": channel_id, "channel_name": channel_name, "user_id": user_id, "user_name": user_name,
            "command": command, "text": text, "api_app_id": self.api_app_id,
            "is_enterprise_install": "true" if self._org_wide(team["id"]) else "false",
            "response_url": self.response_url(rid), "trigger_id": trigger_id or self._trigger_id(),
        }
        if team["enterprise_id"]:
            out.update(enterprise_id=team["enterprise_id"], enterprise_name=team["enterprise_name"])
        return out

    def event_callback(self, event: dict[str, Any], *, event_id: str | None = None, team_id: str | None = None) -> dict[str, Any]:
        """The Events API envelope around ``event`` (type ``event_callback``), from ``team_id`` (default: the fake's)."""
        team = self.teams[team_id or self.team_id]
        org_wide = self._org_wide(team["id"])
        out = {
            "token": self.verification_token, "team_id": team["id"], "api_app_id": self.api_app_id,
            "event": event, "type": "event_callback", "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": team["enterprise_id"], "team_id": None if org_wide else team["id"],
                                "user_id": team["bot_user_id"], "is_bot": True, "is_enterprise_install": org_wide}],
            "is_ext_shared_channel": False, "event_context": f"4-fake-{uuid.uuid4().hex[:12]}",
        }
        if team["enterprise_id"]:
            out["enterprise_id"] = team["enterprise_id"]
        return out

    def app_mention(
        self, text: str, *, user_id: str = "U0USER", channel_id: str = "C0GENERAL", thread_ts: str | None = None,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """An ``app_mention`` event; ``<@BOT>`` is prefixed unless ``text`` already mentions the bot."""
        team = self.teams[team_id or self.team_id]
        mention = f"<@{team['bot_user_id']}>"
        ts = self._next_ts()
        event = {
            "type": "app_mention", "user": user_id, "text": text if mention in text else f"{mention} {text}",
            "ts": ts, "channel": channel_id, "event_ts": ts, "team": team["id"],
            "client_msg_id": str(uuid.uuid4()),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def im_message(self, text: str, *, user_id: str = "U0USER", team_id: str | None = None) -> dict[str, Any]:
        """A ``message`` event in the user's DM with the bot (``channel_type: im``)."""
        ts = self._next_ts()
        return {
            "type": "message", "user": user_id, "text": text, "ts": ts, "channel": self.dm_channel(user_id),
            "event_ts": ts, "channel_type": "im", "team": team_id or self.user_teams.get(user_id, self.team_id),
            "client_msg_id": str(uuid.uuid4()),
        }

    def block_actions(
        self, action_id: str, value: str = "", *, block_id: str = "actions", user_id: str = "U0USER",
        user_name: str = "ada", channel_id: str = "C0GENERAL", message_ts: str | None = None,
        ephemeral: bool = False, response_id: str | None = None, button_text: str = "Button",
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """A ``block_actions`` payload for a button click. With ``message_ts`` of a stored message, the
        payload carries that message and the response_url's ``replace_original`` edits it."""
        team = self.teams[team_id or self.team_id]
        org_wide = self._org_wide(team["id"])
        rid = response_id or f"act-{next(self._ids)}"
        response_url = self.response_url(rid)
        message_ts = message_ts or self._next_ts()
        stored = next((m for m in self.in_channel(channel_id) if m["ts"] == message_ts), None)
        if stored is not None and not ephemeral:
            self._response_urls[rid]["source"] = (channel_id, message_ts)
        now = f"{time.time():.6f}"
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team["id"]},
            "api_app_id": self.api_app_id, "token": self.verification_token,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                          "is_ephemeral": ephemeral},
            "trigger_id": self._trigger_id(),
            "team": None if org_wide else {"id": team["id"], "domain": team["domain"]},
            "enterprise": {"id": team["enterprise_id"], "name": team["enterprise_name"]} if team["enterprise_id"] else None,
            "is_enterprise_install": org_wide,
            "channel": {"id": channel_id, "name": "directmessage" if channel_id.startswith("D") else "general"},
            "state": {"values": {}}, "response_url": response_url,
            "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
                         "text": {"type": "plain_text", "text": button_text, "emoji": True}, "action_ts": now}],
        }
        if stored is not None:
            payload["message"] = self._public(stored)
        return payload

    # ------------------------------------------------------------------ HTTP mode drivers

    async def _deliver(
        self, url: str, secret: str | None, body: str, content_type: str, *, bad_signature: bool, age: float,
        headers: dict[str, str] | None, timeout: float,
    ) -> HttpAck:
        assert self._session is not None, "start() the fake first"
        secret = secret or self.signing_secret
        timestamp = str(int(time.time() - age))
        signature = sign(("wrong-" + secret) if bad_signature else secret, timestamp, body)
        sent = {
            "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)", **(headers or {}),
        }
        started = time.perf_counter()
        async with self._session.post(url, data=body.encode(), headers=sent,
                                      timeout=aiohttp.ClientTimeout(total=timeout)) as res:
            text = await res.text()
        return HttpAck(res.status, text, time.perf_counter() - started, dict(res.headers))

    async def post_slash_command(
        self, url: str, signing_secret: str | None = None, text: str = "", *, bad_signature: bool = False,
        age: float = 0.0, headers: dict[str, str] | None = None, timeout: float = 10.0, **fields: Any,
    ) -> HttpAck:
        """POSTs a signed, form-encoded slash command (``fields``: see ``slash_command``).
        ``age`` backdates the timestamp (e.g. 360 for a stale one)."""
        form = self.slash_command(text, **fields)
        ack = await self._deliver(url, signing_secret, urlencode(form), "application/x-www-form-urlencoded",
                                  bad_signature=bad_signature, age=age, headers=headers, timeout=timeout)
        ack.response_id = form["response_url"].rsplit("/", 1)[1]
        return ack

    async def post_event(
        self, url: str, signing_secret: str | None = None, event: dict[str, Any] | None = None, *,
        event_id: str | None = None, retry_num: int | None = None, bad_signature: bool = False, age: float = 0.0,
        timeout: float = 10.0, team_id: str | None = None, retry_reason: str = "http_timeout",
        envelope: dict[str, Any] | None = None,
    ) -> HttpAck:
        """POSTs a signed Events API ``event_callback`` (JSON) wrapping ``event`` (or a prepared ``envelope``).
        ``retry_num`` marks it as Slack's retry of an earlier delivery."""
        if envelope is None:
            assert event is not None, "pass an event, e.g. fake.app_mention('hi')"
            envelope = self.event_callback(event, event_id=event_id, team_id=team_id)
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason} if retry_num else None
        return await self._deliver(url, signing_secret, json.dumps(envelope), "application/json",
                                   bad_signature=bad_signature, age=age, headers=extra, timeout=timeout)

    async def deliver_event(
        self, urls: str | list[str], event: dict[str, Any], *, times: int = 3, team_id: str | None = None,
        event_id: str | None = None, concurrent: bool = False, retry_reason: str = "http_timeout",
        signing_secret: str | None = None, timeout: float = 10.0,
    ) -> list[HttpAck]:
        """Delivers one event ``times`` times, as Slack does when it thinks a delivery was missed:
        the original, then retries 1, 2 … with the same ``event_id`` (and body) and
        ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason``. With several ``urls`` (processes behind a
        load balancer) delivery ``i`` goes to ``urls[i % len(urls)]``; ``concurrent`` sends them
        all at once instead of one after the other. Slack waits between retries (at once, a
        minute, five minutes); the fake does not."""
        targets = [urls] if isinstance(urls, str) else list(urls)
        envelope = self.event_callback(event, event_id=event_id, team_id=team_id)
        sends = [
            self.post_event(targets[i % len(targets)], signing_secret, envelope=envelope, retry_num=i or None,
                            retry_reason=retry_reason, timeout=timeout)
            for i in range(times)
        ]
        if concurrent:
            return list(await asyncio.gather(*sends))
        return [await send for send in sends]

    async def post_url_verification(self, url: str, signing_secret: str | None = None,
                                    challenge: str = "fake-challenge") -> HttpAck:
        body = json.dumps({"token": self.verification_token, "challenge": challenge, "type": "url_verification"})
        return await self._deliver(url, signing_secret, body, "application/json", bad_signature=False, age=0.0,
                                   headers=None, timeout=10.0)

    async def post_interaction(
        self, url: str, signing_secret: str | None = None, payload: dict[str, Any] | None = None, *,
        bad_signature: bool = False, age: float = 0.0, timeout: float = 10.0, **fields: Any,
    ) -> HttpAck:
        """POSTs a signed interaction: form field ``payload`` = JSON. Without ``payload``, builds
        ``block_actions(**fields)`` (needs ``action_id=``)."""
        payload = payload if payload is not None else self.block_actions(**fields)
        body = urlencode({"payload": json.dumps(payload)})
        ack = await self._deliver(url, signing_secret, body, "application/x-www-form-urlencoded",
                                  bad_signature=bad_signature, age=age, headers=None, timeout=timeout)
        if isinstance(payload.get("response_url"), str):
            ack.response_id = payload["response_url"].rsplit("/", 1)[1]
        return ack

    # ------------------------------------------------------------------ Socket Mode

    def _live_socket(self) -> web.WebSocketResponse | None:
        for ws in reversed(self._sockets):
            if not ws.closed and id(ws) not in self._draining:
                return ws
        return None

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=403, text="invalid_ticket")
        ws = web.WebSocketResponse(timeout=2.0)
        await ws.prepare(request)
        self.connections += 1
        await ws.send_json({
            "type": "hello", "num_connections": len([s for s in self._sockets if not s.closed]) + 1,
            "debug_info": {"host": "fake-slack-applink", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.api_app_id},
        })
        self._sockets.append(ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(data, dict) and "envelope_id" in data:
                    ack = {"envelope_id": data["envelope_id"], "payload": data.get("payload"),
                           "at": time.monotonic()}
                    self.socket_acks.append(ack)
                    future = self._pending.get(data["envelope_id"])
                    if future is not None and not future.done():
                        future.set_result(ack)
        finally:
            self._sockets.remove(ws)
            self._draining.discard(id(ws))
        return ws

    async def socket_send(
        self, envelope_type: str, payload: dict[str, Any], *, accepts_response_payload: bool = False,
        timeout: float = 3.0, retry_attempt: int = 0, retry_reason: str = "",
    ) -> SocketAck:
        """Sends one envelope on the newest live connection and waits up to ``timeout`` for its ack."""
        try:
            await self.wait_for(self._live_socket, timeout)
        except TimeoutError:
            raise RuntimeError("no Socket Mode connection: call handler.connect_async() first") from None
        ws = self._live_socket()
        assert ws is not None
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                                    "accepts_response_payload": accepts_response_payload}
        if envelope_type == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = future
        self.envelopes.append(envelope)
        started = time.perf_counter()
        try:
            await ws.send_str(json.dumps(envelope))
            ack = await asyncio.wait_for(future, timeout)
            return SocketAck(envelope_id, True, ack["payload"], time.perf_counter() - started)
        except asyncio.TimeoutError:
            return SocketAck(envelope_id, False, None, time.perf_counter() - started)
        finally:
            self._pending.pop(envelope_id, None)

    async def socket_slash_command(self, text: str = "", *, timeout: float = 3.0, **fields: Any) -> SocketAck:
        payload = self.slash_command(text, **fields)
        ack = await self.socket_send("slash_commands", payload, accepts_response_payload=True, timeout=timeout)
        ack.response_id = payload["response_url"].rsplit("/", 1)[1]
        return ack

    async def socket_event(self, event: dict[str, Any], *, event_id: str | None = None, timeout: float = 3.0,
                           retry_attempt: int = 0, retry_reason: str = "") -> SocketAck:
        return await self.socket_send("events_api", self.event_callback(event, event_id=event_id), timeout=timeout,
                                      retry_attempt=retry_attempt, retry_reason=retry_reason)

    async def socket_interaction(self, payload: dict[str, Any] | None = None, *, timeout: float = 3.0,
                                 **fields: Any) -> SocketAck:
        payload = payload if payload is not None else self.block_actions(**fields)
        accepts = payload.get("type") in ("view_submission", "block_suggestion")
        ack = await self.socket_send("interactive", payload, accepts_response_payload=accepts, timeout=timeout)
        if isinstance(payload.get("response_url"), str):
            ack.response_id = payload["response_url"].rsplit("/", 1)[1]
        return ack

    async def socket_disconnect(self, reason: str | None = "refresh_requested", *, close: bool = False,
                                wait: bool = True, timeout: float = 5.0) -> None:
        """Sends ``{"type": "disconnect", "reason": reason}`` on the live connection (``reason=None``:
        send nothing) and/or closes it from the server side (``close=True``); with ``wait``, returns
        once the client has opened a new connection."""
        ws = self._live_socket()
        if ws is None:
            raise RuntimeError("no Socket Mode connection to disconnect")
        before = self.connections
        self._draining.add(id(ws))
        if reason is not None:
            await ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack-applink"}})
        if close or reason is None:
            await ws.close(code=1001, message=b"going away")
        if wait:
            await self.wait_connections(before + 1, timeout)
