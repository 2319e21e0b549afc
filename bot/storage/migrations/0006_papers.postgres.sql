-- PostgreSQL twin of 0006_papers.sqlite.sql: identity columns for SQLite's rowid ids, the app's text
-- timestamps kept as TEXT (ISO, UTC) so the SQL that compares them is the same on both.
-- Papers, stored once per canonical arXiv id (no version); a newer version updates the row.
CREATE TABLE papers (
    arxiv_id         TEXT PRIMARY KEY,
    version          INTEGER,
    title            TEXT NOT NULL,
    abstract         TEXT NOT NULL DEFAULT '',
    primary_category TEXT,
    published        TEXT,             -- arXiv's first-version date, UTC ISO
    updated          TEXT,
    code_url         TEXT,
    stars            INTEGER,
    ai_summary       TEXT,
    announce_type    TEXT,             -- the latest RSS announce type (new, cross, replace, ...)
    announced_on     TEXT,             -- UTC date of that RSS announcement
    hf_day           TEXT,             -- the Hugging Face daily list it was on (YYYY-MM-DD)
    upvotes          INTEGER,          -- the latest Hugging Face upvote count
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    seq              BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE  -- arrival order, as SQLite's rowid
);
CREATE INDEX papers_by_published ON papers (published);
CREATE INDEX papers_by_hf_day ON papers (hf_day);
CREATE INDEX papers_by_announced ON papers (announced_on);

CREATE TABLE paper_authors (
    arxiv_id TEXT NOT NULL REFERENCES papers (arxiv_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    PRIMARY KEY (arxiv_id, position)
);

CREATE TABLE paper_categories (
    arxiv_id TEXT NOT NULL REFERENCES papers (arxiv_id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    PRIMARY KEY (arxiv_id, category)
);
CREATE INDEX paper_categories_by_category ON paper_categories (category, arxiv_id);

-- Community signals over time (Hugging Face upvotes and GitHub stars as each fetch saw them).
CREATE TABLE paper_signals (
    arxiv_id TEXT NOT NULL REFERENCES papers (arxiv_id) ON DELETE CASCADE,
    source   TEXT NOT NULL,
    at       TEXT NOT NULL,
    upvotes  INTEGER,
    stars    INTEGER,
    PRIMARY KEY (arxiv_id, source, at)
);

-- Full-text index for /paper search: a weighted tsvector (title A, authors B, abstract C, as
-- FTS5's bm25 weights 10/3/1 on SQLite) under GIN, queried with websearch_to_tsquery.
CREATE TABLE papers_fts (
    arxiv_id TEXT PRIMARY KEY REFERENCES papers (arxiv_id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    doc      tsvector NOT NULL
);
CREATE INDEX papers_fts_doc ON papers_fts USING GIN (doc);
CREATE INDEX papers_fts_seq ON papers_fts (seq);

-- One row per polled source: health for /papers sources, validators for conditional GET.
CREATE TABLE feed_sources (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    url           TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'never' CHECK (status IN ('never', 'ok', 'failing', 'unhealthy')),
    last_success  TEXT,
    last_error    TEXT,
    last_error_at TEXT,
    failing_since TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    items_last    INTEGER,
    etag          TEXT,
    last_modified TEXT,
    next_poll     TEXT
);

-- A channel's paper of the day: the same for everyone all day, never repeated in the channel.
CREATE TABLE paper_picks (
    workspace TEXT NOT NULL,
    channel   TEXT NOT NULL,
    day       TEXT NOT NULL,      -- the channel's local date
    arxiv_id  TEXT NOT NULL,
    reason    TEXT NOT NULL,
    picked_at TEXT NOT NULL,
    PRIMARY KEY (workspace, channel, day)
);
CREATE UNIQUE INDEX paper_picks_once ON paper_picks (workspace, channel, arxiv_id);

-- Which workspaces were told that a source became unhealthy (once per incident).
CREATE TABLE source_notices (
    source    TEXT NOT NULL,
    workspace TEXT NOT NULL,
    incident  TEXT NOT NULL,      -- the source's failing_since
    PRIMARY KEY (source, workspace, incident)
);
