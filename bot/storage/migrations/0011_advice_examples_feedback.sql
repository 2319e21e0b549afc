-- Advice: example questions per entry, and what students asked and thought of the answers.

-- Example questions are indexed as their own field: students match on how others asked.
CREATE TABLE advice_examples (
    entry_id TEXT NOT NULL REFERENCES advice_entries (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question TEXT NOT NULL,
    PRIMARY KEY (entry_id, position)
);

-- One row per /advice question: what was asked (never who asked), where (the workspace, so
-- a moderator sees their own community's), and what the bot did with it. ids come from the
-- app (random), times from the app clock. Pruned after a retention period.
CREATE TABLE advice_asks (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL,
    question   TEXT NOT NULL,
    question_key TEXT NOT NULL,         -- the question normalised, so repeats group together
    outcome    TEXT NOT NULL,           -- answer | unsure | refused
    entry_id   TEXT,                    -- the entry shown first (NULL when refused)
    asked_at   TEXT NOT NULL
);
CREATE INDEX advice_asks_time ON advice_asks (asked_at);
CREATE INDEX advice_asks_outcome ON advice_asks (workspace, outcome);

-- 👍/👎 on an answer. voter is a keyed hash of the ask and the person, so pressing twice
-- changes a vote instead of adding one, and no name or platform id is stored.
CREATE TABLE advice_votes (
    ask_id   TEXT NOT NULL REFERENCES advice_asks (id) ON DELETE CASCADE,
    voter    TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    vote     INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at TEXT NOT NULL,
    PRIMARY KEY (ask_id, voter)
);
CREATE INDEX advice_votes_entry ON advice_votes (entry_id);
