//! PostgreSQL over TLS: the database URL's `sslmode` is honoured. `require`
//! encrypts the connection; `verify-full` also checks the server's certificate,
//! and refuses one it cannot verify instead of falling back to plain TCP.
//!
//! The test server is Debian's PostgreSQL, which serves TLS with a self-signed
//! ("snakeoil") certificate: good enough to encrypt, impossible to verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keva_store::{MasterKey, Store};

fn url_with(param: &str) -> String {
    let base = std::env::var("KEVA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{param}")
}

/// Whether a session opened with `param` in the URL is encrypted, as the server
/// sees it.
async fn encrypted_with(param: &str) -> bool {
    let store = Store::connect(&url_with(param), MasterKey::generate())
        .await
        .unwrap_or_else(|e| panic!("connects with {param}: {e}"));
    let Store::Postgres(pg) = &store else {
        panic!("a postgres URL must give the PostgreSQL backend")
    };
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pg.pool())
        .await
        .expect("pg_stat_ssl");
    store.close().await;
    ssl
}

#[tokio::test]
async fn sslmode_require_encrypts_the_connection() {
    assert!(encrypted_with("sslmode=require").await);
}

#[tokio::test]
async fn sslmode_disable_stays_plain() {
    assert!(!encrypted_with("sslmode=disable").await);
}

#[tokio::test]
async fn sslmode_verify_full_refuses_a_certificate_it_cannot_verify() {
    let result = Store::connect(&url_with("sslmode=verify-full"), MasterKey::generate()).await;
    assert!(
        result.is_err(),
        "a self-signed server certificate must not pass verify-full"
    );
}
