"""Discord: slash commands, autocomplete and buttons through discord.py's gateway, answered by the core.

The adapter only translates. The application-command tree is generated from the registry
(a new core command appears here with no change), an interaction becomes ``App.invoke`` or
``App.click`` with the member's role taken from Discord's permission bits, and a Reply goes
back through the pure renderer in ``bot/render/discord.py``. discord.py's own ``CommandTree``
is not used: it wants one Python function per command, while ours are data.

Unsolicited posts (digests, DMs) go through the outbox and ``DiscordRestTransport``; the
gateway client is used only for what needs it: receiving interactions and knowing the
guilds' channels and roles (the ``guilds`` intent; no privileged intents at all).

A reply's files (``Reply.attachments``) go with its first message as ``discord.File``s,
public or ephemeral like the reply; if Discord refuses them, the text still goes and the
person is told in one line which files are missing.

Sharding (``careerbot serve --shards A-B --shard-count N``): the process connects exactly those
shards with discord.py's ``AutoShardedClient``; without them it is one ``discord.Client``, as
before. Processes started together take turns to IDENTIFY through the database
(``IdentifyGate``, ``bot/storage/identify_repo.py``): one IDENTIFY per bucket
(``shard_id % max_concurrency``) per 5 s across every process. Discord sends a guild's events to
its shard only (``(guild_id >> 22) % N``) and DMs to shard 0, so an interaction is answered by the
process that received it; an interaction id is still recorded on first sight
(``inbound_events``), so if two processes ever receive the same one, only one answers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
import yarl
from discord import app_commands

from bot.adapters import AdapterError
from bot.adapters.discord_rest import DiscordRestTransport
from bot.app import App
from bot.buttons import ButtonError, decode
from bot.clock import Clock, iso_utc
from bot.config import Config
from bot.frontend import Frontend
from bot.models import Actor, Attachment, ChannelRef, Place, Reply, Role, RoleRef, UserRef
from bot.registry import Arg, Command, Registry
from bot.render.discord import file_batches, file_description, not_attached_line, render_messages
from bot.storage import identify_repo, inbound_repo, platform_repo
from bot.storage.db import Database
from bot.text import clean_input, shorten

log = logging.getLogger("careerbot.discord")

MANAGE_GUILD = 1 << 5
# What the bot needs in a channel to post digests and alerts: view it, send, embed links.
INVITE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14)
OPTION_TYPES = {"str": 3, "int": 4, "bool": 5, "user": 6, "channel": 7, "role": 8, "number": 10}
TEXT_CHANNELS = [0, 5]  # text and announcement channels: where a digest can go
SUB_COMMAND, SUB_GROUP = 1, 2
GUILD_CONTEXT, BOT_DM_CONTEXT = 0, 1
AUTOCOMPLETE_BUDGET = 2.5  # Discord allows 3 s for the answer


# -- the command tree ------------------------------------------------------------------------------
def _option(arg: Arg) -> dict[str, Any]:
    option: dict[str, Any] = {
        "type": OPTION_TYPES[arg.kind],
        "name": arg.name,
        "description": arg.help or arg.name,
        "required": arg.required,
    }
    if arg.choices and len(arg.choices) <= 25:
        option["choices"] = [{"name": c, "value": c} for c in arg.choices]
    elif arg.complete is not None or arg.choices:
        option["autocomplete"] = True
    if arg.kind in ("int", "number"):
        if arg.min_value is not None:
            option["min_value"] = arg.min_value
        if arg.max_value is not None:
            option["max_value"] = arg.max_value
    if arg.kind == "str":
        option["max_length"] = min(arg.max_len, 6000)
    if arg.kind == "channel":
        option["channel_types"] = TEXT_CHANNELS
    return option


def command_tree(registry: Registry) -> list[dict[str, Any]]:
    """The application commands for Discord, one per feature, as the API takes them.

    Moderator-only features get ``default_member_permissions`` = Manage Server, so members
    do not even see them; a group with any member command (``/digest list``) stays visible
    and the core refuses what a member may not run. Default subcommands are named in full:
    Discord cannot run a group by itself.
    """
    tree = []
    for root in registry.commands.values():
        leaves = list(root.subcommands.values()) or [root]
        entry: dict[str, Any] = {"type": 1, "name": root.name, "description": root.help}
        if root.subcommands:
            entry["options"] = [
                {"type": SUB_COMMAND, "name": leaf.name, "description": leaf.help, "options": [_option(a) for a in leaf.args]}
                for leaf in leaves
            ]
        else:
            entry["options"] = [_option(a) for a in root.args]
        if all(leaf.min_role >= Role.MODERATOR for leaf in leaves):
            entry["default_member_permissions"] = str(MANAGE_GUILD)
        entry["contexts"] = [GUILD_CONTEXT, BOT_DM_CONTEXT] if any(leaf.dm_ok for leaf in leaves) else [GUILD_CONTEXT]
        entry["integration_types"] = [0]
        tree.append(entry)
    return tree


def tree_hash(tree: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()


def application_id_from_token(token: str) -> str | None:
    """A bot token starts with its user id in base64, which is the application's id."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if decoded.isdigit() else None


def invite_url(application_id: str) -> str:
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&scope=bot+applications.commands&permissions={INVITE_PERMISSIONS}"
    )


def point_at(api_base: str, gateway_url: str) -> None:
    """discord.py has no base-URL parameter: its REST base and gateway are class attributes."""
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


# -- references --------------------------------------------------------------------------------------
class DiscordFrontend(Frontend):
    """Resolves ``#name``/``@name`` from the guild cache the gateway keeps; no request per command."""

    platform = "discord"
    short_forms = False

    def __init__(self, client: discord.Client) -> None:
        super().__init__()
        self.client = client

    def _guild(self, place: Place) -> discord.Guild | None:
        return self.client.get_guild(int(place.workspace_id)) if place.workspace_id and place.workspace_id.isdigit() else None

    async def find_channel(self, place: Place, name: str) -> ChannelRef | None:
        guild = self._guild(place)
        found = discord.utils.find(lambda c: c.name.lower() == name.lower(), guild.text_channels) if guild else None
        return ChannelRef(str(found.id), found.name) if found else None

    async def find_user(self, place: Place, name: str) -> UserRef | None:
        guild = self._guild(place)
        member = guild.get_member_named(name) if guild else None
        return UserRef(str(member.id), member.display_name) if member else None

    async def find_role(self, place: Place, name: str) -> RoleRef | None:
        guild = self._guild(place)
        role = discord.utils.find(lambda r: r.name.lower() == name.lower(), guild.roles) if guild else None
        return RoleRef(str(role.id), role.name) if role else None

    async def channel_name(self, place: Place, channel_id: str) -> str:
        guild = self._guild(place)
        channel = guild.get_channel(int(channel_id)) if guild and channel_id.isdigit() else None
        return channel.name if channel else ""

    async def can_post(self, place: Place, channel_id: str) -> bool | None:
        guild = self._guild(place)
        channel = guild.get_channel(int(channel_id)) if guild and channel_id.isdigit() else None
        if guild is None or channel is None or guild.me is None:
            return None  # not cached: let the outbox find out
        perms = channel.permissions_for(guild.me)
        return perms.view_channel and perms.send_messages and perms.embed_links


# -- translating interactions -----------------------------------------------------------------------
def actor_of(interaction: discord.Interaction) -> Actor:
    user = interaction.user
    role = Role.MEMBER
    role_ids: tuple[str, ...] = ()
    if interaction.guild_id is not None:
        perms = interaction.permissions
        guild = interaction.guild
        if guild is not None and guild.owner_id == user.id:
            role = Role.OWNER
        elif perms.administrator:
            role = Role.ADMIN
        elif perms.manage_guild:
            role = Role.MODERATOR
        role_ids = tuple(str(r) for r in getattr(user, "_roles", ()))
    return Actor(f"discord:{user.id}", getattr(user, "display_name", None) or user.name, role, role_ids)


def place_of(interaction: discord.Interaction) -> Place:
    channel = interaction.channel
    if interaction.guild_id is None:
        return Place("discord", None, str(interaction.channel_id), "", is_dm=True)
    return Place("discord", str(interaction.guild_id), str(interaction.channel_id), getattr(channel, "name", "") or "")


def split_options(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(command path, leaf options) from a slash command's nested subcommand options."""
    path = [data.get("name", "")]
    options = data.get("options") or []
    while options and options[0].get("type") in (SUB_COMMAND, SUB_GROUP):
        path.append(options[0]["name"])
        options = options[0].get("options") or []
    return " ".join(path), options


def option_values(cmd: Command, options: list[dict[str, Any]], resolved: dict[str, Any]) -> dict[str, Any]:
    """Discord's typed options as the core's values: refs carry the name Discord resolved."""
    kinds = {a.name: a.kind for a in cmd.args}
    values: dict[str, Any] = {}
    for option in options:
        name, value = option.get("name", ""), option.get("value")
        kind = kinds.get(name)
        if kind == "channel":
            info = (resolved.get("channels") or {}).get(str(value), {})
            values[name] = ChannelRef(str(value), info.get("name", ""))
        elif kind == "user":
            info = (resolved.get("users") or {}).get(str(value), {})
            values[name] = UserRef(str(value), info.get("global_name") or info.get("username", ""))
        elif kind == "role":
            info = (resolved.get("roles") or {}).get(str(value), {})
            values[name] = RoleRef(str(value), info.get("name", ""))
        else:
            values[name] = clean_input(value) if isinstance(value, str) else value
    return values


def _view(components: list[dict[str, Any]]) -> discord.ui.View | None:
    if not components:
        return None
    view = discord.ui.View(timeout=None)
    for row, action_row in enumerate(components):
        for c in action_row.get("components", []):
            if c.get("style") == 5:
                view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=c["label"], url=c["url"], row=row))
            else:
                view.add_item(discord.ui.Button(style=discord.ButtonStyle(c["style"]), label=c["label"], custom_id=c["custom_id"], row=row))
    # A finished view is sent but never stored: clicks come back through on_interaction as
    # data (the button's command), so discord.py need not keep a callback per message.
    view.stop()
    return view


def message_kwargs(payload: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "content": payload.get("content") or None,
        "embeds": [discord.Embed.from_dict(e) for e in payload.get("embeds", [])],
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    view = _view(payload.get("components", []))
    if view is not None:
        kwargs["view"] = view
    return kwargs


def discord_files(batch: Sequence[Attachment]) -> list[discord.File]:
    """Fresh ``discord.File`` objects for one message (discord.py reads and closes them as it sends)."""
    return [discord.File(io.BytesIO(a.data), filename=a.name, description=file_description(a)) for a in batch]


# -- shards and their turns to IDENTIFY ----------------------------------------------------------------
def process_name() -> str:
    """Who took a turn or an interaction, in the database (for logs): host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def shard_label(shard_ids: Sequence[int]) -> str:
    ids = sorted(shard_ids)
    if ids and ids == list(range(ids[0], ids[-1] + 1)) and len(ids) > 1:
        return f"{ids[0]}-{ids[-1]}"
    return ",".join(str(i) for i in ids)


class IdentifyGate:
    """Waits for a shard's turn to IDENTIFY: its bucket's slot, taken in the shared database.

    ``identify_repo.claim`` either takes the slot or says when it frees; the gate sleeps that
    long and asks again, so processes started together IDENTIFY bucket by bucket with no
    coordinator but the database. Times are the app clock's; ``sleep`` is injectable for tests.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        owner: str,
        *,
        spacing: float = identify_repo.SPACING,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.clock = clock
        self.owner = owner
        self.spacing = spacing
        self.sleep = sleep

    async def wait_turn(self, shard_id: int, max_concurrency: int) -> float:
        """Returns once this process may IDENTIFY ``shard_id``; the seconds it waited.

        If the database cannot be asked, the shard waits and asks again rather than IDENTIFY
        unchecked (discord.py's own timeouts around connecting bound the wait).
        """
        bucket = identify_repo.bucket_of(shard_id, max_concurrency)
        waited = 0.0
        failing = False
        while True:
            try:
                wait = await identify_repo.claim(self.db, bucket, shard_id, self.clock, self.owner, self.spacing)
            except Exception as exc:  # a database error: wait, then ask again
                if not failing:
                    log.warning("cannot take shard %d's turn to identify from the database (%s); retrying", shard_id, exc)
                failing, wait = True, 1.0
            else:
                if wait <= 0:
                    return waited
            # Never longer than one spacing at a time: a slot stamped by a clock running ahead
            # is asked about again rather than trusted for long.
            pause = min(wait, self.spacing) + 0.01
            await self.sleep(pause)
            waited += pause


class ShardedClient(discord.AutoShardedClient):
    """discord.py's AutoShardedClient whose IDENTIFYs wait for the database's turn.

    The default ``before_identify_hook`` sleeps 5 s before every IDENTIFY but the first, which
    keeps one process within Discord's rule but not several started together.
    ``max_concurrency`` comes from ``GET /gateway/bot`` (once; 1, the strictest, if that fails).
    """

    def __init__(self, *args: Any, gate: IdentifyGate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate
        self.max_concurrency: int | None = None
        self.identified: list[int] = []  # shard ids, in the order this process sent their IDENTIFY

    async def _concurrency(self) -> int:
        if self.max_concurrency is None:
            try:
                limits = await self.fetch_session_start_limits()
            except (discord.HTTPException, discord.GatewayNotFound, OSError) as exc:
                log.warning("could not read Discord's session start limits (%s); identifying one shard per 5 s", exc)
                return 1
            if limits.remaining <= 0:
                log.error("Discord allows no more session starts today (they reset in %.0f min)", limits.reset_after / 60000)
            self.max_concurrency = max(1, int(limits.max_concurrency))
        return self.max_concurrency

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        shard = shard_id or 0
        concurrency = await self._concurrency()
        waited = await self.gate.wait_turn(shard, concurrency)
        self.identified.append(shard)
        log.info("identifying Discord shard %d of %s (bucket %d of %d) after waiting %.1f s",
                 shard, self.shard_count, identify_repo.bucket_of(shard, concurrency), concurrency, waited)


# -- the adapter --------------------------------------------------------------------------------------
class DiscordAdapter:
    def __init__(
        self,
        app: App,
        config: Config,
        *,
        guild_ready_timeout: float = 2.0,
        slow_after: float = 2.0,
        transport: DiscordRestTransport | None = None,
        identify_spacing: float = identify_repo.SPACING,
    ) -> None:
        if not config.discord_token:
            raise ValueError("DISCORD_TOKEN is not set")
        self.app = app
        self.config = config
        self.slow_after = slow_after
        point_at(config.discord_api_base, config.discord_gateway_url)
        intents = discord.Intents.none()
        intents.guilds = True  # channels and roles for #name/@role look-ups and permission checks
        self.owner = process_name()
        self.shard_ids: list[int] | None = None
        self.client: discord.Client
        if config.discord_shard_count is not None:
            count = config.discord_shard_count
            self.shard_ids = list(config.discord_shard_ids) if config.discord_shard_ids is not None else list(range(count))
            gate = IdentifyGate(app.db, app.clock, self.owner, spacing=identify_spacing)
            self.client = ShardedClient(
                intents=intents, guild_ready_timeout=guild_ready_timeout, allowed_mentions=discord.AllowedMentions.none(),
                shard_ids=self.shard_ids, shard_count=count, gate=gate,
            )
        else:
            self.client = discord.Client(
                intents=intents, guild_ready_timeout=guild_ready_timeout, allowed_mentions=discord.AllowedMentions.none()
            )
        self.client.event(self.on_ready)
        self.client.event(self.on_interaction)
        app.add_frontend(DiscordFrontend(self.client))
        self.transport = transport or DiscordRestTransport(config.discord_token, base_url=config.discord_api_base)
        if "discord" not in app.outbox.dispatchers:
            app.outbox.add_transport(self.transport)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.synced: list[str] = []  # scopes synced by this process (for logs and tests)

    # -- life --------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Logs in (REST) and connects the gateway in the background."""
        assert self.config.discord_token is not None
        try:
            await self.client.login(self.config.discord_token.reveal())
        except discord.LoginFailure:
            raise AdapterError("Discord refused DISCORD_TOKEN (401): copy the bot token again from the Developer Portal.") from None
        except (discord.HTTPException, OSError) as exc:
            raise AdapterError(f"cannot reach Discord at {self.config.discord_api_base}: {exc}") from None
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="careerbot-discord-gateway")

    def connected(self) -> bool:
        """For /healthz: the gateway session is up and ready."""
        return self.client.is_ready() and not self.client.is_closed()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def close(self) -> None:
        await self.client.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass

    async def on_ready(self) -> None:
        try:
            await self.sync()
        except discord.HTTPException as exc:
            log.error("syncing the command tree to Discord failed: %s", exc)
        shards = f", shards {shard_label(self.shard_ids)} of {self.config.discord_shard_count}" if self.shard_ids is not None else ""
        log.info("connected to Discord as %s in %d server(s)%s", self.client.user, len(self.client.guilds), shards)
        self._ready.set()

    # -- the command tree ---------------------------------------------------------------------------
    async def sync(self, guild_id: int | None = None, force: bool = False) -> list[str]:
        """Sends the tree where it changed (per scope, by hash); returns the scopes synced."""
        app_id = self.client.application_id
        if app_id is None:
            raise RuntimeError("not logged in to Discord")
        tree = command_tree(self.app.registry)
        digest = tree_hash(tree)
        scopes: list[int | None] = [guild_id] if guild_id else (list(self.config.discord_guild_ids) or [None])
        done = []
        for scope in scopes:
            key = f"commands:{app_id}:{scope or 'global'}"
            if not force and await platform_repo.get(self.app.db, "discord", key) == digest:
                continue
            if scope is None:
                await self.client.http.bulk_upsert_global_commands(app_id, tree)
            else:
                await self.client.http.bulk_upsert_guild_commands(app_id, scope, tree)
            await platform_repo.put(self.app.db, "discord", key, digest, iso_utc(self.app.clock.now()))
            done.append(str(scope or "global"))
        self.synced.extend(done)
        return done

    # -- interactions -------------------------------------------------------------------------------
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if not await self._first_sight(interaction):
            log.info("interaction %s was already taken by another process; not answering it twice", interaction.id)
            return
        try:
            if interaction.type == discord.InteractionType.application_command:
                await self._command(interaction)
            elif interaction.type == discord.InteractionType.autocomplete:
                await self._autocomplete(interaction)
            elif interaction.type == discord.InteractionType.component:
                await self._component(interaction)
        except discord.NotFound:
            log.warning("interaction %s expired before we answered (over 3 s)", interaction.id)
        except Exception:
            log.exception("answering interaction %s failed", interaction.id)

    async def _first_sight(self, interaction: discord.Interaction) -> bool:
        """True for the one process that records this interaction id first (``inbound_events``).

        If the database cannot say, the interaction is answered anyway: a person waiting on
        an answer matters more than a duplicate that only overlapping deployments could cause.
        """
        try:
            return await inbound_repo.first_sight(
                self.app.db, "discord", str(interaction.id), iso_utc(self.app.clock.now()), self.owner)
        except Exception:  # answering beats deduplicating
            log.exception("could not record interaction %s; answering it anyway", interaction.id)
            return True

    async def _command(self, interaction: discord.Interaction) -> None:
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        path, options = split_options(data)
        cmd = self.app.registry.resolve(path)
        values = option_values(cmd, options, data.get("resolved") or {}) if cmd else {}
        run = self.app.invoke(actor_of(interaction), place_of(interaction), path, values)
        await self._answer(interaction, cmd, run)

    async def _component(self, interaction: discord.Interaction) -> None:
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        try:
            cmd = self.app.registry.resolve(decode(custom_id)[0])
        except ButtonError:
            cmd = None
        await self._answer(interaction, cmd, self.app.click(actor_of(interaction), place_of(interaction), custom_id))

    async def _autocomplete(self, interaction: discord.Interaction) -> None:
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        path, options = split_options(data)
        cmd = self.app.registry.resolve(path)
        focused = next((o for o in options if o.get("focused")), None)
        arg = next((a for a in cmd.args if focused and a.name == focused.get("name")), None) if cmd else None
        found: list[Any] = []
        if arg is not None:
            typed = str(focused.get("value", "")) if focused else ""
            if arg.complete is not None:
                ctx = await self.app.context(actor_of(interaction), place_of(interaction))
                try:
                    found = list(await asyncio.wait_for(arg.complete(ctx, typed), AUTOCOMPLETE_BUDGET))
                except asyncio.TimeoutError:
                    found = []
            elif arg.choices:
                found = [c for c in arg.choices if typed.lower() in c.lower()]
        choices = []
        for item in found[:25]:
            label, value = item if isinstance(item, tuple) else (item, item)
            if arg is not None and arg.kind in ("int", "number"):
                try:
                    value = int(value) if arg.kind == "int" else float(value)
                except ValueError:
                    continue  # Discord takes only numbers for a number option
            choices.append(app_commands.Choice(name=str(label)[:100], value=value if not isinstance(value, str) else value[:100]))
        await interaction.response.autocomplete(choices)

    async def _answer(self, interaction: discord.Interaction, cmd: Command | None, run: Awaitable[Reply]) -> None:
        """Answers within Discord's 3 s: directly when the core is quick, else defer and follow up.

        A command declared ``slow`` is deferred before it runs; any other gets a timer that
        defers only if the core has not answered within ``slow_after`` seconds, so the common
        case costs no extra task or request.
        """
        private = bool(cmd and cmd.ephemeral)
        deferring: list[asyncio.Future[Any]] = []
        timer = None
        if cmd is not None and cmd.slow:
            await interaction.response.defer(ephemeral=private, thinking=True)
        else:
            timer = asyncio.get_running_loop().call_later(
                self.slow_after,
                lambda: deferring.append(asyncio.ensure_future(interaction.response.defer(ephemeral=private, thinking=True))),
            )
        try:
            reply = await run
        finally:
            if timer is not None:
                timer.cancel()
        if deferring:
            await deferring[0]
        deferred = interaction.response.is_done()
        first = True
        for message in reply.messages():
            payloads = render_messages(message)
            batches = file_batches(message.attachments)
            # Files ride with the message's first payload; more than one message holds follow alone.
            sends = [(p, batches[0] if i == 0 and batches else []) for i, p in enumerate(payloads)]
            sends += [({}, batch) for batch in batches[1:]]
            for payload, files in sends:
                await self._send(interaction, first and not deferred, private or message.ephemeral, payload, files)
                first = False

    async def _send(
        self, interaction: discord.Interaction, initial: bool, ephemeral: bool, payload: dict[str, Any], files: list[Attachment]
    ) -> None:
        """Sends one message of an answer, as the interaction response or a follow-up.

        Files Discord refuses (too large, a bad form: a 4xx other than 404) must not cost
        the person the text, so the message goes again without them and one private line
        says which files are missing. A 404 means the interaction expired: nothing can go.
        """
        send = interaction.response.send_message if initial else interaction.followup.send
        kwargs = message_kwargs(payload)
        if not files:
            await send(ephemeral=ephemeral, **kwargs)
            return
        try:
            await send(ephemeral=ephemeral, files=discord_files(files), **kwargs)
            return
        except discord.NotFound:
            raise
        except discord.HTTPException as exc:
            if exc.status >= 500:
                raise
            log.warning("Discord refused the files of interaction %s: %s %s", interaction.id, exc.status, exc.text)
            reason = f"Discord refused them ({shorten(exc.text or str(exc.status), 120)})"
        if kwargs.get("content") or kwargs.get("embeds") or kwargs.get("view"):
            await send(ephemeral=ephemeral, **kwargs)
            send = interaction.followup.send
        await send(content=not_attached_line(files, reason), ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
