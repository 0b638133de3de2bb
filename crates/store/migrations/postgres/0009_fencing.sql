-- Fencing tokens and cluster membership (several `serve` processes on one database).
-- Every claim of a job bumps its lease_epoch; heartbeat, finish, retry and the sync
-- commit of that claim are conditional on it.
ALTER TABLE sync_jobs ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
-- Whether a customer's key was enqueued recently (isolated edits run at once).
CREATE INDEX sync_jobs_key_created ON sync_jobs (connector_id, coalesce_key, created_at);

-- A batch run is worked by one owner under a lease; takeover is a compare-and-set.
ALTER TABLE batch_runs ADD COLUMN owner text;
ALTER TABLE batch_runs ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE batch_runs ADD COLUMN lease_until timestamptz;

-- Live `serve` processes, so each takes its fair share of portal leases.
CREATE TABLE instances (
    id               text PRIMARY KEY,
    heartbeat_until  timestamptz NOT NULL,
    started_at       timestamptz NOT NULL
);
