-- Moderator settings: one row per (scope, key) that differs from the registered default.
-- A scope is a workspace/guild ("platform:id") and optionally one of its channels
-- (channel = '' means the whole workspace). List values keep one row per item.
CREATE TABLE settings (
    workspace TEXT NOT NULL,
    channel   TEXT NOT NULL DEFAULT '',
    key       TEXT NOT NULL,
    value     TEXT,              -- scalar value in canonical form; NULL for list keys
    PRIMARY KEY (workspace, channel, key)
);

CREATE TABLE setting_items (
    workspace TEXT NOT NULL,
    channel   TEXT NOT NULL,
    key       TEXT NOT NULL,
    position  INTEGER NOT NULL,
    item      TEXT NOT NULL,
    PRIMARY KEY (workspace, channel, key, position),
    FOREIGN KEY (workspace, channel, key) REFERENCES settings (workspace, channel, key) ON DELETE CASCADE
);

-- Every change, newest last. old/new are canonical text (NULL = not set, i.e. the default).
-- Changes made by one command share a batch, so /config undo reverts an import as a whole.
CREATE TABLE settings_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    batch      INTEGER NOT NULL,
    workspace  TEXT NOT NULL,
    channel    TEXT NOT NULL DEFAULT '',
    key        TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    action     TEXT NOT NULL CHECK (action IN ('set', 'reset', 'import', 'undo')),
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    at         TEXT NOT NULL,
    undone_by  INTEGER          -- the batch that reverted this change, if any
);
CREATE INDEX settings_audit_by_workspace ON settings_audit (workspace, id);
