"""Parsing, dispatch, roles and failure modes, as a user in the console sees them."""

from __future__ import annotations

import logging

import pytest

from bot.context import Context
from bot.models import Actor, Place, Reply, Role
from bot.registry import Arg, CommandError, Registry


@pytest.fixture
def registry() -> Registry:
    reg = Registry()

    @reg.command("echo", help="Repeat text.", args=[Arg("text", "words", rest=True, max_len=100)])
    async def echo(ctx: Context, text: str) -> Reply:
        return Reply(text=text)

    @reg.command(
        "roll",
        help="Roll dice.",
        args=[
            Arg("sides", "sides", kind="int", min_value=2, max_value=100),
            Arg("mode", "how", required=False, default="sum", choices=["sum", "max"]),
        ],
    )
    async def roll(ctx: Context, sides: int, mode: str) -> Reply:
        return Reply(text=f"{sides}/{mode}")

    @reg.command("purge", help="Moderators only.", min_role=Role.MODERATOR, dm_ok=False)
    async def purge(ctx: Context) -> Reply:
        return Reply(text="purged")

    @reg.command("boom", help="Always fails.")
    async def boom(ctx: Context) -> Reply:
        raise RuntimeError("secret internal detail /etc/passwd")

    @reg.command("oops", help="Fails politely.")
    async def oops(ctx: Context) -> Reply:
        raise CommandError("That feed is paused.")

    return reg


def ctx(app, role: Role = Role.MEMBER, dm: bool = False) -> Context:
    place = Place("console", "ws", "dm:x" if dm else "general", "general", is_dm=dm)
    return Context(Actor("console:x", "x", role), place, app)


async def run(registry: Registry, line: str, role: Role = Role.MEMBER, dm: bool = False) -> Reply:
    return await registry.dispatch_line(ctx(None, role, dm), line)


async def test_unknown_command_suggests_the_closest(registry):
    reply = await run(registry, "/rol 6")
    assert reply.kind == "error"
    assert "/rol" in reply.text and "Did you mean /roll?" in reply.text


async def test_typed_argument_errors_say_what_was_expected(registry):
    reply = await run(registry, "/roll six")
    assert reply.kind == "error"
    assert "whole number from 2 to 100" in reply.text and "'six'" in reply.text
    assert "Usage: /roll SIDES [MODE]" in reply.text
    assert "from 2 to 100, not 1000" in (await run(registry, "/roll 1000")).text


async def test_choices_defaults_and_missing_arguments(registry):
    assert (await run(registry, "/roll 6")).text == "6/sum"
    assert (await run(registry, "/roll 6 MAX")).text == "6/max"
    bad = await run(registry, "/roll 6 avg")
    assert "one of sum, max" in bad.text
    missing = await run(registry, "/roll")
    assert missing.kind == "error" and "needs SIDES" in missing.text
    extra = await run(registry, "/roll 6 sum more")
    assert "got more than it takes" in extra.text


async def test_free_text_keeps_apostrophes_and_unbalanced_quotes(registry):
    assert (await run(registry, "/echo what's a \"good project")).text == "what's a \"good project"
    assert (await run(registry, '/echo "fully quoted"')).text == "fully quoted"


async def test_roles_are_ordered_and_refusals_are_clear(registry):
    refused = await run(registry, "/purge", Role.MEMBER)
    assert refused.kind == "refusal" and refused.ephemeral
    assert "moderators and above" in refused.text and "you are a member" in refused.text
    assert (await run(registry, "/purge", Role.MODERATOR)).text == "purged"
    assert (await run(registry, "/purge", Role.OWNER)).text == "purged"


async def test_dm_only_commands_are_refused_in_dms(registry):
    reply = await run(registry, "/purge", Role.ADMIN, dm=True)
    assert reply.kind == "refusal" and "only works in a server channel" in reply.text


async def test_a_crashing_command_apologises_and_logs_the_traceback(registry, caplog):
    with caplog.at_level(logging.ERROR, logger="careerbot.registry"):
        reply = await run(registry, "/boom")
    assert reply.kind == "error" and reply.text.startswith("Sorry, something went wrong")
    assert "secret internal detail" not in reply.text and "Traceback" not in reply.text
    ref = reply.text.split("ref ")[1].split(")")[0]
    record = next(r for r in caplog.records if ref in r.getMessage())
    assert record.exc_info and "secret internal detail" in str(record.exc_info[1])


async def test_command_errors_reach_the_user_verbatim(registry):
    reply = await run(registry, "/oops")
    assert reply.kind == "error" and reply.text == "That feed is paused."


@pytest.mark.parametrize(
    "line, expected",
    [
        ("", "Type a command"),
        ("   ", "Type a command"),
        ("/", "Type a command"),
        ("hello bot", "Commands start with /"),
        ("/" + "x" * 10_000, "at most 4,000"),
        ("/echo " + "y" * 500, "keep it under 100"),
    ],
)
async def test_garbage_lines_get_a_short_clear_reply(registry, line, expected):
    reply = await run(registry, line)
    assert reply.kind == "error"
    assert expected in reply.text
    assert len(reply.text) < 300


async def test_control_characters_are_stripped_before_parsing(registry):
    reply = await run(registry, "/echo a\x1b[31mred\x00\x07 text\u202e")
    assert reply.text == "a[31mred text"


async def test_replies_never_carry_mass_or_role_mentions(registry):
    reply = await run(registry, "/echo hi @everyone and @here <@&123> <!channel> <!here|here>")
    for raw in ("@everyone", "@here", "<@&123>", "<!channel>", "<!here"):
        assert raw not in reply.text
    assert "everyone" in reply.text  # still readable
    unknown = await run(registry, "/@everyone")
    assert "@everyone" not in unknown.text


def test_declarations_are_checked():
    reg = Registry()
    with pytest.raises(ValueError):

        @reg.command("bad", help="", args=[Arg("a", "", rest=True), Arg("b", "")])
        async def bad(ctx):  # pragma: no cover - never registered
            return Reply()

    reg.group("dup", help="")
    with pytest.raises(ValueError):
        reg.group("dup", help="")
