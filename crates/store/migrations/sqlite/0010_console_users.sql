-- The admin console's people and their sign-ins (issue 12). Passwords only as
-- argon2 PHC strings (nullable: a user may sign in by one-time link only); session
-- and sign-in-link tokens only as SHA-256. Keep in step with migrations/postgres.

CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email             TEXT NOT NULL,
    email_normalized  TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash     TEXT,
    created_at        TEXT NOT NULL,
    UNIQUE (workspace_id, email_normalized)
);

-- `kind` is `session` (a signed-in browser) or `sign_in_link` (single use: consumed
-- by setting `revoked_at`).
CREATE TABLE sessions (
    token_hash    BLOB PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('session', 'sign_in_link')),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
