-- Foundation schema (SQLite). Ids are uuid text, times are RFC 3339 text with
-- milliseconds (see src/codec.rs). Keep in step with migrations/postgres.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hash          BLOB NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE customers (
    id                TEXT PRIMARY KEY NOT NULL,
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email             TEXT NOT NULL,
    email_normalized  TEXT NOT NULL,
    name              TEXT,
    phone             TEXT,
    company           TEXT,
    job_title         TEXT,
    location          TEXT,
    notes             TEXT,
    field_updated_at  TEXT NOT NULL DEFAULT '{}',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX customers_workspace_email ON customers (workspace_id, email_normalized);
CREATE INDEX customers_workspace_id ON customers (workspace_id, id);

CREATE TABLE tickets (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    customer_id   TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX tickets_customer ON tickets (customer_id);
CREATE INDEX tickets_workspace ON tickets (workspace_id);

CREATE TABLE hubspot_connectors (
    id                TEXT PRIMARY KEY NOT NULL,
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    portal_id         INTEGER NOT NULL,
    auth_kind         TEXT NOT NULL CHECK (auth_kind IN ('private_app', 'oauth')),
    access_token      BLOB NOT NULL,
    refresh_token     BLOB,
    token_expires_at  TEXT,
    scopes            TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL CHECK (status IN ('connected', 'needs_reconnection', 'error')),
    status_reason     TEXT,
    last_sync_at      TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX hubspot_connectors_workspace_portal ON hubspot_connectors (workspace_id, portal_id);
