"""/config through the console: cascade, validation, audit, undo, export/import, gates."""

from __future__ import annotations

import json
import re

import pytest

from bot.models import Actor, Place, Role

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)


async def as_mod(console) -> None:
    await console.say(":as mod")


async def test_members_are_refused_and_nothing_changes(console) -> None:
    reply = await console.say("/config set timezone Europe/Berlin")
    assert reply["kind"] == "refusal"
    assert "moderator" in reply["text"]
    await as_mod(console)
    assert "timezone = UTC" in await console.text("/config show")


async def test_cascade_channel_over_server_over_default(console) -> None:
    await as_mod(console)
    await console.say("/config set timezone Europe/Berlin")
    await console.say("/config set timezone Asia/Tokyo #jobs")
    general = await console.text("/config show")
    jobs = await console.text("/config show #jobs")
    assert "timezone = Europe/Berlin" in general and "Set server-wide" in general
    assert "timezone = Asia/Tokyo" in jobs and "Set for #jobs" in jobs
    await console.say("/config reset timezone #jobs")
    assert "timezone = Europe/Berlin" in await console.text("/config show #jobs")
    await console.say("/config reset timezone")
    assert "timezone = UTC" in await console.text("/config show #jobs")


BAD_VALUES = [
    ("timezone", "Mars/Olympus_Mons", "IANA timezone"),
    ("timezone", "../../etc/passwd", "IANA timezone"),
    ("timezone", "@everyone", "IANA timezone"),
    ("date_format", "yyyy/mm/dd", "one of iso, dmy, mdy"),
    ("time_format", "25h", "one of 24h, 12h"),
    ("features", "advice,lasers", "comma-separated list of"),
    ("features", "<script>", "comma-separated list of"),
    ("mod_roles", "a" * 80, "role mentions or ids"),
    ("mod_users", "bob,al!ce", "'al!ce' is not a user"),
    ("mod_channel", "not a channel", "channel"),
    ("digest_time", "25:00", "HH:MM"),
    ("digest_time", "9", "HH:MM"),
    ("digest_time", "noon-ish", "HH:MM"),
    ("digest_quiet_line", "x" * 250, "at most 200"),
    ("grace", "7", "one of 0, 1, 2, 3"),
    ("grace", "-1", "one of 0, 1, 2, 3"),
    ("paper_categories", "biology.XY", "not an arXiv category; use names like cs.LG"),
    ("paper_categories", "cs.LG;drop", "list of arXiv categories"),
    ("paper_keywords", "k" * 80, "list of keywords"),
]


@pytest.mark.parametrize("key,value,accepted", BAD_VALUES)
async def test_bad_value_for_every_key_explains_and_changes_nothing(console, key, value, accepted) -> None:
    await console.say(":as admin")
    reply = await console.say(f"/config set {key} {value}")
    assert reply["kind"] == "error", reply
    assert reply["text"].startswith("Nothing changed")
    assert accepted in reply["text"]
    assert "@everyone" not in reply["text"]  # echoed input is defused
    assert "No settings have been changed" in await console.text("/config history")


async def test_every_key_has_a_bad_value_case(app) -> None:
    assert {k for k, _, _ in BAD_VALUES} == set(app.settings.keys)


async def test_unknown_key_and_server_only_keys(console) -> None:
    await as_mod(console)
    reply = await console.say("/config set timezon UTC")
    assert "no setting 'timezon'" in reply["text"] and "Did you mean timezone?" in reply["text"]
    reply = await console.say("/config set mod_channel #mods #general")
    assert "server-wide setting" in reply["text"]
    reply = await console.say("/config set mod_users bob")
    assert "admins and above" in reply["text"]
    await console.say(":as admin")
    assert "→ bob" in (await console.say("/config set mod_users @bob"))["text"]


async def test_history_newest_first_and_undo_is_audited(console) -> None:
    await as_mod(console)
    await console.say("/config set timezone Europe/Berlin")
    await console.say("/config set date_format dmy")
    await console.say("/config set timezone America/New_York")
    reply = await console.say("/config undo")
    assert "America/New_York → Europe/Berlin" in reply["text"]
    history = await console.text("/config history")
    lines = [line for line in history.splitlines() if "UTC ·" in line]
    assert "undo timezone" in lines[0]
    assert "set timezone" in lines[1] and "America/New_York" in lines[1] and "(undone)" in lines[1]
    assert "set date_format" in lines[2]
    # The next undo reverts the next older change, not the undo itself.
    assert "date_format" in (await console.say("/config undo"))["text"]
    show = await console.text("/config show")
    assert "timezone = Europe/Berlin" in show and "date_format = iso" in show
    assert "date_format" in await console.text("/config history date_format")


async def test_export_import_round_trip_and_undo_of_an_import(console) -> None:
    await console.say(":as admin")
    await console.say("/config set timezone Europe/Berlin")
    await console.say("/config set features advice #jobs")
    await console.say("/config set mod_users alice, bob")
    exported = (await console.say("/config export"))["text"]
    doc = json.loads(re.search(r"```json\n(.*)\n```", exported, re.S).group(1))
    assert doc == {
        "careerbot_settings": 1,
        "server": {"mod_users": ["alice", "bob"], "timezone": "Europe/Berlin"},
        "channels": {"jobs": {"features": ["advice"]}},
    }
    doc["server"]["timezone"] = "Asia/Kolkata"
    del doc["channels"]
    reply = await console.say("/config import " + json.dumps(doc))
    assert "Imported 2 change(s)" in reply["text"], reply
    assert "timezone = Asia/Kolkata" in await console.text("/config show")
    assert "features = all" in await console.text("/config show #jobs")
    reply = await console.say("/config undo")
    assert "Asia/Kolkata → Europe/Berlin" in reply["text"] and "features for #jobs: (default) → advice" in reply["text"]
    assert "features = advice" in await console.text("/config show #jobs")


async def test_import_validates_everything_before_changing_anything(console) -> None:
    await console.say(":as admin")
    await console.say("/config set timezone Europe/Berlin")
    bad = {
        "careerbot_settings": 1,
        "server": {"timezone": "Asia/Tokyo", "date_format": "klingon", "no_such_key": 1},
        "channels": {"jobs": {"mod_channel": "#x"}, "bad channel!": {}},
    }
    reply = await console.say("/config import " + json.dumps(bad))
    assert reply["kind"] == "error" and "nothing was changed" in reply["text"]
    for fragment in ("date_format", "no_such_key", "server-wide", "bad channel"):
        assert fragment in reply["text"], fragment
    assert "timezone = Europe/Berlin" in await console.text("/config show")
    for garbage in ("{not json", "[1, 2]", '{"server": {}}', "```json\n{\"careerbot_settings\": 2}\n```"):
        reply = await console.say(f"/config import {garbage}")
        assert reply["kind"] == "error" and "Import refused" in reply["text"], garbage
    assert len([r for r in (await console.text("/config history")).splitlines() if "UTC ·" in r]) == 1


async def test_features_gate_commands_per_channel(console) -> None:
    await as_mod(console)
    await console.say("/config set features digest #quiet")
    await console.say(":in #quiet")
    reply = await console.say("/advice how do I get an internship")
    assert reply["kind"] == "refusal" and "/advice is turned off in #quiet" in reply["text"]
    assert (await console.say("/help"))["kind"] == "info"  # help and config are always on
    await console.say(":in #general")
    assert (await console.say("/advice how do I get an internship"))["kind"] == "info"


async def test_mod_users_and_roles_count_as_moderators(app) -> None:
    place = Place("discord", "g1", "c1", "general")
    admin = Actor("discord:1", "owner", Role.ADMIN)
    bob = Actor("discord:42", "bob")
    carol = Actor("discord:43", "carol", role_ids=("777",))
    assert (await app.handle(bob, place, "/config show")).kind == "refusal"
    await app.handle(admin, place, "/config set mod_users <@42>")
    await app.handle(admin, place, "/config set mod_roles <@&777>")
    assert (await app.handle(bob, place, "/config show")).kind == "info"
    assert (await app.handle(carol, place, "/config show")).kind == "info"
    # Another server's settings do not leak.
    assert (await app.handle(bob, Place("discord", "g2", "c1"), "/config show")).kind == "refusal"


async def test_config_is_refused_in_dms(console) -> None:
    await as_mod(console)
    await console.say(":dm")
    reply = await console.say("/config show")
    assert reply["kind"] == "refusal" and "server channel" in reply["text"]


async def test_a_moderator_import_cannot_reset_admin_only_keys(console) -> None:
    await console.say(":as admin")
    await console.say("/config set mod_users alice")
    await as_mod(console)
    reply = await console.say('/config import {"careerbot_settings": 1, "server": {"timezone": "Asia/Tokyo"}}')
    assert reply["kind"] == "error" and "leaves out mod_users" in reply["text"] and "nothing was changed" in reply["text"]
    show = await console.text("/config show")
    assert "timezone = UTC" in show and "mod_users = alice" in show
