"""Configuration from the environment and an optional ``.env`` file.

Validated once at start so a typo is reported by variable name before anything runs.
Secrets are wrapped so that printing or logging the config can never reveal them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from dotenv import dotenv_values

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """Names the offending variable and what it accepts; never echoes a secret's value."""


class Secret:
    """Holds a token; its repr and str are masked so it cannot leak into logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Config:
    # A file path, or a postgresql:// URL whose password must never be shown: repr leaves it
    # out, and messages show ``db_label`` instead.
    db_path: str = field(repr=False)
    log_level: str
    discord_token: Secret | None
    slack_bot_token: Secret | None
    slack_app_token: Secret | None
    slack_signing_secret: Secret | None
    # Paper sources; configurable so mirrors, tests and air-gapped installs can point elsewhere.
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_rss_url: str = "https://rss.arxiv.org/rss"
    hf_api_url: str = "https://huggingface.co/api/daily_papers"
    pwc_api_url: str = "https://paperswithcode.co/api/v1"
    # Moderator-added feeds may point at private/loopback addresses (tests, a feed on this machine).
    allow_private_feeds: bool = False
    # Discord: guilds to sync commands to instantly (empty: global), and where the API lives.
    discord_guild_ids: tuple[int, ...] = ()
    discord_api_base: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    # Slack: the root slash command, the HTTP listener (when not in Socket Mode), the API host.
    slack_command: str = "/careerbot"
    slack_host: str = "0.0.0.0"
    slack_port: int = 3000
    slack_api_base: str = "https://slack.com/api/"
    log_format: str = "text"  # "json": one JSON object per line, for log shippers
    # /healthz and /metrics for `careerbot serve` (None: off); shares Slack's listener on the same port.
    http_port: int | None = None
    http_host: str = "0.0.0.0"
    # Scale-out (`careerbot serve --roles/--shards/--shard-count`): which parts this process runs,
    # and which Discord shards it connects (None: discord.py's default, one process for all).
    roles: frozenset[str] = frozenset({"gateway", "http", "worker", "sender"})
    discord_shard_ids: tuple[int, ...] | None = None
    discord_shard_count: int | None = None
    # Slack for many workspaces (OAuth install flow): with a client id and secret, each workspace's
    # bot token comes from its installation; SLACK_BOT_TOKEN is then optional.
    slack_client_id: str | None = None
    slack_client_secret: Secret | None = None
    # How long a post being sent stays one process's: past it (the process died mid-send)
    # another process sends it. Longer than any send with its retries and timeouts.
    delivery_lease: float = 120.0

    @property
    def db_label(self) -> str:
        """The database as it may be shown: a file path, or the URL without its password."""
        return db_label(self.db_path)

    @property
    def slack_oauth(self) -> bool:
        """Installed per workspace through /slack/install rather than with one bot token."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def platforms(self) -> list[str]:
        """Which platform adapters have the credentials they need."""
        found = []
        if self.discord_token:
            found.append("discord")
        if self.slack_bot_token and (self.slack_app_token or self.slack_signing_secret):
            found.append("slack")
        elif self.slack_oauth and self.slack_signing_secret:
            found.append("slack")
        return found


def load_config(environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = ".env") -> Config:
    """Reads ``env_file`` (if it exists) under the real environment, which wins."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    level = values.get("CAREERBOT_LOG_LEVEL", "WARNING").strip().upper() or "WARNING"
    if level not in LOG_LEVELS:
        raise ConfigError(f"CAREERBOT_LOG_LEVEL={level[:20]!r} is not valid; use one of {', '.join(LOG_LEVELS)}.")

    log_format = values.get("CAREERBOT_LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"CAREERBOT_LOG_FORMAT={log_format[:20]!r} is not valid; use text or json.")

    db_path = check_db_target(values.get("CAREERBOT_DB", "").strip() or "careerbot.db", "CAREERBOT_DB")

    def secret(name: str, prefix: str | None = None) -> Secret | None:
        raw = values.get(name, "").strip()
        if not raw:
            return None
        if any(ch.isspace() for ch in raw):
            raise ConfigError(f"{name} contains whitespace; paste the token exactly as issued.")
        if prefix and not raw.startswith(prefix):
            raise ConfigError(f"{name} does not look right: it should start with {prefix!r} (value not shown).")
        return Secret(raw)

    def url(name: str, default: str, schemes: str = "https?") -> str:
        raw = values.get(name, "").strip() or default
        if not re.match(rf"^{schemes}://[^\s/]+(/[^\s]*)?$", raw):
            kind = "an http(s)" if schemes == "https?" else "a ws(s)"
            raise ConfigError(f"{name}={raw[:60]!r} is not {kind} URL.")
        return raw.rstrip("/")

    guilds_raw = values.get("DISCORD_GUILD_IDS", "").strip()
    guild_ids = tuple(t for t in re.split(r"[,\s]+", guilds_raw) if t)
    if not all(t.isdigit() and 15 <= len(t) <= 21 for t in guild_ids):
        raise ConfigError("DISCORD_GUILD_IDS must be comma-separated server ids (numbers such as 123456789012345678).")

    command = values.get("SLACK_COMMAND", "").strip() or "/careerbot"
    if not re.fullmatch(r"/[a-z0-9_\-]{1,31}", command):
        raise ConfigError(f"SLACK_COMMAND={command[:40]!r} must be a slash command such as /careerbot (lowercase, at most 32 characters).")

    port_raw = values.get("CAREERBOT_SLACK_PORT", "").strip() or "3000"
    if not port_raw.isdigit() or not 0 <= int(port_raw) <= 65535:
        raise ConfigError(f"CAREERBOT_SLACK_PORT={port_raw[:20]!r} must be a port number from 1 to 65535 (0: any free port).")
    host = values.get("CAREERBOT_SLACK_HOST", "").strip() or "0.0.0.0"
    if any(ch.isspace() for ch in host) or "/" in host:
        raise ConfigError(f"CAREERBOT_SLACK_HOST={host[:40]!r} must be a host name or an IP address.")

    http_raw = values.get("CAREERBOT_HTTP_PORT", "").strip()
    if http_raw and (not http_raw.isdigit() or not 0 <= int(http_raw) <= 65535):
        raise ConfigError(f"CAREERBOT_HTTP_PORT={http_raw[:20]!r} must be a port number from 1 to 65535 (0: any free port).")
    http_host = values.get("CAREERBOT_HTTP_HOST", "").strip() or "0.0.0.0"
    if any(ch.isspace() for ch in http_host) or "/" in http_host:
        raise ConfigError(f"CAREERBOT_HTTP_HOST={http_host[:40]!r} must be a host name or an IP address.")

    client_id = values.get("SLACK_CLIENT_ID", "").strip() or None
    if client_id is not None and not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise ConfigError(f"SLACK_CLIENT_ID={client_id[:40]!r} does not look right: copy it from the app's Basic Information page "
                          "(two numbers joined by a dot).")
    client_secret = secret("SLACK_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        raise ConfigError("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together (the OAuth install flow needs both).")

    lease_raw = values.get("CAREERBOT_DELIVERY_LEASE_SECONDS", "").strip() or "120"
    if not lease_raw.isdigit() or not 2 <= int(lease_raw) <= 3600:
        raise ConfigError(f"CAREERBOT_DELIVERY_LEASE_SECONDS={lease_raw[:20]!r} must be a whole number of seconds from 2 to 3600.")

    private_raw = values.get("CAREERBOT_ALLOW_PRIVATE_FEEDS", "").strip().lower() or "0"
    if private_raw not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"CAREERBOT_ALLOW_PRIVATE_FEEDS={private_raw[:20]!r} must be 1 or 0.")

    return Config(
        pwc_api_url=url("CAREERBOT_PWC_API_URL", Config.pwc_api_url),
        allow_private_feeds=private_raw in ("1", "true", "yes"),
        arxiv_api_url=url("CAREERBOT_ARXIV_API_URL", Config.arxiv_api_url),
        arxiv_rss_url=url("CAREERBOT_ARXIV_RSS_URL", Config.arxiv_rss_url),
        hf_api_url=url("CAREERBOT_HF_PAPERS_URL", Config.hf_api_url),
        db_path=db_path,
        log_level=level,
        discord_token=secret("DISCORD_TOKEN"),
        slack_bot_token=secret("SLACK_BOT_TOKEN", "xoxb-"),
        slack_app_token=secret("SLACK_APP_TOKEN", "xapp-"),
        slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
        discord_guild_ids=tuple(int(t) for t in guild_ids),
        discord_api_base=url("DISCORD_API_BASE", Config.discord_api_base),
        discord_gateway_url=url("DISCORD_GATEWAY_URL", Config.discord_gateway_url, schemes="wss?") + "/",
        slack_command=command,
        slack_host=host,
        slack_port=int(port_raw),
        slack_api_base=url("SLACK_API_BASE", Config.slack_api_base) + "/",
        log_format=log_format,
        http_port=int(http_raw) if http_raw else None,
        http_host=http_host,
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        delivery_lease=float(lease_raw),
    )


def is_db_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def db_label(target: str) -> str:
    """A database as it may be shown in a message or a log line: never a URL's password
    (``postgresql://bot:***@db/careerbot``), but its other settings (``?search_path=…``) kept."""
    if not is_db_url(target):
        return target
    from bot.storage.postgres import redact_url

    try:
        parts = urlsplit(target)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if "pass" not in k.lower()]
        base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    except ValueError:
        return redact_url(target)
    return redact_url(base) + (f"?{urlencode(query)}" if query else "")


def check_db_target(target: str, name: str) -> str:
    """A database file path or postgresql:// URL, checked before anything connects to it.

    A mistyped URL is reported with its password masked (``db_label``): error messages end up
    in terminals, logs and bug reports.
    """
    if "\x00" in target:
        raise ConfigError(f"{name} contains a NUL character; give a plain file path or a postgresql:// URL.")
    if not is_db_url(target):
        if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE):
            scheme = target.split(":", 1)[0]
            raise ConfigError(f"{name} is a {scheme}:// URL; careerbot stores its data in an SQLite file or PostgreSQL "
                              "(postgresql://user:password@host/database).")
        return target
    shown = db_label(target)
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError when the port is not a number from 0 to 65535
    except ValueError:
        raise ConfigError(f"{name}={shown} is not a usable PostgreSQL URL: the port must be a number from 1 to 65535; "
                          "write postgresql://user:password@host:5432/database (special characters in the password "
                          "%-encoded).") from None
    if any(ch.isspace() for ch in target):
        raise ConfigError(f"{name}={shown} contains whitespace; %-encode it (a space is %20).")
    return target


def secrets_of(config: Config) -> list[str]:
    """Every secret value the config holds, for the log redactor (a database URL's password too)."""
    found = [config.discord_token, config.slack_bot_token, config.slack_app_token, config.slack_signing_secret,
             config.slack_client_secret]
    out = [s.reveal() for s in found if s]
    if is_db_url(config.db_path):
        try:
            parts = urlsplit(config.db_path)
            given = [parts.password] + [v for k, v in parse_qsl(parts.query) if k == "password"]
        except ValueError:
            given = []
        for password in filter(None, given):
            out += [password, unquote(password)]  # as written in the URL, and as sent to the server
    return out


ROLES = ("gateway", "http", "worker", "sender")


def parse_roles(text: str) -> frozenset[str]:
    """``gateway,http,worker,sender`` (any subset): what one ``careerbot serve`` process runs.

    gateway: the platform connections that receive commands (Discord's gateway, Slack Socket
    Mode); http: the HTTP listeners (Slack's Events API and OAuth pages, /healthz, /metrics);
    worker: the scheduler and the feed poller; sender: the per-platform outbox senders.
    """
    names = [t for t in re.split(r"[,\s]+", text.strip().lower()) if t]
    unknown = [n for n in names if n not in ROLES]
    if unknown or not names:
        raise ConfigError(f"--roles {text[:60]!r}: use a comma-separated list of {', '.join(ROLES)}"
                          + (f" ({unknown[0]!r} is not one)" if unknown else ""))
    return frozenset(names)


def parse_shards(text: str, count: int | None) -> tuple[tuple[int, ...], int]:
    """``--shards 0-2 --shard-count 6`` (or ``--shards 3,5``): the Discord shards one process connects."""
    if count is None or count < 1:
        raise ConfigError("--shards needs --shard-count N (the total number of shards across every process, 1 or more).")
    ids: list[int] = []
    for part in [t for t in re.split(r"[,\s]+", text.strip()) if t]:
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ConfigError(f"--shards {text[:40]!r}: write a range such as 0-2 or a list such as 0,3,5.")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            raise ConfigError(f"--shards {part!r}: a range goes from low to high (such as 0-2).")
        ids.extend(range(lo, hi + 1))
    if not ids:
        raise ConfigError("--shards is empty: write a range such as 0-2.")
    bad = [i for i in ids if i >= count]
    if bad:
        raise ConfigError(f"--shards: shard {bad[0]} does not exist with --shard-count {count} (shards are 0 to {count - 1}).")
    return tuple(sorted(set(ids))), count
