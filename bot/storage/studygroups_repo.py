"""SQL for personal settings, study groups, members, pauses and check-ins.

Dates are ISO ``YYYY-MM-DD`` text (they sort as dates on every engine); instants are UTC
text from the app clock; ids come from the app. Nothing here decides what counts as a
streak: that is ``commands.studygroups.streaks``, fed by these rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import aiosqlite

from bot.storage.db import Database, serialize_ids


@dataclass(frozen=True)
class Group:
    id: int
    platform: str
    workspace: str
    name: str
    channel: str
    channel_name: str
    goal: str
    owner: str
    owner_name: str
    created_at: str
    archived_at: str | None

    @property
    def channel_label(self) -> str:
        return f"#{self.channel_name or self.channel}"


@dataclass(frozen=True)
class Member:
    group_id: int
    user_id: str
    user_name: str
    joined_at: str
    joined_day: date


@dataclass(frozen=True)
class Checkin:
    group_id: int
    user_id: str
    local_day: date
    user_name: str
    at: str
    zone: str
    minutes: int
    text: str
    edited_at: str | None


@dataclass(frozen=True)
class SpanRow:
    since: date
    days: frozenset[int]
    at: str


@dataclass(frozen=True)
class PauseRow:
    start: date
    end: date | None


def _group(r: Any) -> Group:
    return Group(r["id"], r["platform"], r["workspace"], r["name"], r["channel"], r["channel_name"], r["goal"],
                 r["owner"], r["owner_name"], r["created_at"], r["archived_at"])


def _checkin(r: Any) -> Checkin:
    return Checkin(r["group_id"], r["user_id"], date.fromisoformat(r["local_day"]), r["user_name"], r["at"], r["zone"],
                   r["minutes"], r["text"], r["edited_at"])


# -- personal settings --------------------------------------------------------------------------
async def user_settings(db: Database, user_id: str) -> dict[str, str]:
    rows = await db.fetchall("SELECT key, value FROM user_settings WHERE user_id = ?", (user_id,))
    return {r["key"]: r["value"] for r in rows}


async def set_user_setting(conn: aiosqlite.Connection, user_id: str, key: str, value: str | None, now: str) -> None:
    if value is None:
        await conn.execute("DELETE FROM user_settings WHERE user_id = ? AND key = ?", (user_id, key))
        return
    await conn.execute(
        "INSERT INTO user_settings (user_id, key, value, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (user_id, key, value, now),
    )


async def forget_settings(conn: aiosqlite.Connection, user_id: str) -> int:
    cur = await conn.execute("DELETE FROM user_settings WHERE user_id = ?", (user_id,))
    return cur.rowcount


# -- groups ------------------------------------------------------------------------------------
async def next_group_id(conn: aiosqlite.Connection) -> int:
    """One more than the largest id, taking turns with other processes on PostgreSQL (see serialize_ids)."""
    await serialize_ids(conn, "study_groups")
    cur = await conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM study_groups")
    row = await cur.fetchone()
    return int(row[0])


async def insert_group(conn: aiosqlite.Connection, g: Group) -> None:
    await conn.execute(
        "INSERT INTO study_groups (id, platform, workspace, name, name_key, channel, channel_name, goal, owner, owner_name, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (g.id, g.platform, g.workspace, g.name, g.name.lower(), g.channel, g.channel_name, g.goal, g.owner, g.owner_name, g.created_at),
    )


async def group_named(db: Database, workspace: str, name: str) -> Group | None:
    row = await db.fetchone(
        "SELECT * FROM study_groups WHERE workspace = ? AND name_key = ? AND archived_at IS NULL", (workspace, name.lower())
    )
    return _group(row) if row else None


async def get_group(db: Database, group_id: int) -> Group | None:
    row = await db.fetchone("SELECT * FROM study_groups WHERE id = ?", (group_id,))
    return _group(row) if row else None


async def groups_in(db: Database, workspace: str) -> list[Group]:
    rows = await db.fetchall("SELECT * FROM study_groups WHERE workspace = ? AND archived_at IS NULL ORDER BY name_key", (workspace,))
    return [_group(r) for r in rows]


async def groups_in_channel(db: Database, workspace: str, channel: str) -> list[Group]:
    rows = await db.fetchall(
        "SELECT * FROM study_groups WHERE workspace = ? AND channel = ? AND archived_at IS NULL ORDER BY name_key", (workspace, channel)
    )
    return [_group(r) for r in rows]


async def groups_of(db: Database, user_id: str, workspace: str | None = None) -> list[Group]:
    """The live groups a person belongs to (in one workspace, or everywhere)."""
    sql = ("SELECT g.* FROM study_groups g JOIN group_members m ON m.group_id = g.id"
           " WHERE m.user_id = ? AND g.archived_at IS NULL")
    params: list[Any] = [user_id]
    if workspace is not None:
        sql += " AND g.workspace = ?"
        params.append(workspace)
    rows = await db.fetchall(sql + " ORDER BY g.name_key", params)
    return [_group(r) for r in rows]


async def live_group_ids(db: Database) -> list[int]:
    return [r["id"] for r in await db.fetchall("SELECT id FROM study_groups WHERE archived_at IS NULL ORDER BY id")]


async def archive(conn: aiosqlite.Connection, group_id: int, now: str) -> None:
    await conn.execute("UPDATE study_groups SET archived_at = ? WHERE id = ?", (now, group_id))


async def set_goal(conn: aiosqlite.Connection, group_id: int, goal: str) -> None:
    await conn.execute("UPDATE study_groups SET goal = ? WHERE id = ?", (goal, group_id))


# -- schedules ---------------------------------------------------------------------------------
async def set_schedule(conn: aiosqlite.Connection, group_id: int, since: date, days: frozenset[int], at: str) -> None:
    await conn.execute(
        "INSERT INTO group_schedules (group_id, since_day, days, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (group_id, since_day) DO UPDATE SET days = excluded.days, at = excluded.at",
        (group_id, since.isoformat(), ",".join(str(d) for d in sorted(days)), at),
    )


async def schedules(db: Database, group_id: int) -> list[SpanRow]:
    rows = await db.fetchall("SELECT since_day, days, at FROM group_schedules WHERE group_id = ? ORDER BY since_day", (group_id,))
    return [SpanRow(date.fromisoformat(r["since_day"]), frozenset(int(d) for d in r["days"].split(",") if d), r["at"]) for r in rows]


# -- members -----------------------------------------------------------------------------------
async def add_member(conn: aiosqlite.Connection, group_id: int, user_id: str, name: str, now: str, day: date) -> None:
    await conn.execute(
        "INSERT INTO group_members (group_id, user_id, user_name, joined_at, joined_day) VALUES (?, ?, ?, ?, ?)",
        (group_id, user_id, name, now, day.isoformat()),
    )


async def remove_member(conn: aiosqlite.Connection, group_id: int, user_id: str) -> None:
    await conn.execute("DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user_id))
    await conn.execute("DELETE FROM member_pauses WHERE group_id = ? AND user_id = ?", (group_id, user_id))


def _member(r: Any) -> Member:
    return Member(r["group_id"], r["user_id"], r["user_name"], r["joined_at"], date.fromisoformat(r["joined_day"]))


async def members(db: Database, group_id: int) -> list[Member]:
    rows = await db.fetchall("SELECT * FROM group_members WHERE group_id = ? ORDER BY joined_at, user_id", (group_id,))
    return [_member(r) for r in rows]


async def member(db: Database, group_id: int, user_id: str) -> Member | None:
    row = await db.fetchone("SELECT * FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user_id))
    return _member(row) if row else None


async def member_counts(db: Database, workspace: str) -> dict[int, int]:
    rows = await db.fetchall(
        "SELECT m.group_id, COUNT(*) AS n FROM group_members m JOIN study_groups g ON g.id = m.group_id"
        " WHERE g.workspace = ? GROUP BY m.group_id", (workspace,),
    )
    return {r["group_id"]: r["n"] for r in rows}


# -- pauses ------------------------------------------------------------------------------------
async def pauses(db: Database, group_id: int, user_id: str) -> list[PauseRow]:
    rows = await db.fetchall(
        "SELECT start_day, end_day FROM member_pauses WHERE group_id = ? AND user_id = ? ORDER BY start_day", (group_id, user_id)
    )
    return [PauseRow(date.fromisoformat(r["start_day"]), date.fromisoformat(r["end_day"]) if r["end_day"] else None) for r in rows]


async def group_pauses(db: Database, group_id: int) -> dict[str, list[PauseRow]]:
    out: dict[str, list[PauseRow]] = {}
    rows = await db.fetchall("SELECT user_id, start_day, end_day FROM member_pauses WHERE group_id = ? ORDER BY start_day", (group_id,))
    for r in rows:
        out.setdefault(r["user_id"], []).append(
            PauseRow(date.fromisoformat(r["start_day"]), date.fromisoformat(r["end_day"]) if r["end_day"] else None)
        )
    return out


async def add_pause(conn: aiosqlite.Connection, group_id: int, user_id: str, start: date, end: date | None) -> None:
    await conn.execute(
        "INSERT INTO member_pauses (group_id, user_id, start_day, end_day) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (group_id, user_id, start_day) DO UPDATE SET end_day = excluded.end_day",
        (group_id, user_id, start.isoformat(), end.isoformat() if end else None),
    )


async def end_pauses(conn: aiosqlite.Connection, group_id: int, user_id: str, today: date) -> None:
    """Ends every open or future-reaching pause yesterday; a pause that starts today or later goes."""
    yesterday = date.fromordinal(today.toordinal() - 1).isoformat()
    await conn.execute(
        "DELETE FROM member_pauses WHERE group_id = ? AND user_id = ? AND start_day >= ?", (group_id, user_id, today.isoformat())
    )
    await conn.execute(
        "UPDATE member_pauses SET end_day = ? WHERE group_id = ? AND user_id = ? AND (end_day IS NULL OR end_day >= ?)",
        (yesterday, group_id, user_id, today.isoformat()),
    )


# -- check-ins ---------------------------------------------------------------------------------
async def checkin_on(db: Database, group_id: int, user_id: str, day: date) -> Checkin | None:
    row = await db.fetchone(
        "SELECT * FROM checkins WHERE group_id = ? AND user_id = ? AND local_day = ?", (group_id, user_id, day.isoformat())
    )
    return _checkin(row) if row else None


async def put_checkin(conn: aiosqlite.Connection, c: Checkin) -> None:
    await conn.execute(
        "INSERT INTO checkins (group_id, user_id, local_day, user_name, at, zone, minutes, text, edited_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (group_id, user_id, local_day) DO UPDATE SET minutes = excluded.minutes, text = excluded.text,"
        " edited_at = excluded.edited_at, user_name = excluded.user_name",
        (c.group_id, c.user_id, c.local_day.isoformat(), c.user_name, c.at, c.zone, c.minutes, c.text, c.edited_at),
    )


async def delete_checkin(conn: aiosqlite.Connection, group_id: int, user_id: str, day: date) -> None:
    await conn.execute(
        "DELETE FROM checkins WHERE group_id = ? AND user_id = ? AND local_day = ?", (group_id, user_id, day.isoformat())
    )


async def checkin_days(db: Database, group_id: int, user_id: str, since: date) -> set[date]:
    rows = await db.fetchall(
        "SELECT local_day FROM checkins WHERE group_id = ? AND user_id = ? AND local_day >= ?", (group_id, user_id, since.isoformat())
    )
    return {date.fromisoformat(r["local_day"]) for r in rows}


async def group_checkins(db: Database, group_id: int, first: date, last: date) -> list[Checkin]:
    rows = await db.fetchall(
        "SELECT * FROM checkins WHERE group_id = ? AND local_day >= ? AND local_day <= ? ORDER BY local_day, at",
        (group_id, first.isoformat(), last.isoformat()),
    )
    return [_checkin(r) for r in rows]


async def group_days(db: Database, group_id: int, since: date) -> dict[str, set[date]]:
    """Every member's checked-in days since ``since``, in one query (leaderboards, summaries)."""
    rows = await db.fetchall(
        "SELECT user_id, local_day FROM checkins WHERE group_id = ? AND local_day >= ?", (group_id, since.isoformat())
    )
    out: dict[str, set[date]] = {}
    for r in rows:
        out.setdefault(r["user_id"], set()).add(date.fromisoformat(r["local_day"]))
    return out


async def totals(db: Database, group_id: int, first: date, last: date) -> dict[str, tuple[int, int]]:
    """Per member: (check-in days, minutes) in [first, last], counted by the database."""
    rows = await db.fetchall(
        "SELECT user_id, COUNT(*) AS n, COALESCE(SUM(minutes), 0) AS m FROM checkins"
        " WHERE group_id = ? AND local_day >= ? AND local_day <= ? GROUP BY user_id",
        (group_id, first.isoformat(), last.isoformat()),
    )
    return {r["user_id"]: (r["n"], r["m"]) for r in rows}


async def member_settings(db: Database, group_id: int, key: str) -> dict[str, str]:
    """One personal setting (e.g. timezone) of every member of a group, in one query."""
    rows = await db.fetchall(
        "SELECT s.user_id, s.value FROM user_settings s JOIN group_members m ON m.user_id = s.user_id"
        " WHERE m.group_id = ? AND s.key = ?", (group_id, key),
    )
    return {r["user_id"]: r["value"] for r in rows}


async def user_checkins(db: Database, user_id: str, since: date, group_id: int | None = None) -> list[Checkin]:
    sql, params = "SELECT * FROM checkins WHERE user_id = ? AND local_day >= ?", [user_id, since.isoformat()]
    if group_id is not None:
        sql += " AND group_id = ?"
        params.append(group_id)
    return [_checkin(r) for r in await db.fetchall(sql + " ORDER BY local_day", params)]


# -- leaving a community -----------------------------------------------------------------------
async def export_user(db: Database, user_id: str) -> dict[str, Any]:
    groups = await db.fetchall(
        "SELECT g.name, g.workspace, m.joined_at FROM group_members m JOIN study_groups g ON g.id = m.group_id WHERE m.user_id = ?",
        (user_id,),
    )
    checkins = await db.fetchall(
        "SELECT g.name AS grp, c.local_day, c.at, c.zone, c.minutes, c.text FROM checkins c JOIN study_groups g ON g.id = c.group_id"
        " WHERE c.user_id = ? ORDER BY c.local_day, g.name", (user_id,),
    )
    pause_rows = await db.fetchall(
        "SELECT g.name AS grp, p.start_day, p.end_day FROM member_pauses p JOIN study_groups g ON g.id = p.group_id WHERE p.user_id = ?",
        (user_id,),
    )
    return {
        "settings": await user_settings(db, user_id),
        "groups": [dict(r) for r in groups],
        "pauses": [dict(r) for r in pause_rows],
        "checkins": [dict(r) for r in checkins],
    }


async def forget_user(conn: aiosqlite.Connection, user_id: str) -> dict[str, int]:
    """Deletes a person's check-ins, memberships and pauses; groups they created stay, ownerless."""
    counts: dict[str, int] = {}
    for table, label in (("checkins", "check-ins"), ("member_pauses", "pauses"), ("group_members", "group memberships")):
        cur = await conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
        counts[label] = cur.rowcount
    await conn.execute("UPDATE study_groups SET owner = '', owner_name = '' WHERE owner = ?", (user_id,))
    return counts
