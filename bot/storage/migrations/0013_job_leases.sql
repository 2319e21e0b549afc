-- A due job is run by one process at a time: it holds the job's lease while running it. A
-- lease that runs out (the process died) lets another process run the job.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until TEXT;
