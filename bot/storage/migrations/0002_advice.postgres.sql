-- PostgreSQL twin of 0002_advice.sqlite.sql: identity columns for SQLite's rowid ids, the app's text
-- timestamps kept as TEXT (ISO, UTC) so the SQL that compares them is the same on both.
-- Advice entries. Built-in entries come from commands/advice/entries; workspace_id is NULL
-- for them and set for entries a server adds for itself later.
CREATE TABLE advice_entries (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT,
    title        TEXT NOT NULL,
    topic        TEXT NOT NULL,
    body         TEXT NOT NULL,
    origin       TEXT NOT NULL DEFAULT 'builtin',
    updated_at   TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))
);
CREATE INDEX advice_entries_topic ON advice_entries (topic);

CREATE TABLE advice_keywords (
    entry_id TEXT NOT NULL REFERENCES advice_entries (id) ON DELETE CASCADE,
    keyword  TEXT NOT NULL,
    PRIMARY KEY (entry_id, keyword)
);

CREATE TABLE advice_sources (
    entry_id  TEXT NOT NULL REFERENCES advice_entries (id) ON DELETE CASCADE,
    source_id TEXT NOT NULL,
    PRIMARY KEY (entry_id, source_id)
);

CREATE TABLE advice_topics (
    name  TEXT PRIMARY KEY,
    title TEXT NOT NULL
);
