-- Discord lets a bot start at most one gateway session (IDENTIFY) per bucket every 5 seconds,
-- where a shard's bucket is shard_id % max_concurrency (max_concurrency from GET /gateway/bot).
-- With shards split over several processes, that budget is shared: each process takes its turn
-- here before it IDENTIFYs a shard (bot/storage/identify_repo.py). One row per bucket, claimed
-- by a single conditional upsert, so two processes can never both take the same slot.
CREATE TABLE discord_identify (
    bucket INTEGER PRIMARY KEY,   -- shard_id % max_concurrency
    last_at TEXT NOT NULL,        -- ISO-8601 UTC from the app clock: when the slot was last taken
    shard_id INTEGER NOT NULL,    -- the shard that took it (for logs and tests)
    owner TEXT NOT NULL           -- which process took it (host:pid)
);
