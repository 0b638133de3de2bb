//! `GET /metrics`: every metric of the process (the webhook intake's counters in
//! `webhooks::counters`, the HubSpot client's, the batch's) in Prometheus' text
//! format.
//!
//! A process has one global recorder. It is installed at most once (`OnceLock`);
//! when another recorder got there first (a test binary, an embedding program),
//! `/metrics` still answers, with a comment saying it has nothing to show.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process; `None` if another recorder
/// was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                crate::webhooks::counters::describe();
                crate::retention::describe();
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics stays empty");
                None
            }
        })
        .as_ref()
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
