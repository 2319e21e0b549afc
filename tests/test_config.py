"""Settings: validated by name, secrets never shown."""

from __future__ import annotations

import logging

import pytest

from bot.config import ConfigError, load_config, secrets_of


def test_defaults_need_nothing():
    cfg = load_config(environ={}, env_file=None)
    assert cfg.db_path == "careerbot.db" and cfg.platforms == []


def test_secrets_do_not_appear_in_repr_or_logs(caplog):
    cfg = load_config(environ={"DISCORD_TOKEN": "abc.def.ghi", "SLACK_BOT_TOKEN": "xoxb-123", "SLACK_APP_TOKEN": "xapp-9"}, env_file=None)
    assert cfg.platforms == ["discord", "slack"]
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("config: %s %r", cfg, cfg)
    shown = repr(cfg) + str(cfg) + caplog.text
    for secret in ("abc.def.ghi", "xoxb-123", "xapp-9"):
        assert secret not in shown
    assert cfg.discord_token.reveal() == "abc.def.ghi"


@pytest.mark.parametrize(
    "env, name",
    [
        ({"CAREERBOT_LOG_LEVEL": "chatty"}, "CAREERBOT_LOG_LEVEL"),
        ({"SLACK_BOT_TOKEN": "xoxp-wrong-kind"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "nope"}, "SLACK_APP_TOKEN"),
        ({"DISCORD_TOKEN": "has space"}, "DISCORD_TOKEN"),
        ({"CAREERBOT_DB": "a\x00b"}, "CAREERBOT_DB"),
        ({"CAREERBOT_ALLOW_PRIVATE_FEEDS": "maybe"}, "CAREERBOT_ALLOW_PRIVATE_FEEDS"),
        ({"CAREERBOT_PWC_API_URL": "ftp://paperswithcode.co"}, "CAREERBOT_PWC_API_URL"),
    ],
)
def test_bad_values_name_the_variable_without_echoing_secrets(env, name):
    with pytest.raises(ConfigError) as info:
        load_config(environ=env, env_file=None)
    assert name in str(info.value)
    if "TOKEN" in name:
        assert list(env.values())[0] not in str(info.value)


def test_private_feeds_are_refused_unless_allowed():
    assert load_config(environ={}, env_file=None).allow_private_feeds is False
    assert load_config(environ={"CAREERBOT_ALLOW_PRIVATE_FEEDS": "1"}, env_file=None).allow_private_feeds is True


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bot:Sup3r-Secret-Pw@db.example:99999/careerbot",  # port out of range
        "postgresql://bot:Sup3r-Secret-Pw@db.example:fivefour/careerbot",  # not a number
        "postgresql://bot:Sup3r-Secret-Pw@db.example/care bot",  # a space
        "mysql://bot:Sup3r-Secret-Pw@db.example/careerbot",  # another database
    ],
)
def test_a_bad_database_url_is_named_without_its_password(url):
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CAREERBOT_DB": url}, env_file=None)
    assert "CAREERBOT_DB" in str(info.value) and "Sup3r-Secret-Pw" not in str(info.value)


def test_a_database_password_is_never_shown_nor_logged(caplog):
    url = "postgresql://bot:Sup3r%40Secret@db.example:5432/careerbot?search_path=bot"
    cfg = load_config(environ={"CAREERBOT_DB": url}, env_file=None)
    assert cfg.db_path == url  # used as given
    assert cfg.db_label == "postgresql://bot:***@db.example:5432/careerbot?search_path=bot"
    assert "Secret" not in repr(cfg) + str(cfg)
    assert {"Sup3r@Secret", "Sup3r%40Secret"} <= set(secrets_of(cfg))  # what the log redactor masks
    assert load_config(environ={"CAREERBOT_DB": "/srv/careerbot/careerbot.db"}, env_file=None).db_label == "/srv/careerbot/careerbot.db"


def test_serve_roles_and_shards_are_checked_before_anything_starts() -> None:
    from bot.config import parse_roles, parse_shards

    assert parse_roles("gateway, sender") == frozenset({"gateway", "sender"})
    with pytest.raises(ConfigError, match="'senders' is not one"):
        parse_roles("worker,senders")
    assert parse_shards("0-2", 6) == ((0, 1, 2), 6)
    assert parse_shards("3,5", 6) == ((3, 5), 6)
    with pytest.raises(ConfigError, match="needs --shard-count"):
        parse_shards("0-2", None)
    with pytest.raises(ConfigError, match="shard 6 does not exist"):
        parse_shards("4-6", 6)
    with pytest.raises(ConfigError, match="from low to high"):
        parse_shards("2-0", 6)


def test_slack_oauth_needs_both_halves_and_never_shows_the_secret() -> None:
    base = {"SLACK_SIGNING_SECRET": "abc123"}
    config = load_config({**base, "SLACK_CLIENT_ID": "123.456", "SLACK_CLIENT_SECRET": "shh-secret"}, env_file=None)
    assert config.slack_oauth and config.platforms == ["slack"]
    assert "shh-secret" not in repr(config)
    with pytest.raises(ConfigError, match="go together"):
        load_config({**base, "SLACK_CLIENT_ID": "123.456"}, env_file=None)
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID"):
        load_config({**base, "SLACK_CLIENT_ID": "abc", "SLACK_CLIENT_SECRET": "x"}, env_file=None)


@pytest.mark.parametrize("value", ["abc", "1", "-5", "99999", "2.5"])
def test_a_bad_delivery_lease_is_named_before_anything_starts(value: str) -> None:
    with pytest.raises(ConfigError, match="CAREERBOT_DELIVERY_LEASE_SECONDS=.* whole number of seconds from 2 to 3600"):
        load_config({"CAREERBOT_DELIVERY_LEASE_SECONDS": value}, env_file=None)
    assert load_config({"CAREERBOT_DELIVERY_LEASE_SECONDS": "30"}, env_file=None).delivery_lease == 30.0
