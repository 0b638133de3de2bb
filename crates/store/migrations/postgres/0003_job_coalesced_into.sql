-- A job that ended because a queued job with the same key covers its work names
-- that job here (before, only last_error said so, in words).
ALTER TABLE sync_jobs ADD COLUMN coalesced_into uuid;
