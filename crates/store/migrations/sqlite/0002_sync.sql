-- Sync engine, webhook intake and batch sync (SQLite). Ids are uuid text,
-- times RFC 3339 text (src/codec.rs), JSON is TEXT, booleans 0/1. Keep in step with migrations/postgres.

ALTER TABLE hubspot_connectors
    ADD COLUMN conflict_policy TEXT NOT NULL DEFAULT 'newest_wins'
        CHECK (conflict_policy IN ('newest_wins', 'keva_wins', 'hubspot_wins'));
ALTER TABLE hubspot_connectors ADD COLUMN import_contacts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hubspot_connectors ADD COLUMN batch_schedule TEXT;
CREATE INDEX hubspot_connectors_portal ON hubspot_connectors (portal_id);

CREATE TABLE webhook_settings (
    workspace_id   TEXT PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    app_id         TEXT NOT NULL,
    client_secret  BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE connector_mappings (
    connector_id  TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    object        TEXT NOT NULL,
    mappings      TEXT NOT NULL,
    issues        TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (connector_id, object)
);

CREATE TABLE property_cache (
    connector_id  TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    object        TEXT NOT NULL,
    properties    TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    PRIMARY KEY (connector_id, object)
);

CREATE TABLE crm_links (
    connector_id    TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    customer_id     TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hubspot_id      TEXT,
    bases           TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'synced', 'failed', 'conflict', 'not_linked')),
    status_reason   TEXT,
    last_synced_at  TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (connector_id, customer_id)
);
-- One customer per contact: a second link to the same contact is a Conflict.
CREATE UNIQUE INDEX crm_links_contact ON crm_links (connector_id, hubspot_id) WHERE hubspot_id IS NOT NULL;

CREATE TABLE sync_history (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id    TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    customer_id     TEXT,
    hubspot_id      TEXT,
    trigger         TEXT NOT NULL,
    direction       TEXT NOT NULL,
    fields          TEXT NOT NULL,
    result          TEXT NOT NULL CHECK (result IN ('synced', 'failed', 'conflict', 'skipped')),
    error           TEXT,
    correlation_id  TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX sync_history_customer ON sync_history (workspace_id, customer_id, id);
CREATE INDEX sync_history_connector ON sync_history (workspace_id, connector_id, id);

CREATE TABLE sync_jobs (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id  TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    coalesce_key  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    trigger       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_at        TEXT NOT NULL,
    lease_owner   TEXT,
    lease_until   TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT
);
-- At most one queued job per key: enqueue coalesces into it (ON CONFLICT).
CREATE UNIQUE INDEX sync_jobs_queued_key ON sync_jobs (connector_id, coalesce_key) WHERE state = 'queued';
CREATE INDEX sync_jobs_due ON sync_jobs (run_at, id) WHERE state = 'queued';
CREATE INDEX sync_jobs_running_key ON sync_jobs (connector_id, coalesce_key) WHERE state = 'running';
CREATE INDEX sync_jobs_workspace ON sync_jobs (workspace_id, id);

CREATE TABLE webhook_requests (
    id             TEXT PRIMARY KEY NOT NULL,
    received_at    TEXT NOT NULL,
    workspace_id   TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    portal_id      INTEGER,
    event_count    INTEGER NOT NULL,
    valid          INTEGER NOT NULL,
    reject_reason  TEXT,
    duplicates     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_requests_workspace ON webhook_requests (workspace_id, id);

CREATE TABLE webhook_events (
    id                 TEXT PRIMARY KEY NOT NULL,
    event_id           INTEGER NOT NULL,
    portal_id          INTEGER NOT NULL,
    connector_id       TEXT REFERENCES hubspot_connectors(id) ON DELETE SET NULL,
    workspace_id       TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    object_id          TEXT NOT NULL,
    subscription_type  TEXT NOT NULL,
    occurred_at        TEXT NOT NULL,
    payload            TEXT NOT NULL,
    received_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX webhook_events_event ON webhook_events (portal_id, event_id);
CREATE INDEX webhook_events_object ON webhook_events (portal_id, object_id, occurred_at);

CREATE TABLE batch_runs (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id  TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('running', 'paused', 'done', 'cancelled', 'failed')),
    counters      TEXT NOT NULL,
    checkpoint    TEXT,
    pause_reason  TEXT,
    resume_at     TEXT,
    error         TEXT,
    started_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT
);
-- One active (running or paused) batch per connector.
CREATE UNIQUE INDEX batch_runs_active ON batch_runs (connector_id) WHERE state IN ('running', 'paused');
CREATE INDEX batch_runs_workspace ON batch_runs (workspace_id, id);

-- Which worker process holds a portal's HubSpot rate budget (DESIGN §5).
CREATE TABLE portal_leases (
    portal_id    INTEGER PRIMARY KEY NOT NULL,
    owner        TEXT NOT NULL,
    lease_until  TEXT NOT NULL
);
