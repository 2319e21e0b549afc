"""Slack: one root slash command, mentions, DMs and buttons through slack-bolt, answered by the core.

Slash-command names are shared by every app in a workspace, so careerbot takes one root
(``/careerbot`` by default) and the core's commands are its sub-commands, parsed by the same
declarations as the console: ``/careerbot advice do i need a phd`` is the line
``/advice do i need a phd``. Every request is acknowledged at once and answered through
``respond()``; Slack's 3-second deadline never depends on the core.

Two ways in: Socket Mode when an app-level token (``xapp-``) is set, the easy set-up for a
club with no public server; otherwise Bolt's HTTP endpoint with request-signature checks.
Posts the bot makes on its own (digests, DMs) go through the outbox and ``SlackTransport``.

Files (``Reply.attachments``) cannot ride in a message or a ``respond()``: they are uploaded
with ``files_upload_v2`` (get an upload URL, POST the bytes, complete the upload into a
channel) after the text. Slack has no private files, so a private reply's files go to the
person's DM with the bot and the reply says so. An upload that fails never costs the text:
the person reads one short line about the missing file instead.

One workspace or many. With ``SLACK_BOT_TOKEN`` every call uses that one token, as it always
has. With ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` (``config.slack_oauth``) each workspace
installs careerbot through ``/slack/install`` → Slack's consent page → ``/slack/oauth_redirect``
(slack-bolt's OAuth flow); its bot token is kept in our own database
(``bot/storage/slack_installs_repo.py``, behind slack-sdk's async installation-store and
OAuth-state-store interfaces below), incoming requests are authorized from it, and the outbox
posts to a workspace with that workspace's token (``Workspaces``). ``app_uninstalled`` and
``tokens_revoked`` forget the token. Tokens are never logged.

Slack retries an Events API delivery it thinks was missed (``X-Slack-Retry-Num``), and with
several processes behind one URL the retry may reach another process: every event is recorded
by its ``event_id`` in ``inbound_events`` first, and only the first sighting is handled; a retry
is acknowledged (200) at once and dropped.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import AdapterError
from bot.app import App
from bot.clock import Clock, iso_utc
from bot.config import Config
from bot.delivery import DeliveryError, Limits, PermanentFailure, RateLimited, Sent, Target, TransientFailure
from bot.frontend import Frontend
from bot.models import Actor, Attachment, Card, Place, Reply, Role
from bot.render.slack import (
    escape,
    file_uploads,
    not_attached_line,
    not_sent_by_dm_line,
    render_messages,
    sent_by_dm_line,
)
from bot.storage import inbound_repo, slack_installs_repo
from bot.storage.db import Database
from bot.storage.slack_installs_repo import Installed
from bot.text import clean_input

log = logging.getLogger("careerbot.slack")

RESPOND_USES = 5  # a response_url takes five messages in 30 minutes
ROLE_TTL = 600.0  # seconds a workspace role read from users.info is trusted
METADATA_EVENT = "careerbot_post"
_MARKUP = re.compile(r"<[^<>]*>")
_BOT_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s*")

# Errors after which no post to that channel or person will ever succeed.
GONE = {
    "channel_not_found": "the channel no longer exists",
    "not_in_channel": "the bot is not a member of the channel (invite it with /invite @careerbot)",
    "is_archived": "the channel is archived",
    "account_inactive": "the account is deactivated",
    "cannot_dm_bot": "that user is a bot and cannot be sent DMs",
    "user_not_found": "the user no longer exists",
    "user_disabled": "the user is deactivated",
    "restricted_action": "the workspace does not let the bot post there",
}


# Uploads: a short Retry-After is waited out (someone is waiting for the chart); a long one is reported.
UPLOAD_ATTEMPTS = 3
UPLOAD_MAX_WAIT = 10.0
# Why an upload failed, in words for the people who will read it.
UPLOAD_ERRORS = {
    "not_in_channel": "I am not a member of this channel (invite me with /invite @careerbot)",
    "channel_not_found": "the channel no longer exists",
    "is_archived": "the channel is archived",
    "file_uploads_disabled": "this workspace has turned file uploads off",
    "file_upload_size_restricted": "the file is larger than this workspace allows",
    "missing_scope": "the app is missing the files:write permission",
    "storage_limit_reached": "the workspace is out of file storage",
    "ratelimited": "Slack is limiting uploads right now; try again in a minute",
}

Sleep = Callable[[float], Awaitable[None]]


class UploadFailed(Exception):
    """An upload Slack did not complete; ``reason`` is worded for the person who asked."""

    def __init__(self, reason: str, error: str = "") -> None:
        super().__init__(f"{reason} ({error})" if error else reason)
        self.reason = reason
        self.error = error


async def upload_files(
    client: AsyncWebClient,
    channel: str,
    attachments: Sequence[Attachment],
    *,
    thread_ts: str | None = None,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Shares ``attachments`` in ``channel`` (a conversation id) through ``files_upload_v2``.

    slack-sdk does the three steps (``files.getUploadURLExternal``, a POST of the bytes to the
    ``upload_url``, ``files.completeUploadExternal``). A 429 with a short ``Retry-After`` is
    waited out and the whole upload starts over: an upload never completed is discarded by
    Slack, so a retry cannot share a file twice. Anything else raises ``UploadFailed``.
    """
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            await client.files_upload_v2(file_uploads=file_uploads(attachments), channel=channel, thread_ts=thread_ts)
            return
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if hasattr(exc.response, "get") else ""
            if status == 429 or error == "ratelimited":
                wait = _retry_after(exc.response.headers)
                if attempt < UPLOAD_ATTEMPTS and wait <= UPLOAD_MAX_WAIT:
                    await sleep(wait)
                    continue
                error = "ratelimited"
            raise UploadFailed(UPLOAD_ERRORS.get(error, f"Slack refused the upload ({error or status})"), error) from None
        except SlackRequestError as exc:  # the POST to upload_url answered other than 200
            log.warning("uploading to Slack's upload_url failed: %s", exc)
            if attempt < UPLOAD_ATTEMPTS:
                await sleep(1.0)
                continue
            raise UploadFailed("Slack's file service did not take the file", "upload_failed") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise UploadFailed("I could not reach Slack", type(exc).__name__) from None
    raise AssertionError("unreachable")


def _retry_after(headers: Any) -> float:
    value = str(headers.get("Retry-After", headers.get("retry-after", "1")))
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


def _why(exc: DeliveryError) -> str:
    """A transport error (from opening a DM) in words for a person."""
    if isinstance(exc, RateLimited):
        return UPLOAD_ERRORS["ratelimited"]
    if isinstance(exc, PermanentFailure):
        return exc.reason
    return "I could not reach Slack"


def with_line(message: Reply, line: str) -> Reply:
    """The message with a short note at its end (a context line on Slack)."""
    return replace(message, attachments=[], cards=[*message.cards, Card(footer=line)])


def unescape(text: str) -> str:
    """Slack escapes ``& < >`` in what people type; mention markup (real ``<…>``) is kept as is."""
    out, last = [], 0
    for m in _MARKUP.finditer(text):
        out.append(html.unescape(text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(html.unescape(text[last:]))
    return "".join(out)


class SlackFrontend(Frontend):
    """Commands read ``/careerbot advice …``; channels and users arrive as Slack's escaped mentions."""

    platform = "slack"

    def __init__(self, command: str) -> None:
        super().__init__(prefix=f"{command} ")

    async def channel_name(self, place: Place, channel_id: str) -> str:
        return ""  # Slack renders <#C…> itself; a look-up per command would cost an API call

    async def can_post(self, place: Place, channel_id: str) -> bool | None:
        return None  # not knowable without an API call; the outbox reports not_in_channel


def limits() -> Limits:
    """Sized so one queued part is one Slack message (50 blocks) whatever its cards hold."""
    return Limits(
        max_chars=6000, max_cards=4, rate=20.0, burst=5, channel_interval=1.0, max_text=2800,
        max_buttons=25, card_body=2800, card_fields=10, field_name=200, field_value=1500, card_title=1000,
    )


@dataclass
class _Role:
    role: Role
    at: float


# -- many workspaces: installations, OAuth state, whose token speaks where -------------------------
# What a workspace grants at install: the bot scopes of deploy/slack-manifest.yaml, and no user scopes.
SCOPES = (
    "app_mentions:read", "channels:history", "groups:history", "chat:write", "commands", "im:history", "im:write",
    "users:read", "usergroups:read",
)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_TTL = timedelta(minutes=10)  # an install link (its OAuth state) works once, for this long
NOT_INSTALLED = (
    "careerbot is not installed in this Slack workspace any more (it was uninstalled or its access was revoked); "
    f"a workspace admin can install it again from the bot's {INSTALL_PATH} page"
)
# With per-workspace tokens these errors mean the workspace took careerbot's access away.
REVOKED = frozenset({"token_revoked", "token_expired", "invalid_auth", "not_authed", "team_access_not_granted"})
# Shown (privately) to someone who uses careerbot in a workspace with no installation on record.
ASK_TO_REINSTALL = (
    ":warning: careerbot is not installed in this workspace any more. "
    f"Ask a workspace admin to install it again from the bot's {INSTALL_PATH} page."
)


def authorize_url(api_base: str) -> str:
    """Slack's consent page, next to its Web API: ``https://slack.com/api/`` → ``https://slack.com/oauth/v2/authorize``."""
    base = api_base.rstrip("/")
    return f"{base[:-4] if base.endswith('/api') else base}/oauth/v2/authorize"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else time.time()


def _where(enterprise_id: str | None, team_id: str | None) -> str:
    return f"workspace {team_id}" if team_id else f"organization {enterprise_id or '?'}"


class InstallationStore(AsyncInstallationStore):
    """slack-sdk's installation store on careerbot's own database (SQLite or PostgreSQL).

    One bot token per workspace (per organization for an org-wide Enterprise Grid install);
    careerbot asks for no user scopes, so no person's token is ever kept. Used bot-only
    (``installation_store_bot_only``): Bolt authorizes each request with ``async_find_bot``.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._logger = logging.getLogger("careerbot.slack.installs")

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    async def async_save(self, installation: Installation) -> None:
        await self._save(installation.to_bot(), installation.user_id or "", installation.enterprise_url or "")

    async def async_save_bot(self, bot: Bot) -> None:
        await self._save(bot, "", "")

    async def _save(self, bot: Bot, installer: str, enterprise_url: str) -> None:
        enterprise, team = slack_installs_repo.key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await slack_installs_repo.save(self.db, Installed(
            enterprise_id=enterprise, team_id=team, is_enterprise_install=bool(bot.is_enterprise_install),
            bot_token=bot.bot_token, bot_id=bot.bot_id or "", bot_user_id=bot.bot_user_id or "",
            bot_scopes=",".join(bot.bot_scopes or []), app_id=bot.app_id or "", enterprise_name=bot.enterprise_name or "",
            enterprise_url=enterprise_url, team_name=bot.team_name or "", installer_user_id=installer,
            installed_at=iso_utc(self.clock.now()), bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
        ))
        self._logger.info("careerbot is installed in %s (%s)", _where(enterprise, team), bot.team_name or bot.enterprise_name or "")

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        found = await slack_installs_repo.find(self.db, enterprise_id, team_id, is_enterprise_install)
        if found is None:
            return None
        return Bot(
            app_id=found.app_id or None, enterprise_id=found.enterprise_id or None,
            enterprise_name=found.enterprise_name or None, team_id=found.team_id or None, team_name=found.team_name or None,
            bot_token=found.bot_token, bot_id=found.bot_id, bot_user_id=found.bot_user_id, bot_scopes=found.bot_scopes,
            bot_refresh_token=found.bot_refresh_token, bot_token_expires_at=found.bot_token_expires_at,
            is_enterprise_install=found.is_enterprise_install, installed_at=_epoch(found.installed_at),
        )

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = await slack_installs_repo.find(self.db, enterprise_id, team_id, is_enterprise_install)
        if found is None or (user_id is not None and user_id != found.installer_user_id):
            return None  # no person's own installation is kept, except as the installer of the bot's
        return Installation(
            app_id=found.app_id or None, enterprise_id=found.enterprise_id or None,
            enterprise_name=found.enterprise_name or None, enterprise_url=found.enterprise_url or None,
            team_id=found.team_id or None, team_name=found.team_name or None, bot_token=found.bot_token,
            bot_id=found.bot_id, bot_user_id=found.bot_user_id, bot_scopes=found.bot_scopes,
            bot_refresh_token=found.bot_refresh_token, bot_token_expires_at=found.bot_token_expires_at,
            user_id=found.installer_user_id, is_enterprise_install=found.is_enterprise_install, token_type="bot",
            installed_at=_epoch(found.installed_at),
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if await slack_installs_repo.delete(self.db, enterprise_id, team_id):
            self._logger.warning("careerbot was uninstalled from %s (or its token revoked); the token is deleted",
                                 _where(enterprise_id, team_id))

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:  # a person's own token: careerbot never holds one, so nothing to delete
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


class OAuthStateStore(AsyncOAuthStateStore):
    """slack-sdk's OAuth state store on careerbot's database: a state works once, within ten
    minutes of the app clock, in whichever process the browser comes back to."""

    def __init__(self, db: Database, clock: Clock, ttl: timedelta = STATE_TTL) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self._logger = logging.getLogger("careerbot.slack.installs")

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        now = self.clock.now()
        await slack_installs_repo.issue_state(self.db, state, iso_utc(now), iso_utc(now + self.ttl))
        return state

    async def async_consume(self, state: str) -> bool:
        if not state:
            return False
        return await slack_installs_repo.consume_state(self.db, state, iso_utc(self.clock.now()))


class NotInstalled(Exception):
    """No installation on record for the workspace (never installed, uninstalled, revoked)."""


class Workspaces:
    """Which Web API client speaks in a workspace.

    One token (``SLACK_BOT_TOKEN``): the one client, everywhere, as always. Installed per
    workspace: a client with that workspace's bot token (its organization's, for an org-wide
    install), read from the database on each use, so a re-install or an uninstall handled by
    any process counts at once.
    """

    def __init__(self, client: AsyncWebClient, db: Database | None = None) -> None:
        self.base = client
        self.db = db  # None: one token for every workspace
        self._clients: dict[str, tuple[str, AsyncWebClient]] = {}

    @property
    def per_workspace(self) -> bool:
        return self.db is not None

    async def client(self, workspace: str) -> AsyncWebClient:
        """The client for ``slack:T…`` (or a bare team id); raises ``NotInstalled``."""
        if self.db is None:
            return self.base
        team = workspace.split(":", 1)[-1]
        found = await slack_installs_repo.for_team(self.db, team) if team else None
        if found is None:
            self._clients.pop(team, None)
            raise NotInstalled(team)
        cached = self._clients.get(team)
        if cached is None or cached[0] != found.bot_token:
            client = AsyncWebClient(
                token=found.bot_token, base_url=self.base.base_url, timeout=self.base.timeout, ssl=self.base.ssl,
                proxy=self.base.proxy, session=self.base.session, trust_env_in_session=self.base.trust_env_in_session,
                headers=self.base.headers,
            )
            cached = self._clients[team] = (found.bot_token, client)
        return cached[1]


class SlackTransport:
    """``chat.postMessage`` for the outbox; our idempotency key rides in message metadata.

    Slack has no idempotency key of its own, so a row found ``sending`` after a crash is
    looked up in the channel's recent history by that key before it is sent again. Each post
    goes out with its workspace's token (``Workspaces``); a workspace careerbot is no longer
    installed in is a permanent failure, told to its moderators.
    """

    platform = "slack"

    def __init__(self, client: AsyncWebClient, sleep: Sleep = asyncio.sleep, workspaces: Workspaces | None = None) -> None:
        self.client = client
        self.workspaces = workspaces or Workspaces(client)
        self.limits = limits()
        self.sleep = sleep  # for an upload's short Retry-After; tests pass a fake clock's
        self._dm_channels: dict[tuple[str, str], str] = {}

    async def send(self, target: Target, reply: Reply, key: str) -> Sent:
        client = await self._client(target.workspace)
        channel = await self._channel(client, target)
        sent: Sent | None = None
        for payload in render_messages(reply):
            response = await self._call(
                client, "chat_postMessage", channel=channel, text=payload["text"], blocks=payload["blocks"],
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
                unfurl_links=False, unfurl_media=False,
            )
            sent = sent or Sent(str(response.get("ts", "")), str(response.get("channel", channel)))
        assert sent is not None
        if reply.attachments:
            await self._share(client, sent.channel_id, reply.attachments)
        return sent

    async def _share(self, client: AsyncWebClient, channel: str, attachments: Sequence[Attachment]) -> None:
        """Uploads a post's files after its text, into the same conversation.

        The text is already posted, so a failed upload must not raise: the queue would
        send the whole part again and the channel would read the text twice. The channel
        is told in one line instead (and the log keeps Slack's error).
        """
        try:
            await upload_files(client, channel, attachments, sleep=self.sleep)
        except UploadFailed as exc:
            log.warning("files of a post to %s were not shared: %s", channel, exc)
            line = escape(not_attached_line(attachments, exc.reason))
            try:
                await self._call(client, "chat_postMessage", channel=channel, text=line, unfurl_links=False, unfurl_media=False)
            except DeliveryError as again:
                log.warning("telling %s about the missing files failed too: %s", channel, again)

    async def find(self, target: Target, key: str, since: datetime) -> Sent | None:
        """A post with our key sent since ``since``: what a crash may have left unrecorded."""
        client = await self._client(target.workspace)
        channel = await self._channel(client, target)
        response = await self._call(
            client, "conversations_history", channel=channel,
            oldest=f"{(since - timedelta(minutes=1)).timestamp():.6f}", include_all_metadata=True, limit=15,
        )
        for message in response.get("messages", []):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return Sent(str(message.get("ts", "")), channel)
        return None

    async def edit(self, channel: str, message_id: str, reply: Reply, workspace: str | None = None) -> None:
        client = self.client
        if self.workspaces.per_workspace:
            assert self.workspaces.db is not None
            workspace = workspace or await slack_installs_repo.workspace_of_post(self.workspaces.db, channel, message_id)
            client = await self._client(workspace or "")
        payload = render_messages(reply)[0]
        await self._call(client, "chat_update", channel=channel, ts=message_id, text=payload["text"], blocks=payload["blocks"])

    async def _client(self, workspace: str) -> AsyncWebClient:
        try:
            return await self.workspaces.client(workspace)
        except NotInstalled:
            raise PermanentFailure(NOT_INSTALLED) from None

    async def _channel(self, client: AsyncWebClient, target: Target) -> str:
        if not target.is_user:
            return target.channel
        return await self.dm_channel(target.channel, client=client, workspace=target.workspace)

    async def dm_channel(self, user_id: str, client: AsyncWebClient | None = None, workspace: str = "") -> str:
        """The bot's DM with a person (``conversations.open``), opened once and remembered."""
        key = (workspace if self.workspaces.per_workspace else "", user_id)
        cached = self._dm_channels.get(key)
        if cached is None:
            response = await self._call(client or self.client, "conversations_open", users=user_id)
            cached = self._dm_channels[key] = str((response.get("channel") or {}).get("id", ""))
        return cached

    async def _call(self, client: AsyncWebClient, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(client, method)(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if hasattr(exc.response, "get") else ""
            if status == 429 or error == "ratelimited":
                retry = exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", "1"))
                raise RateLimited(float(retry) if str(retry).isdigit() else 1.0) from None
            if error in GONE:
                raise PermanentFailure(f"{GONE[error]} (Slack: {error})") from None
            if self.workspaces.per_workspace and error in REVOKED:
                raise PermanentFailure(f"{NOT_INSTALLED} (Slack: {error})") from None
            if error in ("invalid_blocks", "msg_too_long", "no_text", "invalid_metadata_format", "invalid_arguments"):
                raise PermanentFailure(f"Slack rejected the message ({error})", target_gone=False) from None
            raise TransientFailure(f"Slack answered {status}: {error or exc}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()


# -- the install flow's pages ------------------------------------------------------------------------
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 4em auto; line-height: 1.5">
<h1>{title}</h1>
{body}
</body></html>
"""
# Why an install did not complete (Bolt's reason) -> what the person reads.
_FAILURES = {
    "invalid_state": ("This install link has expired or was already used",
                      "An install link works once, for ten minutes. Nothing was installed."),
    "invalid_browser": ("This install was started in another browser",
                        "Finish the install in the browser that opened the install link, within ten minutes. "
                        "Nothing was installed."),
    "access_denied": ("The install was cancelled", "Slack says the install was not allowed. Nothing was installed."),
    "missing_code": ("Slack did not confirm the install",
                     "The answer from Slack had no confirmation code. Nothing was installed."),
    "invalid_code": ("Slack did not confirm the install",
                     "Slack did not accept the confirmation code (it may have expired or been used). Nothing was installed."),
    "storage_error": ("careerbot could not save the installation",
                      "The bot's log says why. Please try again in a minute."),
}


def _page(title: str, body: str, status: int, *, clear_cookie: str | None = None) -> BoltResponse:
    headers: dict[str, Any] = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    if clear_cookie:
        headers["Set-Cookie"] = [clear_cookie]
    return BoltResponse(status=status, body=_PAGE.format(title=html.escape(title), body=body), headers=headers)


async def _installed_page(args: AsyncSuccessArgs) -> BoltResponse:
    inst = args.installation
    where = inst.team_name or inst.enterprise_name or "your workspace"
    body = (
        f"<p>careerbot is now installed in <strong>{html.escape(where)}</strong>.</p>"
        "<p>In Slack, try <code>/careerbot help</code>, or invite the bot to a channel with "
        "<code>/invite @careerbot</code>.</p>"
    )
    return _page("careerbot is installed", body, 200, clear_cookie=args.settings.state_utils.build_set_cookie_for_deletion())


async def _failed_page(args: AsyncFailureArgs) -> BoltResponse:
    title, detail = _FAILURES.get(args.reason, ("The install did not complete", f"Slack said: {args.reason}."))
    if args.error is not None:
        log.warning("a Slack install did not complete (%s): %s", args.reason, args.error)
    else:
        log.info("a Slack install did not complete (%s)", args.reason)
    body = (
        f"<p>{html.escape(detail)}</p>"
        f'<p><a href="{html.escape(args.settings.install_path)}">Start the install again</a></p>'
    )
    return _page(title, body, args.suggested_status_code,
                 clear_cookie=args.settings.state_utils.build_set_cookie_for_deletion())


class SlackAdapter:
    def __init__(
        self, app: App, config: Config, *, client: AsyncWebClient | None = None, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.oauth = config.slack_oauth
        if not self.oauth and not config.slack_bot_token:
            raise ValueError("SLACK_BOT_TOKEN is not set (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, to install in many workspaces)")
        if self.oauth and not config.slack_signing_secret:
            raise ValueError("SLACK_SIGNING_SECRET is not set: installing in many workspaces needs it")
        self.app = app
        self.config = config
        self.socket_mode = bool(config.slack_app_token)
        if self.oauth and config.slack_bot_token:
            log.warning("SLACK_BOT_TOKEN is not used when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set: each workspace "
                        "gets its own token by installing careerbot from %s", INSTALL_PATH)
        token = None if self.oauth or config.slack_bot_token is None else config.slack_bot_token.reveal()
        self.client = client or AsyncWebClient(token=token, base_url=config.slack_api_base)
        signing = config.slack_signing_secret.reveal() if config.slack_signing_secret else None
        # Which process recorded an event first (inbound_events.owner), for the logs.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.installations: InstallationStore | None = None
        self.states: OAuthStateStore | None = None
        options: dict[str, Any] = {}
        if self.oauth:
            assert config.slack_client_id is not None and config.slack_client_secret is not None
            self.installations = InstallationStore(app.db, app.clock)
            self.states = OAuthStateStore(app.db, app.clock)
            options = {
                "oauth_settings": AsyncOAuthSettings(
                    client_id=config.slack_client_id, client_secret=config.slack_client_secret.reveal(),
                    scopes=list(SCOPES), user_scopes=[], install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH,
                    install_page_rendering_enabled=False,  # /slack/install goes straight to Slack's consent page
                    authorization_url=authorize_url(config.slack_api_base),
                    installation_store=self.installations, installation_store_bot_only=True,
                    state_store=self.states, state_expiration_seconds=int(STATE_TTL.total_seconds()),
                    callback_options=AsyncCallbackOptions(success=_installed_page, failure=_failed_page),
                    logger=logging.getLogger("careerbot.slack.bolt"),
                ),
                "installation_store_bot_only": True,
                "user_facing_authorize_error_message": ASK_TO_REINSTALL,
            }
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing,
            # Socket Mode needs no signature (the socket is authenticated); HTTP mode always checks it.
            request_verification_enabled=not self.socket_mode,
            before_authorize=self._first_sight,
            logger=logging.getLogger("careerbot.slack.bolt"),
            **options,
        )
        if self.oauth:
            self.bolt.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked: the token is deleted
        self.bolt.command(config.slack_command)(self._on_command)
        self.bolt.event("app_mention")(self._on_mention)
        self.bolt.event("message")(self._on_message)
        self.bolt.action(re.compile(r"^cb1:"))(self._on_action)
        self.bolt.action(re.compile(r"^link:"))(self._on_link)
        app.add_frontend(SlackFrontend(config.slack_command))
        self.sleep = sleep  # for an upload's short Retry-After; tests pass a fake clock's
        self.workspaces = Workspaces(self.client, app.db if self.oauth else None)
        self.transport = SlackTransport(self.client, sleep, self.workspaces)
        if "slack" not in app.outbox.dispatchers:
            app.outbox.add_transport(self.transport)
        self._roles: dict[str, _Role] = {}
        self._group_cache: dict[str, tuple[float, dict[str, set[str]]]] = {}
        self._linked: set[tuple[str, str]] = set()  # (team, enterprise) pairs of org-wide installs recorded
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.url = ""  # the Events API endpoint, once listening over HTTP
        self.base_url = ""  # http://HOST:PORT of the HTTP listener (the install pages live there too)
        self.extra_routes: list[web.RouteDef] = []  # /healthz and /metrics when they share Slack's port

    # -- life --------------------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            if self.socket_mode:
                assert self.config.slack_app_token is not None
                self._socket = AsyncSocketModeHandler(self.bolt, self.config.slack_app_token.reveal(), web_client=self.client)
                await self._socket.connect_async()
                log.info("connected to Slack over Socket Mode")
            if self.listens_http:  # the install pages need HTTP even with Socket Mode
                self._runner = web.AppRunner(self.web_app())
                await self._runner.setup()
                site = web.TCPSite(self._runner, self.config.slack_host, self.config.slack_port)
                await site.start()
                host, port = self._runner.addresses[0][:2]
                self.base_url = f"http://{host}:{port}"
                if not self.socket_mode:
                    self.url = f"{self.base_url}/slack/events"
                    log.info("listening for Slack at %s", self.url)
                if self.oauth:
                    log.info("workspaces install careerbot at %s%s", self.base_url, INSTALL_PATH)
        except SlackApiError as exc:
            raise AdapterError(f"Slack refused to connect: {exc.response.get('error', exc)}") from None
        except OSError as exc:
            raise AdapterError(
                f"cannot listen on {self.config.slack_host}:{self.config.slack_port} for Slack: {exc.strerror or exc}"
            ) from None

    @property
    def listens_http(self) -> bool:
        """Whether ``start`` opens the HTTP listener on CAREERBOT_SLACK_PORT: HTTP mode, or the
        install pages of many workspaces (which need it even with Socket Mode)."""
        return not self.socket_mode or self.oauth

    def web_app(self) -> web.Application:
        """The HTTP listener: the Events API (HTTP mode), the install pages (many workspaces), ops routes.

        Each route hands Bolt a framework-neutral request and returns its response, as Bolt's
        own aiohttp server does; with Socket Mode, events never arrive here unsigned.
        """
        web_app = web.Application()
        if not self.socket_mode:
            web_app.router.add_post("/slack/events", self._events)
        if self.oauth:
            web_app.router.add_get(INSTALL_PATH, self._install)
            web_app.router.add_get(REDIRECT_PATH, self._oauth_redirect)
        web_app.add_routes(self.extra_routes)
        return web_app

    async def _events(self, request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await self.bolt.async_dispatch(await to_bolt_request(request)))

    async def _install(self, request: web.Request) -> web.StreamResponse:
        flow = self.bolt.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def _oauth_redirect(self, request: web.Request) -> web.StreamResponse:
        flow = self.bolt.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    def connected(self) -> bool:
        """For /healthz: the Socket Mode session is up, or the HTTP listener is."""
        if self._socket is not None:
            client = self._socket.client
            session = getattr(client, "current_session", None)
            return not getattr(client, "closed", False) and session is not None and not session.closed
        return self._runner is not None

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- every request, before it is authorized ---------------------------------------------------------
    async def _first_sight(self, body: dict[str, Any], context: Any, req: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        """Handles each Events API event once, whichever process (and however often) Slack delivers it to.

        Slack retries a delivery it thinks was missed, with the same ``event_id`` and an
        ``X-Slack-Retry-Num`` header; the first process to record the id handles the event,
        every later delivery is acknowledged at once (so Slack stops retrying) and dropped.
        """
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            now = iso_utc(self.app.clock.now())
            if not await inbound_repo.first_sight(self.app.db, "slack", str(event_id), now, self.owner):
                retry = (req.headers.get("x-slack-retry-num") or [""])[0] if req is not None else ""
                log.info("Slack event %s arrived again (retry %s); already taken, acknowledged only", event_id, retry or "?")
                return BoltResponse(status=200, body="")
        if self.oauth and context.is_enterprise_install and context.enterprise_id:
            await self._link(body, str(context.enterprise_id))
        return await next()

    async def _link(self, body: dict[str, Any], enterprise_id: str) -> None:
        """Notes which organization's org-wide install serves a workspace, for posts queued to it."""
        team = body.get("team_id")
        if not team:
            found = body.get("team")
            team = found.get("id") if isinstance(found, dict) else found
        if not team:
            user = body.get("user")
            team = user.get("team_id") if isinstance(user, dict) else None
        if team and (str(team), enterprise_id) not in self._linked:
            await slack_installs_repo.link_team(self.app.db, str(team), enterprise_id, iso_utc(self.app.clock.now()))
            self._linked.add((str(team), enterprise_id))

    def _client(self, client: AsyncWebClient | None) -> AsyncWebClient:
        """Bolt's client for this request (the workspace's token) when installed per workspace; else the one client."""
        return client if self.oauth and client is not None else self.client

    # -- who and where ------------------------------------------------------------------------------
    async def actor(self, user_id: str, name: str = "", team: str = "", client: AsyncWebClient | None = None) -> Actor:
        """Workspace owners and admins from ``users.info``, cached for ten minutes; user groups
        (for ``mod_roles``) from ``usergroups.list``, read only where ``mod_roles`` is set."""
        api = self._client(client)
        key = f"{team}:{user_id}" if self.oauth else user_id
        cached = self._roles.get(key)
        if cached is None or time.monotonic() - cached.at > ROLE_TTL:
            role = Role.MEMBER
            try:
                info = (await api.users_info(user=user_id)).get("user") or {}
                role = Role.OWNER if info.get("is_owner") else Role.ADMIN if info.get("is_admin") else Role.MEMBER
                name = name or info.get("name", "")
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("users.info for %s failed (%s); treating them as a member", user_id, exc)
                if cached is not None:
                    role = cached.role
            cached = self._roles[key] = _Role(role, time.monotonic())
        groups: tuple[str, ...] = ()
        if team and await self.app.settings.workspace_uses(f"slack:{team}", "mod_roles"):
            groups = tuple(g for g, members in (await self._groups(team, api)).items() if user_id in members)
        return Actor(f"slack:{user_id}", name or user_id, cached.role, groups)

    async def _groups(self, team: str, api: AsyncWebClient) -> dict[str, set[str]]:
        """User group id -> members, cached like roles (a group's membership changes rarely)."""
        key = team if self.oauth else ""
        cached = self._group_cache.get(key)
        if cached is None or time.monotonic() - cached[0] > ROLE_TTL:
            try:
                response = await api.usergroups_list(include_users=True)
                groups = {g["id"]: set(g.get("users") or []) for g in response.get("usergroups", [])}
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("usergroups.list failed (%s); user groups in mod_roles are not applied", exc)
                groups = cached[1] if cached else {}
            cached = self._group_cache[key] = (time.monotonic(), groups)
        return cached[1]

    @staticmethod
    def place(team: str, channel: str, channel_name: str = "") -> Place:
        is_dm = channel.startswith("D") or channel_name == "directmessage"
        return Place("slack", None if is_dm else team, channel, "" if is_dm else channel_name, is_dm=is_dm)

    @staticmethod
    def line(text: str) -> str:
        """``advice do i need a phd`` → ``/advice do i need a phd``; nothing at all → ``/help``."""
        text = clean_input(unescape(text or ""))
        if not text:
            return "/help"
        return text if text.startswith("/") else f"/{text}"

    # -- listeners ------------------------------------------------------------------------------------
    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        await ack()
        api = self._client(client)
        team = command.get("team_id", "")
        actor = await self.actor(command.get("user_id", ""), command.get("user_name", ""), team, api)
        place = self.place(team, command.get("channel_id", ""), command.get("channel_name", ""))
        reply = await self.app.handle(actor, place, self.line(command.get("text", "")))
        await self._respond(respond, reply, actor, place, api, team)

    async def _on_action(self, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        await ack()
        api = self._client(client)
        action = (body.get("actions") or [{}])[0]
        user = body.get("user") or {}
        team = (body.get("team") or {}).get("id", "") or user.get("team_id", "")
        actor = await self.actor(user.get("id", ""), user.get("username", ""), team, api)
        channel = body.get("channel") or {}
        place = self.place(team, channel.get("id", ""), channel.get("name", ""))
        reply = await self.app.click(actor, place, str(action.get("action_id", "")))
        await self._respond(respond, reply, actor, place, api, team)

    async def _on_link(self, ack: Any) -> None:
        await ack()  # Slack reports link-button clicks too; the browser already opened the link

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        await self._conversation(event, body, _BOT_MENTION.sub("", event.get("text", ""), count=1), client)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # only people writing to the bot directly; channel chatter is not for us
        await self._conversation(event, body, event.get("text", ""), client)

    async def _conversation(self, event: dict[str, Any], body: dict[str, Any], text: str, client: AsyncWebClient) -> None:
        api = self._client(client)
        team = body.get("team_id", "") or event.get("team", "")
        actor = await self.actor(event.get("user", ""), team=team, client=api)
        place = self.place(team, event.get("channel", ""))
        reply = await self.app.handle(actor, place, self.line(text))
        thread = event.get("thread_ts") or (None if place.is_dm else event.get("ts"))

        async def say(message: Reply) -> None:
            for payload in render_messages(message):
                if message.ephemeral and not place.is_dm:
                    await api.chat_postEphemeral(channel=place.channel_id, user=actor.local_id, thread_ts=thread, **payload)
                else:
                    await api.chat_postMessage(channel=place.channel_id, thread_ts=thread, unfurl_links=False, **payload)

        for message in reply.messages():
            await self._with_files(message, actor, place, say, thread, api, team)

    async def _respond(
        self, respond: Any, reply: Reply, actor: Actor, place: Place, api: AsyncWebClient | None = None, team: str = ""
    ) -> None:
        """Through ``response_url`` while it has uses left, then the Web API."""
        api = api or self.client
        uses = 0

        async def say(message: Reply) -> None:
            nonlocal uses
            for payload in render_messages(message):
                private = message.ephemeral
                if uses < RESPOND_USES:
                    await respond(response_type="ephemeral" if private else "in_channel", replace_original=False, **payload)
                    uses += 1
                elif private:
                    await api.chat_postEphemeral(channel=place.channel_id, user=actor.local_id, **payload)
                else:
                    await api.chat_postMessage(channel=place.channel_id, unfurl_links=False, **payload)

        for message in reply.messages():
            await self._with_files(message, actor, place, say, None, api, team)

    async def _with_files(
        self, message: Reply, actor: Actor, place: Place, say: Callable[[Reply], Awaitable[None]], thread: str | None = None,
        api: AsyncWebClient | None = None, team: str = "",
    ) -> None:
        """Sends ``message`` through ``say`` and shares its files where Slack allows.

        A private reply in a channel: the files go to the person's DM first, so the reply
        can say truthfully where they are (or why they are not). A public reply, or any
        reply in a DM: the text first, then its files below it in the same place; a failed
        upload is told to the person privately, never to the channel.
        """
        api = api or self.client
        files = message.attachments
        if not files:
            await say(message)
            return
        if message.ephemeral and not place.is_dm:
            try:
                dm = await self.transport.dm_channel(actor.local_id, client=api, workspace=f"slack:{team}")
                await upload_files(api, dm, files, sleep=self.sleep)
                line = sent_by_dm_line(files)
            except UploadFailed as exc:
                log.warning("files for %s were not sent by DM: %s", actor.id, exc)
                line = not_sent_by_dm_line(files, exc.reason)
            except DeliveryError as exc:
                log.warning("opening a DM with %s for files failed: %s", actor.id, exc)
                line = not_sent_by_dm_line(files, _why(exc))
            await say(with_line(message, line))
            return
        await say(replace(message, attachments=[]))
        try:
            await upload_files(api, place.channel_id, files, thread_ts=thread, sleep=self.sleep)
        except UploadFailed as exc:
            log.warning("files of a reply in %s were not shared: %s", place.channel_id, exc)
            await say(Reply(text=not_attached_line(files, exc.reason), kind="error", ephemeral=True))
