//! The Keva Sync service: the HTTP API (`api`), the HubSpot webhook intake
//! (`webhooks`), the sync engine and its workers (`sync`), batch sync (`batch`) and
//! `GET /metrics` (`metrics`). `docs/architecture.md` shows how they fit together.
//!
//! `app(state)` builds the whole router and is used by both `serve` and the tests,
//! so tests exercise exactly what runs in production. Handlers are thin: they
//! parse input into domain values, call the store or the sync module, and map
//! failures to `ApiError`, the API's single error contract — a panicking handler
//! included (`panic_response`).

pub mod api;
pub mod auth;
pub mod batch;
pub mod config;
pub mod console;
pub mod context;
pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod retention;
pub mod state;
pub mod sync;
pub mod webhooks;

use std::any::Any;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::ServerConfig;
pub use error::ApiError;
pub use state::AppState;

/// Largest request body the API accepts (bigger → 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The router and the OpenAPI document it implements.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let router = OpenApiRouter::new()
        .routes(routes!(api::health::healthz))
        .routes(routes!(
            api::customers::create_customer,
            api::customers::list_customers
        ))
        .routes(routes!(
            api::customers::get_customer,
            api::customers::update_customer
        ))
        .routes(routes!(
            api::customer_attributes::list_attributes,
            api::customer_attributes::create_attribute
        ))
        .routes(routes!(
            api::customer_attributes::get_attribute,
            api::customer_attributes::update_attribute,
            api::customer_attributes::retire_attribute
        ))
        .routes(routes!(api::tickets::create_ticket))
        .routes(routes!(
            api::workspace::get_settings,
            api::workspace::put_settings
        ))
        .routes(routes!(
            api::crm::connectors::create_connector,
            api::crm::connectors::list_connectors
        ))
        .routes(routes!(
            api::crm::connectors::get_connector,
            api::crm::connectors::update_connector,
            api::crm::connectors::disconnect_connector
        ))
        .routes(routes!(api::crm::oauth::authorize))
        .routes(routes!(api::crm::oauth::callback))
        .routes(routes!(
            api::crm::mappings::get_mappings,
            api::crm::mappings::put_mappings
        ))
        .routes(routes!(api::crm::mappings::describe))
        .routes(routes!(api::crm::automap::automap_fields))
        .routes(routes!(api::crm::sync_now::sync_now))
        .routes(routes!(api::crm::sync_now::test_mapping))
        .routes(routes!(api::crm::history::history))
        .routes(routes!(api::crm::customer_crm::customer_crm))
        .routes(routes!(api::crm::context::customer_context))
        .routes(routes!(
            api::crm::context::get_settings,
            api::crm::context::put_settings
        ))
        .routes(routes!(api::batch::start_batch))
        .routes(routes!(api::batch::get_batch, api::batch::cancel_batch))
        .routes(routes!(metrics::metrics));
    let (router, mut api) = webhooks::routes(router).split_for_parts();
    // The receiver is routed by `app` outside the body-limit layer; documented here.
    api.merge(webhooks::receiver().1);
    (router, openapi::decorate(api))
}

/// The whole service as one router, state applied.
pub fn app(state: AppState) -> Router {
    metrics::install();
    let (router, api) = routes();
    let api = Arc::new(api);
    let request_id = HeaderName::from_static("x-request-id");
    let router = router
        .route(
            "/api/openapi.json",
            get(move || {
                let api = api.clone();
                async move { Json(api.as_ref().clone()) }
            }),
        )
        .merge(console::router(state.clone()))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .merge(webhooks::receiver().0)
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .fallback(|| async { ApiError::NotFound("route") });
    let router = if state.config.metrics_listen.is_some() {
        router.layer(middleware::from_fn(hide_metrics))
    } else {
        router
    };
    router
        .with_state(state)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // Only method and path: query strings may carry emails.
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Abandons a request (its body upload included) that outlives
/// `config.request_timeout`: a slow client cannot hold a connection and a
/// database slot indefinitely.
async fn deadline(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

/// With `--metrics-listen`, `/metrics` is only on that address.
async fn hide_metrics(req: Request<Body>, next: Next) -> Response {
    if req.uri().path() == "/metrics" {
        return ApiError::NotFound("route").into_response();
    }
    next.run(req).await
}

/// What a panicking handler answers: a 500 in `ApiError`'s JSON shape. The panic
/// message is logged, never sent.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    ApiError::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// Serves `app(state)` on `listener` until `shutdown` is cancelled, then stops
/// gracefully: no more claims, running jobs finish or are handed back, batch
/// runs stop at a chunk boundary and release their lease, and the portal leases
/// are released, so another process takes over at once.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stopping = state.cluster.stopping.clone();
    let on_shutdown = shutdown.clone();
    tokio::spawn(async move {
        on_shutdown.cancelled().await;
        stopping.cancel();
    });
    let workers = sync::start_workers(state.clone(), shutdown.clone());
    let batches = batch::schedule::start_background(
        state.clone(),
        batch::settings_for(&state),
        shutdown.clone(),
    );
    let pruner = retention::start_background(
        state.store.clone(),
        state.retention.as_ref().clone(),
        shutdown.clone(),
    );
    let metrics_server = match state.config.metrics_listen {
        Some(addr) => Some(serve_metrics(addr, shutdown.clone()).await?),
        None => None,
    };
    // With the peer address: the webhook receiver rate-limits refusals per source.
    let served = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown({
        let shutdown = shutdown.clone();
        async move { shutdown.cancelled().await }
    })
    .await;
    shutdown.cancel();
    batches.abort();
    pruner.abort();
    if let Some(m) = metrics_server {
        m.abort();
    }
    let grace = state.cluster.settings.shutdown_grace;
    if tokio::time::timeout(grace + std::time::Duration::from_secs(1), workers)
        .await
        .is_err()
    {
        tracing::warn!("the workers did not stop in time");
    }
    batch::wait_stopped(grace).await;
    sync::cluster::leave(&state).await;
    tracing::info!("stopped");
    served?;
    Ok(())
}

/// `/metrics` alone on its own address, until `shutdown`.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    metrics::install();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding the metrics address {addr}: {e}"))?;
    let router = Router::new()
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { ApiError::NotFound("route") });
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics listener failed");
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::body::{to_bytes, Body};
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::panic_response;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_the_api_error_shape() {
        async fn boom() -> &'static str {
            panic!("secret detail")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(CatchPanicLayer::custom(panic_response));
        let res = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = res.headers().get("content-type").unwrap().to_str().unwrap();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "internal", "message": "internal server error"}})
        );
    }
}
