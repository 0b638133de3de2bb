//! SQL text shared by both backends. SQLite accepts PostgreSQL's `$N` placeholders
//! and `RETURNING`, and the codecs in `codec.rs` bind ids and times in each backend's
//! column types, so only statements that really differ live in the backend modules.

pub(crate) const PING: &str = "SELECT 1";

// --- workspaces -----------------------------------------------------------

pub(crate) const INSERT_WORKSPACE: &str = "INSERT INTO workspaces (id, name, created_at) \
     VALUES ($1, $2, $3) RETURNING id, name, created_at";
pub(crate) const WORKSPACE_BY_NAME: &str =
    "SELECT id, name, created_at FROM workspaces WHERE name = $1";
pub(crate) const WORKSPACE_BY_ID: &str =
    "SELECT id, name, created_at FROM workspaces WHERE id = $1";
/// Insert-if-absent, so concurrent `ensure_workspace` calls never fail on the
/// unique name; the caller reads the row back when nothing was inserted.
pub(crate) const INSERT_WORKSPACE_IF_ABSENT: &str =
    "INSERT INTO workspaces (id, name, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at";

// --- api keys -------------------------------------------------------------

pub(crate) const INSERT_API_KEY: &str = "INSERT INTO api_keys (id, workspace_id, hash, prefix, created_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id, workspace_id, prefix, created_at, last_used_at, revoked_at";
pub(crate) const API_KEY_BY_HASH: &str =
    "SELECT id, workspace_id, prefix, created_at, last_used_at, revoked_at FROM api_keys WHERE hash = $1";
pub(crate) const TOUCH_API_KEY: &str = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2";
/// Revoking twice keeps the first revocation time.
pub(crate) const REVOKE_API_KEY: &str =
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
     WHERE id = $2 AND workspace_id = $3";
pub(crate) const LIST_API_KEYS: &str =
    "SELECT id, workspace_id, prefix, created_at, last_used_at, revoked_at \
     FROM api_keys WHERE workspace_id = $1 ORDER BY id";

// --- customers ------------------------------------------------------------

pub(crate) const INSERT_CUSTOMER: &str =
    "INSERT INTO customers (id, workspace_id, email, email_normalized, \
     name, phone, company, job_title, location, notes, field_updated_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     RETURNING id, workspace_id, email, name, phone, company, job_title, location, notes, \
     field_updated_at, created_at, updated_at";
/// Used by tickets: a concurrent creator of the same email wins, and the loser
/// reads that row back instead of failing.
pub(crate) const INSERT_CUSTOMER_IF_ABSENT: &str =
    "INSERT INTO customers (id, workspace_id, email, email_normalized, \
     name, phone, company, job_title, location, notes, field_updated_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (workspace_id, email_normalized) DO NOTHING \
     RETURNING id, workspace_id, email, name, phone, company, job_title, location, notes, \
     field_updated_at, created_at, updated_at";
pub(crate) const CUSTOMER_BY_ID: &str =
    "SELECT id, workspace_id, email, name, phone, company, job_title, \
     location, notes, field_updated_at, created_at, updated_at \
     FROM customers WHERE workspace_id = $1 AND id = $2";
pub(crate) const CUSTOMER_BY_EMAIL: &str =
    "SELECT id, workspace_id, email, name, phone, company, job_title, \
     location, notes, field_updated_at, created_at, updated_at \
     FROM customers WHERE workspace_id = $1 AND email_normalized = $2";
pub(crate) const UPDATE_CUSTOMER: &str =
    "UPDATE customers SET email = $3, email_normalized = $4, name = $5, \
     phone = $6, company = $7, job_title = $8, location = $9, notes = $10, field_updated_at = $11, \
     updated_at = $12 WHERE workspace_id = $1 AND id = $2";
pub(crate) const LIST_CUSTOMERS_FIRST: &str =
    "SELECT id, workspace_id, email, name, phone, company, job_title, \
     location, notes, field_updated_at, created_at, updated_at \
     FROM customers WHERE workspace_id = $1 ORDER BY id LIMIT $2";
pub(crate) const LIST_CUSTOMERS_AFTER: &str =
    "SELECT id, workspace_id, email, name, phone, company, job_title, \
     location, notes, field_updated_at, created_at, updated_at \
     FROM customers WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3";
pub(crate) const COUNT_CUSTOMERS: &str = "SELECT COUNT(*) FROM customers WHERE workspace_id = $1";

// --- tickets --------------------------------------------------------------

pub(crate) const INSERT_TICKET: &str =
    "INSERT INTO tickets (id, workspace_id, customer_id, subject, created_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id, workspace_id, customer_id, subject, created_at";

// --- hubspot connectors ---------------------------------------------------

pub(crate) const INSERT_CONNECTOR: &str = "INSERT INTO hubspot_connectors (id, workspace_id, portal_id, auth_kind, \
     access_token, refresh_token, token_expires_at, scopes, status, status_reason, last_sync_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'connected', NULL, NULL, $9, $9) \
     RETURNING id, workspace_id, portal_id, auth_kind, status, status_reason, scopes, token_expires_at, \
     last_sync_at, conflict_policy, import_contacts, batch_schedule, created_at, updated_at";
pub(crate) const CONNECTOR_BY_ID: &str =
    "SELECT id, workspace_id, portal_id, auth_kind, status, status_reason, \
     scopes, token_expires_at, last_sync_at, conflict_policy, import_contacts, batch_schedule, \
     created_at, updated_at FROM hubspot_connectors WHERE workspace_id = $1 AND id = $2";
pub(crate) const LIST_CONNECTORS: &str =
    "SELECT id, workspace_id, portal_id, auth_kind, status, status_reason, \
     scopes, token_expires_at, last_sync_at, conflict_policy, import_contacts, batch_schedule, \
     created_at, updated_at FROM hubspot_connectors WHERE workspace_id = $1 ORDER BY id";
pub(crate) const CONNECTORS_BY_PORTAL: &str =
    "SELECT id, workspace_id, portal_id, auth_kind, status, status_reason, \
     scopes, token_expires_at, last_sync_at, conflict_policy, import_contacts, batch_schedule, \
     created_at, updated_at FROM hubspot_connectors WHERE portal_id = $1 ORDER BY id";
pub(crate) const ALL_CONNECTORS: &str =
    "SELECT id, workspace_id, portal_id, auth_kind, status, status_reason, \
     scopes, token_expires_at, last_sync_at, conflict_policy, import_contacts, batch_schedule, \
     created_at, updated_at FROM hubspot_connectors ORDER BY id";
pub(crate) const CONNECTOR_TOKENS: &str =
    "SELECT id, access_token, refresh_token, token_expires_at \
     FROM hubspot_connectors WHERE workspace_id = $1 AND id = $2";
pub(crate) const UPDATE_CONNECTOR_TOKENS: &str =
    "UPDATE hubspot_connectors SET access_token = $2, \
     refresh_token = $3, token_expires_at = $4, updated_at = $5 WHERE id = $1";
pub(crate) const SET_CONNECTOR_STATUS: &str =
    "UPDATE hubspot_connectors SET status = $2, status_reason = $3, \
     updated_at = $4 WHERE id = $1";
pub(crate) const TOUCH_CONNECTOR_SYNC: &str =
    "UPDATE hubspot_connectors SET last_sync_at = $2, updated_at = $2 WHERE id = $1";
