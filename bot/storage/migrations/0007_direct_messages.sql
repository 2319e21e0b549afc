-- Posts to a person (by DM), not only to channels. For a user target, `channel` holds the
-- user id; the transport opens the DM channel itself. `sent_channel` is where the platform
-- put the message (a DM's channel id), kept with `message_id` so a post can be edited later.
ALTER TABLE deliveries ADD COLUMN target_kind TEXT NOT NULL DEFAULT 'channel';
ALTER TABLE deliveries ADD COLUMN sent_channel TEXT;
ALTER TABLE delivery_problems ADD COLUMN target_kind TEXT NOT NULL DEFAULT 'channel';
