-- Events a platform may deliver more than once, recorded on first sight so only one process
-- handles each: Slack retries an Events API request (X-Slack-Retry-Num) when the answer was
-- late, and with several processes behind one URL the retry may reach another process than
-- the original; a Discord interaction id is handled once even if two shards' processes overlap.
-- Rows are pruned after a day (retention): platforms retry for minutes, not days.
CREATE TABLE inbound_events (
    source TEXT NOT NULL,        -- 'slack', 'discord'
    event_id TEXT NOT NULL,      -- Slack's event_id / a slash command's trigger id; Discord's interaction id
    seen_at TEXT NOT NULL,       -- ISO-8601 UTC from the app clock
    owner TEXT NOT NULL,         -- which process took it (for logs)
    PRIMARY KEY (source, event_id)
);
CREATE INDEX inbound_events_seen ON inbound_events (seen_at);
