-- Scheduled per-channel digests. covered_until is the end of the last period posted (UTC).
CREATE TABLE digests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    platform      TEXT NOT NULL,
    workspace     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    channel_name  TEXT NOT NULL DEFAULT '',
    schedule      TEXT NOT NULL,     -- canonical form, e.g. "weekly mon 10:00"
    paused        INTEGER NOT NULL DEFAULT 0,
    paused_reason TEXT,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    covered_until TEXT NOT NULL
);
CREATE INDEX digests_by_channel ON digests (workspace, channel);

CREATE TABLE digest_contents (
    digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    provider  TEXT NOT NULL,
    PRIMARY KEY (digest_id, position)
);

-- What each channel has already been given by a provider, so rotations never repeat.
CREATE TABLE digest_seen (
    workspace TEXT NOT NULL,
    channel   TEXT NOT NULL,
    provider  TEXT NOT NULL,
    item_key  TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (workspace, channel, provider, item_key)
);
