-- A post in flight belongs to one process for a while (its lease). When that process dies the
-- lease runs out and any process puts the post back in the queue; a process can no longer
-- reset another's posts just by starting. At most one post per channel is in flight, across
-- every process, so a channel's posts (a digest's parts) keep their order.
UPDATE deliveries SET status = 'pending', last_error = 'interrupted while sending' WHERE status = 'sending';
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until TEXT;
CREATE UNIQUE INDEX deliveries_one_in_flight ON deliveries (platform, workspace, channel) WHERE status = 'sending';
