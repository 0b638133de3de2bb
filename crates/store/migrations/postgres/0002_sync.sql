-- Sync engine, webhook intake and batch sync (PostgreSQL). Keep in step with
-- migrations/sqlite. JSON columns are jsonb here and TEXT on SQLite.

ALTER TABLE hubspot_connectors
    ADD COLUMN conflict_policy text NOT NULL DEFAULT 'newest_wins'
        CHECK (conflict_policy IN ('newest_wins', 'keva_wins', 'hubspot_wins'));
ALTER TABLE hubspot_connectors ADD COLUMN import_contacts boolean NOT NULL DEFAULT false;
ALTER TABLE hubspot_connectors ADD COLUMN batch_schedule text;
CREATE INDEX hubspot_connectors_portal ON hubspot_connectors (portal_id);

CREATE TABLE webhook_settings (
    workspace_id   uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    app_id         text NOT NULL,
    client_secret  bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE connector_mappings (
    connector_id  uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    object        text NOT NULL,
    mappings      jsonb NOT NULL,
    issues        jsonb NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (connector_id, object)
);

CREATE TABLE property_cache (
    connector_id  uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    object        text NOT NULL,
    properties    jsonb NOT NULL,
    fetched_at    timestamptz NOT NULL,
    PRIMARY KEY (connector_id, object)
);

CREATE TABLE crm_links (
    connector_id    uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    customer_id     uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hubspot_id      text,
    bases           jsonb,
    status          text NOT NULL CHECK (status IN ('pending', 'synced', 'failed', 'conflict', 'not_linked')),
    status_reason   text,
    last_synced_at  timestamptz,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (connector_id, customer_id)
);
-- One customer per contact: a second link to the same contact is a Conflict.
CREATE UNIQUE INDEX crm_links_contact ON crm_links (connector_id, hubspot_id) WHERE hubspot_id IS NOT NULL;

CREATE TABLE sync_history (
    id              uuid PRIMARY KEY,
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id    uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    customer_id     uuid,
    hubspot_id      text,
    trigger         text NOT NULL,
    direction       text NOT NULL,
    fields          jsonb NOT NULL,
    result          text NOT NULL CHECK (result IN ('synced', 'failed', 'conflict', 'skipped')),
    error           text,
    correlation_id  text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX sync_history_customer ON sync_history (workspace_id, customer_id, id);
CREATE INDEX sync_history_connector ON sync_history (workspace_id, connector_id, id);

CREATE TABLE sync_jobs (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id  uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    kind          text NOT NULL,
    coalesce_key  text NOT NULL,
    payload       jsonb NOT NULL,
    trigger       text NOT NULL,
    state         text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts      bigint NOT NULL DEFAULT 0,
    max_attempts  bigint NOT NULL,
    run_at        timestamptz NOT NULL,
    lease_owner   text,
    lease_until   timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
-- At most one queued job per key: enqueue coalesces into it (ON CONFLICT).
CREATE UNIQUE INDEX sync_jobs_queued_key ON sync_jobs (connector_id, coalesce_key) WHERE state = 'queued';
CREATE INDEX sync_jobs_due ON sync_jobs (run_at, id) WHERE state = 'queued';
CREATE INDEX sync_jobs_running_key ON sync_jobs (connector_id, coalesce_key) WHERE state = 'running';
CREATE INDEX sync_jobs_workspace ON sync_jobs (workspace_id, id);

CREATE TABLE webhook_requests (
    id             uuid PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    workspace_id   uuid REFERENCES workspaces(id) ON DELETE CASCADE,
    portal_id      bigint,
    event_count    bigint NOT NULL,
    valid          boolean NOT NULL,
    reject_reason  text,
    duplicates     bigint NOT NULL DEFAULT 0
);
CREATE INDEX webhook_requests_workspace ON webhook_requests (workspace_id, id);

CREATE TABLE webhook_events (
    id                 uuid PRIMARY KEY,
    event_id           bigint NOT NULL,
    portal_id          bigint NOT NULL,
    connector_id       uuid REFERENCES hubspot_connectors(id) ON DELETE SET NULL,
    workspace_id       uuid REFERENCES workspaces(id) ON DELETE CASCADE,
    object_id          text NOT NULL,
    subscription_type  text NOT NULL,
    occurred_at        timestamptz NOT NULL,
    payload            jsonb NOT NULL,
    received_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX webhook_events_event ON webhook_events (portal_id, event_id);
CREATE INDEX webhook_events_object ON webhook_events (portal_id, object_id, occurred_at);

CREATE TABLE batch_runs (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector_id  uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    state         text NOT NULL CHECK (state IN ('running', 'paused', 'done', 'cancelled', 'failed')),
    counters      jsonb NOT NULL,
    checkpoint    text,
    pause_reason  text,
    resume_at     timestamptz,
    error         text,
    started_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
-- One active (running or paused) batch per connector.
CREATE UNIQUE INDEX batch_runs_active ON batch_runs (connector_id) WHERE state IN ('running', 'paused');
CREATE INDEX batch_runs_workspace ON batch_runs (workspace_id, id);

-- Which worker process holds a portal's HubSpot rate budget (DESIGN §5).
CREATE TABLE portal_leases (
    portal_id    bigint PRIMARY KEY,
    owner        text NOT NULL,
    lease_until  timestamptz NOT NULL
);
