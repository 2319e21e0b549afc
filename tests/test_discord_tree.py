"""The Discord command tree is generated from the registry and fits Discord's limits."""

from __future__ import annotations

import base64
import re

from bot.adapters.discord import MANAGE_GUILD, application_id_from_token, command_tree, invite_url, tree_hash
from bot.registry import Registry
from commands import FEATURES

NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


def real_tree() -> list[dict]:
    registry = Registry()
    for feature in FEATURES:
        feature.register(registry)
    return command_tree(registry)


def test_every_command_and_option_fits_discords_limits():
    tree = real_tree()
    assert 1 <= len(tree) <= 100
    for command in tree:
        assert NAME.match(command["name"]) and 1 <= len(command["description"]) <= 100
        options = command["options"]
        assert len(options) <= 25
        for option in options:
            leaves = option["options"] if option["type"] == 1 else [option]
            assert NAME.match(option["name"]) and 1 <= len(option["description"]) <= 100
            required_seen_optional = False
            for leaf in leaves:
                assert NAME.match(leaf["name"]) and 1 <= len(leaf["description"]) <= 100
                assert len(leaf.get("choices", [])) <= 25
                if not leaf["required"]:
                    required_seen_optional = True
                else:
                    assert not required_seen_optional, f"/{command['name']} {option['name']}: required after optional"


def test_the_tree_mirrors_the_registry():
    by_name = {c["name"]: c for c in real_tree()}
    assert set(by_name) == {"help", "config", "me", "advice", "digest", "paper", "papers", "postings", "alerts", "studygroup", "checkin", "streak", "leaderboard"}
    advice = {o["name"]: o for o in by_name["advice"]["options"]}
    assert set(advice) == {"ask", "topics", "topic", "vote", "report"}  # the default subcommand is named
    assert advice["topic"]["options"][0]["autocomplete"] is True
    assert advice["ask"]["options"][0]["required"] is False  # /advice ask alone explains how to ask
    assert [c["value"] for c in advice["vote"]["options"][1]["choices"]] == ["up", "down"]
    digest_add = next(o for o in by_name["digest"]["options"] if o["name"] == "add")
    channel = next(o for o in digest_add["options"] if o["name"] == "channel")
    assert channel["type"] == 7 and channel["channel_types"] == [0, 5] and channel["required"] is False
    remove = next(o for o in by_name["digest"]["options"] if o["name"] == "remove")
    assert remove["options"][0]["type"] == 4 and remove["options"][0]["min_value"] == 1
    keywords = next(o for o in by_name["papers"]["options"] if o["name"] == "keywords")
    assert [c["value"] for c in keywords["options"][0]["choices"]] == ["add", "remove", "clear"]


def test_members_do_not_see_moderator_only_features_but_do_see_mixed_ones():
    by_name = {c["name"]: c for c in real_tree()}
    assert by_name["config"]["default_member_permissions"] == str(MANAGE_GUILD)
    assert by_name["papers"]["default_member_permissions"] == str(MANAGE_GUILD)
    assert "default_member_permissions" not in by_name["digest"]  # /digest list is for members
    assert "default_member_permissions" not in by_name["advice"]
    assert by_name["config"]["contexts"] == [0]  # server-only commands are not offered in DMs
    assert by_name["advice"]["contexts"] == [0, 1]


def test_the_hash_changes_only_with_the_tree():
    assert tree_hash(real_tree()) == tree_hash(real_tree())
    changed = real_tree()
    changed[0]["description"] += "!"
    assert tree_hash(changed) != tree_hash(real_tree())


def test_the_invite_link_asks_for_exactly_what_the_bot_needs():
    token = base64.b64encode(b"123456789012345678").decode().rstrip("=") + ".GhIjKl.secret-part"
    assert application_id_from_token(token) == "123456789012345678"
    url = invite_url("123456789012345678")
    assert "client_id=123456789012345678" in url and "scope=bot+applications.commands" in url
    assert "permissions=19456" in url  # View Channels + Send Messages + Embed Links
    assert application_id_from_token("not a token") is None
