-- One poller for every feed: feed_sources (papers until now) gains what posting sources need.
-- `name` stays the key: built-in paper sources keep theirs ("arxiv-rss"), posting sources get
-- "jobs-" plus a short hash of kind and URL (the same list added by two servers is one source).
ALTER TABLE feed_sources ADD COLUMN feature TEXT NOT NULL DEFAULT 'papers';
ALTER TABLE feed_sources ADD COLUMN options TEXT NOT NULL DEFAULT '{}';   -- JSON, e.g. a json feed's field mapping
ALTER TABLE feed_sources ADD COLUMN baseline_at TEXT;  -- first successful fetch: its items alert no one
ALTER TABLE feed_sources ADD COLUMN created_at TEXT;
ALTER TABLE feed_sources ADD COLUMN items_total INTEGER NOT NULL DEFAULT 0;  -- postings this source has brought

-- Papers With Code (paperswithcode.co) tells a paper's official code and its framework.
ALTER TABLE papers ADD COLUMN code_official INTEGER NOT NULL DEFAULT 0;
ALTER TABLE papers ADD COLUMN framework TEXT;
ALTER TABLE papers ADD COLUMN pwc_checked TEXT;   -- when Papers With Code was asked (NULL: not yet)

-- Which workspaces use a posting source (a moderator added it there).
CREATE TABLE workspace_sources (
    workspace TEXT NOT NULL,
    source    TEXT NOT NULL,
    added_by  TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    PRIMARY KEY (workspace, source)
);
CREATE INDEX workspace_sources_by_source ON workspace_sources (source);

-- A posting, once per role: id is a short hash of dedupe_key (company, title, location), so
-- the same role from two lists is one row. List-valued fields are stored '|'-joined with a
-- leading and trailing '|' so "contains term" is a portable LIKE '%|term|%'.
CREATE TABLE postings (
    id          TEXT PRIMARY KEY,
    dedupe_key  TEXT NOT NULL UNIQUE,
    company     TEXT NOT NULL,
    title       TEXT NOT NULL,
    locations   TEXT NOT NULL DEFAULT '[]',   -- JSON list, as written by the source
    places      TEXT NOT NULL DEFAULT '||',
    remote      INTEGER NOT NULL DEFAULT 0,
    seasons     TEXT NOT NULL DEFAULT '||',
    category    TEXT NOT NULL,
    sponsorship TEXT NOT NULL,
    degrees     TEXT NOT NULL DEFAULT '||',
    url         TEXT NOT NULL DEFAULT '',
    posted_at   TEXT,
    active      INTEGER NOT NULL DEFAULT 1,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    changed_at  TEXT,            -- the last close, reopen or new url
    closed_at   TEXT
);
CREATE INDEX postings_by_first_seen ON postings (first_seen);
CREATE INDEX postings_by_posted ON postings (posted_at);

-- Each source's entries and the posting they are: dedupe by source id, state per source.
CREATE TABLE posting_items (
    source     TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    posting_id TEXT NOT NULL REFERENCES postings (id) ON DELETE CASCADE,
    active     INTEGER NOT NULL,
    url        TEXT NOT NULL DEFAULT '',
    seen_at    TEXT NOT NULL,
    PRIMARY KEY (source, item_id)
);
CREATE INDEX posting_items_by_posting ON posting_items (posting_id);

-- Alerts: a person's (delivered by DM) or a channel's. Ids come from the app.
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    platform      TEXT NOT NULL,
    workspace     TEXT NOT NULL,
    owner         TEXT NOT NULL,           -- who created it (user id)
    owner_name    TEXT NOT NULL DEFAULT '',
    target_kind   TEXT NOT NULL CHECK (target_kind IN ('user', 'channel')),
    channel       TEXT NOT NULL,           -- the channel id, or the user id for a DM alert
    channel_name  TEXT NOT NULL DEFAULT '',
    filters       TEXT NOT NULL,           -- canonical filter text
    paused        INTEGER NOT NULL DEFAULT 0,
    paused_reason TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX alerts_by_workspace ON alerts (workspace);

-- Matched and waiting to be posted (the alert's job posts them, within its hourly cap).
CREATE TABLE alert_queue (
    alert_id   INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    posting_id TEXT NOT NULL REFERENCES postings (id) ON DELETE CASCADE,
    matched_at TEXT NOT NULL,
    PRIMARY KEY (alert_id, posting_id)
);

-- What each alert has handled: posted (delivery_key set) or summarized in an overflow line.
-- The key makes "never sent twice" a constraint; closed_marked records that the sent post was
-- edited to show the posting closed (otherwise the channel's next digest says so).
CREATE TABLE alert_sends (
    alert_id      INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    posting_id    TEXT NOT NULL,
    delivery_key  TEXT,
    sent_at       TEXT NOT NULL,
    closed_marked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, posting_id)
);
CREATE INDEX alert_sends_by_posting ON alert_sends (posting_id);
CREATE INDEX alert_sends_by_time ON alert_sends (alert_id, sent_at);
