"""Slack installations and OAuth states (``slack_installations``, ``slack_oauth_states``; migration 0015).

Slack for many workspaces: each workspace that installs careerbot through ``/slack/install``
gets a row holding its bot token; an org-wide Enterprise Grid install gets one row for the
organization (``team_id`` ''). The Slack adapter puts slack-sdk's installation-store and
OAuth-state-store interfaces over these functions (the core never imports ``slack_*``).

Times come from the app clock, never the database's, so a test moves them. A token is never
part of a row's ``repr`` and no function here logs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.storage.db import Database


@dataclass(frozen=True)
class Installed:
    """One workspace's (or organization's) installation: what Slack's oauth.v2.access returned."""

    enterprise_id: str  # '' outside Enterprise Grid
    team_id: str  # '' for an org-wide install
    is_enterprise_install: bool
    bot_token: str = field(repr=False)
    bot_id: str = ""
    bot_user_id: str = ""
    bot_scopes: str = ""  # comma-separated
    app_id: str = ""
    enterprise_name: str = ""
    enterprise_url: str = ""
    team_name: str = ""
    installer_user_id: str = ""
    installed_at: str = ""  # ISO-8601 UTC, app clock
    bot_refresh_token: str | None = field(default=None, repr=False)
    bot_token_expires_at: int | None = None


_COLUMNS = (
    "enterprise_id", "team_id", "is_enterprise_install", "app_id", "enterprise_name", "enterprise_url", "team_name",
    "bot_token", "bot_id", "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at",
    "installer_user_id", "installed_at",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM slack_installations"


def _row(row: Any) -> Installed:
    return Installed(
        enterprise_id=row["enterprise_id"], team_id=row["team_id"],
        is_enterprise_install=bool(row["is_enterprise_install"]), bot_token=row["bot_token"], bot_id=row["bot_id"],
        bot_user_id=row["bot_user_id"], bot_scopes=row["bot_scopes"], app_id=row["app_id"],
        enterprise_name=row["enterprise_name"], enterprise_url=row["enterprise_url"], team_name=row["team_name"],
        installer_user_id=row["installer_user_id"], installed_at=row["installed_at"],
        bot_refresh_token=row["bot_refresh_token"],
        bot_token_expires_at=None if row["bot_token_expires_at"] is None else int(row["bot_token_expires_at"]),
    )


def key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False) -> tuple[str, str]:
    """The row key: an org-wide install is the organization's, whatever workspace asks."""
    if is_enterprise_install:
        return enterprise_id or "", ""
    return enterprise_id or "", team_id or ""


async def save(db: Database, inst: Installed) -> None:
    """Records an install; a re-install of the same workspace replaces its token and details.

    A refreshed token (token rotation) arrives without an installer or organization URL: the
    ones on record stay.
    """
    values = (
        inst.enterprise_id, inst.team_id, int(inst.is_enterprise_install), inst.app_id, inst.enterprise_name,
        inst.enterprise_url, inst.team_name, inst.bot_token, inst.bot_id, inst.bot_user_id, inst.bot_scopes,
        inst.bot_refresh_token, inst.bot_token_expires_at, inst.installer_user_id, inst.installed_at,
    )
    kept = ("installer_user_id", "enterprise_url")
    updates = [f"{c} = excluded.{c}" for c in _COLUMNS[2:] if c not in kept] + [
        f"{c} = CASE WHEN excluded.{c} = '' THEN slack_installations.{c} ELSE excluded.{c} END" for c in kept
    ]
    async with db.transaction() as conn:
        await conn.execute(
            f"INSERT INTO slack_installations ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
            f"ON CONFLICT (enterprise_id, team_id) DO UPDATE SET {', '.join(updates)}",
            values,
        )


async def find(db: Database, enterprise_id: str | None, team_id: str | None,
               is_enterprise_install: bool | None = False) -> Installed | None:
    """The installation that answers a request from this workspace (or organization)."""
    ent, team = key(enterprise_id, team_id, is_enterprise_install)
    row = await db.fetchone(f"{_SELECT} WHERE enterprise_id = ? AND team_id = ?", (ent, team))
    if row is None and team and not ent:
        # A request that did not name its organization (a slash command carries only team_id).
        row = await db.fetchone(f"{_SELECT} WHERE team_id = ? ORDER BY installed_at DESC LIMIT 1", (team,))
    return _row(row) if row is not None else None


async def for_team(db: Database, team_id: str) -> Installed | None:
    """Whose token posts in workspace ``team_id``: its own install, else its organization's org-wide one."""
    row = await db.fetchone(f"{_SELECT} WHERE team_id = ? ORDER BY installed_at DESC LIMIT 1", (team_id,))
    if row is None:
        row = await db.fetchone(
            f"{_SELECT} WHERE team_id = '' AND enterprise_id = "
            "(SELECT enterprise_id FROM slack_enterprise_teams WHERE team_id = ?)",
            (team_id,),
        )
    return _row(row) if row is not None else None


async def delete(db: Database, enterprise_id: str | None, team_id: str | None) -> int:
    """Forgets the workspace's (with no team: the organization's) token; returns rows removed."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?", (enterprise_id or "", team_id or "")
        )
        removed = cur.rowcount or 0
        if not removed and team_id and not enterprise_id:
            cur = await conn.execute("DELETE FROM slack_installations WHERE team_id = ?", (team_id,))
            removed = cur.rowcount or 0
        if not team_id and enterprise_id:
            await conn.execute("DELETE FROM slack_enterprise_teams WHERE enterprise_id = ?", (enterprise_id,))
        return removed


async def link_team(db: Database, team_id: str, enterprise_id: str, now: str) -> None:
    """Remembers that workspace ``team_id`` is served by ``enterprise_id``'s org-wide install."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO slack_enterprise_teams (team_id, enterprise_id, seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT (team_id) DO UPDATE SET enterprise_id = excluded.enterprise_id, seen_at = excluded.seen_at",
            (team_id, enterprise_id, now),
        )


# -- OAuth state ---------------------------------------------------------------------------------
async def issue_state(db: Database, state: str, now: str, expires_at: str) -> None:
    """Records a new state (and drops the ones that have expired)."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM slack_oauth_states WHERE expires_at <= ?", (now,))
        await conn.execute(
            "INSERT INTO slack_oauth_states (state, issued_at, expires_at) VALUES (?, ?, ?)", (state, now, expires_at)
        )


async def consume_state(db: Database, state: str, now: str) -> bool:
    """True once for a state issued and not yet expired; the one DELETE decides, across processes."""
    async with db.transaction() as conn:
        cur = await conn.execute("DELETE FROM slack_oauth_states WHERE state = ? AND expires_at > ?", (state, now))
        return (cur.rowcount or 0) == 1


async def workspace_of_post(db: Database, channel: str, message_id: str) -> str | None:
    """The workspace key (``slack:T…``) a sent post went to, for editing it with that workspace's token."""
    row = await db.fetchone(
        "SELECT workspace FROM deliveries WHERE platform = 'slack' AND message_id = ? AND (sent_channel = ? OR channel = ?) "
        "ORDER BY id DESC LIMIT 1",
        (message_id, channel, channel),
    )
    return str(row["workspace"]) if row is not None else None
