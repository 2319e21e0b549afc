"""A local fake of the part of Discord's REST API the outbound queue uses (create message).

Protocol-faithful where the queue depends on it: bot-token auth, the global rate limit
answered with 429 + JSON ``retry_after``/``global`` and the Retry-After/X-RateLimit-* headers,
Unknown Channel (404, code 10003), Missing Permissions (403, code 50013), and
``nonce`` + ``enforce_nonce`` deduplication (a repeat returns the original message).
Test knobs: fail a channel's next requests with given statuses, or store a message and then
drop the connection before answering (the "lost acknowledgement" case).
Used by the tests and by bench/fanout.py; serves on 127.0.0.1 only.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local_http import serve


@dataclass
class FakeDiscord:
    token: str = "test-token"
    rate_limit: int = 50  # requests per window, like Discord's global 50/s
    window: float = 1.0
    channels: set[str] | None = None  # None: every channel id exists
    forbidden: set[str] = field(default_factory=set)
    fail_next: dict[str, list[int]] = field(default_factory=dict)  # channel -> statuses to answer first
    drop_ack: set[str] = field(default_factory=set)  # channels whose next message is stored, then the connection dropped
    blocks_dms: set[str] = field(default_factory=set)  # users who do not accept DMs from the bot
    unknown_users: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests = 0
        self.rate_limited = 0
        self.deduplicated = 0
        self._recent: deque[float] = deque()
        self._by_nonce: dict[tuple[str, str], dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.dm_opens = 0

    def in_channel(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel_id"] == channel]

    def dms_to(self, user: str) -> list[dict[str, Any]]:
        channel = self.dm_channels.get(user)
        return self.in_channel(channel) if channel else []

    async def _open_dm(self, request: web.Request) -> web.StreamResponse:
        """Create DM: returns the user's DM channel, the same one every time."""
        self.requests += 1
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        payload = await request.json()
        user = str(payload.get("recipient_id", ""))
        if not user or user in self.unknown_users:
            return web.json_response({"message": "Unknown User", "code": 10013}, status=404)
        self.dm_opens += 1
        channel = self.dm_channels.setdefault(user, str(9_000_000 + len(self.dm_channels)))
        return web.json_response({"id": channel, "type": 1, "recipients": [{"id": user}]})

    async def _edit_message(self, request: web.Request) -> web.StreamResponse:
        channel, message_id = request.match_info["channel_id"], request.match_info["message_id"]
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        for message in self.messages:
            if message["id"] == message_id and message["channel_id"] == channel:
                payload = await request.json()
                message.update({k: payload[k] for k in ("content", "embeds", "components") if k in payload})
                message["edited"] = True
                return web.json_response(message)
        return web.json_response({"message": "Unknown Message", "code": 10008}, status=404)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/v10/channels/{channel_id}/messages", self._create_message)
        app.router.add_patch("/api/v10/channels/{channel_id}/messages/{message_id}", self._edit_message)
        app.router.add_post("/api/v10/users/@me/channels", self._open_dm)
        self._runner, root = await serve(app)
        self.base_url = f"{root}/api/v10"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _limited(self) -> float | None:
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - self.window:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            return max(0.001, self._recent[0] + self.window - now)
        self._recent.append(now)
        return None

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        retry_after = self._limited()
        if retry_after is not None:
            self.rate_limited += 1
            return web.json_response(
                {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": True},
                status=429,
                headers={"Retry-After": str(max(1, round(retry_after))), "X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"},
            )
        channel = request.match_info["channel_id"]
        dm_user = next((u for u, c in self.dm_channels.items() if c == channel), None)
        if dm_user in self.blocks_dms:
            return web.json_response({"message": "Cannot send messages to this user", "code": 50007}, status=403)
        if self.channels is not None and channel not in self.channels and dm_user is None:
            return web.json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        if channel in self.forbidden:
            return web.json_response({"message": "Missing Permissions", "code": 50013}, status=403)
        queued = self.fail_next.get(channel)
        if queued:
            status = queued.pop(0)
            if status == 429:  # a per-route limit on this channel, as Discord sends it
                self.rate_limited += 1
                return web.json_response(
                    {"message": "You are being rate limited.", "retry_after": 2.5, "global": False},
                    status=429,
                    headers={"Retry-After": "3", "X-RateLimit-Scope": "user", "X-RateLimit-Bucket": f"chan-{channel}"},
                )
            return web.json_response({"message": f"injected {status}", "code": 0}, status=status)
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response({"message": "Cannot send an empty message", "code": 50006}, status=400)
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce") and (channel, str(nonce)) in self._by_nonce:
            self.deduplicated += 1
            return web.json_response(self._by_nonce[(channel, str(nonce))])
        if not payload.get("content") and not payload.get("embeds"):
            return web.json_response({"message": "Cannot send an empty message", "code": 50006}, status=400)
        message = {
            "id": str(1_000_000 + len(self.messages)),
            "channel_id": channel,
            "content": payload.get("content", ""),
            "embeds": payload.get("embeds", []),
            "components": payload.get("components", []),
            "nonce": nonce,
        }
        self.messages.append(message)
        if nonce is not None:
            self._by_nonce[(channel, str(nonce))] = message
        if channel in self.drop_ack:
            self.drop_ack.discard(channel)
            assert request.transport is not None
            request.transport.abort()  # the message exists, but the sender never hears so
            raise web.HTTPInternalServerError()
        return web.json_response(message)
