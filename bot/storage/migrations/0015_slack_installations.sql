-- Slack for many workspaces (SLACK_CLIENT_ID/SLACK_CLIENT_SECRET): each workspace installs
-- careerbot through /slack/install and its bot token is kept here, one row per workspace, or
-- per Enterprise Grid organization for an org-wide install. A re-install replaces the row;
-- app_uninstalled and tokens_revoked delete it. Tokens are never logged or shown.
CREATE TABLE slack_installations (
    enterprise_id TEXT NOT NULL,         -- '' outside Enterprise Grid
    team_id TEXT NOT NULL,               -- '' for an org-wide install (its token serves every workspace of the org)
    is_enterprise_install INTEGER NOT NULL,
    app_id TEXT NOT NULL,
    enterprise_name TEXT NOT NULL,
    enterprise_url TEXT NOT NULL,
    team_name TEXT NOT NULL,
    bot_token TEXT NOT NULL,
    bot_id TEXT NOT NULL,
    bot_user_id TEXT NOT NULL,
    bot_scopes TEXT NOT NULL,            -- comma-separated, as Slack granted them
    bot_refresh_token TEXT,              -- only with token rotation
    bot_token_expires_at BIGINT,         -- only with token rotation: Unix seconds
    installer_user_id TEXT NOT NULL,     -- who clicked Allow
    installed_at TEXT NOT NULL,          -- ISO-8601 UTC from the app clock
    PRIMARY KEY (enterprise_id, team_id)
);
CREATE INDEX slack_installations_team ON slack_installations (team_id);
-- Workspaces seen under an org-wide install: a queued post names its workspace only, and this
-- says which organization's token speaks there.
CREATE TABLE slack_enterprise_teams (
    team_id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
-- The OAuth state: issued by /slack/install, consumed once by /slack/oauth_redirect, valid
-- for ten minutes (app clock). Expired rows are removed when new states are issued.
CREATE TABLE slack_oauth_states (
    state TEXT PRIMARY KEY,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX slack_oauth_states_expiry ON slack_oauth_states (expires_at);
