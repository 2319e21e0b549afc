"""SQL for what adapters remember across restarts (``platform_state``)."""

from __future__ import annotations

from bot.storage.db import Database


async def get(db: Database, platform: str, key: str) -> str | None:
    row = await db.fetchone("SELECT value FROM platform_state WHERE platform = ? AND key = ?", (platform, key))
    return row["value"] if row else None


async def put(db: Database, platform: str, key: str, value: str, at: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO platform_state (platform, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (platform, key, value, at),
        )
