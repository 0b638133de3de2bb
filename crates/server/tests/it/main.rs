//! Integration tests for the HTTP API: the real router on an ephemeral port, over
//! real HTTP, once per storage backend (SQLite and PostgreSQL).
#![allow(clippy::unwrap_used)]

mod api_auth;
mod api_customers;
mod api_tickets;
mod harness;

/// Declares `sqlite` and `postgres` variants of an async test `case(app: TestApp)`.
#[macro_export]
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::harness::TestApp::spawn(keva_store::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::harness::TestApp::spawn(keva_store::Backend::Postgres).await).await
                }
            )*
        }
    };
}
