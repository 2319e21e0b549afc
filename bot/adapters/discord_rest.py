"""Posting unsolicited messages (digests, alerts, notices) through Discord's REST API.

The outbound queue needs only "create message", with Discord's own answers mapped onto
ours: 429 → RateLimited (``retry_after``, global or per-route), 403/404 → the target is gone
or closed to us, 5xx and network errors → try again later. Every attempt carries a nonce
derived from the delivery's idempotency key with ``enforce_nonce``, so Discord returns the
original message instead of posting a second one when a resend follows a lost reply.
A user target is reached through its DM channel (``POST /users/@me/channels``), opened once
and cached; a user who does not accept DMs (403, code 50007) is a permanent failure for that
user only. The base URL is configurable so tests point it at a local fake.

A part with files (``Reply.attachments``) is sent as ``multipart/form-data``: the JSON body
in ``payload_json`` with an ``attachments`` array (``id`` n, filename, description) and one
``files[n]`` part per file, as Discord documents under "Uploading Files". The nonce rides in
``payload_json`` as before, so a resend is still deduplicated. Where the bot may post but not
attach files (403, 50013 only when files were sent), the text goes without them and says so.
Edits never send files or an ``attachments`` array: Discord keeps a message's files then.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import aiohttp

from bot import __version__
from bot.config import Secret
from bot.delivery import Limits, PermanentFailure, RateLimited, Sent, Target, TransientFailure
from bot.models import Attachment, Reply
from bot.render.discord import CONTENT, attachments_field, file_batches, not_attached_line, render_message

API = "https://discord.com/api/v10"
USER_AGENT = f"DiscordBot (https://github.com/careerbot/careerbot, {__version__})"


def nonce_for(key: str) -> str:
    """Discord nonces are at most 25 characters; a hash of the key is stable across restarts."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]


class Refused(PermanentFailure):
    """A permanent refusal that keeps Discord's error code, for the one case told apart by it."""

    def __init__(self, reason: str, target_gone: bool = True, code: int | None = None) -> None:
        super().__init__(reason, target_gone)
        self.code = code


MISSING_PERMISSIONS = 50013


def multipart(payload: dict[str, Any], files: Sequence[Attachment]) -> aiohttp.FormData:
    """Discord's upload form: ``payload_json`` (with ``attachments``), then ``files[0]``, ``files[1]``…

    ``quote_fields=False`` keeps the brackets: aiohttp would otherwise send ``files%5B0%5D``,
    a name Discord does not read as a file.
    """
    form = aiohttp.FormData(quote_fields=False)
    body = {**payload, "attachments": attachments_field(files)}
    form.add_field("payload_json", json.dumps(body), content_type="application/json")
    for n, attachment in enumerate(files):
        form.add_field(f"files[{n}]", attachment.data, filename=attachment.name, content_type=attachment.content_type)
    return form


class DiscordRestTransport:
    platform = "discord"
    # 50 requests/s is Discord's global bot limit; messages are split well under 6000 chars.
    limits = Limits(max_chars=5000, max_cards=10, rate=50.0, burst=1)

    def __init__(
        self,
        token: Secret | str,
        base_url: str = API,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 15.0,
        limits: Limits | None = None,
    ) -> None:
        self._token = token.reveal() if isinstance(token, Secret) else token
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        if limits is not None:
            self.limits = limits
        # user id -> DM channel id. Discord returns the same channel every time, so a cache
        # saves a request per DM without ever being wrong for long.
        self._dm_channels: dict[str, str] = {}

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._own_session = True
        return self._session

    async def send(self, target: Target, reply: Reply, key: str) -> Sent:
        payload = render_message(reply)
        payload["nonce"] = nonce_for(key)
        payload["enforce_nonce"] = True
        channel = await self._dm_channel(target.channel) if target.is_user else target.channel
        batches = file_batches(reply.attachments)
        body, headers = await self._post(channel, payload, batches[0] if batches else [], dm=target.is_user)
        # Over ten files: the rest follow in messages of their own, each with its own nonce, so
        # a resend after a 429 on one of them deduplicates the ones that already arrived.
        for n, batch in enumerate(batches[1:], 2):
            extra = {"allowed_mentions": {"parse": []}, "nonce": nonce_for(f"{key}|files{n}"), "enforce_nonce": True}
            await self._post(channel, extra, batch, dm=target.is_user)
        return Sent(str(body.get("id", "")), channel, rest=_bucket_rest(headers))

    async def _post(
        self, channel: str, payload: dict[str, Any], files: list[Attachment], dm: bool
    ) -> tuple[dict[str, Any], Any]:
        """Creates one message; if the bot may post here but not attach files, posts the text alone."""
        path = f"/channels/{channel}/messages"
        try:
            return await self._request("POST", path, payload, dm=dm, files=files)
        except Refused as exc:
            if not files or exc.code != MISSING_PERMISSIONS:
                raise
        line = not_attached_line(files, "the bot lacks the Attach Files permission in this channel")
        content = str(payload.get("content") or "")
        if len(content) + len(line) + 2 <= CONTENT:
            return await self._request("POST", path, {**payload, "content": f"{content}\n\n{line}" if content else line}, dm=dm)
        sent = await self._request("POST", path, payload, dm=dm)
        note = {"content": line, "allowed_mentions": {"parse": []}, "nonce": nonce_for(f"{payload.get('nonce')}|line"),
                "enforce_nonce": True}
        await self._request("POST", path, note, dm=dm)
        return sent

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        """Replaces a message we posted (e.g. an alert for a posting that has since closed).

        No files and no ``attachments`` array are sent, which tells Discord to keep the
        message's files as they are: an edit changes the words, and uploading the files
        again would only add copies next to the originals.
        """
        await self._request("PATCH", f"/channels/{channel}/messages/{message_id}", render_message(reply))

    async def _dm_channel(self, user_id: str) -> str:
        cached = self._dm_channels.get(user_id)
        if cached is None:
            body, _ = await self._request("POST", "/users/@me/channels", {"recipient_id": user_id}, dm=True)
            cached = self._dm_channels[user_id] = str(body.get("id", ""))
        return cached

    async def _request(
        self, method: str, path: str, payload: dict[str, Any], dm: bool = False, files: Sequence[Attachment] = ()
    ) -> tuple[dict[str, Any], Any]:
        headers = {"Authorization": f"Bot {self._token}", "User-Agent": USER_AGENT}
        session = await self._client()
        body_kwargs: dict[str, Any] = {"data": multipart(payload, files)} if files else {"json": payload}
        try:
            async with session.request(method, self.base_url + path, headers=headers, **body_kwargs) as resp:
                body = await _json(resp)
                if 200 <= resp.status < 300:
                    return body, resp.headers
                _raise_for(resp.status, resp.headers, body, dm)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()


def _bucket_rest(headers: Any) -> float:
    """Seconds until the route's bucket refills, if this request emptied it."""
    if headers.get("X-RateLimit-Remaining") != "0":
        return 0.0
    try:
        return max(0.0, float(headers.get("X-RateLimit-Reset-After") or 0.0))
    except ValueError:
        return 0.0


async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _raise_for(status: int, headers: Any, body: dict[str, Any], dm: bool = False) -> None:
    message = str(body.get("message") or f"HTTP {status}")[:200]
    code = body.get("code")
    if status == 429:
        try:
            retry_after = float(body.get("retry_after") or headers.get("Retry-After") or 1.0)
        except (TypeError, ValueError):
            retry_after = 1.0
        whole = bool(body.get("global")) or headers.get("X-RateLimit-Global") == "true" or headers.get("X-RateLimit-Scope") == "global"
        raise RateLimited(retry_after, whole_platform=whole)
    number = code if isinstance(code, int) else None
    if status in (403, 404) or (dm and status == 400):
        what = {10003: "the channel no longer exists", 50001: "the bot cannot see the channel",
                50013: "the bot lacks permission to post there", 10013: "the user no longer exists",
                50007: "the user does not accept direct messages from the bot",
                }.get(number if number is not None else -1, message)
        raise Refused(f"{what} (Discord {status}{f', code {code}' if code else ''})", code=number)
    if status == 413:  # a file over the upload limit: this post can never go, the channel is fine
        raise Refused(f"Discord refused a file as too large: {message}", target_gone=False, code=number)
    if status == 400:
        raise Refused(f"Discord rejected the message: {message}", target_gone=False, code=number)
    raise TransientFailure(f"Discord answered {status}: {message}")
