//! Integration tests for the HTTP API: the real router on an ephemeral port, over
//! real HTTP, once per storage backend (SQLite and PostgreSQL).
#![allow(clippy::unwrap_used)]

mod api_auth;
mod api_customers;
mod api_tickets;
mod batch_support;
mod batch_sync;
mod harness;
mod sync_connect;
mod sync_flows;
mod sync_harness;
mod sync_oauth;
mod sync_props;
mod sync_queue;
mod webhook_intake;
mod webhook_sandbox;
mod webhook_settings;
mod webhook_support;

/// Declares `sqlite` and `postgres` variants of an async test `case(app: TestApp)`.
#[macro_export]
macro_rules! both_backends {
    // Cases taking a `SyncApp`: a server whose HubSpot is an in-process sandbox.
    (sandbox: $($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::harness::TestApp::spawn_with_sandbox(keva_store::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::harness::TestApp::spawn_with_sandbox(keva_store::Backend::Postgres).await).await
                }
            )*
        }
    };
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
