-- Personal settings and study groups.

-- The user scope of the settings cascade: a person's own timezone, DM opt-in, reminder time.
-- user_id is the platform-scoped actor id ("discord:123"): the same person in two servers
-- of one platform has one set of personal settings.
CREATE TABLE user_settings (
    user_id    TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- A study group: ids come from the app (MAX + 1 in the creating transaction), names are
-- unique per workspace among groups that are not archived.
CREATE TABLE study_groups (
    id           INTEGER PRIMARY KEY,
    platform     TEXT NOT NULL,
    workspace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,           -- lower-case name, for lookups
    channel      TEXT NOT NULL,           -- the home channel (prompts, summaries)
    channel_name TEXT NOT NULL DEFAULT '',
    goal         TEXT NOT NULL DEFAULT '',
    owner        TEXT NOT NULL DEFAULT '', -- '' after the owner used /me forget: moderators manage it
    owner_name   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    archived_at  TEXT
);
CREATE UNIQUE INDEX study_groups_live_name ON study_groups (workspace, name_key) WHERE archived_at IS NULL;
CREATE INDEX study_groups_channel ON study_groups (workspace, channel);

-- The check-in schedule as a history: the row with the latest since_day <= a day is that
-- day's schedule, so a schedule change never rewrites how past days count.
CREATE TABLE group_schedules (
    group_id  INTEGER NOT NULL REFERENCES study_groups (id) ON DELETE CASCADE,
    since_day TEXT NOT NULL,   -- a date in the group's timezone
    days      TEXT NOT NULL,   -- weekday numbers, Monday = 0, comma-separated
    at        TEXT NOT NULL,   -- HH:MM of the prompt, group timezone
    PRIMARY KEY (group_id, since_day)
);

CREATE TABLE group_members (
    group_id   INTEGER NOT NULL REFERENCES study_groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    user_name  TEXT NOT NULL DEFAULT '',
    joined_at  TEXT NOT NULL,
    joined_day TEXT NOT NULL,  -- the member's local date of joining: streak days start there
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- A member's pause (vacation): days from start_day to end_day (inclusive; NULL = until
-- resumed) neither count nor break a streak.
CREATE TABLE member_pauses (
    group_id  INTEGER NOT NULL REFERENCES study_groups (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    start_day TEXT NOT NULL,
    end_day   TEXT,
    PRIMARY KEY (group_id, user_id, start_day)
);

-- One check-in per member, group and local day. local_day is the member's date where they
-- were when they checked in (23:50 in Los Angeles is that day, whatever UTC says); it is
-- stored, not recomputed, so a later timezone change does not move past days.
CREATE TABLE checkins (
    group_id  INTEGER NOT NULL REFERENCES study_groups (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    local_day TEXT NOT NULL,
    user_name TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL,   -- UTC instant of the first check-in that day
    zone      TEXT NOT NULL,   -- the timezone local_day was computed in
    minutes   INTEGER NOT NULL DEFAULT 0,
    text      TEXT NOT NULL DEFAULT '',
    edited_at TEXT,
    PRIMARY KEY (group_id, user_id, local_day)
);
CREATE INDEX checkins_group_day ON checkins (group_id, local_day);
CREATE INDEX checkins_user ON checkins (user_id, local_day);
