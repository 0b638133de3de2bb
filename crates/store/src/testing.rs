//! Test helpers shared with other crates' tests (cargo feature `testing`): a migrated
//! store on a temporary SQLite file or on a fresh PostgreSQL database.
//!
//! PostgreSQL is never optional: if it cannot be reached the helper panics with a
//! message saying how to start it, so a missing server fails the run instead of
//! silently skipping half the suite.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use tempfile::TempDir;
use uuid::Uuid;

use crate::{Backend, MasterKey, PgStore, Store};

/// Env var naming the PostgreSQL server (and an existing database to connect to
/// for `CREATE DATABASE`).
pub const POSTGRES_URL_VAR: &str = "KEVA_TEST_POSTGRES_URL";
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Test databases are named `keva_test_<uuid v7>`; those older than this are
/// dropped by later runs, as a test that panics never reaches its own cleanup.
const STALE_AFTER_MS: u64 = 60 * 60 * 1000;

/// Keeps a test's database alive; drop it after the store. Dropping it removes
/// the SQLite file's directory, or drops the PostgreSQL test database (with
/// `FORCE`, so connections a test left open do not keep it): hundreds of
/// databases left for the end of the run cost gigabytes of disk.
pub struct TempGuard {
    _dir: Option<TempDir>,
    postgres_database: Option<String>,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        let Some(name) = self.postgres_database.take() else {
            return;
        };
        // Drop may run inside the test's runtime, which cannot be blocked on; a
        // thread with its own runtime does the async work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let mut admin = admin_connection().await.1;
                let _ = admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await;
                admin.close().await.ok();
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop a PostgreSQL test database; later runs sweep it");
        }
    }
}

/// A migrated store on a new SQLite file in a temporary directory.
pub async fn sqlite_store() -> (Store, TempGuard) {
    sqlite_store_at(None).await
}

/// Migrates a test store: fully, or up to version `upto` only.
async fn migrate(store: &Store, upto: Option<i64>) -> Result<(), crate::StoreError> {
    match upto {
        Some(version) => store.migrate_to(version).await,
        None => store.migrate().await,
    }
}

async fn sqlite_store_at(upto: Option<i64>) -> (Store, TempGuard) {
    let dir = tempfile::tempdir().expect("create a temporary directory for the test database");
    let url = format!("sqlite://{}", dir.path().join("keva-test.db").display());
    let store = Store::connect(&url, MasterKey::generate())
        .await
        .expect("open the temporary SQLite database");
    migrate(&store, upto)
        .await
        .expect("migrate the SQLite test database");
    (
        store,
        TempGuard {
            _dir: Some(dir),
            postgres_database: None,
        },
    )
}

/// A migrated store on a fresh, uniquely named PostgreSQL database on the server
/// named by `KEVA_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
pub async fn postgres_store() -> Store {
    postgres_store_at(None).await
}

async fn postgres_store_at(upto: Option<i64>) -> Store {
    let (admin_options, mut admin) = admin_connection().await;
    drop_stale_databases(&mut admin).await;
    let name = format!("keva_test_{}", Uuid::now_v7().simple());
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
    admin.close().await.ok();

    let store = PgStore::connect_with(admin_options.database(&name), MasterKey::generate())
        .await
        .unwrap_or_else(|e| panic!("connect to test database {name}: {e}"));
    let store = Store::Postgres(store);
    migrate(&store, upto)
        .await
        .expect("migrate the PostgreSQL test database");
    store
}

/// Closes a store from `postgres_store` and drops its database (call at the end of
/// a test; a store on another backend is just closed).
pub async fn drop_test_database(store: Store) {
    let Store::Postgres(pg) = &store else {
        store.close().await;
        return;
    };
    let name = pg
        .pool()
        .connect_options()
        .get_database()
        .map(str::to_string);
    store.close().await;
    let Some(name) = name.filter(|n| n.starts_with("keva_test_")) else {
        return;
    };
    let mut admin = admin_connection().await.1;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\""
        )))
        .await
        .unwrap_or_else(|e| panic!("drop test database {name}: {e}"));
    admin.close().await.ok();
}

/// A private-app connector of `workspace_id` on `portal_id`, with a fixed token.
pub fn private_app_connector(workspace_id: Uuid, portal_id: i64) -> crate::NewConnector {
    crate::NewConnector {
        workspace_id,
        portal_id,
        auth_kind: crate::AuthKind::PrivateApp,
        access_token: secrecy::SecretString::from("pat-token"),
        refresh_token: None,
        token_expires_at: None,
        scopes: vec![],
    }
}

/// A new workspace named `name` with a private-app connector on `portal_id`:
/// (workspace id, connector id).
pub async fn workspace_with_connector(store: &Store, name: &str, portal_id: i64) -> (Uuid, Uuid) {
    let ws = store.create_workspace(name).await.expect("workspace").id;
    let connector = store
        .insert_connector(private_app_connector(ws, portal_id))
        .await
        .expect("connector");
    (ws, connector.id)
}

/// The workspace "acme" with a connector on portal 4242: where most store
/// contract cases start.
pub struct Fixture {
    pub ws: Uuid,
    pub conn: Uuid,
}

impl Fixture {
    /// A reconcile job of the fixture's connector for `key`.
    pub fn job(&self, key: &str) -> crate::NewJob {
        crate::NewJob::new(
            self.ws,
            self.conn,
            "reconcile_customer",
            key,
            serde_json::json!({ "key": key }),
            keva_core::Trigger::ProfileUpdate,
        )
    }
}

pub async fn fixture(store: &Store) -> Fixture {
    let (ws, conn) = workspace_with_connector(store, "acme", 4242).await;
    Fixture { ws, conn }
}

/// A new customer of `ws` with only an email: its id.
pub async fn customer(store: &Store, ws: Uuid, email: &str) -> Uuid {
    store
        .insert_customer(ws, crate::NewCustomer::with_email(email))
        .await
        .expect("insert customer")
        .id
}

/// The URL another process (a `keva-sync` child) uses to reach `store`'s database.
pub fn database_url(store: &Store) -> String {
    match store {
        Store::Sqlite(s) => format!(
            "sqlite://{}",
            s.pool().connect_options().get_filename().display()
        ),
        Store::Postgres(pg) => {
            let db = pg
                .pool()
                .connect_options()
                .get_database()
                .expect("a test database has a name")
                .to_string();
            let admin = std::env::var("KEVA_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            format!("{base}/{db}")
        }
    }
}

/// A migrated store on `backend`, for suites that run once per backend.
pub async fn store_for(backend: Backend) -> (Store, TempGuard) {
    store_for_at(backend, None).await
}

async fn store_for_at(backend: Backend, upto: Option<i64>) -> (Store, TempGuard) {
    match backend {
        Backend::Sqlite => sqlite_store_at(upto).await,
        Backend::Postgres => {
            let store = postgres_store_at(upto).await;
            let postgres_database = match &store {
                Store::Postgres(pg) => pg
                    .pool()
                    .connect_options()
                    .get_database()
                    .map(str::to_string),
                Store::Sqlite(_) => None,
            };
            (
                store,
                TempGuard {
                    _dir: None,
                    postgres_database,
                },
            )
        }
    }
}

/// A migrated store for one test case, with what keeps its database alive. The
/// fixture of `backend_tests!(with = …)` suites: `Deref`s to the `Store`; end the
/// case with `finish`, which closes it and drops a PostgreSQL test database.
pub struct TestStore {
    store: Store,
    _guard: TempGuard,
}

impl TestStore {
    /// Closes the store and drops its database (PostgreSQL); the SQLite file goes
    /// with its temporary directory.
    pub async fn finish(self) {
        drop_test_database(self.store).await;
    }
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

/// A `TestStore` on `backend`.
pub async fn test_store(backend: Backend) -> TestStore {
    let (store, guard) = store_for(backend).await;
    TestStore {
        store,
        _guard: guard,
    }
}

/// A `TestStore` on `backend` migrated up to `version` only (an older release's
/// schema); `migrate` then applies the rest, as an upgrade would.
pub async fn test_store_migrated_to(backend: Backend, version: i64) -> TestStore {
    let (store, guard) = store_for_at(backend, Some(version)).await;
    TestStore {
        store,
        _guard: guard,
    }
}

/// A new store on the same database as `store`, with new pools, as a restarted
/// process would open it. The caller keeps `store`'s `TempGuard` alive.
pub async fn reopen(store: &Store, key: MasterKey) -> Store {
    match store {
        Store::Sqlite(s) => {
            let path = s.pool().connect_options().get_filename().to_path_buf();
            Store::connect(&format!("sqlite://{}", path.display()), key)
                .await
                .expect("reopen the SQLite test database")
        }
        Store::Postgres(pg) => Store::Postgres(
            PgStore::connect_with((*pg.pool().connect_options()).clone(), key)
                .await
                .expect("reopen the PostgreSQL test database"),
        ),
    }
}

/// `plaintext` sealed in the retired v1 format (no workspace binding, no key id),
/// as databases written before format v2 hold it.
pub fn seal_v1(key: &MasterKey, row_id: Uuid, column: &str, plaintext: &[u8]) -> Vec<u8> {
    key.seal_v1(row_id, column, plaintext).expect("seal v1")
}

/// Connects to the server's maintenance database named by `KEVA_TEST_POSTGRES_URL`.
async fn admin_connection() -> (PgConnectOptions, PgConnection) {
    let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let admin_options = PgConnectOptions::from_str(&admin_url).unwrap_or_else(|e| {
        panic!("{POSTGRES_URL_VAR}={admin_url:?} is not a PostgreSQL URL: {e}")
    });
    let admin = admin_options.connect().await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for the store tests and is not reachable at {admin_url:?}: {e}. \
             Start it (e.g. `sudo service postgresql start`) or point {POSTGRES_URL_VAR} at a server; \
             these tests never skip."
        )
    });
    (admin_options, admin)
}

/// Best effort: leftover databases only cost disk space, so errors are ignored.
async fn drop_stale_databases(admin: &mut PgConnection) {
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'keva\\_test\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    else {
        return;
    };
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    for name in names {
        let Some(created_ms) = name
            .strip_prefix("keva_test_")
            .and_then(|id| Uuid::parse_str(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|ts| ts.to_unix().0 * 1000)
        else {
            continue;
        };
        if now_ms.saturating_sub(created_ms) > STALE_AFTER_MS {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\""
                )))
                .await;
        }
    }
}

/// The one way a suite runs each case on both backends: declares modules `sqlite`
/// and `postgres`, each with one `#[tokio::test]` per case.
///
/// - `backend_tests!(a, b)`: each case is `async fn a(backend: keva_store::Backend)`.
/// - `backend_tests!(with = path::to::fixture; a, b)`: `fixture` is
///   `async fn(Backend) -> F` and each case is `async fn a(f: F)`. Use a path that
///   resolves from inside the generated modules (`crate::…` or `super::…`).
///
/// The calling crate needs `tokio` (with the `macros` and multi-thread runtime).
#[macro_export]
macro_rules! backend_tests {
    (with = $fixture:path; $($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($fixture($crate::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($fixture($crate::Backend::Postgres).await).await
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Backend::Postgres).await
                }
            )*
        }
    };
}
