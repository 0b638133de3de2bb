-- OAuth connect flow: single-use authorize states (stored as SHA-256 hex, never the
-- state itself), disconnect (tokens wiped, links and history kept) and the monotonic
-- guard on refreshed tokens. Keep in step with migrations/postgres.

CREATE TABLE oauth_states (
    state_hash    TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    return_to     TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    consumed_at   TEXT
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- Set while the connector is disconnected (status reads `disconnected`).
ALTER TABLE hubspot_connectors ADD COLUMN disconnected_at TEXT;
-- When the stored tokens were obtained; a write with an older time is ignored.
ALTER TABLE hubspot_connectors ADD COLUMN tokens_refreshed_at TEXT;
-- The HubSpot user who installed the app (OAuth).
ALTER TABLE hubspot_connectors ADD COLUMN connected_user TEXT;
