"""A local fake of Discord: REST v10 and Gateway v10, faithful enough for the real discord.py.

Two users:

* The outbound queue (``bot.adapters.discord_rest``) and ``bench/fanout.py`` use only the REST
  side: create message with bot-token auth, the global rate limit answered with 429 + JSON
  ``retry_after``/``global`` and the Retry-After/X-RateLimit-*/Via headers, Unknown Channel
  (404, 10003), Missing Permissions (403, 50013), Missing Access (403, 50001), ``nonce`` +
  ``enforce_nonce`` deduplication (a repeat returns the original message), DM channels, edits.
  Test knobs: fail a channel's next requests with given statuses, or store a message and then
  drop the connection before answering (the "lost acknowledgement" case).
* The Discord adapter's end-to-end tests run an unmodified ``discord.Client`` against it:
  ``point_discord_py_at(fake)`` sets discord.py's REST base and gateway URL; the client logs
  in (``GET /users/@me``, ``GET /oauth2/applications/@me``), connects the gateway (HELLO,
  IDENTIFY, READY, GUILD_CREATE, heartbeats, RESUME with replay of missed events, zlib-stream
  compression when asked), syncs its command tree (``PUT /applications/{app}/commands``,
  validated like Discord does), receives INTERACTION_CREATE built by ``send_interaction``/
  ``send_autocomplete``/``send_component`` and answers through the callback and webhook routes,
  where Discord's rules are enforced: the initial-response deadline (``interaction_deadline``,
  3 s), one callback per interaction (40060), follow-ups only after a callback and within
  ``followup_window`` (15 min).

File uploads (create message, interaction callbacks, webhook follow-ups and edits) are read as
Discord documents them under "Uploading Files": ``multipart/form-data`` with the JSON body in
``payload_json`` and one ``files[n]`` part per file, each with a filename and a unique name; the
``attachments`` array's ``id`` n names the ``files[n]`` part (and carries its ``description``).
A malformed form, a file part under another name, a duplicate name or an ``attachments`` id with
no file is answered 400 with Discord's JSON error; a file over ``upload_limit`` gets 413 (40005);
posting files without Attach Files gets 403 (50013). Each message's files are kept with their
bytes: ``fake.attachments(message)`` gives filename, data, content type and description. A PATCH
keeps a message's files unless its ``attachments`` array leaves some out, as Discord does.

Sharding, as the real gateway does it: ``GET /gateway/bot`` answers ``shards`` (the fake's
``shards``) and ``session_start_limit`` (``total``, ``remaining``, ``reset_after``,
``max_concurrency``); an IDENTIFY's ``shard: [shard_id, num_shards]`` makes the session that
shard's (none: ``[0, 1]``, every guild; a shard id outside ``num_shards`` is closed with 4010).
A guild belongs to the shard ``(guild_id >> 22) % num_shards``: READY lists only its guilds, its
GUILD_CREATE and its interactions go only to that shard's session, and DMs only to shard 0.
Every IDENTIFY is recorded in ``identify_log`` (time, shard, bucket ``shard_id %
max_concurrency``); two IDENTIFYs of one bucket less than ``identify_window`` (5 s) apart are a
violation, kept in ``identify_violations``. With ``enforce_identify_limit`` the second one is
answered as Discord answers it, op 9 INVALID_SESSION (not resumable), so the client must
IDENTIFY again; by default the fake only records it (a bot restarted within 5 s in a test).
Helpers: ``guild_id_on_shard`` makes guild ids for a shard, ``wait_shards`` waits until shards
are ready, ``shard_session`` finds a shard's session, ``SentInteraction.shard`` says where an
interaction went; ``duplicate_dispatch`` sends a guild's events to every connected session of
its shard (two deployments of the same shards overlapping, which Discord allows).

Pass ``guild_ready_timeout=0.05`` (or similar) to ``discord.Client``: its default waits 2 s
after the last GUILD_CREATE before ``on_ready``.
Serves on 127.0.0.1 only. Everything it was sent is recorded (``calls``, ``connections``,
``identifies``, ``identify_log``, ``resumes``, ``interactions``) for assertions.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import mimetypes
import re
import secrets
import time
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from aiohttp import WSMsgType, web

from tests.fakes.local_http import serve

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000

# -- permission bits (https://discord.com/developers/docs/topics/permissions) ----------------------
CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE | ADD_REACTIONS | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES
    | READ_MESSAGE_HISTORY | USE_EXTERNAL_EMOJIS | CONNECT | SPEAK | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | ADD_REACTIONS
DM_APP_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS | MENTION_EVERYONE
)

# Gateway intents that must be enabled in the developer portal (else close 4014).
GUILD_MEMBERS_INTENT = 1 << 1
PRIVILEGED_INTENTS = GUILD_MEMBERS_INTENT | (1 << 8) | (1 << 15)

# -- the default world: one guild, its people, channels and roles ---------------------------------
APP_ID = "1200000000000000001"  # also the bot user's id, as for every application made since 2016
GUILD_ID = "1100000000000000001"
ROLE_IDS = {"@everyone": GUILD_ID, "admins": "1100000000000000010", "moderators": "1100000000000000011",
            "mentors": "1100000000000000012", "careerbot": "1100000000000000013"}
CHANNEL_IDS = {"Text Channels": "1100000000000000100", "general": "1100000000000000101", "jobs": "1100000000000000102",
               "mentors": "1100000000000000103", "announcements": "1100000000000000104", "lounge": "1100000000000000105"}
USER_IDS = {"olive": "1000000000000000001", "ada": "1000000000000000002", "mia": "1000000000000000003",
            "mo": "1000000000000000004", "max": "1000000000000000005"}


def shard_of(guild_id: str | int, num_shards: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (int(guild_id) >> 22) % max(1, num_shards)


def guild_id_on_shard(shard_id: int, num_shards: int, n: int = 0) -> str:
    """A realistic guild id (a snowflake near the default guild's) that lands on ``shard_id`` of
    ``num_shards``; ``n`` picks another such id."""
    base = (1_100_000_000_000_000_001 >> 22) + n * num_shards
    timestamp = base - base % num_shards + shard_id
    return str((timestamp << 22) | 1)


def token_for(user_id: str = APP_ID) -> str:
    """A realistically shaped bot token: its first part is the bot's user id in base64."""
    head = base64.b64encode(user_id.encode()).decode().rstrip("=")
    return f"{head}.Gx7fQk.{secrets.token_urlsafe(27)}"


def user_payload(user_id: str, name: str, *, bot: bool = False, global_name: str | None = None) -> dict[str, Any]:
    user = {"id": user_id, "username": name, "discriminator": "0", "global_name": global_name,
            "avatar": None, "public_flags": 0, "flags": 0, "banner": None, "accent_color": None}
    if bot:
        user["bot"] = True
    return user


def make_guild(
    guild_id: str,
    name: str,
    owner: dict[str, Any],
    *,
    roles: list[dict[str, Any]] = (),  # type: ignore[assignment]
    channels: list[dict[str, Any]] = (),  # type: ignore[assignment]
    members: list[dict[str, Any]] = (),  # type: ignore[assignment]
    everyone_permissions: int = EVERYONE_PERMISSIONS,
) -> dict[str, Any]:
    """A guild as the fake keeps it (GUILD_CREATE-shaped). ``roles``: ``{"id", "name",
    "permissions"}``; ``channels``: ``{"id", "name", "type"[, "parent_id",
    "permission_overwrites"]}``; ``members``: ``{"user": user_payload(...), "roles": [ids]}``.
    The owner is added as a member; the bot is added by the fake when it starts."""
    everyone = {"id": guild_id, "name": "@everyone", "permissions": str(everyone_permissions), "position": 0}
    guild = {"id": guild_id, "name": name, "owner_id": owner["id"], "roles": [everyone, *roles],
             "channels": list(channels), "members": [{"user": owner, "roles": []}, *members]}
    return _normalize_guild(guild)


def default_guild() -> dict[str, Any]:
    """careerbot-test: owner olive; ada (admins: Administrator), mia (moderators: Manage Server),
    mo (mentors), max (no roles). #general and #jobs are open, #mentors is visible to mentors
    only, #announcements is read-only for @everyone, plus a category and a voice channel."""
    users = {name: user_payload(uid, name) for name, uid in USER_IDS.items()}
    deny_view = [{"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
                 {"id": ROLE_IDS["mentors"], "type": 0, "allow": str(VIEW_CHANNEL | SEND_MESSAGES), "deny": "0"}]
    read_only = [{"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(SEND_MESSAGES)},
                 {"id": ROLE_IDS["moderators"], "type": 0, "allow": str(SEND_MESSAGES), "deny": "0"}]
    category = CHANNEL_IDS["Text Channels"]
    return make_guild(
        GUILD_ID, "careerbot-test", users["olive"],
        roles=[
            {"id": ROLE_IDS["admins"], "name": "admins", "permissions": str(ADMINISTRATOR), "position": 4},
            {"id": ROLE_IDS["moderators"], "name": "moderators",
             "permissions": str(MANAGE_GUILD | MANAGE_MESSAGES | KICK_MEMBERS), "position": 3},
            {"id": ROLE_IDS["mentors"], "name": "mentors", "permissions": "0", "position": 2, "mentionable": True},
        ],
        channels=[
            {"id": category, "name": "Text Channels", "type": 4},
            {"id": CHANNEL_IDS["general"], "name": "general", "type": 0, "parent_id": category},
            {"id": CHANNEL_IDS["jobs"], "name": "jobs", "type": 0, "parent_id": category},
            {"id": CHANNEL_IDS["mentors"], "name": "mentors", "type": 0, "parent_id": category, "permission_overwrites": deny_view},
            {"id": CHANNEL_IDS["announcements"], "name": "announcements", "type": 5, "parent_id": category,
             "permission_overwrites": read_only},
            {"id": CHANNEL_IDS["lounge"], "name": "lounge", "type": 2},
        ],
        members=[
            {"user": users["ada"], "roles": [ROLE_IDS["admins"]]},
            {"user": users["mia"], "roles": [ROLE_IDS["moderators"]]},
            {"user": users["mo"], "roles": [ROLE_IDS["mentors"]]},
            {"user": users["max"], "roles": []},
        ],
    )


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _normalize_guild(guild: dict[str, Any]) -> dict[str, Any]:
    for position, role in enumerate(guild.get("roles", [])):
        role.setdefault("position", position)
        role.setdefault("permissions", "0")
        role["permissions"] = str(role["permissions"])
        for key, value in (("color", 0), ("colors", {"primary_color": 0, "secondary_color": None, "tertiary_color": None}),
                           ("hoist", False), ("managed", False), ("mentionable", False), ("icon", None),
                           ("unicode_emoji", None), ("flags", 0)):
            role.setdefault(key, value)
    for position, channel in enumerate(guild.get("channels", [])):
        channel.setdefault("position", position)
        channel.setdefault("permission_overwrites", [])
        channel.setdefault("flags", 0)
        channel.setdefault("parent_id", None)
        channel["guild_id"] = guild["id"]
        if channel["type"] in (0, 5):
            for key, value in (("topic", None), ("nsfw", False), ("rate_limit_per_user", 0), ("last_message_id", None)):
                channel.setdefault(key, value)
        elif channel["type"] in (2, 13):
            for key, value in (("bitrate", 64000), ("user_limit", 0), ("rtc_region", None), ("nsfw", False),
                               ("rate_limit_per_user", 0), ("last_message_id", None)):
                channel.setdefault(key, value)
    for member in guild.get("members", []):
        for key, value in (("nick", None), ("avatar", None), ("banner", None), ("joined_at", _now_iso()),
                           ("premium_since", None), ("deaf", False), ("mute", False), ("flags", 0),
                           ("pending", False), ("communication_disabled_until", None)):
            member.setdefault(key, value)
        member["roles"] = [str(r) for r in member.get("roles", [])]
    return guild


# -- option builders for send_interaction ------------------------------------------------------------
def opt(name: str, value: Any, type: int | None = None, *, focused: bool = False) -> dict[str, Any]:
    """A leaf option as Discord sends it. ``type`` is inferred when omitted: from the synced
    command if the fake knows it, else from the value (str 3, bool 5, int 4, float 10)."""
    option: dict[str, Any] = {"name": name, "value": value}
    if type is not None:
        option["type"] = type
    if focused:
        option["focused"] = True
    return option


def sub(name: str, *options: dict[str, Any]) -> dict[str, Any]:
    """A subcommand (type 1) wrapping its options."""
    return {"type": 1, "name": name, "options": list(options)}


def group(name: str, *subcommands: dict[str, Any]) -> dict[str, Any]:
    """A subcommand group (type 2) wrapping subcommands."""
    return {"type": 2, "name": name, "options": list(subcommands)}


# -- records -------------------------------------------------------------------------------------------
@dataclass
class Call:
    """One HTTP request the fake received. ``path`` is relative to /api/v10."""

    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or the ``payload_json`` of a multipart body; None if empty
    files: list[dict[str, Any]]  # multipart files[n] parts: field, index, filename, content_type, size, data, description
    at: float
    status: int = 0


@dataclass
class ResponseRecord:
    """An accepted answer to an interaction.

    kind: "callback" | "followup" | "edit_original" | "delete_original" | "edit_message" | "delete_message".
    type: the callback type (4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete
    result, 9 modal) for callbacks, else None. data: the callback's ``data`` or the webhook body.
    message: the message created or edited, if any. at: when it arrived (fake.clock)."""

    kind: str
    type: int | None
    data: dict[str, Any]
    at: float
    message: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    ephemeral: bool = False

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")


@dataclass
class Rejection:
    """An interaction answer the fake refused, with what Discord would have said."""

    kind: str
    status: int
    code: int
    message: str
    at: float
    body: Any = None


@dataclass
class SentInteraction:
    """An INTERACTION_CREATE the fake dispatched, and everything that came back for it."""

    id: str
    token: str
    type: int  # 2 command, 3 component, 4 autocomplete, 5 modal submit
    payload: dict[str, Any]  # the exact INTERACTION_CREATE ``d``
    sent_at: float  # fake.clock() when it was dispatched
    fake: FakeDiscord = field(repr=False)
    responses: list[ResponseRecord] = field(default_factory=list)  # accepted, in arrival order
    rejected: list[Rejection] = field(default_factory=list)
    original: dict[str, Any] | None = None  # the original response message (or the component's message)
    followups: dict[str, dict[str, Any]] = field(default_factory=dict)  # message id -> message
    session: GatewaySession | None = field(default=None, repr=False)  # where INTERACTION_CREATE went

    @property
    def callback(self) -> ResponseRecord | None:
        return next((r for r in self.responses if r.kind == "callback"), None)

    @property
    def shard(self) -> int | None:
        """The shard id of the gateway session it was dispatched to."""
        return self.session.shard[0] if self.session is not None else None

    @property
    def latency(self) -> float | None:
        """Seconds from dispatch to the accepted initial response."""
        callback = self.callback
        return None if callback is None else callback.at - self.sent_at

    async def wait(self, count: int = 1, timeout: float = 5.0) -> list[ResponseRecord]:
        return await self.fake.wait_responses(self, count=count, timeout=timeout)


@dataclass
class IdentifyRecord:
    """One IDENTIFY that passed authentication. ``bucket`` is ``shard_id % max_concurrency``;
    ``accepted`` is False when it broke the bucket rule and the fake refused it (op 9)."""

    at: float  # fake.clock()
    shard_id: int
    num_shards: int
    bucket: int
    accepted: bool = True
    session_id: str | None = None


@dataclass
class GatewaySession:
    id: str
    identify: dict[str, Any]
    intents: int
    shard: tuple[int, int] = (0, 1)  # [shard_id, num_shards] from IDENTIFY
    seq: int = 0
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (seq, t, d)
    conn: _Conn | None = None
    ready: bool = False
    resumable: bool = True
    resumes: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def owns(self, guild_id: str | int | None) -> bool:
        """Whether Discord sends this guild's events here (DMs, guild None: shard 0)."""
        shard_id, num_shards = self.shard
        return shard_id == 0 if guild_id is None else shard_of(guild_id, num_shards) == shard_id


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    path: str
    query: dict[str, str]
    opened_at: float
    compressor: Any = None
    session: GatewaySession | None = None
    received: list[dict[str, Any]] = field(default_factory=list)  # every op the client sent
    heartbeats: int = 0
    closed_at: float | None = None
    close_code: int | None = None
    server_closed: bool = False  # the fake ended it (a close frame or an abort)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self.send_lock:
            if self.ws.closed:
                return
            try:
                if self.compressor is not None:
                    data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                pass  # the client went away; the event stays in the session for a RESUME


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Discord's JSON: exactly ``application/json`` (discord.py compares the header verbatim)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return _json(body, status)


def _form_error(errors: dict[str, Any]) -> web.Response:
    return _error(400, 50035, "Invalid Form Body", errors)


def _err(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


_INVALID = object()
# Where the middleware leaves the parsed body for the handlers (typed keys where aiohttp has them).
_BODY: Any = web.RequestKey("fake_discord_body", object) if hasattr(web, "RequestKey") else "fake_discord_body"
_FILES: Any = web.RequestKey("fake_discord_files", list) if hasattr(web, "RequestKey") else "fake_discord_files"
_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
_FILE_FIELD = re.compile(r"files\[(\d{1,19})\]")
MAX_FILES = 10  # attachments in one message
MAX_DESCRIPTION = 1024
_UNCOUNTED = ("/interactions/", "/webhooks/")


@dataclass
class FakeDiscord:
    token: str = "test-token"
    rate_limit: int = 50  # create-message requests per window, like Discord's global 50/s
    window: float = 1.0
    channels: set[str] | None = None  # None: every channel id exists (guild channels always do)
    forbidden: set[str] = field(default_factory=set)
    fail_next: dict[str, list[int]] = field(default_factory=dict)  # channel -> statuses to answer first
    drop_ack: set[str] = field(default_factory=set)  # channels whose next message is stored, then the connection dropped
    # A per-channel route bucket (limit, seconds), announced in X-RateLimit-* headers on every
    # create-message answer as Discord does; None: no per-route limit.
    channel_bucket: tuple[int, float] | None = None
    blocks_dms: set[str] = field(default_factory=set)  # users who do not accept DMs from the bot
    unknown_users: set[str] = field(default_factory=set)
    # -- the application, its guilds, the gateway and interactions --
    app_id: str = APP_ID
    bot_user_id: str = ""  # "" -> app_id
    bot_name: str = "careerbot"
    guilds: list[dict[str, Any]] | None = None  # None -> [default_guild()]; see make_guild()
    interaction_deadline: float = 3.0  # seconds to the initial response, else 404 / 10062
    followup_window: float = 15 * 60.0  # seconds the interaction token works for follow-ups
    heartbeat_interval: float = 41.25  # seconds, sent in HELLO
    gateway_compress: bool = True  # honour ?compress=zlib-stream with binary zlib frames
    allowed_intents: int = PRIVILEGED_INTENTS  # privileged intents "enabled in the portal"
    strict_commands: bool = True  # send_* refuses commands that are not synced / not usable by the user
    upload_limit: int = 10 * 1024 * 1024  # bytes per file, Discord's default (413 / 40005 above it)
    # -- sharding and the session start limit (GET /gateway/bot) --
    shards: int = 1  # the shard count Discord recommends
    max_concurrency: int = 1  # IDENTIFY buckets: one IDENTIFY per bucket per identify_window
    identify_window: float = 5.0
    enforce_identify_limit: bool = False  # answer a too-early IDENTIFY with op 9, as Discord does
    session_start_total: int = 1000
    # Every connected session of the owning shard gets a guild's events (two deployments of the
    # same shards overlapping, as Discord allows); by default only the newest one does.
    duplicate_dispatch: bool = False
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)  # first: a guild of the test's own gets its bot role's id from it
        self.messages: list[dict[str, Any]] = []
        self.requests = 0  # create-message and open-DM requests (the outbound queue's traffic)
        self.rate_limited = 0
        self.deduplicated = 0
        self._recent: deque[float] = deque()
        self._by_nonce: dict[tuple[str, str], dict[str, Any]] = {}
        self._route_hits: dict[str, list[float]] = {}  # channel -> create-message times (channel_bucket)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.gateway_url = ""
        self.resume_gateway_url = ""
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.dm_opens = 0
        # new state
        self.bot_user_id = self.bot_user_id or self.app_id
        self.bot_user = user_payload(self.bot_user_id, self.bot_name, bot=True)
        if self.guilds is None:
            self.guilds = [default_guild()]
        for guild in self.guilds:
            _normalize_guild(guild)
            if not any(m["user"]["id"] == self.bot_user_id for m in guild["members"]):
                bot_role = next((r for r in guild["roles"] if r.get("tags", {}).get("bot_id") == self.bot_user_id), None)
                if bot_role is None:
                    bot_role = {"id": ROLE_IDS["careerbot"] if guild["id"] == GUILD_ID else self._snowflake(),
                                "name": self.bot_name, "permissions": str(BOT_PERMISSIONS), "managed": True,
                                "tags": {"bot_id": self.bot_user_id}}
                    guild["roles"].append(bot_role)
                guild["members"].append({"user": self.bot_user, "roles": [bot_role["id"]]})
            _normalize_guild(guild)
        self.uploaded: dict[str, dict[str, Any]] = {}  # attachment id -> its file record, bytes included
        self.calls: list[Call] = []
        self.unhandled: list[Call] = []  # requests to routes the fake does not know (answered 404)
        self.connections: list[_Conn] = []
        self.identifies: list[dict[str, Any]] = []
        self.identify_log: list[IdentifyRecord] = []
        self.identify_violations: list[tuple[IdentifyRecord, IdentifyRecord]] = []  # (earlier, too soon)
        self.resumes: list[dict[str, Any]] = []
        self.sessions: list[GatewaySession] = []
        self.commands: dict[str | None, list[dict[str, Any]]] = {}  # scope (None: global, else guild id) -> commands
        self.syncs = 0
        self.sync_log: list[tuple[str | None, list[str]]] = []  # (scope, command names) per accepted bulk overwrite
        self.interactions: dict[str, SentInteraction] = {}
        self._by_token: dict[str, SentInteraction] = {}
        self.fail_next_resume = False  # answer the next RESUME with op 9 (session invalid)
        self._changed = asyncio.Event()

    # -- lookups -------------------------------------------------------------------------------------
    @property
    def guild_id(self) -> str:
        return self.guilds[0]["id"]  # type: ignore[index]

    def guild(self, guild: str | None = None) -> dict[str, Any]:
        assert self.guilds
        if guild is None:
            return self.guilds[0]
        for g in self.guilds:
            if g["id"] == guild or g["name"] == guild:
                return g
        raise KeyError(f"no guild {guild!r}")

    def channel(self, channel: str, guild: str | None = None) -> dict[str, Any]:
        guilds = [self.guild(guild)] if guild is not None else self.guilds or []
        for g in guilds:
            for c in g["channels"]:
                if c["id"] == channel or c["name"] == channel.lstrip("#"):
                    return c
        raise KeyError(f"no channel {channel!r}")

    def channel_id(self, name: str, guild: str | None = None) -> str:
        return self.channel(name, guild)["id"]

    def role(self, role: str, guild: str | None = None) -> dict[str, Any]:
        for r in self.guild(guild)["roles"]:
            if r["id"] == role or r["name"] == role.lstrip("@") or r["name"] == role:
                return r
        raise KeyError(f"no role {role!r}")

    def role_id(self, name: str, guild: str | None = None) -> str:
        return self.role(name, guild)["id"]

    def member(self, user: str, guild: str | None = None) -> dict[str, Any]:
        for m in self.guild(guild)["members"]:
            if m["user"]["id"] == user or m["user"]["username"] == user:
                return m
        raise KeyError(f"no member {user!r}")

    def user(self, user: str) -> dict[str, Any]:
        for g in self.guilds or []:
            for m in g["members"]:
                if m["user"]["id"] == user or m["user"]["username"] == user:
                    return m["user"]
        raise KeyError(f"no user {user!r}")

    def user_id(self, name: str) -> str:
        return self.user(name)["id"]

    def _guild_of_channel(self, channel_id: str) -> dict[str, Any] | None:
        for g in self.guilds or []:
            if any(c["id"] == channel_id for c in g["channels"]):
                return g
        return None

    def permissions(self, user: str, channel: str | None = None, guild: str | None = None) -> int:
        """The member's permissions (in ``channel`` if given), computed as Discord does."""
        g = self._guild_of_channel(self.channel(channel, guild)["id"]) if channel is not None else self.guild(guild)
        assert g is not None
        m = self.member(user, g["id"])
        roles = {r["id"]: r for r in g["roles"]}
        if m["user"]["id"] == g["owner_id"]:
            return ALL_PERMISSIONS
        perms = int(roles[g["id"]]["permissions"])
        for rid in m["roles"]:
            perms |= int(roles[rid]["permissions"]) if rid in roles else 0
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        overwrites = {o["id"]: o for o in self.channel(channel, g["id"])["permission_overwrites"]}
        if g["id"] in overwrites:
            perms = (perms & ~int(overwrites[g["id"]]["deny"])) | int(overwrites[g["id"]]["allow"])
        allow = deny = 0
        for rid in m["roles"]:
            if rid in overwrites and overwrites[rid].get("type", 0) == 0:
                allow |= int(overwrites[rid]["allow"])
                deny |= int(overwrites[rid]["deny"])
        perms = (perms & ~deny) | allow
        own = overwrites.get(m["user"]["id"])
        if own is not None and own.get("type") == 1:
            perms = (perms & ~int(own["deny"])) | int(own["allow"])
        return perms

    # -- the outbound queue's helpers ------------------------------------------------------------------
    def in_channel(self, channel: str) -> list[dict[str, Any]]:
        """Messages posted to a channel through REST create message (not interaction replies)."""
        return [m for m in self.messages if m["channel_id"] == channel]

    def dms_to(self, user: str) -> list[dict[str, Any]]:
        channel = self.dm_channels.get(user)
        return self.in_channel(channel) if channel else []

    def attachments(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """A message's files as they arrived: ``{"id", "filename", "description", "content_type",
        "size", "data"}`` — ``content_type`` as Discord reports it (from the name), ``data`` the bytes."""
        return [self.uploaded[a["id"]] for a in message.get("attachments") or []]

    def calls_to(self, method: str | None = None, contains: str = "") -> list[Call]:
        return [c for c in self.calls if (method is None or c.method == method) and contains in c.path]

    # -- life ---------------------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        r = app.router
        p = API_PREFIX
        r.add_post(p + "/channels/{channel_id}/messages", self._create_message, name="create_message")
        r.add_get(p + "/channels/{channel_id}/messages/{message_id}", self._get_message)
        r.add_patch(p + "/channels/{channel_id}/messages/{message_id}", self._edit_message)
        r.add_delete(p + "/channels/{channel_id}/messages/{message_id}", self._delete_message)
        r.add_get(p + "/channels/{channel_id}", self._get_channel)
        r.add_post(p + "/users/@me/channels", self._open_dm, name="open_dm")
        r.add_get(p + "/users/@me", self._get_me)
        r.add_get(p + "/users/{user_id}", self._get_user)
        r.add_get(p + "/oauth2/applications/@me", self._get_application)
        r.add_get(p + "/applications/@me", self._get_application)
        r.add_get(p + "/gateway", self._get_gateway)
        r.add_get(p + "/gateway/bot", self._get_gateway_bot)
        for scope in ("/applications/{app_id}/commands", "/applications/{app_id}/guilds/{guild_id}/commands"):
            r.add_get(p + scope, self._get_commands)
            r.add_put(p + scope, self._put_commands)
            r.add_post(p + scope, self._post_command)
        r.add_get(p + "/guilds/{guild_id}", self._get_guild)
        r.add_get(p + "/guilds/{guild_id}/channels", self._get_guild_channels)
        r.add_get(p + "/guilds/{guild_id}/roles", self._get_guild_roles)
        r.add_get(p + "/guilds/{guild_id}/members/{user_id}", self._get_guild_member)
        r.add_post(p + "/interactions/{interaction_id}/{token}/callback", self._callback)
        r.add_post(p + "/webhooks/{app_id}/{token}", self._followup)
        r.add_get(p + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message)
        r.add_patch(p + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message)
        r.add_delete(p + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message)
        r.add_route("*", p + "/{tail:.*}", self._unknown)
        r.add_get("/", self._gateway)
        r.add_get("/resume", self._gateway)
        r.add_get("/resume/", self._gateway)
        self._runner, root = await serve(app)
        self.base_url = f"{root}{API_PREFIX}"
        ws_root = root.replace("http://", "ws://")
        self.gateway_url = f"{ws_root}/"
        self.resume_gateway_url = f"{ws_root}/resume"  # like Discord's: another host, no trailing slash
        return self.base_url

    async def stop(self) -> None:
        for conn in list(self.connections):
            if not conn.ws.closed:
                try:
                    await asyncio.wait_for(conn.ws.close(code=1001), 2)
                except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                    pass
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- waiting ------------------------------------------------------------------------------------
    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait(self, predicate: Callable[[], Any], timeout: float, what: Callable[[], str] | str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                waited_for = what if isinstance(what, str) else what()
                raise asyncio.TimeoutError(f"fake Discord: timed out after {timeout}s waiting for {waited_for}")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    @property
    def session(self) -> GatewaySession | None:
        """The most recent gateway session (the one dispatches go to when there is one shard)."""
        return self.sessions[-1] if self.sessions else None

    def shard_session(self, shard_id: int) -> GatewaySession | None:
        """The most recent session of shard ``shard_id``."""
        return next((s for s in reversed(self.sessions) if s.shard[0] == shard_id), None)

    def sessions_for(self, guild_id: str | None) -> list[GatewaySession]:
        """Where Discord sends an event of this guild (None: a DM): the newest session of the
        owning shard, or with ``duplicate_dispatch`` every connected session of it."""
        owning = [s for s in self.sessions if s.owns(guild_id)]
        if not owning:
            return []
        if self.duplicate_dispatch:
            connected = [s for s in owning if s.conn is not None]
            return connected or owning[-1:]
        return owning[-1:]

    def _routed(self, guild_id: str | None) -> GatewaySession:
        found = self.sessions_for(guild_id)
        if found:
            return found[-1]
        if not self.sessions:
            raise RuntimeError("fake Discord: no gateway session (has the client connected? call wait_ready first)")
        where = "a DM (shard 0)" if guild_id is None else f"guild {guild_id}"
        shards = sorted({s.shard for s in self.sessions})
        raise RuntimeError(f"fake Discord: no session of the shard for {where}; sessions have shards {shards}")

    async def wait_shards(self, shard_ids: Sequence[int], timeout: float = 10.0) -> dict[int, GatewaySession]:
        """Until every shard in ``shard_ids`` has a connected session sent READY and its GUILD_CREATEs."""
        def ready() -> dict[int, GatewaySession] | None:
            found = {}
            for shard_id in shard_ids:
                session = self.shard_session(shard_id)
                if session is None or not session.ready or session.conn is None:
                    return None
                found[shard_id] = session
            return found

        return await self._wait(ready, timeout, lambda: f"shards {list(shard_ids)} ready; sessions have shards "
                                                        f"{sorted(s.shard for s in self.sessions if s.ready)}")

    async def wait_ready(self, timeout: float = 5.0) -> GatewaySession:
        """Until a client has identified and been sent READY and every GUILD_CREATE."""
        return await self._wait(
            lambda: self.session if self.session and self.session.ready and self.session.conn else None,
            timeout, "a client to identify (READY + GUILD_CREATE sent)")

    async def wait_resumed(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Until ``count`` RESUMEs (op 6) were accepted and answered with RESUMED."""
        return await self._wait(
            lambda: self.resumes if sum(s.resumes for s in self.sessions) >= count else None,
            timeout, lambda: f"{count} RESUME(s); got {len(self.resumes)} RESUME op(s), identifies {len(self.identifies)}")

    async def wait_synced(self, count: int = 1, timeout: float = 5.0) -> dict[str | None, list[dict[str, Any]]]:
        """Until ``count`` accepted command bulk overwrites; returns ``commands``."""
        return await self._wait(lambda: self.commands if self.syncs >= count else None, timeout,
                                lambda: f"{count} command sync(s); got {self.syncs}")

    async def wait_messages(self, channel: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        return await self._wait(lambda: self.in_channel(channel) if len(self.in_channel(channel)) >= count else None,
                                timeout, lambda: f"{count} message(s) in {channel}; got {len(self.in_channel(channel))}")

    async def wait_call(self, method: str, contains: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        return await self._wait(lambda: self.calls_to(method, contains) if len(self.calls_to(method, contains)) >= count else None,
                                timeout, f"{count} {method} {contains}")

    def _interaction(self, interaction: str | SentInteraction) -> SentInteraction:
        return interaction if isinstance(interaction, SentInteraction) else self.interactions[str(interaction)]

    async def wait_responses(self, interaction: str | SentInteraction, count: int = 1, timeout: float = 5.0) -> list[ResponseRecord]:
        """Until the interaction has ``count`` accepted responses (callback, follow-ups, edits); returns them all."""
        rec = self._interaction(interaction)
        return await self._wait(
            lambda: list(rec.responses) if len(rec.responses) >= count else None, timeout,
            lambda: f"{count} response(s) to interaction {rec.id}; got {[(r.kind, r.type) for r in rec.responses]}, "
                    f"rejected {[(x.kind, x.code) for x in rec.rejected]}")

    async def wait_rejected(self, interaction: str | SentInteraction, count: int = 1, timeout: float = 5.0) -> list[Rejection]:
        rec = self._interaction(interaction)
        return await self._wait(lambda: list(rec.rejected) if len(rec.rejected) >= count else None, timeout,
                                lambda: f"{count} rejected answer(s) to interaction {rec.id}; got {rec.rejected}")

    # -- HTTP plumbing --------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        rel = request.path[len(API_PREFIX):]
        body, files, problem = await self._read_body(request)
        request[_BODY], request[_FILES] = body, files
        call = Call(request.method, rel, dict(request.query), None if body is _INVALID else body, files, self.clock())
        self.calls.append(call)
        name = request.match_info.route.name
        if name in ("create_message", "open_dm"):
            self.requests += 1
        public = rel.startswith(_UNCOUNTED) or rel == "/gateway"
        try:
            if not public and request.headers.get("Authorization") != f"Bot {self.token}":
                response: web.StreamResponse = _error(401, 0, "401: Unauthorized")
            elif problem is not None:
                response = problem
                rec = self.interactions.get(request.match_info.get("interaction_id", "")) or self._by_token.get(
                    request.match_info.get("token", ""))
                if rec is not None:
                    rec.rejected.append(Rejection("form", problem.status, 0, "invalid multipart form", self.clock(), body))
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            call.status = exc.status
            self._notify()
            raise
        call.status = response.status
        self._notify()
        return response

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[dict[str, Any]], web.Response | None]:
        """(JSON body, file parts, the 400 Discord would answer for a malformed form or None)."""
        if request.content_type == "multipart/form-data":
            return await _read_multipart(request)
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            if "payload_json" in form:
                try:
                    return json.loads(str(form["payload_json"])), [], None
                except ValueError:
                    return _INVALID, [], None
            return {k: v for k, v in form.items() if isinstance(v, str)} or None, [], None
        raw = await request.read()
        if not raw:
            return None, [], None
        try:
            return json.loads(raw), [], None
        except ValueError:
            return _INVALID, [], None

    def _snowflake(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | (next(self._ids) & 0x3FFFFF))

    def _message(self, channel_id: str, body: dict[str, Any], files: list[dict[str, Any]], *, type: int = 0,
                 flags: int = 0, interaction: SentInteraction | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": self._snowflake(), "channel_id": channel_id, "type": type,
            "content": body.get("content") or "", "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": [self._attachment(f, ephemeral=bool(flags & 64)) for f in files],
            "author": self.bot_user, "timestamp": _now_iso(), "edited_timestamp": None, "tts": bool(body.get("tts")),
            "mention_everyone": False, "mentions": [], "mention_roles": [], "pinned": False, "flags": flags,
            "nonce": body.get("nonce"),
        }
        if body.get("poll"):
            message["poll"] = body["poll"]
        if interaction is not None:
            user = interaction.payload.get("member", {}).get("user") or interaction.payload.get("user")
            message.update(webhook_id=self.app_id, application_id=self.app_id, interaction_metadata={
                "id": interaction.id, "type": interaction.type, "user": user,
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {})})
        return message

    def _attachment(self, f: dict[str, Any], ephemeral: bool = False) -> dict[str, Any]:
        """The attachment object of an uploaded file; its bytes are kept in ``uploaded``."""
        att_id = self._snowflake()
        name = f["filename"]
        content_type = mimetypes.guess_type(name)[0] or f["content_type"] or "application/octet-stream"
        self.uploaded[att_id] = {"id": att_id, "filename": name, "description": f.get("description"),
                                 "content_type": content_type, "size": f["size"], "data": f["data"],
                                 "sent_content_type": f["content_type"]}
        attachment = {"id": att_id, "filename": name, "size": f["size"], "url": f"https://cdn.invalid/{att_id}/{name}",
                      "proxy_url": f"https://cdn.invalid/{att_id}/{name}", "content_type": content_type}
        if f.get("description"):
            attachment["description"] = f["description"]
        if ephemeral:
            attachment["ephemeral"] = True
        return attachment

    @staticmethod
    def _edit_attachments(message: dict[str, Any], body: dict[str, Any], added: list[dict[str, Any]]) -> None:
        """A PATCH: existing files stay unless an ``attachments`` array leaves them out; new ones are added."""
        kept = message.get("attachments") or []
        if isinstance(body.get("attachments"), list):
            listed = {str(a.get("id")) for a in body["attachments"] if isinstance(a, dict)}
            kept = [a for a in kept if a["id"] in listed]
        message["attachments"] = [*kept, *added]

    def _check_message(
        self, body: Any, files: list[dict[str, Any]], *, partial: bool = False, existing: Sequence[dict[str, Any]] = ()
    ) -> web.Response | None:
        """Discord's checks on a message body: not empty, content ≤ 2000, ≤ 10 embeds, and its
        files: ≤ 10, each within ``upload_limit``, every ``attachments`` id naming a ``files[n]``
        part (or, on a PATCH, one of the message's ``existing`` attachments)."""
        if body is _INVALID:
            return _error(400, 50109, "The request body contains invalid JSON.")
        if not isinstance(body, dict):
            body = {}
        errors: dict[str, Any] = {}
        content = body.get("content")
        if content is not None and len(str(content)) > 2000:
            errors["content"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        if len(body.get("embeds") or []) > 10:
            errors["embeds"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        listed = body.get("attachments")
        if listed is not None:
            known = {str(f["index"]) for f in files} | {str(a["id"]) for a in existing}
            if not isinstance(listed, list):
                errors["attachments"] = _err("BASE_TYPE_ARRAY", "Must be an array.")
            elif len(listed) > MAX_FILES:
                errors["attachments"] = _err("BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
            else:
                problems: dict[str, Any] = {}
                for i, item in enumerate(listed):
                    if not isinstance(item, dict) or str(item.get("id")) not in known:
                        problems[str(i)] = {"id": _err("ATTACHMENT_NOT_FOUND", "Unknown attachment id: no files[n] part or existing attachment has it.")}
                    elif len(str(item.get("description") or "")) > MAX_DESCRIPTION:
                        problems[str(i)] = {"description": _err("BASE_TYPE_MAX_LENGTH", f"Must be {MAX_DESCRIPTION} or fewer in length.")}
                if problems:
                    errors["attachments"] = problems
        if len(files) > MAX_FILES and "attachments" not in errors:
            errors["attachments"] = _err("BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
        if errors:
            return _form_error(errors)
        if any(f["size"] > self.upload_limit for f in files):
            return _error(413, 40005, "Request entity too large")
        if not partial and not any(body.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll")) and not files:
            return _error(400, 50006, "Cannot send an empty message")
        return None

    def _limited(self) -> float | None:
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - self.window:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            return max(0.001, self._recent[0] + self.window - now)
        self._recent.append(now)
        return None

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self.unhandled.append(self.calls[-1])
        return _error(404, 0, "404: Not Found")

    # -- REST: messages ----------------------------------------------------------------------------
    def _dm_user(self, channel: str) -> str | None:
        return next((u for u, c in self.dm_channels.items() if c == channel), None)

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        retry_after = self._limited()
        if retry_after is not None:
            self.rate_limited += 1
            return _json(
                {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": True},
                status=429,
                headers={"Retry-After": str(max(1, round(retry_after))), "X-RateLimit-Global": "true",
                         "X-RateLimit-Scope": "global", "Via": "1.1 google"},
            )
        channel = request.match_info["channel_id"]
        dm_user = self._dm_user(channel)
        if dm_user in self.blocks_dms:
            return _error(403, 50007, "Cannot send messages to this user")
        guild = self._guild_of_channel(channel)
        if self.channels is not None and channel not in self.channels and dm_user is None and guild is None:
            return _error(404, 10003, "Unknown Channel")
        if channel in self.forbidden:
            return _error(403, 50013, "Missing Permissions")
        if guild is not None:
            perms = self.permissions(self.bot_user_id, channel, guild["id"])
            if not perms & VIEW_CHANNEL:
                return _error(403, 50001, "Missing Access")
            if not perms & SEND_MESSAGES or request[_FILES] and not perms & ATTACH_FILES:
                return _error(403, 50013, "Missing Permissions")
        bucket = self._bucket(channel)
        if bucket is not None and bucket["X-RateLimit-Remaining"] == "-1":
            self.rate_limited += 1
            return _json(
                {"message": "You are being rate limited.", "retry_after": float(bucket["X-RateLimit-Reset-After"]), "global": False},
                status=429, headers={**bucket, "X-RateLimit-Remaining": "0", "Retry-After": "1", "Via": "1.1 google"},
            )
        queued = self.fail_next.get(channel)
        if queued:
            status = queued.pop(0)
            if status == 429:  # a per-route limit on this channel, as Discord sends it
                self.rate_limited += 1
                return _json(
                    {"message": "You are being rate limited.", "retry_after": 2.5, "global": False},
                    status=429,
                    headers={"Retry-After": "3", "X-RateLimit-Scope": "user", "X-RateLimit-Bucket": f"chan-{channel}",
                             "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5",
                             "Via": "1.1 google"},
                )
            return _error(status, 0, f"injected {status}")
        payload, files = request[_BODY], request[_FILES]
        if payload is None and files:
            payload = {}  # files alone make a message
        if payload is _INVALID:
            return _error(400, 50109, "The request body contains invalid JSON.")
        if not isinstance(payload, dict):
            return _error(400, 50006, "Cannot send an empty message")
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce") and (channel, str(nonce)) in self._by_nonce:
            self.deduplicated += 1
            return _json(self._by_nonce[(channel, str(nonce))])
        problem = self._check_message(payload, files)
        if problem is not None:
            return problem
        message = self._message(channel, payload, files, flags=int(payload.get("flags") or 0))
        if guild is not None:
            message["guild_id"] = guild["id"]
        self.messages.append(message)
        if nonce is not None:
            self._by_nonce[(channel, str(nonce))] = message
        if channel in self.drop_ack:
            self.drop_ack.discard(channel)
            assert request.transport is not None
            request.transport.abort()  # the message exists, but the sender never hears so
            raise web.HTTPInternalServerError()
        return _json(message, headers=bucket)

    def _bucket(self, channel: str) -> dict[str, str] | None:
        """Takes one request from the channel's bucket; Remaining "-1" means it was already empty."""
        if self.channel_bucket is None:
            return None
        limit, per = self.channel_bucket
        now = self.clock()
        recent = [t for t in self._route_hits.get(channel, []) if t > now - per]
        remaining = limit - len(recent) - 1
        if remaining >= 0:
            recent.append(now)
        self._route_hits[channel] = recent
        reset_after = max(0.001, recent[0] + per - now) if recent else per
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(-1, remaining)),
                "X-RateLimit-Reset-After": f"{reset_after:.3f}", "X-RateLimit-Bucket": f"chan-{channel}"}

    def _find_message(self, channel: str, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["id"] == message_id and m["channel_id"] == channel), None)

    async def _get_message(self, request: web.Request) -> web.StreamResponse:
        message = self._find_message(request.match_info["channel_id"], request.match_info["message_id"])
        return _json(message) if message else _error(404, 10008, "Unknown Message")

    async def _edit_message(self, request: web.Request) -> web.StreamResponse:
        message = self._find_message(request.match_info["channel_id"], request.match_info["message_id"])
        if message is None:
            return _error(404, 10008, "Unknown Message")
        payload, files = request[_BODY], request[_FILES]
        problem = self._check_message(payload, files, partial=True, existing=message.get("attachments") or [])
        if problem is not None:
            return problem
        payload = payload or {}
        message.update({k: payload[k] for k in ("content", "embeds", "components", "flags") if k in payload})
        self._edit_attachments(message, payload, [self._attachment(f) for f in files])
        message["edited"] = True
        message["edited_timestamp"] = _now_iso()
        return _json(message)

    async def _delete_message(self, request: web.Request) -> web.StreamResponse:
        message = self._find_message(request.match_info["channel_id"], request.match_info["message_id"])
        if message is None:
            return _error(404, 10008, "Unknown Message")
        self.messages.remove(message)
        return web.Response(status=204)

    async def _open_dm(self, request: web.Request) -> web.StreamResponse:
        """Create DM: returns the user's DM channel, the same one every time."""
        payload = request[_BODY] if isinstance(request[_BODY], dict) else {}
        user = str(payload.get("recipient_id", ""))
        if not user or user in self.unknown_users:
            return _error(404, 10013, "Unknown User")
        self.dm_opens += 1
        return _json(self._dm_channel_payload(user))

    def _dm_channel_payload(self, user: str) -> dict[str, Any]:
        channel = self.dm_channels.setdefault(user, str(9_000_000 + len(self.dm_channels)))
        try:
            recipient = self.user(user)
        except KeyError:
            recipient = user_payload(user, f"user{user}")
        return {"id": channel, "type": 1, "recipients": [recipient], "last_message_id": None, "flags": 0}

    async def _get_channel(self, request: web.Request) -> web.StreamResponse:
        channel = request.match_info["channel_id"]
        user = self._dm_user(channel)
        if user is not None:
            return _json(self._dm_channel_payload(user))
        try:
            return _json(self.channel(channel))
        except KeyError:
            return _error(404, 10003, "Unknown Channel")

    # -- REST: identity, application, gateway, guilds ------------------------------------------------------
    async def _get_me(self, request: web.Request) -> web.StreamResponse:
        return _json({**self.bot_user, "verified": True, "mfa_enabled": False, "locale": "en-US", "email": None})

    async def _get_user(self, request: web.Request) -> web.StreamResponse:
        try:
            return _json(self.user(request.match_info["user_id"]))
        except KeyError:
            return _error(404, 10013, "Unknown User")

    async def _get_application(self, request: web.Request) -> web.StreamResponse:
        owner = self.user(self.guilds[0]["owner_id"]) if self.guilds else user_payload("1", "owner")
        return _json({
            "id": self.app_id, "name": self.bot_name, "icon": None, "description": "", "summary": "", "type": None,
            "bot_public": False, "bot_require_code_grant": False, "owner": owner, "team": None,
            "verify_key": "0" * 64, "flags": 0, "hook": True, "redirect_uris": [], "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds or []), "bot": self.bot_user, "integration_types_config": {"0": {}},
        })

    async def _get_gateway(self, request: web.Request) -> web.StreamResponse:
        return _json({"url": self.gateway_url.rstrip("/")})

    async def _get_gateway_bot(self, request: web.Request) -> web.StreamResponse:
        remaining = max(0, self.session_start_total - len(self.identify_log))
        return _json({"url": self.gateway_url.rstrip("/"), "shards": self.shards, "session_start_limit": {
            "total": self.session_start_total, "remaining": remaining, "reset_after": 86_400_000 if remaining < self.session_start_total else 0,
            "max_concurrency": self.max_concurrency}})

    def _guild_or_404(self, request: web.Request) -> dict[str, Any] | None:
        try:
            return self.guild(request.match_info["guild_id"])
        except KeyError:
            return None

    async def _get_guild(self, request: web.Request) -> web.StreamResponse:
        g = self._guild_or_404(request)
        if g is None:
            return _error(404, 10004, "Unknown Guild")
        return _json({k: v for k, v in g.items() if k not in ("channels", "members")} | {"emojis": [], "stickers": [], "features": []})

    async def _get_guild_channels(self, request: web.Request) -> web.StreamResponse:
        g = self._guild_or_404(request)
        return _json(g["channels"]) if g else _error(404, 10004, "Unknown Guild")

    async def _get_guild_roles(self, request: web.Request) -> web.StreamResponse:
        g = self._guild_or_404(request)
        return _json(g["roles"]) if g else _error(404, 10004, "Unknown Guild")

    async def _get_guild_member(self, request: web.Request) -> web.StreamResponse:
        g = self._guild_or_404(request)
        if g is None:
            return _error(404, 10004, "Unknown Guild")
        try:
            return _json(self.member(request.match_info["user_id"], g["id"]))
        except KeyError:
            return _error(404, 10007, "Unknown Member")

    # -- REST: application commands ------------------------------------------------------------------
    def _scope(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        if request.match_info["app_id"] != self.app_id:
            return None, _error(403, 50001, "Missing Access")
        guild = request.match_info.get("guild_id")
        if guild is not None and self._guild_or_404(request) is None:
            return None, _error(403, 50001, "Missing Access")
        return guild, None

    async def _get_commands(self, request: web.Request) -> web.StreamResponse:
        scope, problem = self._scope(request)
        return problem or _json(self.commands.get(scope, []))

    async def _put_commands(self, request: web.Request) -> web.StreamResponse:
        scope, problem = self._scope(request)
        if problem:
            return problem
        payload = request[_BODY]
        if not isinstance(payload, list):
            return _form_error(_err("BASE_TYPE_ARRAY", "Must be an array."))
        errors = validate_commands(payload)
        if errors:
            return _form_error(errors)
        self.commands[scope] = self._store_commands(scope, payload)
        self.syncs += 1
        self.sync_log.append((scope, [c["name"] for c in payload]))
        return _json(self.commands[scope])

    async def _post_command(self, request: web.Request) -> web.StreamResponse:
        scope, problem = self._scope(request)
        if problem:
            return problem
        payload = request[_BODY]
        if not isinstance(payload, dict):
            return _form_error(_err("BASE_TYPE_DICT", "Must be an object."))
        same = (payload.get("name"), int(payload.get("type", 1)))
        existing = [c for c in self.commands.get(scope, []) if (c["name"], c["type"]) != same]
        raw = [_strip_stored(c) for c in existing] + [payload]
        errors = validate_commands(raw)
        if errors:
            return _form_error(errors.get(str(len(raw) - 1), errors))
        self.commands[scope] = self._store_commands(scope, raw)
        return _json(self.commands[scope][-1], status=201)

    def _store_commands(self, scope: str | None, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        old = {(c["name"], c["type"]): c for c in self.commands.get(scope, [])}
        stored = []
        for cmd in payload:
            kind = int(cmd.get("type", 1))
            perms = cmd.get("default_member_permissions")
            previous = old.get((cmd["name"], kind))
            entry = {
                "id": previous["id"] if previous else self._snowflake(),
                "application_id": self.app_id, "version": self._snowflake(), "type": kind,
                "name": cmd["name"], "description": cmd.get("description", ""),
                "default_member_permissions": None if perms is None else str(perms),
                "nsfw": bool(cmd.get("nsfw", False)),
                "contexts": cmd.get("contexts"), "integration_types": cmd.get("integration_types") or [0],
                "name_localizations": cmd.get("name_localizations"),
                "description_localizations": cmd.get("description_localizations"),
            }
            if cmd.get("options"):
                entry["options"] = cmd["options"]
            if scope is not None:
                entry["guild_id"] = scope
            else:
                entry["dm_permission"] = cmd.get("dm_permission", True)
            if previous and _strip_stored(previous) == _strip_stored(entry):
                entry["version"] = previous["version"]
            stored.append(entry)
        return stored

    def find_command(self, name: str, guild: str | None = None, type: int = 1) -> dict[str, Any] | None:
        """The synced command an interaction in ``guild`` would invoke (guild scope first, then global)."""
        for scope in ([guild] if guild else []) + [None]:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == type:
                    return cmd
        return None

    # -- gateway ----------------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, timeout=2.0)
        if not ws.can_prepare(request).ok:
            return _error(400, 0, "400: Bad Request (expected a websocket upgrade)")
        await ws.prepare(request)
        conn = _Conn(ws, request, request.path, dict(request.query), self.clock())
        if self.gateway_compress and request.query.get("compress") == "zlib-stream":
            conn.compressor = zlib.compressobj()
        self.connections.append(conn)
        self._notify()
        try:
            await conn.send({"op": 10, "s": None, "t": None,
                             "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000), "_trace": ["[\"fake-gateway\"]"]}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    conn.received.append(payload)
                    await self._on_op(conn, payload)
                    self._notify()
                else:
                    break
        finally:
            conn.closed_at = self.clock()
            conn.close_code = ws.close_code
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if ws.close_code in (1000, 1001) and not conn.server_closed:
                    session.resumable = False  # a client's clean close ends its session, as on Discord
            conn.done.set()
            self._notify()
        return ws

    async def _on_op(self, conn: _Conn, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:
            conn.heartbeats += 1
            await conn.send({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif conn.session is None:
            await self._server_close(conn, 4003, "Not authenticated.")
        elif op == 8:
            await self._members_chunk(conn.session, d or {})
        elif op in (3, 4):
            pass  # presence / voice state update: recorded in conn.received
        else:
            await self._server_close(conn, 4001, "Unknown opcode.")

    async def _server_close(self, conn: _Conn, code: int, reason: str) -> None:
        conn.server_closed = True
        await conn.ws.close(code=code, message=reason.encode())

    async def _identify(self, conn: _Conn, d: dict[str, Any]) -> None:
        self.identifies.append(d)
        if conn.session is not None:
            return await self._server_close(conn, 4005, "Already authenticated.")
        if d.get("token") != self.token:
            return await self._server_close(conn, 4004, "Authentication failed.")
        if "intents" not in d:
            return await self._server_close(conn, 4013, "Invalid intent(s).")
        intents = int(d["intents"])
        if intents & PRIVILEGED_INTENTS & ~self.allowed_intents:
            return await self._server_close(conn, 4014, "Disallowed intent(s).")
        shard = d.get("shard") or [0, 1]
        try:
            shard_id, num_shards = int(shard[0]), int(shard[1])
        except (TypeError, ValueError, IndexError):
            return await self._server_close(conn, 4010, "Invalid shard.")
        if not 0 <= shard_id < num_shards:
            return await self._server_close(conn, 4010, "Invalid shard.")
        now = self.clock()
        record = IdentifyRecord(now, shard_id, num_shards, shard_id % max(1, self.max_concurrency))
        earlier = [r for r in self.identify_log if r.accepted and r.bucket == record.bucket and now - r.at < self.identify_window]
        self.identify_log.append(record)
        if earlier:
            self.identify_violations.append((earlier[-1], record))
            if self.enforce_identify_limit:
                record.accepted = False
                self._notify()
                await conn.send({"op": 9, "s": None, "t": None, "d": False})
                return None
        session = GatewaySession(secrets.token_hex(16), d, intents, shard=(shard_id, num_shards))
        record.session_id = session.id
        self.sessions.append(session)
        conn.session = session
        mine = [g for g in self.guilds or [] if session.owns(g["id"])]
        async with session.lock:
            session.conn = conn
            ready = {
                "v": 10, "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
                "guilds": [{"id": g["id"], "unavailable": True} for g in mine],
                "session_id": session.id, "session_type": "normal", "resume_gateway_url": self.resume_gateway_url,
                "application": {"id": self.app_id, "flags": 0}, "private_channels": [], "relationships": [],
                "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": ["local"], "auth": {},
                "user_settings": {}, "_trace": ["[\"fake-gateway\"]"],
            }
            if "shard" in d:
                ready["shard"] = d["shard"]
            await self._send_event(session, "READY", ready)
            for g in mine:
                await self._send_event(session, "GUILD_CREATE", self._guild_create(g, intents))
            session.ready = True
        self._notify()

    def _guild_create(self, g: dict[str, Any], intents: int) -> dict[str, Any]:
        members = g["members"] if intents & GUILD_MEMBERS_INTENT else [m for m in g["members"] if m["user"]["id"] == self.bot_user_id]
        bot_member = self.member(self.bot_user_id, g["id"])
        return {
            **{k: v for k, v in g.items() if k not in ("members",)},
            "members": members, "member_count": len(g["members"]), "unavailable": False, "large": False,
            "joined_at": bot_member["joined_at"], "lazy": True, "voice_states": [], "presences": [], "threads": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [], "emojis": [], "stickers": [],
            "features": g.get("features", []), "icon": None, "splash": None, "banner": None, "description": None,
            "verification_level": 0, "default_message_notifications": 1, "explicit_content_filter": 0, "mfa_level": 0,
            "nsfw_level": 0, "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
            "system_channel_id": None, "rules_channel_id": None, "afk_channel_id": None, "afk_timeout": 300,
            "max_members": 500000, "max_video_channel_users": 25, "premium_progress_bar_enabled": False,
        }

    async def _resume(self, conn: _Conn, d: dict[str, Any]) -> None:
        self.resumes.append(d)
        session = next((s for s in self.sessions if s.id == d.get("session_id")), None)
        if d.get("token") != self.token:
            return await self._server_close(conn, 4004, "Authentication failed.")
        if session is None or not session.resumable or self.fail_next_resume:
            self.fail_next_resume = False
            if session is not None:
                session.resumable = False
            await conn.send({"op": 9, "s": None, "t": None, "d": False})
            return
        conn.session = session
        async with session.lock:
            old = session.conn
            session.conn = conn
            if old is not None and old is not conn and not old.ws.closed:
                await self._server_close(old, 4000, "Session resumed elsewhere.")
            after = int(d.get("seq") or 0)
            for seq, t, data in session.events:
                if seq > after:
                    await conn.send({"op": 0, "s": seq, "t": t, "d": data})
            session.seq += 1
            session.events.append((session.seq, "RESUMED", {}))
            await conn.send({"op": 0, "s": session.seq, "t": "RESUMED", "d": {"_trace": ["[\"fake-gateway\"]"]}})
            session.resumes += 1
        self._notify()

    async def _members_chunk(self, session: GatewaySession, d: dict[str, Any]) -> None:
        g = self.guild(str(d.get("guild_id")))
        query, limit = str(d.get("query") or ""), int(d.get("limit") or 0)
        wanted = {str(u) for u in d.get("user_ids") or []}
        members = [m for m in g["members"] if (m["user"]["id"] in wanted if wanted else m["user"]["username"].startswith(query))]
        if limit:
            members = members[:limit]
        chunk = {"guild_id": g["id"], "members": members, "chunk_index": 0, "chunk_count": 1,
                 "not_found": sorted(wanted - {m["user"]["id"] for m in members})}
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk, session)

    async def _send_event(self, session: GatewaySession, t: str, d: dict[str, Any]) -> int:
        """Sequence + store (for RESUME replay) + send if connected. Caller holds session.lock."""
        session.seq += 1
        session.events.append((session.seq, t, d))
        if session.conn is not None and not session.conn.ws.closed:
            await session.conn.send({"op": 0, "s": session.seq, "t": t, "d": d})
        return session.seq

    async def dispatch(self, t: str, d: dict[str, Any], session: GatewaySession | None = None) -> int:
        """Sends a dispatch event (op 0) to ``session``, by default to the session of the shard
        the event's guild belongs to (shard 0 for one without a guild); queued for RESUME if that
        session is disconnected. Returns the sequence number."""
        if session is None:
            guild = d.get("guild_id") or (d.get("id") if t in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else None)
            session = self._routed(str(guild) if guild else None)
        async with session.lock:
            return await self._send_event(session, t, d)

    async def drop_connection(self, code: int | None = None, timeout: float = 5.0, shard: int | None = None) -> None:
        """Ends the current gateway connection (of ``shard``, if given) so the client reconnects and
        RESUMEs: with ``code=None`` the TCP connection is aborted (no close frame); else a close
        frame with ``code`` (4000 "unknown error" is resumable; 4004/4010-4014 are not)."""
        session = self.session if shard is None else self.shard_session(shard)
        conn = session.conn if session else None
        if conn is None:
            raise RuntimeError("fake Discord: no open gateway connection to drop")
        conn.server_closed = True
        if code is None:
            transport = conn.request.transport
            assert transport is not None
            transport.abort()
        else:
            await self._server_close(conn, code, "dropped by the test")
        await asyncio.wait_for(conn.done.wait(), timeout)

    async def request_reconnect(self) -> None:
        """Sends op 7 RECONNECT: the client should close and RESUME."""
        session = self.session
        assert session and session.conn
        await session.conn.send({"op": 7, "s": None, "t": None, "d": None})

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Sends op 9 INVALID_SESSION; with ``resumable=False`` the client must IDENTIFY again."""
        session = self.session
        assert session and session.conn
        session.resumable = resumable
        await session.conn.send({"op": 9, "s": None, "t": None, "d": resumable})

    # -- interactions: building and sending ---------------------------------------------------------
    def _default_user(self, guild: dict[str, Any]) -> str:
        members = [m["user"]["id"] for m in guild["members"] if not m["user"].get("bot") and m["user"]["id"] != guild["owner_id"]]
        return members[-1] if members else guild["owner_id"]

    def _context(self, user: str | None, guild: str | None, channel: str | None, dm: bool,
                 locale: str, permissions: int | str | None) -> dict[str, Any]:
        ctx: dict[str, Any] = {"locale": locale, "entitlements": [], "attachment_size_limit": 10_485_760}
        if dm:
            base = self.guild(guild) if self.guilds else None
            uid = self.user(user)["id"] if user else self._default_user(base) if base else "1"
            u = self.user(uid) if base else user_payload(uid, f"user{uid}")
            dm_channel = self._dm_channel_payload(uid)
            ctx.update(user=u, channel_id=dm_channel["id"], channel=dm_channel, context=1,
                       authorizing_integration_owners={"0": "0"}, app_permissions=str(DM_APP_PERMISSIONS))
            return ctx
        g = self.guild(guild)
        uid = self.member(user, g["id"])["user"]["id"] if user else self._default_user(g)
        ch = self.channel(channel, g["id"]) if channel else next(c for c in g["channels"] if c["type"] == 0)
        perms = int(permissions) if permissions is not None else self.permissions(uid, ch["id"], g["id"])
        member = {**self.member(uid, g["id"]), "permissions": str(perms)}
        ctx.update(guild_id=g["id"], guild_locale=g.get("preferred_locale", "en-US"),
                   guild={"id": g["id"], "locale": g.get("preferred_locale", "en-US"), "features": g.get("features", [])},
                   member=member, channel_id=ch["id"], channel={**ch, "permissions": str(perms)}, context=0,
                   authorizing_integration_owners={"0": g["id"]},
                   app_permissions=str(self.permissions(self.bot_user_id, ch["id"], g["id"])))
        return ctx

    async def _send(self, type_: int, data: dict[str, Any], ctx: dict[str, Any], message: dict[str, Any] | None = None) -> SentInteraction:
        targets = self.sessions_for(ctx.get("guild_id"))
        if not targets:
            self._routed(ctx.get("guild_id"))  # raises, saying which shard is missing
        interaction_id = self._snowflake()
        token = "aW50ZXJhY3Rpb246" + interaction_id + ":" + secrets.token_urlsafe(48)
        payload = {"id": interaction_id, "application_id": self.app_id, "type": type_, "data": data,
                   "token": token, "version": 1, **ctx}
        if message is not None:
            payload["message"] = message
        rec = SentInteraction(interaction_id, token, type_, payload, self.clock(), self, original=message, session=targets[-1])
        self.interactions[interaction_id] = rec
        self._by_token[token] = rec
        rec.sent_at = self.clock()
        for session in targets:
            await self.dispatch("INTERACTION_CREATE", payload, session)
        return rec

    async def send_interaction(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        user: str | None = None,
        guild: str | None = None,
        channel: str | None = None,
        dm: bool = False,
        locale: str = "en-US",
        permissions: int | str | None = None,
        command_type: int = 1,
        target_id: str | None = None,
        _interaction_type: int = 2,
    ) -> SentInteraction:
        """Dispatches a slash command (INTERACTION_CREATE type 2) as Discord builds it.

        ``options``: Discord's shape, e.g. ``[sub("add", opt("topic", "cv"))]`` or raw dicts; a
        missing ``type`` is filled from the synced command. User/channel/role option values may
        be names ("max", "general", "mentors"): they become ids and ``data.resolved`` is filled.
        ``user``/``channel``: names or ids (default: the guild's last non-owner member, its first
        text channel); ``dm=True`` for a DM with the bot. ``permissions`` overrides the member's
        computed channel permissions. With ``strict_commands`` the command must be synced and
        usable by the user (default_member_permissions, contexts), as only then Discord sends it."""
        ctx = self._context(user, guild, channel, dm, locale, permissions)
        scope = ctx.get("guild_id")
        command = self.find_command(name, scope, command_type)
        if command is None and self.strict_commands:
            raise LookupError(f"fake Discord: /{name} is not synced (scopes: "
                              f"{ {k: [c['name'] for c in v] for k, v in self.commands.items()} }); Discord would not send it")
        if command is not None and self.strict_commands:
            self._check_usable(command, ctx)
        options = [dict(o) for o in (options or [])]
        resolved: dict[str, dict[str, Any]] = {}
        self._complete_options(options, (command or {}).get("options") or [], resolved, scope)
        data: dict[str, Any] = {"id": command["id"] if command else self._snowflake(), "name": name, "type": command_type}
        if options:
            data["options"] = options
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if target_id is not None:
            data["target_id"] = target_id
        if resolved:
            data["resolved"] = resolved
        return await self._send(_interaction_type, data, ctx)

    async def send_autocomplete(self, name: str, options: list[dict[str, Any]], focused: str, **kwargs: Any) -> SentInteraction:
        """Dispatches an autocomplete interaction (type 4): the leaf option named ``focused`` is
        marked focused and sent as the partial text typed so far (a string)."""
        options = json.loads(json.dumps(options))

        def mark(opts: list[dict[str, Any]]) -> bool:
            for o in opts:
                if o.get("type") in (1, 2):
                    if mark(o.get("options", [])):
                        return True
                elif o["name"] == focused:
                    o["focused"] = True
                    o["value"] = str(o.get("value", ""))
                    return True
            return False

        if not mark(options):
            raise ValueError(f"no option named {focused!r} to focus")
        return await self.send_interaction(name, options, _interaction_type=4, **kwargs)

    async def send_component(
        self,
        custom_id: str,
        *,
        component_type: int = 2,
        values: list[str] | None = None,
        message: dict[str, Any] | str | None = None,
        user: str | None = None,
        guild: str | None = None,
        channel: str | None = None,
        dm: bool = False,
        locale: str = "en-US",
        permissions: int | str | None = None,
    ) -> SentInteraction:
        """Dispatches a component interaction (type 3): a button click (component_type 2) or a
        select (3, 5-8, with ``values``) on ``message`` (a message dict, the id of a message the
        fake knows, or None: a bot message carrying that button is made up)."""
        ctx = self._context(user, guild, channel, dm, locale, permissions)
        if isinstance(message, str):
            found = next((m for m in self.messages if m["id"] == message), None)
            found = found or next((m for rec in self.interactions.values() for m in [rec.original, *rec.followups.values()]
                                   if m and m["id"] == message), None)
            if found is None:
                raise KeyError(f"no message {message!r}")
            message = found
        if message is None:
            button = {"type": component_type, "custom_id": custom_id}
            if component_type == 2:
                button.update(style=1, label=custom_id)
            message = self._message(ctx["channel_id"], {"content": "", "components": [{"type": 1, "components": [button]}]}, [])
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        return await self._send(3, data, ctx, message=message)

    async def send_modal_submit(self, custom_id: str, fields: dict[str, str], **kwargs: Any) -> SentInteraction:
        """Dispatches a modal submit (type 5) with text inputs ``{custom_id: value}``."""
        ctx = self._context(kwargs.pop("user", None), kwargs.pop("guild", None), kwargs.pop("channel", None),
                            kwargs.pop("dm", False), kwargs.pop("locale", "en-US"), kwargs.pop("permissions", None))
        components = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in fields.items()]
        return await self._send(5, {"custom_id": custom_id, "components": components}, ctx)

    def _check_usable(self, command: dict[str, Any], ctx: dict[str, Any]) -> None:
        contexts = command.get("contexts")
        if contexts is not None and ctx["context"] not in contexts:
            raise PermissionError(f"fake Discord: /{command['name']} is not offered in context {ctx['context']} (contexts={contexts})")
        if ctx["context"] == 1 and command.get("dm_permission") is False:
            raise PermissionError(f"fake Discord: /{command['name']} has dm_permission false")
        needed = command.get("default_member_permissions")
        if needed is not None and "member" in ctx:
            have = int(ctx["member"]["permissions"])
            if not have & ADMINISTRATOR and (have & int(needed)) != int(needed):
                raise PermissionError(f"fake Discord: {ctx['member']['user']['username']} cannot see /{command['name']} "
                                      f"(default_member_permissions={needed})")

    def _complete_options(self, options: list[dict[str, Any]], schema: list[dict[str, Any]],
                          resolved: dict[str, dict[str, Any]], guild: str | None) -> None:
        by_name = {s["name"]: s for s in schema}
        for o in options:
            spec = by_name.get(o["name"])
            if spec is None and schema and self.strict_commands:
                raise LookupError(f"fake Discord: no option {o['name']!r} here (known: {sorted(by_name)})")
            if "type" not in o:
                if spec is not None:
                    o["type"] = spec["type"]
                elif "options" in o:
                    o["type"] = 1
                else:
                    v = o.get("value")
                    o["type"] = 5 if isinstance(v, bool) else 4 if isinstance(v, int) else 10 if isinstance(v, float) else 3
            if o["type"] in (1, 2):
                o["options"] = [dict(x) for x in o.get("options", [])]
                self._complete_options(o["options"], (spec or {}).get("options") or [], resolved, guild)
            elif o["type"] in (6, 7, 8, 9) and not o.get("focused"):
                o["value"] = self._resolve(o["type"], str(o["value"]), resolved, guild)

    def _resolve(self, kind: int, value: str, resolved: dict[str, dict[str, Any]], guild: str | None) -> str:
        if kind in (6, 9):
            try:
                user = self.user(value)
            except KeyError:
                user = None
            if user is not None:
                resolved.setdefault("users", {})[user["id"]] = user
                if guild is not None:
                    m = self.member(user["id"], guild)
                    resolved.setdefault("members", {})[user["id"]] = {
                        **{k: v for k, v in m.items() if k != "user"}, "permissions": str(self.permissions(user["id"], None, guild))}
                return user["id"]
        if kind in (8, 9) and guild is not None:
            try:
                role = self.role(value, guild)
            except KeyError:
                role = None
            if role is not None:
                resolved.setdefault("roles", {})[role["id"]] = role
                return role["id"]
        if kind == 7 and guild is not None:
            try:
                ch = self.channel(value, guild)
            except KeyError:
                ch = None
            if ch is not None:
                resolved.setdefault("channels", {})[ch["id"]] = {
                    k: ch.get(k) for k in ("id", "name", "type", "parent_id", "topic", "nsfw", "position", "flags")} | {
                    "permissions": str(self.permissions(self.bot_user_id, ch["id"], guild))}
                return ch["id"]
        return value

    # -- interactions: answers --------------------------------------------------------------------------
    def _reject(self, rec: SentInteraction | None, kind: str, status: int, code: int, message: str, body: Any) -> web.Response:
        if rec is not None:
            rec.rejected.append(Rejection(kind, status, code, message, self.clock(), body))
        return _error(status, code, message)

    _ALLOWED_CALLBACKS = {2: {4, 5, 9, 12}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        now = self.clock()
        rec = self.interactions.get(request.match_info["interaction_id"])
        body, files = request[_BODY], request[_FILES]
        if rec is None or rec.token != request.match_info["token"]:
            return self._reject(rec, "callback", 404, 10062, "Unknown interaction", body)
        if rec.callback is not None:
            return self._reject(rec, "callback", 400, 40060, "Interaction has already been acknowledged.", body)
        if now - rec.sent_at > self.interaction_deadline:
            return self._reject(rec, "callback", 404, 10062, "Unknown interaction", body)
        if not isinstance(body, dict) or "type" not in body:
            rec.rejected.append(Rejection("callback", 400, 50035, "Invalid Form Body", now, body))
            return _form_error({"type": _err("BASE_TYPE_REQUIRED", "This field is required")})
        kind, data = int(body["type"]), body.get("data") or {}
        if kind not in self._ALLOWED_CALLBACKS.get(rec.type, set()):
            rec.rejected.append(Rejection("callback", 400, 50035, "Invalid Form Body", now, body))
            return _form_error({"type": _err("INTERACTION_RESPONSE_TYPE_INVALID",
                                             f"Interaction response type {kind} is not valid for interaction type {rec.type}")})
        ephemeral = bool(int(data.get("flags") or 0) & 64)
        message = None
        if kind == 4:
            problem = self._check_message(data, files)
            if problem is not None:
                rec.rejected.append(Rejection("callback", problem.status, 0, "invalid message", now, body))
                return problem
            message = self._message(rec.payload["channel_id"], data, files, type=20 if rec.type == 2 else 19,
                                    flags=int(data.get("flags") or 0), interaction=rec)
            rec.original = message
        elif kind == 5:
            message = self._message(rec.payload["channel_id"], {}, [], type=20 if rec.type == 2 else 19,
                                    flags=128 | (int(data.get("flags") or 0) & 64), interaction=rec)
            rec.original = message
        elif kind == 7:
            existing = (rec.original or {}).get("attachments") or []
            problem = self._check_message(data, files, partial=True, existing=existing)
            if problem is not None:
                rec.rejected.append(Rejection("callback", problem.status, 0, "invalid message", now, body))
                return problem
            if rec.original is None:
                rec.rejected.append(Rejection("callback", 400, 50035, "Invalid Form Body", now, body))
                return _form_error({"type": _err("INTERACTION_RESPONSE_TYPE_INVALID", "There is no message to update")})
            rec.original.update({k: data[k] for k in ("content", "embeds", "components", "flags") if k in data})
            self._edit_attachments(rec.original, data, [self._attachment(f) for f in files])
            rec.original["edited_timestamp"] = _now_iso()
            message = rec.original
            ephemeral = bool(int(message.get("flags") or 0) & 64)
        elif kind == 8:
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                rec.rejected.append(Rejection("callback", 400, 50035, "Invalid Form Body", now, body))
                return _form_error({"data": {"choices": _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")}})
        rec.responses.append(ResponseRecord("callback", kind, data, now, message, files, ephemeral))
        self._notify()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        answer: dict[str, Any] = {"interaction": {
            "id": rec.id, "type": rec.type, "response_message_loading": kind == 5,
            "response_message_ephemeral": ephemeral}}
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
        if kind in (4, 5, 7):
            answer["resource"] = {"type": kind, "message": message}
        return _json(answer)

    def _webhook_rec(self, request: web.Request, kind: str) -> tuple[SentInteraction | None, web.Response | None]:
        rec = self._by_token.get(request.match_info["token"])
        body = request[_BODY]
        if request.match_info["app_id"] != self.app_id or rec is None:
            return None, _error(404, 10015, "Unknown Webhook")
        if self.clock() - rec.sent_at > self.followup_window:
            return None, self._reject(rec, kind, 401, 50027, "Invalid Webhook Token", body)
        if rec.callback is None:
            return None, self._reject(rec, kind, 404, 10015, "Unknown Webhook", body)
        return rec, None

    async def _followup(self, request: web.Request) -> web.StreamResponse:
        rec, problem = self._webhook_rec(request, "followup")
        if problem is not None:
            return problem
        assert rec is not None
        body, files = request[_BODY], request[_FILES]
        problem = self._check_message(body, files)
        if problem is not None:
            rec.rejected.append(Rejection("followup", problem.status, 0, "invalid message", self.clock(), body))
            return problem
        body = body if isinstance(body, dict) else {}
        flags = int(body.get("flags") or 0)
        message = self._message(rec.payload["channel_id"], body, files, type=0, flags=flags, interaction=rec)
        rec.followups[message["id"]] = message
        rec.responses.append(ResponseRecord("followup", None, body, self.clock(), message, files, bool(flags & 64)))
        self._notify()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return _json(message)
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        mid = request.match_info["message_id"]
        base = "original" if mid == "@original" else "message"
        kind = {"GET": "get", "PATCH": "edit_", "DELETE": "delete_"}[method] + ("" if method == "GET" else base)
        rec, problem = self._webhook_rec(request, kind)
        if problem is not None:
            return problem
        assert rec is not None
        message = rec.original if mid == "@original" else rec.followups.get(mid)
        if message is None and rec.original is not None and rec.original["id"] == mid:
            message = rec.original
        if message is None:
            return self._reject(rec, kind, 404, 10008, "Unknown Message", request[_BODY])
        if method == "GET":
            return _json(message)
        if method == "DELETE":
            if message is rec.original:
                rec.original = None
            else:
                rec.followups.pop(mid, None)
            rec.responses.append(ResponseRecord(kind, None, {}, self.clock(), message))
            self._notify()
            return web.Response(status=204)
        body, files = request[_BODY], request[_FILES]
        problem = self._check_message(body, files, partial=True, existing=message.get("attachments") or [])
        if problem is not None:
            rec.rejected.append(Rejection(kind, problem.status, 0, "invalid message", self.clock(), body))
            return problem
        body = body or {}
        message.update({k: body[k] for k in ("content", "embeds", "components") if k in body})
        self._edit_attachments(message, body, [self._attachment(f, bool(message["flags"] & 64)) for f in files])
        if message["flags"] & 128:
            message["flags"] &= ~128  # the deferred "thinking" message becomes the real one
        message["edited_timestamp"] = _now_iso()
        rec.responses.append(ResponseRecord(kind, None, body, self.clock(), message, files, bool(message["flags"] & 64)))
        self._notify()
        return _json(message)


async def _read_multipart(request: web.Request) -> tuple[Any, list[dict[str, Any]], web.Response | None]:
    """Discord's upload form: ``payload_json`` plus ``files[n]`` parts (filename and unique name each).

    Other plain fields are taken as JSON parameters when there is no ``payload_json``, as
    Discord does. Returns (body, files, problem); ``files`` carry ``field``, ``index`` (the n),
    ``filename``, ``content_type``, ``size``, ``data`` and the ``description`` the
    ``attachments`` array gives the file.
    """
    try:
        form = await request.post()
    except Exception:  # noqa: BLE001 - any unreadable body is Discord's generic 400, not a 500 in the fake
        return _INVALID, [], _error(400, 50035, "Invalid Form Body", {"_errors": [
            {"code": "MULTIPART_INVALID", "message": "The multipart/form-data body could not be parsed."}]})
    body: Any = None
    fields: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    names: set[str] = set()
    for key, value in form.items():
        if key == "payload_json":
            # A part with a Content-Type (application/json) comes back from aiohttp as bytes.
            raw = value.file.read() if isinstance(value, web.FileField) else value
            text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
            try:
                body = json.loads(text)
            except ValueError:
                return _INVALID, [], _error(400, 50109, "The request body contains invalid JSON.")
            continue
        match = _FILE_FIELD.fullmatch(key)
        if match is None:
            if isinstance(value, web.FileField):
                return _INVALID, [], _form_error({key: _err("UNKNOWN_FILE_FIELD", "File parts must be named files[n].")})
            fields[key] = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
            continue
        if key in names:
            return _INVALID, [], _form_error({key: _err("DUPLICATE_FILE_FIELD", "Each files[n] part must have a unique name.")})
        names.add(key)
        if not isinstance(value, web.FileField) or not value.filename:
            return _INVALID, [], _form_error({key: _err("FILE_NAME_REQUIRED", "A files[n] part needs a filename.")})
        data = value.file.read()
        files.append({"field": key, "index": int(match[1]), "filename": value.filename, "content_type": value.content_type,
                      "size": len(data), "data": data, "description": None})
    if body is None and fields:
        body = fields
    listed = body.get("attachments") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "type" in body:
        listed = body["data"].get("attachments")  # an interaction callback: the message is its ``data``
    by_id = {str(a.get("id")): a for a in listed or [] if isinstance(a, dict)}
    for f in files:
        item = by_id.get(str(f["index"]))
        if item is not None:
            f["description"] = item.get("description")
            if isinstance(item.get("filename"), str) and item["filename"]:
                f["filename"] = item["filename"]
    return body, files, None


def _strip_stored(cmd: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cmd.items() if k not in ("id", "application_id", "version", "guild_id")}


# -- command validation, as Discord answers a bulk overwrite -------------------------------------------------
def validate_commands(commands: list[Any]) -> dict[str, Any]:
    """Discord's limits on application commands; returns its ``errors`` object ({} when valid)."""
    errors: dict[str, Any] = {}
    if sum(1 for c in commands if isinstance(c, dict) and int(c.get("type", 1)) == 1) > 100:
        return _err("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    for kind, limit in ((2, 15), (3, 15)):
        if sum(1 for c in commands if isinstance(c, dict) and int(c.get("type", 1)) == kind) > limit:
            return _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    seen: set[tuple[int, str]] = set()
    for index, cmd in enumerate(commands):
        problems: dict[str, Any] = {}
        if not isinstance(cmd, dict):
            errors[str(index)] = _err("BASE_TYPE_DICT", "Must be an object.")
            continue
        kind = int(cmd.get("type", 1))
        name = cmd.get("name")
        description = cmd.get("description")
        if kind not in (1, 2, 3, 4):
            problems["type"] = _err("BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
        if not isinstance(name, str) or not name:
            problems["name"] = _err("BASE_TYPE_REQUIRED", "This field is required")
        elif kind == 1 and not _NAME.match(name):
            problems["name"] = _err("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        elif not 1 <= len(name) <= 32:
            problems["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        elif (kind, name) in seen:
            problems["name"] = _err("APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
        if isinstance(name, str):
            seen.add((kind, name))
        if kind == 1:
            if not isinstance(description, str) or not 1 <= len(description) <= 100:
                problems["description"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        elif description not in (None, ""):
            problems["description"] = _err("APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION", "Context menu commands cannot have description")
        perms = cmd.get("default_member_permissions")
        if perms is not None and not (isinstance(perms, str) and perms.isdigit() or type(perms) is int and perms >= 0):
            problems["default_member_permissions"] = _err("NUMBER_TYPE_COERCE", f"Value \"{perms}\" is not snowflake.")
        for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
            value = cmd.get(key)
            if value is not None and (not isinstance(value, list) or any(v not in allowed for v in value)):
                problems[key] = _err("BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")
        options = cmd.get("options") or []
        if options and kind != 1:
            problems["options"] = _err("APPLICATION_COMMAND_OPTIONS_INVALID", "Only chat input commands can have options")
        elif options:
            option_errors = _validate_options(options, depth=0)
            if option_errors:
                problems["options"] = option_errors
        if not problems and _size(cmd) > 8000:
            problems = _err("APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")
        if problems:
            errors[str(index)] = problems
    return errors


def _validate_options(options: Any, depth: int) -> dict[str, Any]:
    if not isinstance(options, list):
        return _err("BASE_TYPE_ARRAY", "Must be an array.")
    if len(options) > 25:
        return _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    errors: dict[str, Any] = {}
    kinds = [int(o.get("type", 0)) if isinstance(o, dict) else 0 for o in options]
    nested = [k in (1, 2) for k in kinds]
    if any(nested) and not all(nested):
        return _err("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command and sub-command group option types are mutually exclusive to all other types")
    names: set[str] = set()
    optional_seen = False
    for index, option in enumerate(options):
        problems: dict[str, Any] = {}
        if not isinstance(option, dict):
            errors[str(index)] = _err("BASE_TYPE_DICT", "Must be an object.")
            continue
        kind = int(option.get("type", 0))
        name, description = option.get("name"), option.get("description")
        if not 1 <= kind <= 11:
            problems["type"] = _err("BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.")
        elif kind == 2 and depth > 0 or kind == 1 and depth > 1:
            problems["type"] = _err("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands cannot be nested this deep")
        if not isinstance(name, str) or not _NAME.match(name):
            problems["name"] = _err("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        elif name in names:
            problems["name"] = _err("APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
        else:
            names.add(name)
        if not isinstance(description, str) or not 1 <= len(description) <= 100:
            problems["description"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if kind not in (1, 2):
            if option.get("required"):
                if optional_seen:
                    problems["required"] = _err("APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                                "Required options must be placed before non-required options")
            else:
                optional_seen = True
            choices = option.get("choices")
            if choices is not None:
                if option.get("autocomplete"):
                    problems["autocomplete"] = _err("APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES", "Autocomplete cannot be set with choices")
                if kind not in (3, 4, 10):
                    problems["choices"] = _err("APPLICATION_COMMAND_OPTION_CHOICES_TYPE",
                                               "Choices are only for string, integer and number options")
                elif not isinstance(choices, list) or len(choices) > 25:
                    problems["choices"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                else:
                    choice_errors = {}
                    for ci, choice in enumerate(choices):
                        ce: dict[str, Any] = {}
                        cname, value = choice.get("name"), choice.get("value")
                        if not isinstance(cname, str) or not 1 <= len(cname) <= 100:
                            ce["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
                        if kind == 3 and (not isinstance(value, str) or not 1 <= len(value) <= 100):
                            ce["value"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
                        elif kind == 4 and (isinstance(value, bool) or not isinstance(value, int)):
                            ce["value"] = _err("NUMBER_TYPE_COERCE", f"Value \"{value}\" is not int.")
                        elif kind == 10 and (isinstance(value, bool) or not isinstance(value, (int, float))):
                            ce["value"] = _err("NUMBER_TYPE_COERCE", f"Value \"{value}\" is not a number.")
                        if ce:
                            choice_errors[str(ci)] = ce
                    if choice_errors:
                        problems["choices"] = choice_errors
            if option.get("autocomplete") and kind not in (3, 4, 10):
                problems["autocomplete"] = _err("APPLICATION_COMMAND_OPTIONS_AUTOCOMPLETE_TYPE",
                                                "Autocomplete is only for string, integer and number options")
            for key in ("min_length", "max_length"):
                value = option.get(key)
                lowest = 0 if key == "min_length" else 1
                if value is not None and (kind != 3 or not isinstance(value, int) or not lowest <= value <= 6000):
                    problems[key] = _err("NUMBER_TYPE_MAX", f"{key} must be between {lowest} and 6000, on string options only.")
            for key in ("min_value", "max_value"):
                if option.get(key) is not None and kind not in (4, 10):
                    problems[key] = _err("APPLICATION_COMMAND_OPTION_MIN_MAX_TYPE",
                                         "min/max values are only for integer and number options")
            if option.get("channel_types") is not None and kind != 7:
                problems["channel_types"] = _err("APPLICATION_COMMAND_OPTION_CHANNEL_TYPES", "channel_types are only for channel options")
        elif option.get("options"):
            inner = _validate_options(option["options"], depth + 1)
            if inner:
                problems["options"] = inner
            elif kind == 2 and any(int(o.get("type", 0)) != 1 for o in option["options"]):
                problems["options"] = _err("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "A sub-command group may only hold sub-commands")
        if problems:
            errors[str(index)] = problems
    return errors


def _size(cmd: dict[str, Any]) -> int:
    """Discord's 8000-character budget: names, descriptions and choice names/values, recursively."""
    total = len(str(cmd.get("name", ""))) + len(str(cmd.get("description", "")))
    for option in cmd.get("options") or []:
        total += _size(option)
    for choice in cmd.get("choices") or []:
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total


def point_discord_py_at(fake: FakeDiscord) -> Callable[[], None]:
    """Points discord.py's REST base (``Route.BASE``) and gateway (``DEFAULT_GATEWAY``, a
    ``yarl.URL`` to which discord.py adds ``?v=10&encoding=json&compress=zlib-stream``) at the
    fake; returns a function that restores both. Call after ``await fake.start()``."""
    import discord
    import yarl

    old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

    def restore() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore
