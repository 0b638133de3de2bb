//! SQL text of the sync operations (links, history, mappings, webhooks, batches and
//! the job queue), shared by both backends like `sql.rs`. Statements that differ
//! (row locks, array parameters) are constants of the backend types.

macro_rules! link_cols {
    () => {
        "connector_id, workspace_id, customer_id, hubspot_id, bases, status, status_reason, \
         last_synced_at, updated_at"
    };
}

macro_rules! history_cols {
    () => {
        "id, workspace_id, connector_id, customer_id, hubspot_id, trigger, direction, fields, \
         result, error, correlation_id, created_at"
    };
}

macro_rules! job_cols {
    () => {
        "id, workspace_id, connector_id, kind, coalesce_key, payload, trigger, state, attempts, \
         max_attempts, run_at, lease_owner, lease_until, last_error, created_at, updated_at, \
         finished_at"
    };
}

macro_rules! batch_cols {
    () => {
        "id, workspace_id, connector_id, state, counters, checkpoint, pause_reason, resume_at, \
         error, started_at, updated_at, finished_at"
    };
}

macro_rules! request_cols {
    () => {
        "id, received_at, workspace_id, portal_id, event_count, valid, reject_reason, duplicates"
    };
}

macro_rules! event_cols {
    () => {
        "id, event_id, portal_id, connector_id, workspace_id, object_id, subscription_type, \
         occurred_at, payload, received_at"
    };
}

pub(crate) use {batch_cols, job_cols, link_cols};

// --- connectors -------------------------------------------------------------

pub(crate) const UPDATE_CONNECTOR_SETTINGS: &str =
    "UPDATE hubspot_connectors SET conflict_policy = $3, import_contacts = $4, \
     batch_schedule = $5, updated_at = $6 WHERE workspace_id = $1 AND id = $2 \
     RETURNING id, workspace_id, portal_id, auth_kind, status, status_reason, scopes, \
     token_expires_at, last_sync_at, conflict_policy, import_contacts, batch_schedule, \
     created_at, updated_at";

// --- webhook settings -------------------------------------------------------

pub(crate) const UPSERT_WEBHOOK_SETTINGS: &str =
    "INSERT INTO webhook_settings (workspace_id, app_id, client_secret, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (workspace_id) DO UPDATE SET app_id = excluded.app_id, \
     client_secret = excluded.client_secret, updated_at = excluded.updated_at \
     RETURNING workspace_id, app_id, created_at, updated_at";
pub(crate) const WEBHOOK_SETTINGS: &str =
    "SELECT workspace_id, app_id, created_at, updated_at FROM webhook_settings WHERE workspace_id = $1";
pub(crate) const WEBHOOK_SECRET: &str =
    "SELECT client_secret FROM webhook_settings WHERE workspace_id = $1";

// --- mappings and property cache ---------------------------------------------

pub(crate) const MAPPINGS: &str =
    "SELECT mappings, issues, updated_at FROM connector_mappings WHERE connector_id = $1 AND object = $2";
pub(crate) const SAVE_MAPPINGS: &str =
    "INSERT INTO connector_mappings (connector_id, object, mappings, issues, updated_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector_id, object) DO UPDATE SET \
     mappings = excluded.mappings, issues = excluded.issues, updated_at = excluded.updated_at";
pub(crate) const PROPERTY_CACHE: &str =
    "SELECT properties, fetched_at FROM property_cache WHERE connector_id = $1 AND object = $2";
pub(crate) const SAVE_PROPERTY_CACHE: &str =
    "INSERT INTO property_cache (connector_id, object, properties, fetched_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (connector_id, object) DO UPDATE SET \
     properties = excluded.properties, fetched_at = excluded.fetched_at";

// --- links --------------------------------------------------------------------

pub(crate) const GET_LINK: &str = concat!(
    "SELECT ",
    link_cols!(),
    " FROM crm_links WHERE connector_id = $1 AND customer_id = $2"
);
pub(crate) const LINK_BY_HUBSPOT_ID: &str = concat!(
    "SELECT ",
    link_cols!(),
    " FROM crm_links WHERE connector_id = $1 AND hubspot_id = $2"
);
/// Creates the link (workspace taken from the connector, which must share it with
/// the customer) or changes only its status.
pub(crate) const SET_LINK_STATUS: &str = concat!(
    "INSERT INTO crm_links (connector_id, workspace_id, customer_id, status, status_reason, \
     updated_at) SELECT c.id, c.workspace_id, cu.id, $3, $4, $5 \
     FROM hubspot_connectors c JOIN customers cu ON cu.workspace_id = c.workspace_id \
     WHERE c.id = $1 AND cu.id = $2 \
     ON CONFLICT (connector_id, customer_id) DO UPDATE SET status = excluded.status, \
     status_reason = excluded.status_reason, updated_at = excluded.updated_at RETURNING ",
    link_cols!()
);
/// Writes a sync's outcome to the link. `last_synced_at` keeps its value when `$8`
/// is NULL.
pub(crate) const UPSERT_LINK: &str = concat!(
    "INSERT INTO crm_links (connector_id, workspace_id, customer_id, hubspot_id, bases, status, \
     status_reason, last_synced_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (connector_id, customer_id) DO UPDATE SET hubspot_id = excluded.hubspot_id, \
     bases = excluded.bases, status = excluded.status, status_reason = excluded.status_reason, \
     last_synced_at = COALESCE(excluded.last_synced_at, crm_links.last_synced_at), \
     updated_at = excluded.updated_at RETURNING ",
    link_cols!()
);
/// A refused commit in a batch: keep the contact id (never lose a created contact)
/// and the old bases, record the failure.
pub(crate) const FAIL_LINK: &str = concat!(
    "INSERT INTO crm_links (connector_id, workspace_id, customer_id, hubspot_id, bases, status, \
     status_reason, last_synced_at, updated_at) VALUES ($1, $2, $3, $4, NULL, 'failed', $5, NULL, $6) \
     ON CONFLICT (connector_id, customer_id) DO UPDATE SET \
     hubspot_id = COALESCE(excluded.hubspot_id, crm_links.hubspot_id), status = 'failed', \
     status_reason = excluded.status_reason, updated_at = excluded.updated_at RETURNING ",
    link_cols!()
);
pub(crate) const UNLINK_HUBSPOT: &str = concat!(
    "UPDATE crm_links SET hubspot_id = NULL, bases = NULL, status = $3, status_reason = $4, \
     updated_at = $5 WHERE connector_id = $1 AND hubspot_id = $2 RETURNING ",
    link_cols!()
);
pub(crate) const MOVE_LINK: &str = concat!(
    "UPDATE crm_links SET hubspot_id = $3, updated_at = $4 \
     WHERE connector_id = $1 AND hubspot_id = $2 RETURNING ",
    link_cols!()
);

// --- history --------------------------------------------------------------------

pub(crate) const INSERT_HISTORY: &str = concat!(
    "INSERT INTO sync_history (",
    history_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
    history_cols!()
);
pub(crate) const CUSTOMER_HISTORY: &str = concat!(
    "SELECT ",
    history_cols!(),
    " FROM sync_history WHERE workspace_id = $1 AND customer_id = $2 ORDER BY id DESC LIMIT $3"
);
pub(crate) const HISTORY_PAGE: &str = concat!(
    "SELECT ",
    history_cols!(),
    " FROM sync_history WHERE workspace_id = $1 AND connector_id = $2 \
     AND ($3 IS NULL OR result = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
);

// --- jobs -------------------------------------------------------------------------

/// Inserts, or coalesces into the queued job with the same key: that job keeps its
/// id and payload, and runs at the earlier of the two times. The caller compares
/// the returned id with the one it proposed.
pub(crate) const ENQUEUE_JOB: &str =
    "INSERT INTO sync_jobs (id, workspace_id, connector_id, kind, coalesce_key, payload, trigger, \
     state, attempts, max_attempts, run_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $9, $10, $10) \
     ON CONFLICT (connector_id, coalesce_key) WHERE state = 'queued' DO UPDATE SET \
     run_at = CASE WHEN excluded.run_at < sync_jobs.run_at THEN excluded.run_at ELSE sync_jobs.run_at END, \
     updated_at = excluded.updated_at \
     RETURNING id";
pub(crate) const HEARTBEAT_JOB: &str = "UPDATE sync_jobs SET lease_until = $3, updated_at = $4 \
     WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND lease_until > $4";
pub(crate) const FINISH_JOB: &str =
    "UPDATE sync_jobs SET state = $3, last_error = $4, lease_owner = NULL, lease_until = NULL, \
     updated_at = $5, finished_at = $5 WHERE id = $1 AND state = 'running' AND lease_owner = $2";
pub(crate) const REQUEUE_OWNED_JOB: &str =
    "UPDATE sync_jobs SET state = 'queued', run_at = $3, last_error = $4, lease_owner = NULL, \
     lease_until = NULL, updated_at = $5 WHERE id = $1 AND state = 'running' AND lease_owner = $2";
/// The queued twin of a job (same connector and key), if any.
pub(crate) const QUEUED_TWIN: &str = "SELECT q.id FROM sync_jobs j JOIN sync_jobs q \
     ON q.connector_id = j.connector_id AND q.coalesce_key = j.coalesce_key AND q.state = 'queued' \
     WHERE j.id = $1";
pub(crate) const PULL_RUN_AT: &str = "UPDATE sync_jobs SET run_at = $2, updated_at = $3 \
     WHERE id = $1 AND state = 'queued' AND run_at > $2";
/// Ends a running job that a queued twin covers (`$2` is the message).
pub(crate) const COALESCE_RUNNING_JOB: &str =
    "UPDATE sync_jobs SET state = 'succeeded', last_error = $2, lease_owner = NULL, \
     lease_until = NULL, updated_at = $3, finished_at = $3 WHERE id = $1 AND state = 'running'";
pub(crate) const EXPIRED_LEASES: &str =
    "SELECT id, attempts, max_attempts FROM sync_jobs WHERE state = 'running' AND lease_until <= $1 \
     ORDER BY id";
pub(crate) const KILL_EXPIRED_JOB: &str =
    "UPDATE sync_jobs SET state = 'dead', last_error = $2, lease_owner = NULL, lease_until = NULL, \
     updated_at = $3, finished_at = $3 WHERE id = $1 AND state = 'running' AND lease_until <= $3";
pub(crate) const REQUEUE_EXPIRED_JOB: &str =
    "UPDATE sync_jobs SET state = 'queued', run_at = $3, last_error = $2, lease_owner = NULL, \
     lease_until = NULL, updated_at = $3 WHERE id = $1 AND state = 'running' AND lease_until <= $3";
pub(crate) const GET_JOB: &str = concat!(
    "SELECT ",
    job_cols!(),
    " FROM sync_jobs WHERE workspace_id = $1 AND id = $2"
);
pub(crate) const LIST_JOBS: &str = concat!(
    "SELECT ",
    job_cols!(),
    " FROM sync_jobs WHERE workspace_id = $1 AND ($2 IS NULL OR state = $2) ORDER BY id DESC LIMIT $3"
);
pub(crate) const COUNT_JOBS: &str = "SELECT COUNT(*) FROM sync_jobs WHERE state = $1";
pub(crate) const RETRY_DEAD_JOB: &str = concat!(
    "UPDATE sync_jobs SET state = 'queued', attempts = 0, run_at = $3, last_error = NULL, \
     lease_owner = NULL, lease_until = NULL, finished_at = NULL, updated_at = $3 \
     WHERE workspace_id = $1 AND id = $2 AND state IN ('dead', 'failed') RETURNING ",
    job_cols!()
);

// --- webhooks -----------------------------------------------------------------------

pub(crate) const INSERT_WEBHOOK_REQUEST: &str = concat!(
    "INSERT INTO webhook_requests (",
    request_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
    request_cols!()
);
pub(crate) const WEBHOOK_LOG: &str = concat!(
    "SELECT ",
    request_cols!(),
    " FROM webhook_requests WHERE workspace_id = $1 AND ($2 IS NULL OR id < $2) \
     ORDER BY id DESC LIMIT $3"
);
pub(crate) const INSERT_WEBHOOK_EVENT: &str = concat!(
    "INSERT INTO webhook_events (",
    event_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (portal_id, event_id) DO NOTHING"
);
pub(crate) const CONTACT_EVENTS_SINCE: &str = concat!(
    "SELECT ",
    event_cols!(),
    " FROM webhook_events WHERE connector_id = $1 AND object_id = $2 AND occurred_at > $3 \
     ORDER BY occurred_at, event_id"
);

// --- batch runs ----------------------------------------------------------------------

pub(crate) const INSERT_BATCH: &str = concat!(
    "INSERT INTO batch_runs (id, workspace_id, connector_id, state, counters, started_at, \
     updated_at) SELECT $1, c.workspace_id, c.id, 'running', $4, $5, $5 \
     FROM hubspot_connectors c WHERE c.workspace_id = $2 AND c.id = $3 RETURNING ",
    batch_cols!()
);
pub(crate) const GET_BATCH: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM batch_runs WHERE workspace_id = $1 AND id = $2"
);
pub(crate) const BATCH_BY_ID: &str =
    concat!("SELECT ", batch_cols!(), " FROM batch_runs WHERE id = $1");
pub(crate) const ACTIVE_BATCH: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM batch_runs WHERE connector_id = $1 AND state IN ('running', 'paused')"
);
pub(crate) const ALL_ACTIVE_BATCHES: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM batch_runs WHERE state IN ('running', 'paused') ORDER BY id"
);
pub(crate) const LIST_BATCHES: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM batch_runs WHERE workspace_id = $1 AND connector_id = $2 ORDER BY id DESC LIMIT $3"
);
/// Only an active run changes state; `$7` sets `finished_at` (terminal states).
pub(crate) const SET_BATCH_STATE: &str = concat!(
    "UPDATE batch_runs SET state = $2, pause_reason = $3, resume_at = $4, error = $5, \
     updated_at = $6, finished_at = $7 WHERE id = $1 AND state IN ('running', 'paused') RETURNING ",
    batch_cols!()
);
pub(crate) const SAVE_BATCH_PROGRESS: &str = concat!(
    "UPDATE batch_runs SET counters = $2, checkpoint = $3, updated_at = $4 WHERE id = $1 RETURNING ",
    batch_cols!()
);

// --- portal leases -----------------------------------------------------------------

/// Takes the lease if it is free, expired or already ours (then extends it).
pub(crate) const ACQUIRE_PORTAL_LEASE: &str =
    "INSERT INTO portal_leases (portal_id, owner, lease_until) VALUES ($1, $2, $3) \
     ON CONFLICT (portal_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
     WHERE portal_leases.owner = excluded.owner OR portal_leases.lease_until <= $4";
pub(crate) const RELEASE_PORTAL_LEASE: &str =
    "DELETE FROM portal_leases WHERE portal_id = $1 AND owner = $2";

// --- customers for sync ------------------------------------------------------------

/// Customer columns (as `CustomerRow`) and the connector's link, if any (`l_*`).
macro_rules! customer_with_link {
    () => {
        "SELECT cu.id, cu.workspace_id, cu.email, cu.name, cu.phone, cu.company, cu.job_title, \
         cu.location, cu.notes, cu.field_updated_at, cu.created_at, cu.updated_at, \
         l.hubspot_id AS l_hubspot_id, l.bases AS l_bases, l.status AS l_status, \
         l.status_reason AS l_status_reason, l.last_synced_at AS l_last_synced_at, \
         l.updated_at AS l_updated_at \
         FROM customers cu LEFT JOIN crm_links l ON l.customer_id = cu.id AND l.connector_id = $2 \
         WHERE cu.workspace_id = $1"
    };
}

pub(crate) const CUSTOMERS_FOR_BATCH_FIRST: &str =
    concat!(customer_with_link!(), " ORDER BY cu.id LIMIT $3");
pub(crate) const CUSTOMERS_FOR_BATCH_AFTER: &str = concat!(
    customer_with_link!(),
    " AND cu.id > $3 ORDER BY cu.id LIMIT $4"
);
