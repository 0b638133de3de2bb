-- B2B context from HubSpot (SQLite). Keep in step with migrations/postgres.
-- Companies and deals, each stored once per HubSpot record per connector (shared
-- by every customer associated with it): `object` is 'company' or 'deal',
-- `properties` the record's HubSpot values as JSON text.
CREATE TABLE crm_records (
    connector_id  TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    object        TEXT NOT NULL CHECK (object IN ('company', 'deal')),
    hubspot_id    TEXT NOT NULL,
    properties    TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    PRIMARY KEY (connector_id, object, hubspot_id)
);

-- When a customer's context was last read, and from which contact.
CREATE TABLE crm_contexts (
    connector_id  TEXT NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    customer_id   TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    contact_id    TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    PRIMARY KEY (connector_id, customer_id)
);
CREATE INDEX crm_contexts_contact ON crm_contexts (connector_id, contact_id);

-- The contact's primary company and its deals, one row per association.
CREATE TABLE crm_context_links (
    connector_id  TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    object        TEXT NOT NULL CHECK (object IN ('company', 'deal')),
    hubspot_id    TEXT NOT NULL,
    PRIMARY KEY (connector_id, customer_id, object, hubspot_id),
    FOREIGN KEY (connector_id, customer_id) REFERENCES crm_contexts (connector_id, customer_id) ON DELETE CASCADE
);
CREATE INDEX crm_context_links_record ON crm_context_links (connector_id, object, hubspot_id);

-- The portal's deal pipelines (labels, stage probabilities), cached per connector.
CREATE TABLE crm_pipelines (
    connector_id  TEXT PRIMARY KEY NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    pipelines     TEXT NOT NULL,
    fetched_at    TEXT NOT NULL
);

-- Whether a connector reads context, its status rules (JSON) and the extra company
-- properties it shows (JSON list of internal names).
CREATE TABLE crm_context_settings (
    connector_id  TEXT PRIMARY KEY NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    enabled       INTEGER NOT NULL DEFAULT 0,
    status_rules  TEXT NOT NULL,
    company_properties TEXT NOT NULL DEFAULT '[]',
    updated_at    TEXT NOT NULL
);
