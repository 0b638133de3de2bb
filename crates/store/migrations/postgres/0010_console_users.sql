-- The admin console's people and their sign-ins (issue 12). Passwords only as
-- argon2 PHC strings (nullable: a user may sign in by one-time link only); session
-- and sign-in-link tokens only as SHA-256. Keep in step with migrations/sqlite.

CREATE TABLE users (
    id                uuid PRIMARY KEY,
    workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email             text NOT NULL,
    email_normalized  text NOT NULL,
    role              text NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash     text,
    created_at        timestamptz NOT NULL,
    UNIQUE (workspace_id, email_normalized)
);

-- `kind` is `session` (a signed-in browser) or `sign_in_link` (single use: consumed
-- by setting `revoked_at`).
CREATE TABLE sessions (
    token_hash    bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('session', 'sign_in_link')),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
