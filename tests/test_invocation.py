"""The seam adapters plug into: typed invocation, references, platform limits, command names, buttons."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import frozen_clock
from bot.context import Context
from bot.delivery import Limits, Sent, Target
from bot.frontend import Frontend
from bot.models import ActionButton, Actor, Card, ChannelRef, Place, Reply, Role, UserRef
from bot.registry import Arg, Registry
from commands import FEATURES, create_app


class Toy:
    """A feature declared only for these tests, so every Arg kind and failure mode is covered."""

    @staticmethod
    def register(registry: Registry) -> None:
        @registry.command(
            "roll",
            help="Roll dice.",
            args=[
                Arg("sides", "sides", kind="int", min_value=2, max_value=100),
                Arg("mode", "how", required=False, default="sum", choices=["sum", "max"]),
            ],
        )
        async def roll(ctx: Context, sides: int, mode: str) -> Reply:
            return Reply(text=f"{sides}/{mode}")

        @registry.command(
            "note",
            help="Keep a note.",
            args=[
                Arg("text", "words", rest=True, max_len=50),
                Arg("where", "a channel", kind="channel", required=False),
            ],
        )
        async def note(ctx: Context, text: str, where: ChannelRef | None) -> Reply:
            return Reply(text=f"{text}|{where.id if where else '-'}")

        @registry.command(
            "tune",
            help="Typed values.",
            args=[
                Arg("loud", "on or off", kind="bool"),
                Arg("ratio", "a ratio", kind="number", min_value=0, max_value=1),
                Arg("who", "someone", kind="user", required=False),
            ],
        )
        async def tune(ctx: Context, loud: bool, ratio: float, who: UserRef | None) -> Reply:
            return Reply(text=f"{loud}/{ratio}/{who.id if who else '-'}")

        @registry.command("purge", help="Moderators only.", min_role=Role.MODERATOR, dm_ok=False)
        async def purge(ctx: Context) -> Reply:
            return Reply(text="purged")


MEMBER = Actor("console:ada", "ada", Role.MEMBER)
MOD = Actor("console:grace", "grace", Role.MODERATOR)
HERE = Place("console", "ws", "general", "general")
DM = Place("console", None, "dm:ada", "", is_dm=True)


@pytest.fixture
async def toy(db_path: Path):
    app = await App.create(db_path, [Toy], clock=frozen_clock())
    yield app
    await app.close()


# (line, path, values, actor, place, what the reply must say)
TABLE = [
    ("/roll 6", "roll", {"sides": "6"}, MEMBER, HERE, "6/sum"),
    ("/roll 6 max", "roll", {"sides": "6", "mode": "max"}, MEMBER, HERE, "6/max"),
    ("/roll 6 avg", "roll", {"sides": "6", "mode": "avg"}, MEMBER, HERE, "not a valid mode: expected one of sum, max"),
    ("/roll 1000", "roll", {"sides": "1000"}, MEMBER, HERE, "from 2 to 100, not 1000"),
    ("/roll", "roll", {}, MEMBER, HERE, "needs SIDES"),
    ("/note " + "x" * 60, "note", {"text": "x" * 60}, MEMBER, HERE, "keep it under 50"),
    ("/note hello world", "note", {"text": "hello world"}, MEMBER, HERE, "hello world|-"),
    ("/note hello #news", "note", {"text": "hello", "where": "#news"}, MEMBER, HERE, "hello|news"),
    ("/purge", "purge", {}, MEMBER, HERE, "is for moderators and above"),
    ("/purge", "purge", {}, MOD, DM, "only works in a server channel"),
    ("/purge", "purge", {}, MOD, HERE, "purged"),
    ("/tune yes 0.5", "tune", {"loud": "yes", "ratio": "0.5"}, MEMBER, HERE, "True/0.5/-"),
    ("/tune maybe 0.5", "tune", {"loud": "maybe", "ratio": "0.5"}, MEMBER, HERE, "loud must be on or off"),
    ("/tune off nan", "tune", {"loud": "off", "ratio": "nan"}, MEMBER, HERE, "ratio must be a number from 0 to 1"),
    ("/tune off 2", "tune", {"loud": "off", "ratio": "2"}, MEMBER, HERE, "from 0 to 1, not 2"),
    ("/tune off 1 <@U1|ilya>", "tune", {"loud": "off", "ratio": "1", "who": "<@U1|ilya>"}, MEMBER, HERE, "False/1.0/U1"),
]


@pytest.mark.parametrize("line, path, values, actor, place, expected", TABLE)
async def test_text_and_typed_invocation_give_the_same_reply(toy, line, path, values, actor, place, expected):
    typed = await toy.invoke(actor, place, path, values)
    texted = await toy.handle(actor, place, line)
    assert expected in typed.text
    assert (typed.text, typed.kind, typed.ephemeral) == (texted.text, texted.kind, texted.ephemeral)


async def test_typed_values_arrive_natively_from_platforms(toy):
    """Discord sends integers, booleans and resolved channels as such; they pass the same checks."""
    assert (await toy.invoke(MEMBER, HERE, "roll", {"sides": 6})).text == "6/sum"
    assert "not 1000" in (await toy.invoke(MEMBER, HERE, "roll", {"sides": 1000})).text
    assert (await toy.invoke(MEMBER, HERE, "tune", {"loud": True, "ratio": 0.25})).text == "True/0.25/-"
    reply = await toy.invoke(MEMBER, HERE, "note", {"text": "hi", "where": ChannelRef("C9", "news")})
    assert reply.text == "hi|C9"
    assert "has no option 'colour'" in (await toy.invoke(MEMBER, HERE, "roll", {"sides": 6, "colour": "red"})).text
    assert "There is no command" in (await toy.invoke(MEMBER, HERE, "nope", {})).text


class ClubChat(Frontend):
    """A platform whose channels have ids unlike their names, as Discord's and Slack's do."""

    platform = "clubchat"
    CHANNELS = {"news": "C0NEWS", "mods": "C0MODS", "locked": "C0LOCK"}

    async def find_channel(self, place: Place, name: str) -> ChannelRef | None:
        return ChannelRef(self.CHANNELS[name], name) if name in self.CHANNELS else None

    async def channel_name(self, place: Place, channel_id: str) -> str:
        return {v: k for k, v in self.CHANNELS.items()}.get(channel_id, "")

    async def can_post(self, place: Place, channel_id: str) -> bool | None:
        return channel_id != "C0LOCK"


class Recorder:
    platform = "clubchat"
    limits = Limits()

    def __init__(self) -> None:
        self.posts: list[tuple[Target, Reply]] = []

    async def send(self, target: Target, reply: Reply, key: str) -> Sent:
        self.posts.append((target, reply))
        return Sent(f"m{len(self.posts)}", target.channel)


CLUB = Place("clubchat", "T1", "C0GEN", "general")


@pytest.fixture
async def club(db_path: Path):
    app = await create_app(db_path, clock=frozen_clock("2026-01-05T08:00:00+00:00"))
    app.add_frontend(ClubChat())
    recorder = Recorder()
    app.outbox.add_transport(recorder)
    yield app, recorder
    await app.close()


async def test_a_channel_typed_by_name_is_stored_and_posted_to_by_id(club):
    app, recorder = club
    added = await app.handle(MOD, CLUB, "/digest add tips daily 09:00 #news")
    assert added.kind == "info", added.text
    assert "in #news" in added.text
    assert "#news" in (await app.handle(MOD, CLUB, "/digest list")).plain_text()
    await app.clock.advance(timedelta(hours=1))  # 08:00 -> 09:00 UTC: the digest is due
    assert [t.channel for t, _ in recorder.posts] == ["C0NEWS"]


async def test_unknown_or_closed_channels_are_refused_before_anything_is_stored(club):
    app, _ = club
    unknown = await app.handle(MOD, CLUB, "/digest add tips daily 09:00 #nowhere")
    assert unknown.kind == "error" and "can't find a channel called #nowhere" in unknown.text
    locked = await app.handle(MOD, CLUB, "/digest add tips daily 09:00 #locked")
    assert locked.kind == "error" and "can't post in #locked" in locked.text
    assert "No digests yet" in (await app.handle(MOD, CLUB, "/digest list")).text


async def test_settings_hold_channel_ids_and_show_names(club):
    app, _ = club
    await app.handle(MOD, CLUB, "/config set mod_channel #mods")
    assert await app.settings.get(CLUB, "mod_channel") == "C0MODS"
    assert "mod_channel = #mods" in (await app.handle(MOD, CLUB, "/config show")).plain_text()
    await app.handle(MOD, CLUB, "/config set timezone Europe/Berlin #news")
    assert await app.settings.get(Place("clubchat", "T1", "C0NEWS"), "timezone") == "Europe/Berlin"
    assert await app.settings.get(CLUB, "timezone") == "UTC"


async def test_slack_style_mentions_make_moderators(club):
    app, _ = club
    admin = Actor("clubchat:UADMIN", "root", Role.ADMIN)
    ilya = Actor("clubchat:U1", "ilya", Role.MEMBER)
    helper = Actor("clubchat:U7", "sam", Role.MEMBER, role_ids=("S55",))
    assert (await app.handle(ilya, CLUB, "/config show")).kind == "refusal"
    done = await app.handle(admin, CLUB, "/config set mod_users <@U1|ilya>")
    assert done.kind == "info", done.text
    await app.handle(admin, CLUB, "/config set mod_roles <!subteam^S55|@mentors>")
    assert (await app.handle(ilya, CLUB, "/config show")).kind == "info"
    assert (await app.handle(helper, CLUB, "/config show")).kind == "info"


async def test_free_text_shows_mentions_as_names(toy):
    reply = await toy.handle(MEMBER, HERE, "/note ask <@U1|ilya> in <#C2|papers> about it")
    assert reply.text == "ask @ilya in #papers about it|-"


def test_the_real_commands_fit_discord_and_slack():
    registry = Registry()
    for feature in FEATURES:
        feature.register(registry)
    assert registry.validate("discord") == []
    assert registry.validate("slack") == []


def test_validate_names_every_broken_limit():
    registry = Registry()
    group = registry.group("Bad Name", "x" * 101)

    @group.command("ok", "fine", args=[Arg("pick", "choose", choices=[f"c{i}" for i in range(26)])])
    async def ok(ctx: Context, pick: str) -> Reply:  # pragma: no cover - never run
        return Reply()

    group.handler = ok  # a group that also runs by itself
    problems = "\n".join(registry.validate("discord"))
    assert "name 'Bad Name'" in problems
    assert "description is 101 characters" in problems
    assert "26 choices; discord allows 25" in problems
    assert "cannot exist on discord" in problems
    assert "26 choices" not in "\n".join(registry.validate("slack"))


class SlackLike(Frontend):
    platform = "slacklike"

    def __init__(self) -> None:
        super().__init__(prefix="/careerbot ")


class DiscordLike(Frontend):
    platform = "discordlike"
    short_forms = False


COMMAND_LINES = [
    "/advice", "/advice topics", "/advice topic myth", "/advice what is the capital of france",
    "/advice how do i find an internship", "/help", "/help advice", "/adivce x", "/paper today", "/paper nonsense",
    "/paper search", "/digest list", "/digest add tips daily 09:00", "/digest pause 1", "/digest remove 99",
    "/config show", "/config set digest_quiet_line quiet", "/papers follow cs.LG", "/papers keywords add",
    "/config set features advice", "/digest list", "hello",
]


async def test_command_names_in_replies_come_from_the_front_end(db_path: Path):
    app = await create_app(db_path, clock=frozen_clock())
    try:
        app.add_frontend(SlackLike())
        place = Place("slacklike", "T1", "C1", "general")
        roots = "|".join(app.registry.commands)
        bare = re.compile(rf"(?<!careerbot )/({roots})\b")
        seen = 0
        for line in COMMAND_LINES:
            reply = await app.handle(MOD, place, line)
            for message in reply.messages():
                text = message.plain_text()
                seen += text.count("/careerbot ")
                assert not bare.search(text), (line, text)
        assert seen > 20
    finally:
        await app.close()


async def test_discord_names_default_subcommands_in_full(db_path: Path):
    app = await create_app(db_path, clock=frozen_clock())
    try:
        app.add_frontend(DiscordLike())
        place = Place("discordlike", "G1", "1", "general")
        topics = await app.handle(MEMBER, place, "/advice topics")
        assert "/advice ask YOUR QUESTION" in topics.plain_text()
        bad = await app.invoke(MEMBER, place, "paper show", {"id": "not-an-id"})
        assert "/paper show 2401.01234" in bad.text
    finally:
        await app.close()


async def test_a_member_clicking_a_moderator_button_is_refused(console):
    await console.say(":as mod")
    added = await console.say("/digest add tips daily 09:00")
    assert added["cards"][0]["buttons"][0]["command"] == "digest preview"
    await console.say(":as member")
    listed = await console.session.feed("/digest list")
    assert listed[-1]["reply"]["cards"][0]["buttons"][0]["label"] == "Pause #1"
    refused = await console.say(":click 1")
    assert refused["kind"] == "refusal" and "is for moderators" in refused["text"]
    await console.say(":as mod")
    await console.say("/digest list")
    assert "is paused" in (await console.say(":click 1"))["text"]
    listed = await console.say("/digest list")
    assert listed["cards"][0]["buttons"][0]["label"] == "Resume #1"
    assert "N from 1 to 1" in (await console.say(":click 7"))["text"]


async def test_buttons_carry_a_platform_id_and_forged_ids_are_refused(app):
    from bot.buttons import decode, encode

    button = ActionButton("Show", "advice topic", {"name": "myth-phd-required"})
    assert len(encode(button)) <= 100 and decode(encode(button)) == ("advice topic", {"name": "myth-phd-required"})
    reply = await app.click(MEMBER, HERE, encode(button))
    assert reply.cards and reply.cards[0].title
    forged = await app.click(MEMBER, HERE, "rm -rf /")
    assert forged.kind == "error" and "no longer works" in forged.text
    with pytest.raises(ValueError):
        ActionButton("Too much", "advice topic", {"name": "x" * 120})
    with pytest.raises(ValueError):
        ActionButton("Odd", "advice topic", style="blinking")


async def test_advice_offers_buttons_for_the_other_matches(console):
    reply = await console.say("/advice how do i prepare for the coding interview")
    buttons = [b for b in reply["cards"][0]["buttons"] if b["command"] == "advice topic"]
    assert buttons and [b["command"] for b in reply["cards"][0]["buttons"][len(buttons):]] == ["advice vote"] * 2
    shown = await console.say(":click 1")
    assert shown["cards"][0]["title"] in {b["label"].removeprefix("Show: ") for b in buttons}


async def test_command_flags_are_known_before_the_handler_runs(app):
    assert app.registry.resolve("config show").ephemeral
    assert app.registry.resolve("digest preview").ephemeral
    assert not app.registry.resolve("digest list").ephemeral
    assert app.registry.resolve("paper search").slow and app.registry.resolve("paper show").slow
    assert not app.registry.resolve("advice ask").slow
    reply = await app.handle(MOD, Place("console", "ws", "general", "general"), "/config show")
    assert reply.ephemeral


def test_card_buttons_survive_the_queue_round_trip():
    reply = Reply(cards=[Card(buttons=[ActionButton("Pause #1", "digest pause", {"id": "1"}, "danger")])])
    assert Reply.from_dict(reply.to_dict()) == reply


def test_the_core_imports_no_feature():
    """``bot/`` must not depend on ``commands/``: features are handed to the app by the entry point."""
    import subprocess
    import sys

    code = (
        "import sys, bot.app, bot.cli, bot.registry, bot.delivery, bot.adapters.console, bot.adapters.discord_rest; "
        "print(sorted(m for m in sys.modules if m == 'commands' or m.startswith('commands.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_the_console_shows_a_notice_as_its_own_private_message(db_path: Path):
    from bot.adapters.console import ConsoleSession
    from bot.render.console import render
    from bot.storage import delivery_repo

    app = await create_app(db_path, clock=frozen_clock())
    try:
        await delivery_repo.add_problem(app.db, "console", "console:console", "news", "news", "the bot was removed", "2026-01-05T09:00:00+00:00")
        app.problem_workspaces.add("console:console")
        session = ConsoleSession(app, user="grace", role=Role.MODERATOR)
        events = await session.feed("/advice topics")
        assert [e["type"] for e in events] == ["reply", "notice"]
        assert "Moderator notice" not in str(events[0]["reply"])
        assert "the bot was removed" in events[1]["reply"]["text"] and events[1]["reply"]["ephemeral"]
        assert [e["type"] for e in await session.feed("/advice topics")] == ["reply"]  # told once
        listed = Reply(cards=[Card(body="x", buttons=[ActionButton("Pause #1", "digest pause", {"id": "1"})])])
        assert "[1: Pause #1 → /digest pause 1]" in render(listed)
    finally:
        await app.close()
