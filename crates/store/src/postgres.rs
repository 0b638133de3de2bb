//! The PostgreSQL backend, for running several Keva Sync instances on one database.
//!
//! Transactions run at READ COMMITTED; races between instances are settled by
//! unique indexes (`ON CONFLICT DO NOTHING` then re-read) and `FOR UPDATE` row locks
//! rather than by serialising all writers as on SQLite.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::db::DecodeRows as _;
use crate::sealing::MasterKey;
use crate::StoreError;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

const MAX_CONNECTIONS: u32 = 10;

/// Bounds on waiting for a row lock and on a transaction left idle. Every
/// transaction here is short and never spans a HubSpot call, so these only
/// trip on a bug or a stalled process; then the statement fails (and is
/// retried by its caller) instead of the reaper, the heartbeats and the API
/// queueing behind one forgotten lock for good.
const SESSION_LIMITS: [(&str, &str); 2] = [
    ("lock_timeout", "10s"),
    ("idle_in_transaction_session_timeout", "60s"),
];

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    pub(crate) key: MasterKey,
}

impl PgStore {
    pub async fn connect(url: &str, key: MasterKey) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?, key).await
    }

    pub async fn connect_with(
        options: PgConnectOptions,
        key: MasterKey,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.options(SESSION_LIMITS))
            .await?;
        Ok(Self { pool, key })
    }

    /// Safe to run from several instances at once: sqlx takes an advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Applies the migrations up to `version` only.
    #[cfg(feature = "testing")]
    pub(crate) async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        MIGRATOR.run_to(version, &self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn reader(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn writer(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Locks the row so concurrent updates merge their field times instead of
    /// overwriting each other's.
    const CUSTOMER_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        crate::customers::customer_columns!(),
        " FROM customers WHERE workspace_id = $1 AND id = $2 FOR UPDATE"
    );

    /// Claimers in several processes skip each other's locked candidates instead
    /// of waiting for them or taking them twice.
    /// The database's clock: every instance computes lease times from the same
    /// one, so their own clocks may drift apart.
    pub(crate) async fn db_now(&self) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        Self::db_now_on(&mut conn).await
    }

    /// `db_now` on a connection or transaction (`clock_timestamp`, not the
    /// transaction's start time, so a lease checked late in it is checked now).
    pub(crate) async fn db_now_on(
        conn: &mut sqlx::PgConnection,
    ) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
        let t: crate::codec::DbTime = sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(conn)
            .await?;
        Ok(crate::codec::to_millis(t.0))
    }

    /// Locks the job row: a takeover (reaper, claim) waits for the commit.
    const JOB_FENCE: &'static str = crate::queue::job_fence_sql!(" FOR UPDATE");

    const CLAIM_JOBS: &'static str =
        crate::queue::claim_jobs_sql!(" = ANY(ARRAY(", " FOR UPDATE SKIP LOCKED))");

    /// Chunk commits of one run add to its counters one after the other.
    const BATCH_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        crate::batches::batch_columns!(),
        " FROM batch_runs WHERE id = $1 FOR UPDATE"
    );

    /// `$2` is a JSON array of id strings.
    const CUSTOMERS_BY_IDS: &'static str = concat!(
        "SELECT ",
        crate::customers::customer_columns!(),
        " FROM customers WHERE workspace_id = $1 \
         AND id IN (SELECT jsonb_array_elements_text($2)::uuid) ORDER BY id"
    );

    /// `$2` is a JSON array of contact ids.
    const LINKS_BY_HUBSPOT_IDS: &'static str = concat!(
        "SELECT ",
        crate::links::link_columns!(),
        " FROM crm_links WHERE connector_id = $1 \
         AND hubspot_id IN (SELECT jsonb_array_elements_text($2)) ORDER BY hubspot_id"
    );

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

crate::db::impl_store!(PgStore, Postgres);
