-- Custom customer attributes (SQLite). Keep in step with migrations/postgres.
-- A workspace's attribute definitions; a retired key stays (its values are kept,
-- hidden and unwritable) and is never reused with another type.
CREATE TABLE customer_attributes (
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    label         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    description   TEXT,
    options       TEXT NOT NULL DEFAULT '[]',
    retired_at    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- A customer's attribute values, `{key: value}` as JSON text.
ALTER TABLE customers ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
