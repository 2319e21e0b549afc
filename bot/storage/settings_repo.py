"""SQL for settings and their audit log."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Database


@dataclass(frozen=True)
class Change:
    """One key changing in one scope; old/new are canonical text, None meaning the default."""

    workspace: str
    channel: str
    key: str
    old: str | None
    new: str | None
    encoded: str | list[str] | None = None  # what to store: text, list items, or None to delete
    unchanged: bool = False


@dataclass(frozen=True)
class AuditRow:
    id: int
    batch: int
    channel: str
    key: str
    old_value: str | None
    new_value: str | None
    action: str
    actor_id: str
    actor_name: str
    at: str
    undone_by: int | None


async def lookup(db: Database, workspace: str, channel: str, key: str) -> str | list[str] | None:
    row = await db.fetchone(
        "SELECT value FROM settings WHERE workspace = ? AND channel = ? AND key = ?", (workspace, channel, key)
    )
    if row is None:
        return None
    if row["value"] is not None:
        return row["value"]
    items = await db.fetchall(
        "SELECT item FROM setting_items WHERE workspace = ? AND channel = ? AND key = ? ORDER BY position",
        (workspace, channel, key),
    )
    return [r["item"] for r in items]


async def _values(db: Database, where: str, params: tuple) -> dict[tuple[str, str, str], str | list[str]]:
    out: dict[tuple[str, str, str], str | list[str]] = {}
    for r in await db.fetchall(f"SELECT workspace, channel, key, value FROM settings WHERE {where}", params):
        out[(r["workspace"], r["channel"], r["key"])] = r["value"] if r["value"] is not None else []
    for r in await db.fetchall(
        f"SELECT workspace, channel, key, item FROM setting_items WHERE {where} ORDER BY position", params
    ):
        value = out[(r["workspace"], r["channel"], r["key"])]
        assert isinstance(value, list)
        value.append(r["item"])
    return out


async def scope_values(db: Database, workspace: str, channel: str) -> dict[tuple[str, str, str], str | list[str]]:
    """The workspace-wide rows and the channel's rows, keyed (workspace, channel, key)."""
    return await _values(db, "workspace = ? AND channel IN ('', ?)", (workspace, channel))


async def workspace_values(db: Database, workspace: str) -> dict[tuple[str, str], str | list[str]]:
    rows = await _values(db, "workspace = ?", (workspace,))
    return {(ch, key): v for (_, ch, key), v in rows.items()}


async def apply(
    db: Database, changes: list[Change], action: str, actor_id: str, actor_name: str, at: str, undoes: int | None
) -> int:
    """Writes every change and its audit rows in one transaction; returns the batch number."""
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM settings_audit")
        batch = int((await cur.fetchone())[0])
        for c in changes:
            await conn.execute(
                "DELETE FROM settings WHERE workspace = ? AND channel = ? AND key = ?", (c.workspace, c.channel, c.key)
            )
            if c.encoded is not None:
                scalar = None if isinstance(c.encoded, list) else c.encoded
                await conn.execute(
                    "INSERT INTO settings (workspace, channel, key, value) VALUES (?, ?, ?, ?)",
                    (c.workspace, c.channel, c.key, scalar),
                )
                if isinstance(c.encoded, list):
                    await conn.executemany(
                        "INSERT INTO setting_items (workspace, channel, key, position, item) VALUES (?, ?, ?, ?, ?)",
                        [(c.workspace, c.channel, c.key, i, item) for i, item in enumerate(c.encoded)],
                    )
            await conn.execute(
                "INSERT INTO settings_audit (batch, workspace, channel, key, old_value, new_value, action,"
                " actor_id, actor_name, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (batch, c.workspace, c.channel, c.key, c.old, c.new, action, actor_id, actor_name, at),
            )
        if undoes is not None:
            await conn.execute(
                "UPDATE settings_audit SET undone_by = ? WHERE batch = ? AND workspace = ?",
                (batch, undoes, changes[0].workspace),
            )
    return batch


def _audit(r) -> AuditRow:  # noqa: ANN001
    return AuditRow(
        r["id"], r["batch"], r["channel"], r["key"], r["old_value"], r["new_value"], r["action"],
        r["actor_id"], r["actor_name"], r["at"], r["undone_by"],
    )


async def history(db: Database, workspace: str, key: str | None, limit: int) -> list[AuditRow]:
    sql = "SELECT * FROM settings_audit WHERE workspace = ?"
    params: list = [workspace]
    if key is not None:
        sql += " AND key = ?"
        params.append(key)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [_audit(r) for r in await db.fetchall(sql, params)]


async def last_undoable_batch(db: Database, workspace: str) -> list[AuditRow]:
    row = await db.fetchone(
        "SELECT MAX(batch) AS batch FROM settings_audit WHERE workspace = ? AND action != 'undo' AND undone_by IS NULL",
        (workspace,),
    )
    if row is None or row["batch"] is None:
        return []
    rows = await db.fetchall(
        "SELECT * FROM settings_audit WHERE workspace = ? AND batch = ? ORDER BY id", (workspace, row["batch"])
    )
    return [_audit(r) for r in rows]


async def all_items(db: Database, key: str) -> list[str]:
    """Every item of a list setting in any scope (e.g. the union of followed arXiv categories)."""
    rows = await db.fetchall("SELECT DISTINCT item FROM setting_items WHERE key = ?", (key,))
    return sorted(r["item"] for r in rows)  # in Python: the same order whatever the database's collation


async def workspace_has_items(db: Database, workspace: str, key: str) -> bool:
    row = await db.fetchone("SELECT 1 FROM setting_items WHERE workspace = ? AND key = ? LIMIT 1", (workspace, key))
    return row is not None
