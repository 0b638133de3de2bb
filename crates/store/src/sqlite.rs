//! The SQLite backend: the embedded default, one file next to the binary.
//!
//! Concurrency: all writes go through a one-connection writer pool, and multi-
//! statement writes start with `BEGIN IMMEDIATE`, which takes the write lock up front.
//! A deferred transaction that upgrades to a write fails with `SQLITE_BUSY` without
//! waiting for `busy_timeout`; the immediate one waits (also for other processes,
//! such as `keva-sync api-key create` next to a running server). Reads use a separate
//! pool and run concurrently with the writer thanks to WAL.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::crypto::MasterKey;
use crate::StoreError;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

const READ_CONNECTIONS: u32 = 4;

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
            .synchronous(SqliteSynchronous::Normal);
        // The writer connects first so the file exists and is in WAL mode before
        // any reader opens it.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
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
    const CUSTOMER_FOR_UPDATE: &'static str = crate::sql::CUSTOMER_BY_ID;

    /// `BEGIN IMMEDIATE` holds the write lock, so claimers are serialised.
    const CLAIM_JOBS: &'static str = crate::job_queries::claim_jobs_sql!(" IN (", ")");

    const BATCH_FOR_UPDATE: &'static str = crate::sync_sql::BATCH_BY_ID;

    /// `$2` is a JSON array of id strings.
    const CUSTOMERS_BY_IDS: &'static str =
        "SELECT id, workspace_id, email, name, phone, company, job_title, \
         location, notes, field_updated_at, created_at, updated_at FROM customers \
         WHERE workspace_id = $1 AND id IN (SELECT value FROM json_each($2)) ORDER BY id";

    /// `$2` is a JSON array of contact ids.
    const LINKS_BY_HUBSPOT_IDS: &'static str = concat!(
        "SELECT ",
        crate::sync_sql::link_cols!(),
        " FROM crm_links WHERE connector_id = $1 \
         AND hubspot_id IN (SELECT value FROM json_each($2)) ORDER BY hubspot_id"
    );

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

crate::queries::impl_queries!(SqliteStore, Sqlite);
crate::sync_queries::impl_sync_queries!(SqliteStore, Sqlite);
crate::job_queries::impl_job_queries!(SqliteStore, Sqlite);
