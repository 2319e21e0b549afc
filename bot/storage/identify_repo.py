"""Taking turns to IDENTIFY with Discord, across processes (``discord_identify``).

Discord starts at most one gateway session per bucket every 5 seconds for the whole bot, a
shard's bucket being ``shard_id % max_concurrency``. When the shards are split over several
processes, each process takes the bucket's slot here before it IDENTIFYs: one conditional
upsert, so whichever process writes first wins and every other one is told how long to wait.
The row lock (PostgreSQL) or the single writer (SQLite) makes the claim atomic; times come
from the app clock, like every time in the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import Clock, iso_utc
from bot.storage.db import Database

DISCORD_WINDOW = 5.0  # seconds: Discord's rule, one IDENTIFY per bucket per window
# What the gate keeps between two IDENTIFYs of a bucket: Discord's window plus half a second for
# the IDENTIFY itself to reach Discord after its slot was claimed (a process may be slow to send).
SPACING = DISCORD_WINDOW + 0.5


def bucket_of(shard_id: int, max_concurrency: int) -> int:
    return shard_id % max(1, max_concurrency)


async def claim(
    db: Database, bucket: int, shard_id: int, clock: Clock, owner: str, spacing: float = SPACING
) -> float:
    """Takes the bucket's slot if it is free: 0.0 when taken, else the seconds until it frees.

    Free means nobody took it within ``spacing`` seconds before now. The single upsert decides:
    a row is written only when it is new or old enough, so two callers racing for the same
    bucket cannot both be told 0.0. Now is read once the transaction holds the write lock
    (SQLite's, or this process's on PostgreSQL), so time spent waiting for it cannot leave an
    old stamp on a slot taken later.
    """
    async with db.transaction() as conn:
        now = clock.now()
        stamp, free_before = iso_utc(now), iso_utc(now - timedelta(seconds=spacing))
        cur = await conn.execute(
            "INSERT INTO discord_identify (bucket, last_at, shard_id, owner) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (bucket) DO UPDATE SET last_at = excluded.last_at, shard_id = excluded.shard_id, "
            "owner = excluded.owner WHERE discord_identify.last_at <= ?",
            (bucket, stamp, shard_id, owner, free_before),
        )
        if (cur.rowcount or 0) == 1:
            return 0.0
        cur = await conn.execute("SELECT last_at FROM discord_identify WHERE bucket = ?", (bucket,))
        row = await cur.fetchone()
    if row is None:  # cannot happen (the upsert either wrote or met the row); ask again soon
        return 0.001
    taken = datetime.fromisoformat(str(row["last_at"]))
    return max(0.001, (taken + timedelta(seconds=spacing) - now).total_seconds())


async def recent(db: Database) -> list[dict[str, object]]:
    """Every bucket's last claim, for logs and tests: bucket, last_at, shard_id, owner."""
    rows = await db.fetchall("SELECT bucket, last_at, shard_id, owner FROM discord_identify ORDER BY bucket")
    return [{"bucket": r["bucket"], "last_at": r["last_at"], "shard_id": r["shard_id"], "owner": r["owner"]} for r in rows]
