-- Due work. A job row stays until its handler has succeeded; only then is it moved to its
-- next due time (or deleted). Times are UTC ISO-8601 strings, which sort chronologically.
CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (kind, ref)
);
CREATE INDEX jobs_by_due ON jobs (due_at);

-- The outbound queue and delivery log in one: every unsolicited post is a row keyed by its
-- idempotency key (target, kind, period, part). Status: pending -> sending -> sent, or failed.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key    TEXT NOT NULL UNIQUE,
    platform    TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    channel_name TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    period      TEXT NOT NULL,
    part        INTEGER NOT NULL DEFAULT 1,
    parts       INTEGER NOT NULL DEFAULT 1,
    payload     TEXT NOT NULL,       -- the neutral Reply as JSON
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    message_id  TEXT,
    last_error  TEXT
);
-- Claiming walks pending rows oldest first, so the index order is the ORDER BY (no sort per claim).
CREATE INDEX deliveries_by_status ON deliveries (platform, status, id);

-- Permanent delivery failures moderators must hear about. notified_at is set once they have.
CREATE TABLE delivery_problems (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    channel_name TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    target_gone INTEGER NOT NULL DEFAULT 1,  -- 1: the channel refuses everything; 0: one post failed
    at          TEXT NOT NULL,
    notified_at TEXT
);
CREATE INDEX delivery_problems_open ON delivery_problems (workspace, notified_at);
