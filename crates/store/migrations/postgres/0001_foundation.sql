-- Foundation schema (PostgreSQL). Keep in step with migrations/sqlite.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hash          bytea NOT NULL UNIQUE,
    prefix        text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE customers (
    id                uuid PRIMARY KEY,
    workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email             text NOT NULL,
    email_normalized  text NOT NULL,
    name              text,
    phone             text,
    company           text,
    job_title         text,
    location          text,
    notes             text,
    field_updated_at  jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX customers_workspace_email ON customers (workspace_id, email_normalized);
CREATE INDEX customers_workspace_id ON customers (workspace_id, id);

CREATE TABLE tickets (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    customer_id   uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    subject       text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX tickets_customer ON tickets (customer_id);
CREATE INDEX tickets_workspace ON tickets (workspace_id);

CREATE TABLE hubspot_connectors (
    id                uuid PRIMARY KEY,
    workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    portal_id         bigint NOT NULL,
    auth_kind         text NOT NULL CHECK (auth_kind IN ('private_app', 'oauth')),
    access_token      bytea NOT NULL,
    refresh_token     bytea,
    token_expires_at  timestamptz,
    scopes            jsonb NOT NULL DEFAULT '[]',
    status            text NOT NULL CHECK (status IN ('connected', 'needs_reconnection', 'error')),
    status_reason     text,
    last_sync_at      timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX hubspot_connectors_workspace_portal ON hubspot_connectors (workspace_id, portal_id);
