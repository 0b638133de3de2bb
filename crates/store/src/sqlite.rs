//! The SQLite backend: the embedded default, one file next to the binary.
//!
//! Concurrency: all writes go through a one-connection writer pool, and multi-
//! statement writes start with `BEGIN IMMEDIATE`, which takes the write lock up front.
//! A deferred transaction that upgrades to a write fails with `SQLITE_BUSY` without
//! waiting for `busy_timeout`; the immediate one waits (also for other processes,
//! such as `keva-sync api-key create` next to a running server). Reads use a separate
//! pool and run concurrently with the writer thanks to WAL.
//!
//! WAL growth: SQLite's auto-checkpoint never runs for most of our writes, so the
//! writer checkpoints itself (see [`CHECKPOINT_EVERY`]).

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::db::DecodeRows as _;
use crate::sealing::MasterKey;
use crate::StoreError;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

const READ_CONNECTIONS: u32 = 4;

/// The writer runs `PRAGMA wal_checkpoint(PASSIVE)` after this many uses.
///
/// Why the store does it and not `wal_autocheckpoint` (which is on, at 1000 pages):
/// SQLite runs the auto-checkpoint from the WAL hook, which it calls only when a
/// statement steps to `SQLITE_DONE` in autocommit mode. Our single-statement writes
/// are `INSERT/UPDATE ... RETURNING` read with `fetch_one`/`fetch_optional`: sqlx
/// stops stepping after the row and resets the statement, which commits without
/// calling the hook. The WAL was then never checkpointed, so it was never restarted
/// either: ~22 KB per inserted customer, 22 GB for a million. (Multi-statement
/// writes end with a `COMMIT` that does reach the hook.) A passive checkpoint never
/// waits for readers; once it has copied every frame, the next write starts the WAL
/// from its beginning again, so its size stays around this many writes' worth.
const CHECKPOINT_EVERY: u64 = 250;

/// A restarted WAL file is truncated to this size (SQLite otherwise keeps it at its
/// largest size ever).
const JOURNAL_SIZE_LIMIT: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    pub(crate) key: MasterKey,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://path` or `sqlite:path` URL.
    pub async fn connect(url: &str, key: MasterKey) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string());
        // The writer connects first so the file exists and is in WAL mode before
        // any reader opens it.
        let uses = Arc::new(AtomicU64::new(0));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(move |conn, _| {
                let due =
                    uses.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1;
                Box::pin(async move {
                    if due {
                        checkpoint(conn).await;
                    }
                    // Keep the connection either way: a failed checkpoint is retried
                    // after the next CHECKPOINT_EVERY writes.
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await?;
        Ok(Self {
            writer,
            reader,
            key,
        })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    /// Applies the migrations up to `version` only.
    #[cfg(feature = "testing")]
    pub(crate) async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        MIGRATOR.run_to(version, &self.writer).await?;
        Ok(())
    }

    /// The pool for reads; also for tests that inspect raw columns.
    pub fn pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// The single-connection pool every write goes through.
    pub fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// `BEGIN IMMEDIATE` already serialises writers, so a plain read is enough.
    const CUSTOMER_FOR_UPDATE: &'static str = crate::customers::CUSTOMER_BY_ID;

    /// `BEGIN IMMEDIATE` holds the write lock, so claimers are serialised.
    /// The clock leases are computed from. SQLite is one file on one host, so
    /// every process using it shares this host's clock: the process clock is the
    /// database clock (and saves a round trip).
    pub(crate) async fn db_now(&self) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
        Ok(crate::codec::now())
    }

    pub(crate) async fn db_now_on(
        _conn: &mut sqlx::SqliteConnection,
    ) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
        Ok(crate::codec::now())
    }

    /// The write transaction (`BEGIN IMMEDIATE`) already excludes every other writer.
    const JOB_FENCE: &'static str = crate::queue::job_fence_sql!("");

    const CLAIM_JOBS: &'static str = crate::queue::claim_jobs_sql!(" IN (", ")");

    const BATCH_FOR_UPDATE: &'static str = crate::batches::BATCH_BY_ID;

    /// `$2` is a JSON array of id strings.
    const CUSTOMERS_BY_IDS: &'static str = concat!(
        "SELECT ",
        crate::customers::customer_columns!(),
        " FROM customers WHERE workspace_id = $1 AND id IN (SELECT value FROM json_each($2)) \
         ORDER BY id"
    );

    /// `$2` is a JSON array of contact ids.
    const LINKS_BY_HUBSPOT_IDS: &'static str = concat!(
        "SELECT ",
        crate::links::link_columns!(),
        " FROM crm_links WHERE connector_id = $1 \
         AND hubspot_id IN (SELECT value FROM json_each($2)) ORDER BY hubspot_id"
    );

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// A passive checkpoint on the writer connection (see [`CHECKPOINT_EVERY`]).
async fn checkpoint(conn: &mut sqlx::SqliteConnection) {
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_all(conn)
        .await
    {
        Ok(rows) => {
            if let Some((_, log, done)) = rows.first() {
                if done < log {
                    // A reader's snapshot still needs the rest; a later checkpoint
                    // copies it.
                    tracing::debug!(log, done, "partial WAL checkpoint");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
    }
}

crate::db::impl_store!(SqliteStore, Sqlite);
