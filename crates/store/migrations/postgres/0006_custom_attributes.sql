-- Custom customer attributes (PostgreSQL). Keep in step with migrations/sqlite.
-- A workspace's attribute definitions; a retired key stays (its values are kept,
-- hidden and unwritable) and is never reused with another type.
CREATE TABLE customer_attributes (
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key           text NOT NULL,
    label         text NOT NULL,
    kind          text NOT NULL,
    description   text,
    options       text NOT NULL DEFAULT '[]',
    retired_at    timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- A customer's attribute values, `{key: value}` as JSON text.
ALTER TABLE customers ADD COLUMN attributes text NOT NULL DEFAULT '{}';
