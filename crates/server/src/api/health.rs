//! `GET /healthz`: liveness plus a database round trip, for load balancers. A failure
//! is answered generically (503 "database unavailable"); its cause is logged.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| {
        // Public endpoint: the details go to the log, not to whoever asks.
        tracing::error!(error = %e, "health check: the database did not answer");
        ApiError::Unavailable("database unavailable".into())
    })?;
    Ok(Json(Health {
        status: "ok",
        database: "ok",
    }))
}
