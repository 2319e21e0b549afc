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
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import AdapterError
from bot.app import App
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


class SlackTransport:
    """``chat.postMessage`` for the outbox; our idempotency key rides in message metadata.

    Slack has no idempotency key of its own, so a row found ``sending`` after a crash is
    looked up in the channel's recent history by that key before it is sent again.
    """

    platform = "slack"

    def __init__(self, client: AsyncWebClient, sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.limits = limits()
        self.sleep = sleep  # for an upload's short Retry-After; tests pass a fake clock's
        self._dm_channels: dict[str, str] = {}

    async def send(self, target: Target, reply: Reply, key: str) -> Sent:
        channel = await self._channel(target)
        sent: Sent | None = None
        for payload in render_messages(reply):
            response = await self._call(
                "chat_postMessage", channel=channel, text=payload["text"], blocks=payload["blocks"],
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
                unfurl_links=False, unfurl_media=False,
            )
            sent = sent or Sent(str(response.get("ts", "")), str(response.get("channel", channel)))
        assert sent is not None
        if reply.attachments:
            await self._share(sent.channel_id, reply.attachments)
        return sent

    async def _share(self, channel: str, attachments: Sequence[Attachment]) -> None:
        """Uploads a post's files after its text, into the same conversation.

        The text is already posted, so a failed upload must not raise: the queue would
        send the whole part again and the channel would read the text twice. The channel
        is told in one line instead (and the log keeps Slack's error).
        """
        try:
            await upload_files(self.client, channel, attachments, sleep=self.sleep)
        except UploadFailed as exc:
            log.warning("files of a post to %s were not shared: %s", channel, exc)
            line = escape(not_attached_line(attachments, exc.reason))
            try:
                await self._call("chat_postMessage", channel=channel, text=line, unfurl_links=False, unfurl_media=False)
            except DeliveryError as again:
                log.warning("telling %s about the missing files failed too: %s", channel, again)

    async def find(self, target: Target, key: str, since: datetime) -> Sent | None:
        """A post with our key sent since ``since``: what a crash may have left unrecorded."""
        channel = await self._channel(target)
        response = await self._call(
            "conversations_history", channel=channel, oldest=f"{(since - timedelta(minutes=1)).timestamp():.6f}",
            include_all_metadata=True, limit=15,
        )
        for message in response.get("messages", []):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return Sent(str(message.get("ts", "")), channel)
        return None

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        payload = render_messages(reply)[0]
        await self._call("chat_update", channel=channel, ts=message_id, text=payload["text"], blocks=payload["blocks"])

    async def _channel(self, target: Target) -> str:
        return await self.dm_channel(target.channel) if target.is_user else target.channel

    async def dm_channel(self, user_id: str) -> str:
        """The bot's DM with a person (``conversations.open``), opened once and remembered."""
        cached = self._dm_channels.get(user_id)
        if cached is None:
            response = await self._call("conversations_open", users=user_id)
            cached = self._dm_channels[user_id] = str((response.get("channel") or {}).get("id", ""))
        return cached

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if hasattr(exc.response, "get") else ""
            if status == 429 or error == "ratelimited":
                retry = exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", "1"))
                raise RateLimited(float(retry) if str(retry).isdigit() else 1.0) from None
            if error in GONE:
                raise PermanentFailure(f"{GONE[error]} (Slack: {error})") from None
            if error in ("invalid_blocks", "msg_too_long", "no_text", "invalid_metadata_format", "invalid_arguments"):
                raise PermanentFailure(f"Slack rejected the message ({error})", target_gone=False) from None
            raise TransientFailure(f"Slack answered {status}: {error or exc}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()


class SlackAdapter:
    def __init__(
        self, app: App, config: Config, *, client: AsyncWebClient | None = None, sleep: Sleep = asyncio.sleep
    ) -> None:
        if not config.slack_bot_token:
            raise ValueError("SLACK_BOT_TOKEN is not set")
        self.app = app
        self.config = config
        self.socket_mode = bool(config.slack_app_token)
        self.client = client or AsyncWebClient(token=config.slack_bot_token.reveal(), base_url=config.slack_api_base)
        signing = config.slack_signing_secret.reveal() if config.slack_signing_secret else None
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing,
            # Socket Mode needs no signature (the socket is authenticated); HTTP mode always checks it.
            request_verification_enabled=not self.socket_mode,
            logger=logging.getLogger("careerbot.slack.bolt"),
        )
        self.bolt.command(config.slack_command)(self._on_command)
        self.bolt.event("app_mention")(self._on_mention)
        self.bolt.event("message")(self._on_message)
        self.bolt.action(re.compile(r"^cb1:"))(self._on_action)
        self.bolt.action(re.compile(r"^link:"))(self._on_link)
        app.add_frontend(SlackFrontend(config.slack_command))
        self.sleep = sleep  # for an upload's short Retry-After; tests pass a fake clock's
        self.transport = SlackTransport(self.client, sleep)
        if "slack" not in app.outbox.dispatchers:
            app.outbox.add_transport(self.transport)
        self._roles: dict[str, _Role] = {}
        self._group_cache: tuple[float, dict[str, set[str]]] | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.url = ""  # the HTTP endpoint, once listening
        self.extra_routes: list[web.RouteDef] = []  # /healthz and /metrics when they share Slack's port

    # -- life --------------------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            if self.socket_mode:
                assert self.config.slack_app_token is not None
                self._socket = AsyncSocketModeHandler(self.bolt, self.config.slack_app_token.reveal(), web_client=self.client)
                await self._socket.connect_async()
                log.info("connected to Slack over Socket Mode")
            else:
                web_app = self.bolt.web_app(path="/slack/events")
                web_app.add_routes(self.extra_routes)
                self._runner = web.AppRunner(web_app)
                await self._runner.setup()
                site = web.TCPSite(self._runner, self.config.slack_host, self.config.slack_port)
                await site.start()
                host, port = self._runner.addresses[0][:2]
                self.url = f"http://{host}:{port}/slack/events"
                log.info("listening for Slack at %s", self.url)
        except SlackApiError as exc:
            raise AdapterError(f"Slack refused to connect: {exc.response.get('error', exc)}") from None
        except OSError as exc:
            raise AdapterError(
                f"cannot listen on {self.config.slack_host}:{self.config.slack_port} for Slack: {exc.strerror or exc}"
            ) from None

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

    # -- who and where ------------------------------------------------------------------------------
    async def actor(self, user_id: str, name: str = "", team: str = "") -> Actor:
        """Workspace owners and admins from ``users.info``, cached for ten minutes; user groups
        (for ``mod_roles``) from ``usergroups.list``, read only where ``mod_roles`` is set."""
        cached = self._roles.get(user_id)
        if cached is None or time.monotonic() - cached.at > ROLE_TTL:
            role = Role.MEMBER
            try:
                info = (await self.client.users_info(user=user_id)).get("user") or {}
                role = Role.OWNER if info.get("is_owner") else Role.ADMIN if info.get("is_admin") else Role.MEMBER
                name = name or info.get("name", "")
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("users.info for %s failed (%s); treating them as a member", user_id, exc)
                if cached is not None:
                    role = cached.role
            cached = self._roles[user_id] = _Role(role, time.monotonic())
        groups: tuple[str, ...] = ()
        if team and await self.app.settings.workspace_uses(f"slack:{team}", "mod_roles"):
            groups = tuple(g for g, members in (await self._groups()).items() if user_id in members)
        return Actor(f"slack:{user_id}", name or user_id, cached.role, groups)

    async def _groups(self) -> dict[str, set[str]]:
        """User group id -> members, cached like roles (a group's membership changes rarely)."""
        if self._group_cache is None or time.monotonic() - self._group_cache[0] > ROLE_TTL:
            try:
                response = await self.client.usergroups_list(include_users=True)
                groups = {g["id"]: set(g.get("users") or []) for g in response.get("usergroups", [])}
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("usergroups.list failed (%s); user groups in mod_roles are not applied", exc)
                groups = self._group_cache[1] if self._group_cache else {}
            self._group_cache = (time.monotonic(), groups)
        return self._group_cache[1]

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
    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        actor = await self.actor(command.get("user_id", ""), command.get("user_name", ""), command.get("team_id", ""))
        place = self.place(command.get("team_id", ""), command.get("channel_id", ""), command.get("channel_name", ""))
        reply = await self.app.handle(actor, place, self.line(command.get("text", "")))
        await self._respond(respond, reply, actor, place)

    async def _on_action(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        user = body.get("user") or {}
        actor = await self.actor(user.get("id", ""), user.get("username", ""), (body.get("team") or {}).get("id", ""))
        channel = body.get("channel") or {}
        place = self.place((body.get("team") or {}).get("id", ""), channel.get("id", ""), channel.get("name", ""))
        reply = await self.app.click(actor, place, str(action.get("action_id", "")))
        await self._respond(respond, reply, actor, place)

    async def _on_link(self, ack: Any) -> None:
        await ack()  # Slack reports link-button clicks too; the browser already opened the link

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        await self._conversation(event, body, _BOT_MENTION.sub("", event.get("text", ""), count=1))

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # only people writing to the bot directly; channel chatter is not for us
        await self._conversation(event, body, event.get("text", ""))

    async def _conversation(self, event: dict[str, Any], body: dict[str, Any], text: str) -> None:
        team = body.get("team_id", "") or event.get("team", "")
        actor = await self.actor(event.get("user", ""), team=team)
        place = self.place(team, event.get("channel", ""))
        reply = await self.app.handle(actor, place, self.line(text))
        thread = event.get("thread_ts") or (None if place.is_dm else event.get("ts"))

        async def say(message: Reply) -> None:
            for payload in render_messages(message):
                if message.ephemeral and not place.is_dm:
                    await self.client.chat_postEphemeral(
                        channel=place.channel_id, user=actor.local_id, thread_ts=thread, **payload
                    )
                else:
                    await self.client.chat_postMessage(
                        channel=place.channel_id, thread_ts=thread, unfurl_links=False, **payload
                    )

        for message in reply.messages():
            await self._with_files(message, actor, place, say, thread)

    async def _respond(self, respond: Any, reply: Reply, actor: Actor, place: Place) -> None:
        """Through ``response_url`` while it has uses left, then the Web API."""
        uses = 0

        async def say(message: Reply) -> None:
            nonlocal uses
            for payload in render_messages(message):
                private = message.ephemeral
                if uses < RESPOND_USES:
                    await respond(response_type="ephemeral" if private else "in_channel", replace_original=False, **payload)
                    uses += 1
                elif private:
                    await self.client.chat_postEphemeral(channel=place.channel_id, user=actor.local_id, **payload)
                else:
                    await self.client.chat_postMessage(channel=place.channel_id, unfurl_links=False, **payload)

        for message in reply.messages():
            await self._with_files(message, actor, place, say)

    async def _with_files(
        self, message: Reply, actor: Actor, place: Place, say: Callable[[Reply], Awaitable[None]], thread: str | None = None
    ) -> None:
        """Sends ``message`` through ``say`` and shares its files where Slack allows.

        A private reply in a channel: the files go to the person's DM first, so the reply
        can say truthfully where they are (or why they are not). A public reply, or any
        reply in a DM: the text first, then its files below it in the same place; a failed
        upload is told to the person privately, never to the channel.
        """
        files = message.attachments
        if not files:
            await say(message)
            return
        if message.ephemeral and not place.is_dm:
            try:
                dm = await self.transport.dm_channel(actor.local_id)
                await upload_files(self.client, dm, files, sleep=self.sleep)
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
            await upload_files(self.client, place.channel_id, files, thread_ts=thread, sleep=self.sleep)
        except UploadFailed as exc:
            log.warning("files of a reply in %s were not shared: %s", place.channel_id, exc)
            await say(Reply(text=not_attached_line(files, exc.reason), kind="error", ephemeral=True))
