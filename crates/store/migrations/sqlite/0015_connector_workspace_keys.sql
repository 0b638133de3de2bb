-- A link, job, batch run or history row names its connector together with its own
-- workspace, so the database itself refuses a row of one workspace that points at
-- another workspace's connector (the Rust checks are no longer the only guard).
-- Keep in step with migrations/postgres.
--
-- SQLite cannot add a constraint to a table, so the four tables are rebuilt: new
-- table, rows copied column by column, old table dropped, new one renamed, indexes
-- recreated. None of them is referenced by another table's foreign key, so the
-- drop deletes nothing elsewhere. Columns are those of migrations 0002, 0003 and
-- 0009; a later migration adding a column to one of these tables must come after
-- this one.
CREATE UNIQUE INDEX hubspot_connectors_workspace_id_id ON hubspot_connectors (workspace_id, id);

-- crm_links
CREATE TABLE crm_links_0015 (
    connector_id    TEXT NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hubspot_id      TEXT,
    bases           TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'synced', 'failed', 'conflict', 'not_linked')),
    status_reason   TEXT,
    last_synced_at  TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (connector_id, customer_id),
    FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE
);
INSERT INTO crm_links_0015 (connector_id, customer_id, workspace_id, hubspot_id, bases,
        status, status_reason, last_synced_at, updated_at)
    SELECT connector_id, customer_id, workspace_id, hubspot_id, bases,
        status, status_reason, last_synced_at, updated_at
    FROM crm_links;
DROP TABLE crm_links;
ALTER TABLE crm_links_0015 RENAME TO crm_links;
CREATE UNIQUE INDEX crm_links_contact ON crm_links (connector_id, hubspot_id) WHERE hubspot_id IS NOT NULL;

-- sync_history
CREATE TABLE sync_history_0015 (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id    TEXT NOT NULL,
    customer_id     TEXT,
    hubspot_id      TEXT,
    trigger         TEXT NOT NULL,
    direction       TEXT NOT NULL,
    fields          TEXT NOT NULL,
    result          TEXT NOT NULL CHECK (result IN ('synced', 'failed', 'conflict', 'skipped')),
    error           TEXT,
    correlation_id  TEXT,
    created_at      TEXT NOT NULL,
    FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE
);
INSERT INTO sync_history_0015 (id, workspace_id, connector_id, customer_id, hubspot_id,
        trigger, direction, fields, result, error, correlation_id, created_at)
    SELECT id, workspace_id, connector_id, customer_id, hubspot_id,
        trigger, direction, fields, result, error, correlation_id, created_at
    FROM sync_history;
DROP TABLE sync_history;
ALTER TABLE sync_history_0015 RENAME TO sync_history;
CREATE INDEX sync_history_customer ON sync_history (workspace_id, customer_id, id);
CREATE INDEX sync_history_connector ON sync_history (workspace_id, connector_id, id);

-- sync_jobs
CREATE TABLE sync_jobs_0015 (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    coalesce_key    TEXT NOT NULL,
    payload         TEXT NOT NULL,
    trigger         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    run_at          TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT,
    coalesced_into  TEXT,
    lease_epoch     INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE
);
INSERT INTO sync_jobs_0015 (id, workspace_id, connector_id, kind, coalesce_key, payload,
        trigger, state, attempts, max_attempts, run_at, lease_owner, lease_until, last_error,
        created_at, updated_at, finished_at, coalesced_into, lease_epoch)
    SELECT id, workspace_id, connector_id, kind, coalesce_key, payload,
        trigger, state, attempts, max_attempts, run_at, lease_owner, lease_until, last_error,
        created_at, updated_at, finished_at, coalesced_into, lease_epoch
    FROM sync_jobs;
DROP TABLE sync_jobs;
ALTER TABLE sync_jobs_0015 RENAME TO sync_jobs;
CREATE UNIQUE INDEX sync_jobs_queued_key ON sync_jobs (connector_id, coalesce_key) WHERE state = 'queued';
CREATE INDEX sync_jobs_due ON sync_jobs (run_at, id) WHERE state = 'queued';
CREATE INDEX sync_jobs_running_key ON sync_jobs (connector_id, coalesce_key) WHERE state = 'running';
CREATE INDEX sync_jobs_workspace ON sync_jobs (workspace_id, id);
CREATE INDEX sync_jobs_key_created ON sync_jobs (connector_id, coalesce_key, created_at);

-- batch_runs
CREATE TABLE batch_runs_0015 (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'paused', 'done', 'cancelled', 'failed')),
    counters      TEXT NOT NULL,
    checkpoint    TEXT,
    pause_reason  TEXT,
    resume_at     TEXT,
    error         TEXT,
    started_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT,
    owner         TEXT,
    lease_epoch   INTEGER NOT NULL DEFAULT 0,
    lease_until   TEXT,
    FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE
);
INSERT INTO batch_runs_0015 (id, workspace_id, connector_id, state, counters, checkpoint,
        pause_reason, resume_at, error, started_at, updated_at, finished_at,
        owner, lease_epoch, lease_until)
    SELECT id, workspace_id, connector_id, state, counters, checkpoint,
        pause_reason, resume_at, error, started_at, updated_at, finished_at,
        owner, lease_epoch, lease_until
    FROM batch_runs;
DROP TABLE batch_runs;
ALTER TABLE batch_runs_0015 RENAME TO batch_runs;
CREATE UNIQUE INDEX batch_runs_active ON batch_runs (connector_id) WHERE state IN ('running', 'paused');
CREATE INDEX batch_runs_workspace ON batch_runs (workspace_id, id);
