-- B2B context from HubSpot (PostgreSQL). Keep in step with migrations/sqlite.
-- Companies and deals, each stored once per HubSpot record per connector (shared
-- by every customer associated with it): `object` is 'company' or 'deal',
-- `properties` the record's HubSpot values as JSON text.
CREATE TABLE crm_records (
    connector_id  uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    object        text NOT NULL CHECK (object IN ('company', 'deal')),
    hubspot_id    text NOT NULL,
    properties    jsonb NOT NULL,
    fetched_at    timestamptz NOT NULL,
    PRIMARY KEY (connector_id, object, hubspot_id)
);

-- When a customer's context was last read, and from which contact.
CREATE TABLE crm_contexts (
    connector_id  uuid NOT NULL REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    customer_id   uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    contact_id    text NOT NULL,
    fetched_at    timestamptz NOT NULL,
    PRIMARY KEY (connector_id, customer_id)
);
CREATE INDEX crm_contexts_contact ON crm_contexts (connector_id, contact_id);

-- The contact's primary company and its deals, one row per association.
CREATE TABLE crm_context_links (
    connector_id  uuid NOT NULL,
    customer_id   uuid NOT NULL,
    object        text NOT NULL CHECK (object IN ('company', 'deal')),
    hubspot_id    text NOT NULL,
    PRIMARY KEY (connector_id, customer_id, object, hubspot_id),
    FOREIGN KEY (connector_id, customer_id) REFERENCES crm_contexts (connector_id, customer_id) ON DELETE CASCADE
);
CREATE INDEX crm_context_links_record ON crm_context_links (connector_id, object, hubspot_id);

-- The portal's deal pipelines (labels, stage probabilities), cached per connector.
CREATE TABLE crm_pipelines (
    connector_id  uuid PRIMARY KEY REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    pipelines     jsonb NOT NULL,
    fetched_at    timestamptz NOT NULL
);

-- Whether a connector reads context, its status rules (JSON) and the extra company
-- properties it shows (JSON list of internal names).
CREATE TABLE crm_context_settings (
    connector_id  uuid PRIMARY KEY REFERENCES hubspot_connectors(id) ON DELETE CASCADE,
    enabled       boolean NOT NULL DEFAULT false,
    status_rules  jsonb NOT NULL,
    company_properties jsonb NOT NULL DEFAULT '[]',
    updated_at    timestamptz NOT NULL
);
