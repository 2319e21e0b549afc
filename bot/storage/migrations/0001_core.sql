-- Key/value facts about this database itself (e.g. the hash of the loaded knowledge base).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
