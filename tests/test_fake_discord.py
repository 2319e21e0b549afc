"""The local fake Discord, proved against the real discord.py client.

discord.py logs in, connects the gateway, becomes ready with the fake's guild, syncs its
command tree, gets slash commands, buttons and autocomplete from the fake and answers them
through the real callback/webhook routes, RESUMEs after a dropped connection and posts
messages over REST. Discord's interaction rules (3 s deadline, one callback) come back to
discord.py as the errors Discord sends.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord
import pytest
from discord import app_commands

from tests.fakes.fake_discord import (
    CHANNEL_IDS,
    GUILD_ID,
    MANAGE_GUILD,
    USER_IDS,
    FakeDiscord,
    guild_id_on_shard,
    make_guild,
    opt,
    point_discord_py_at,
    shard_of,
    sub,
    token_for,
    user_payload,
    validate_commands,
)
from tests.fakes.fake_time import FakeTime


class Bot:
    """A discord.Client + CommandTree the way an adapter would build one, recording what it saw."""

    def __init__(self, fake: FakeDiscord, **client_kwargs: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        self.fake = fake
        self.client = discord.Client(intents=intents, guild_ready_timeout=0.05, **client_kwargs)
        self.tree = app_commands.CommandTree(self.client)
        self.seen: dict[str, Any] = {}
        self.errors: dict[str, BaseException] = {}
        self.interactions: list[discord.Interaction] = []
        self.done: dict[str, asyncio.Event] = {}
        self.task: asyncio.Task[None] | None = None
        self.spend = asyncio.sleep  # how a handler takes its time; tests swap in fake time
        self._commands()

        @self.client.event
        async def on_interaction(interaction: discord.Interaction) -> None:
            self.interactions.append(interaction)
            if interaction.type is discord.InteractionType.component:
                await interaction.response.defer()  # type 6: acknowledge the click, no new message

    def _finish(self, name: str) -> None:
        self.done.setdefault(name, asyncio.Event()).set()

    async def finished(self, name: str, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.done.setdefault(name, asyncio.Event()).wait(), timeout)

    def _commands(self) -> None:
        tree = self.tree

        @tree.command(description="Replies privately, then follows up")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)
            await interaction.followup.send("and a follow-up", ephemeral=True)
            self._finish("ping")

        @tree.command(description="Thinks first")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("done thinking")
            self._finish("slow")

        @tree.command(description="Answers too late")
        async def late(interaction: discord.Interaction) -> None:
            await self.spend(0.3)
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as exc:
                self.errors["late"] = exc
            self._finish("late")

        @tree.command(description="Answers twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("first")
            interaction.response._response_type = None  # get past discord.py's own guard to reach Discord's
            try:
                await interaction.response.send_message("second")
            except discord.HTTPException as exc:
                self.errors["twice"] = exc
            self._finish("twice")

        @tree.command(description="Defers privately, then edits the original with a file")
        async def report(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.edit_original_response(content="your report")
            await interaction.followup.send("attached", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), "report.csv"))
            self.seen["report"] = (interaction.guild_id, interaction.user.name, type(interaction.channel).__name__)
            self._finish("report")

        digest = app_commands.Group(name="digest", description="Scheduled digests")

        @digest.command(name="add", description="Adds a digest")
        @app_commands.describe(topic="What about", channel="Where to post")
        async def digest_add(interaction: discord.Interaction, topic: str, channel: discord.TextChannel | None = None) -> None:
            self.seen["digest add"] = (topic, channel.name if channel else None, interaction.user.name,
                                       interaction.guild_id, interaction.channel_id, interaction.permissions.manage_guild)
            await interaction.response.send_message(f"added {topic}")
            self._finish("digest add")

        @digest_add.autocomplete("topic")
        async def topic_complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            self.seen["autocomplete"] = current
            return [app_commands.Choice(name=t, value=t) for t in ("cv", "cover letters", "interviews") if t.startswith(current)]

        tree.add_command(digest)

        @tree.command(description="Moderators only")
        @app_commands.default_permissions(manage_guild=True)
        async def purge(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("purged", ephemeral=True)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.client.start(self.fake.token))
        await asyncio.wait_for(self.client.wait_until_ready(), 5)

    async def close(self) -> None:
        await self.client.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)


@pytest.fixture
async def fake():
    server = FakeDiscord(token=token_for())
    await server.start()
    restore = point_discord_py_at(server)
    yield server
    restore()
    await server.stop()


@pytest.fixture
async def bot(fake: FakeDiscord):
    b = Bot(fake)
    await b.start()
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
async def synced(bot: Bot) -> Bot:
    await bot.tree.sync()
    return bot


GENERAL, JOBS = CHANNEL_IDS["general"], CHANNEL_IDS["jobs"]


async def test_discord_py_logs_in_and_becomes_ready_with_the_guild(fake: FakeDiscord, bot: Bot) -> None:
    client = bot.client
    assert client.user is not None and str(client.user.id) == fake.bot_user_id and client.user.bot
    assert str(client.application_id) == fake.app_id
    [guild] = client.guilds
    assert str(guild.id) == GUILD_ID and guild.name == "careerbot-test"
    assert {c.name for c in guild.text_channels} >= {"general", "jobs", "mentors", "announcements"}
    assert {r.name for r in guild.roles} >= {"@everyone", "mentors", "moderators"}
    me = guild.me  # the bot's own member comes with GUILD_CREATE even without the members intent
    general, mentors = guild.get_channel(int(GENERAL)), guild.get_channel(int(CHANNEL_IDS["mentors"]))
    assert general.permissions_for(me).send_messages and not mentors.permissions_for(me).view_channel
    assert str(guild.owner_id) == USER_IDS["olive"] and guild.member_count == 6
    session = await fake.wait_ready()
    assert session is fake.session and [t for _, t, _ in session.events] == ["READY", "GUILD_CREATE"]
    [identify] = fake.identifies
    assert identify["intents"] == discord.Intents(guilds=True).value and identify["token"] == fake.token
    [conn] = fake.connections
    assert conn.query == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    assert conn.compressor is not None and conn.heartbeats >= 1  # zlib-stream frames, heartbeat acknowledged
    assert [(c.method, c.path) for c in fake.calls[:2]] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]


async def test_tree_sync_stores_the_commands(fake: FakeDiscord, bot: Bot) -> None:
    commands = await bot.tree.sync()
    assert {c.name for c in commands} == {"ping", "slow", "late", "twice", "report", "digest", "purge"}
    assert fake.syncs == 1 and fake.sync_log[0][0] is None
    stored = {c["name"]: c for c in fake.commands[None]}
    assert stored["purge"]["default_member_permissions"] == str(MANAGE_GUILD)
    assert stored["digest"]["options"][0]["type"] == 1 and stored["digest"]["options"][0]["name"] == "add"
    ids = {c.name: c.id for c in commands}
    again = await bot.tree.sync(guild=discord.Object(int(GUILD_ID)))  # no guild commands: an empty overwrite
    assert again == [] and fake.commands[GUILD_ID] == []
    assert {c.name: c.id for c in await bot.tree.sync()} == ids  # a bulk overwrite keeps the ids


async def test_invalid_commands_are_refused_as_discord_does(fake: FakeDiscord, bot: Bot) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await bot.client.http.bulk_upsert_global_commands(
            bot.client.application_id, payload=[{"name": "Bad Name", "description": "x", "type": 1}])
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "0.name" in caught.value.text and "Command name is invalid" in caught.value.text
    assert fake.syncs == 0

    ok = {"name": "ok", "description": "fine", "type": 1}
    assert validate_commands([ok]) == {}
    assert "description" in validate_commands([{**ok, "description": ""}])["0"]
    assert "description" in validate_commands([{**ok, "description": "x" * 101}])["0"]
    optional_first = [{"type": 3, "name": "a", "description": "a"}, {"type": 3, "name": "b", "description": "b", "required": True}]
    assert "required" in validate_commands([{**ok, "options": optional_first}])["0"]["options"]["1"]
    many = [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)]
    assert validate_commands([{**ok, "options": many}])["0"]["options"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    choices = [{"name": f"c{i}", "value": f"c{i}"} for i in range(26)]
    with_choices = {**ok, "options": [{"type": 3, "name": "c", "description": "d", "choices": choices}]}
    assert "choices" in validate_commands([with_choices])["0"]["options"]["0"]
    assert validate_commands([{**ok, "name": f"c{i}"} for i in range(101)])["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert "name" in validate_commands([ok, ok])["1"]


async def test_slash_command_reply_and_follow_up_are_recorded_ephemeral(fake: FakeDiscord, synced: Bot) -> None:
    sent = await fake.send_interaction("ping", user="max", channel="general")
    callback, followup = await sent.wait(count=2)
    await synced.finished("ping")
    assert (callback.kind, callback.type, callback.content, callback.flags) == ("callback", 4, "pong", 64)
    assert callback.ephemeral and followup.ephemeral
    assert (followup.kind, followup.content, followup.flags) == ("followup", "and a follow-up", 64)
    assert sent.sent_at <= callback.at <= followup.at and 0 <= sent.latency < 1
    assert sent.payload["member"]["user"]["username"] == "max" and sent.payload["channel_id"] == GENERAL
    assert fake.calls_to("POST", f"/interactions/{sent.id}/")[0].query == {"with_response": "1"}
    assert fake.in_channel(GENERAL) == []  # interaction replies are not REST channel posts


async def test_deferred_response_then_follow_up(fake: FakeDiscord, synced: Bot) -> None:
    sent = await fake.send_interaction("slow")
    callback, followup = await fake.wait_responses(sent.id, count=2)
    assert callback.type == 5 and not callback.ephemeral
    assert followup.kind == "followup" and followup.content == "done thinking"


async def test_subcommand_options_reach_the_callback_with_resolved_channel(fake: FakeDiscord, synced: Bot) -> None:
    sent = await fake.send_interaction("digest", [sub("add", opt("topic", "cv"), opt("channel", "jobs"))], user="mia")
    [callback] = await sent.wait()
    assert callback.content == "added cv"
    topic, channel, user, guild_id, channel_id, manage_guild = synced.seen["digest add"]
    assert (topic, channel, user) == ("cv", "jobs", "mia")
    assert (str(guild_id), str(channel_id), manage_guild) == (GUILD_ID, GENERAL, True)
    leaf = sent.payload["data"]["options"][0]["options"]
    assert leaf == [{"name": "topic", "value": "cv", "type": 3}, {"name": "channel", "value": JOBS, "type": 7}]
    assert JOBS in sent.payload["data"]["resolved"]["channels"]


async def test_autocomplete_gets_choices(fake: FakeDiscord, synced: Bot) -> None:
    sent = await fake.send_autocomplete("digest", [sub("add", opt("topic", "c"))], focused="topic")
    [callback] = await sent.wait()
    assert synced.seen["autocomplete"] == "c"
    assert callback.type == 8 and [c["value"] for c in callback.data["choices"]] == ["cv", "cover letters"]


async def test_a_callback_after_the_deadline_is_unknown_interaction(fake: FakeDiscord, synced: Bot) -> None:
    ticks = FakeTime()
    fake.clock, synced.spend = ticks.monotonic, ticks.sleep  # the handler is 0.3 s late in fake time
    fake.interaction_deadline = 0.1
    sent = await fake.send_interaction("late")
    await synced.finished("late")
    error = synced.errors["late"]
    assert isinstance(error, discord.NotFound) and error.code == 10062
    assert sent.responses == [] and [(r.status, r.code) for r in sent.rejected] == [(404, 10062)]


async def test_a_second_callback_is_already_acknowledged(fake: FakeDiscord, synced: Bot) -> None:
    sent = await fake.send_interaction("twice")
    await synced.finished("twice")
    error = synced.errors["twice"]
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (400, 40060)
    assert [r.content for r in sent.responses] == ["first"] and sent.rejected[0].code == 40060


async def test_commands_discord_would_not_offer_are_refused_by_the_helper(fake: FakeDiscord, synced: Bot) -> None:
    with pytest.raises(PermissionError):
        await fake.send_interaction("purge", user="max")
    with pytest.raises(LookupError):
        await fake.send_interaction("nope")
    sent = await fake.send_interaction("purge", user="mia")
    [callback] = await sent.wait()
    assert callback.content == "purged"


async def test_a_button_click_reaches_on_interaction(fake: FakeDiscord, bot: Bot) -> None:
    sent = await fake.send_component("apply:42", user="mo", channel="jobs")
    [callback] = await sent.wait()
    assert callback.type == 6
    [interaction] = bot.interactions
    assert interaction.type is discord.InteractionType.component
    assert interaction.data["custom_id"] == "apply:42" and interaction.user.name == "mo"
    assert interaction.message is not None and interaction.message.components


async def test_a_dropped_connection_is_resumed_and_missed_events_replayed(fake: FakeDiscord, synced: Bot) -> None:
    await fake.drop_connection()
    sent = await fake.send_interaction("ping")  # dispatched while the client is away: replayed on RESUME
    [resume] = await fake.wait_resumed()
    assert resume["session_id"] == fake.session.id and len(fake.identifies) == 1
    assert fake.connections[-1].path == "/resume"  # discord.py used READY's resume_gateway_url
    await sent.wait(count=2)
    await fake.drop_connection(code=4000)  # a close frame works too
    await fake.wait_resumed(count=2)
    again = await fake.send_interaction("slow")
    assert [r.type for r in await again.wait(count=2)] == [5, None]


async def test_rest_messages_and_dms_land_in_the_fake(fake: FakeDiscord, bot: Bot) -> None:
    guild = bot.client.get_guild(int(GUILD_ID))
    message = await guild.get_channel(int(GENERAL)).send("hello from discord.py")
    assert [m["content"] for m in fake.in_channel(GENERAL)] == ["hello from discord.py"]
    assert message.id == int(fake.in_channel(GENERAL)[0]["id"])
    with pytest.raises(discord.Forbidden) as caught:  # @everyone may not post in #announcements
        await guild.get_channel(int(CHANNEL_IDS["announcements"])).send("nope")
    assert caught.value.code == 50013
    user = await bot.client.fetch_user(int(USER_IDS["max"]))
    await user.send("a DM")
    assert [m["content"] for m in fake.dms_to(USER_IDS["max"])] == ["a DM"]


async def test_global_rate_limit_429_is_waited_out_by_discord_py(fake: FakeDiscord, bot: Bot) -> None:
    fake.rate_limit, fake.window = 1, 0.2
    channel = bot.client.get_channel(int(GENERAL))
    await channel.send("one")
    await channel.send("two")  # 429 with Via: discord.py sleeps retry_after and retries
    assert [m["content"] for m in fake.in_channel(GENERAL)] == ["one", "two"] and fake.rate_limited == 1
    assert [c.status for c in fake.calls_to("POST", "/messages")] == [200, 429, 200]


async def test_dm_command_deferred_edit_and_a_file_follow_up(fake: FakeDiscord, synced: Bot) -> None:
    sent = await fake.send_interaction("report", user="max", dm=True)
    callback, edit, followup = await sent.wait(count=3)
    await synced.finished("report")
    assert synced.seen["report"] == (None, "max", "DMChannel")
    assert "member" not in sent.payload and sent.payload["user"]["username"] == "max" and sent.payload["context"] == 1
    assert (callback.type, callback.ephemeral) == (5, True)
    assert (edit.kind, edit.content, edit.ephemeral) == ("edit_original", "your report", True)
    assert edit.message["flags"] == 64  # no longer "thinking" (128)
    [file] = followup.files  # sent as multipart/form-data with payload_json
    assert (file["filename"], file["data"], followup.content) == ("report.csv", b"a,b\n1,2\n", "attached")
    assert followup.message["attachments"][0]["filename"] == "report.csv"


# -- sharding --------------------------------------------------------------------------------------------
class QuickShards(discord.AutoShardedClient):
    """discord.py's AutoShardedClient with its IDENTIFY pauses chosen by the test (its default
    hook sleeps 5 s before every IDENTIFY but the first): ``pauses`` are used in turn, then 0."""

    def __init__(self, pauses: list[float], **kwargs: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, guild_ready_timeout=0.05, **kwargs)
        self.pauses = list(pauses)
        self.answered: list[str] = []

        @self.event
        async def on_interaction(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"hello from guild {interaction.guild_id}")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pause = self.pauses.pop(0) if self.pauses else 0.0
        if pause:
            await asyncio.sleep(pause)


def one_guild_per_shard(num_shards: int) -> list[dict[str, Any]]:
    owner = user_payload(USER_IDS["olive"], "olive")
    member = {"user": user_payload(USER_IDS["max"], "max"), "roles": []}
    guilds = []
    for shard in range(num_shards):
        gid = guild_id_on_shard(shard, num_shards)
        channel = {"id": str(int(gid) + 100), "name": "general", "type": 0}
        guilds.append(make_guild(gid, f"club-{shard}", owner, channels=[channel], members=[member]))
    return guilds


async def start_sharded(fake: FakeDiscord, client: QuickShards) -> tuple[asyncio.Task[None], Any]:
    await fake.start()
    restore = point_discord_py_at(fake)
    return asyncio.create_task(client.start(fake.token)), restore


async def stop_sharded(fake: FakeDiscord, client: QuickShards, task: asyncio.Task[None], restore: Any) -> None:
    await client.close()
    await asyncio.wait_for(task, 5)
    restore()
    await fake.stop()


async def test_each_shard_gets_its_own_guilds_and_dms_go_to_shard_0() -> None:
    fake = FakeDiscord(token=token_for(), guilds=one_guild_per_shard(3), shards=3, max_concurrency=3, strict_commands=False)
    client = QuickShards([], shard_count=3)
    task, restore = await start_sharded(fake, client)
    try:
        sessions = await fake.wait_shards([0, 1, 2])
        await asyncio.wait_for(client.wait_until_ready(), 5)
        for shard, session in sessions.items():  # READY and GUILD_CREATE: only the shard's own guild
            created = [d["id"] for _, t, d in session.events if t == "GUILD_CREATE"]
            assert created == [guild_id_on_shard(shard, 3)] and session.identify["shard"] == [shard, 3]
        assert sorted(g.shard_id for g in client.guilds) == [0, 1, 2]
        for shard in range(3):
            gid = guild_id_on_shard(shard, 3)
            sent = await fake.send_interaction("hello", guild=gid, user="max")
            [answer] = await sent.wait()
            assert sent.shard == shard == shard_of(gid, 3) and answer.content == f"hello from guild {gid}"
        dm = await fake.send_interaction("hello", dm=True, user="max")
        [answer] = await dm.wait()
        assert dm.shard == 0 and answer.content == "hello from guild None"
        limits = await client.fetch_session_start_limits()  # GET /gateway/bot, as a bot reads it
        assert (limits.max_concurrency, limits.total, limits.remaining) == (3, 1000, 997)
        assert (await client.http.get_bot_gateway())[0] == 3
        assert fake.identify_violations == [] and [r.bucket for r in fake.identify_log] == [0, 1, 2]
    finally:
        await stop_sharded(fake, client, task, restore)


async def test_two_identifies_of_one_bucket_within_5_s_are_recorded_as_a_violation() -> None:
    fake = FakeDiscord(token=token_for(), guilds=one_guild_per_shard(2), strict_commands=False)  # max_concurrency 1
    client = QuickShards([], shard_count=2)  # no pause at all: shard 1 follows shard 0 at once
    task, restore = await start_sharded(fake, client)
    try:
        await fake.wait_shards([0, 1])
        [(earlier, too_soon)] = fake.identify_violations
        assert (earlier.shard_id, too_soon.shard_id, too_soon.bucket) == (0, 1, 0)
        assert too_soon.at - earlier.at < 5.0 and too_soon.accepted  # recorded only: enforce_identify_limit is off
    finally:
        await stop_sharded(fake, client, task, restore)


async def test_an_enforced_bucket_rule_invalidates_the_early_identify_and_the_shard_identifies_again() -> None:
    fake = FakeDiscord(token=token_for(), guilds=one_guild_per_shard(2), strict_commands=False,
                       enforce_identify_limit=True, identify_window=0.3)
    client = QuickShards([0.0, 0.0, 0.35], shard_count=2)  # shard 1 comes too soon, then waits its turn
    task, restore = await start_sharded(fake, client)
    try:
        await fake.wait_shards([0, 1])
        assert [(r.shard_id, r.accepted) for r in fake.identify_log] == [(0, True), (1, False), (1, True)]
        assert len(fake.identify_violations) == 1
        assert [s.shard for s in fake.sessions] == [(0, 2), (1, 2)]  # the refused IDENTIFY made no session
        sent = await fake.send_interaction("hello", guild=guild_id_on_shard(1, 2), user="max")
        await sent.wait()
        assert sent.shard == 1
    finally:
        await stop_sharded(fake, client, task, restore)
