//! The intake's counters (through the `metrics` facade) and `GET /metrics`, which
//! renders every metric of the process in Prometheus' text format.
//!
//! A process has one global recorder. It is installed at most once (`OnceLock`);
//! when another recorder got there first (a test binary, an embedding program),
//! `/metrics` still answers, with a comment saying it has nothing to show.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests, by `result` (`accepted`, `unauthorized`, `bad_request`, …).
pub const REQUESTS_TOTAL: &str = "webhook_requests_total";
/// Events in verified requests (duplicates and echoes included).
pub const EVENTS_RECEIVED_TOTAL: &str = "webhook_events_received_total";
/// Events in requests refused after parsing (bad signature, unknown portal).
pub const EVENTS_REJECTED_TOTAL: &str = "webhook_events_rejected_total";
/// Events already stored under their `(portalId, eventId)`: HubSpot's retries.
pub const EVENTS_DUPLICATE_TOTAL: &str = "webhook_events_duplicate_total";
/// Our own writes echoed back: stored, but no job.
pub const EVENTS_ECHO_TOTAL: &str = "webhook_events_echo_total";
/// Events newly stored (each is handed to the engine through a job unless an echo).
pub const EVENTS_STORED_TOTAL: &str = "webhook_events_stored_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process; `None` if another recorder
/// was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                describe();
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics stays empty");
                None
            }
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "HubSpot webhook requests received, by result"
    );
    metrics::describe_counter!(EVENTS_RECEIVED_TOTAL, "events in verified webhook requests");
    metrics::describe_counter!(
        EVENTS_REJECTED_TOTAL,
        "events in webhook requests refused after parsing"
    );
    metrics::describe_counter!(EVENTS_DUPLICATE_TOTAL, "webhook events received again");
    metrics::describe_counter!(EVENTS_ECHO_TOTAL, "echoes of Keva's own HubSpot writes");
    metrics::describe_counter!(EVENTS_STORED_TOTAL, "webhook events newly stored");
}

/// Counts one request by how it ended.
pub fn request(result: &'static str) {
    metrics::counter!(REQUESTS_TOTAL, "result" => result).increment(1);
}

pub fn add(name: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!(name).increment(n);
    }
}

/// Prometheus text exposition of the process's metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "observability",
    responses((status = 200, description = "Prometheus text format (version 0.0.4)", content_type = "text/plain", body = String))
)]
pub async fn metrics() -> Response {
    let body = match install() {
        Some(handle) => handle.render(),
        None => "# metrics recorder unavailable in this process\n".to_owned(),
    };
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}
