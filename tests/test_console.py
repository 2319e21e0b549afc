"""Console controls: acting as other users, in other places, at other times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.clock import parse_duration


async def test_roles_users_and_places_change_what_the_core_sees(console):
    assert "ada (member) in #general" in await console.text(":whoami")
    assert "now ada (moderator)" in await console.text(":as mod")
    assert "now grace (moderator)" in await console.text(":user grace")
    assert "#study-group" in await console.text(":in #study-group")
    assert "direct message" in await console.text(":dm")
    assert console.session.place.is_dm and console.session.actor.name == "grace"


async def test_tick_moves_the_injected_clock_and_wakes_listeners(console, app):
    seen: list[datetime] = []

    async def listener(now: datetime) -> None:
        seen.append(now)

    app.clock.on_tick(listener)
    before = app.clock.now()
    text = await console.text(":tick 1d2h")
    assert app.clock.now() - before == timedelta(days=1, hours=2)
    assert seen == [app.clock.now()] and "moved forward" in text


@pytest.mark.parametrize("line", [":as king", ":tick", ":tick soon", ":tick -2d", ":tick 500d", ":in", ":user", ":user a b", ":fly"])
async def test_bad_console_controls_explain_themselves(console, app, line):
    before = app.clock.now()
    reply = await console.say(line)
    assert reply["kind"] == "error" and len(reply["text"]) < 200
    assert app.clock.now() == before
    assert console.session.actor.role.label == "member"


def test_durations():
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("1w 2d") == timedelta(days=9)
    for bad in ("", "2", "d", "2 days", "1.5h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_clock_is_timezone_aware():
    from bot.clock import frozen_clock

    assert frozen_clock().now().tzinfo == timezone.utc
