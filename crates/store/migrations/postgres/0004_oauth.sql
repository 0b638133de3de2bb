-- OAuth connect flow: single-use authorize states (stored as SHA-256 hex, never the
-- state itself), disconnect (tokens wiped, links and history kept) and the monotonic
-- guard on refreshed tokens. Keep in step with migrations/sqlite.

CREATE TABLE oauth_states (
    state_hash    text PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    return_to     text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    consumed_at   timestamptz
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- Set while the connector is disconnected (status reads `disconnected`).
ALTER TABLE hubspot_connectors ADD COLUMN disconnected_at timestamptz;
-- When the stored tokens were obtained; a write with an older time is ignored.
ALTER TABLE hubspot_connectors ADD COLUMN tokens_refreshed_at timestamptz;
-- The HubSpot user who installed the app (OAuth).
ALTER TABLE hubspot_connectors ADD COLUMN connected_user text;
