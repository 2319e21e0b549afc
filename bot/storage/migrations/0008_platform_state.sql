-- Small facts an adapter must remember across restarts, e.g. the hash of the command tree
-- last synced to Discord per scope, so a restart with no change makes no sync request.
CREATE TABLE platform_state (
    platform   TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, key)
);
