//! HubSpot webhook intake: the public receiver (`receiver`), who may send what
//! (`verify`, with lookups cached briefly by `directory`), the event rows and jobs
//! a verified batch becomes in the store (`jobs_from_events`), the workspace's app
//! settings and subscriptions (`settings`), the request log (`log`) and the
//! intake's counters (`counters`, rendered by `GET /metrics` in `crate::metrics`).

pub mod counters;
pub mod directory;
pub mod guard;
pub mod jobs_from_events;
pub mod log;
pub mod receiver;
pub mod settings;
pub mod verify;

use std::sync::Arc;

use axum::{Extension, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The API-key routes, added to the service's router.
pub fn routes(router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    router
        .routes(routes!(settings::get_settings, settings::put_settings))
        .routes(routes!(
            settings::get_subscriptions,
            settings::create_subscriptions
        ))
        .routes(routes!(log::webhook_log))
}

/// The receiver, kept apart from the API's body-limit layer: it enforces its own
/// limit so an oversized delivery still gets a JSON 413 and a log line.
/// Each router gets its own lookup cache (`directory`) and refusal budgets (`guard`).
pub fn receiver() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::new()
        .routes(routes!(receiver::receive))
        .split_for_parts();
    let directory = Arc::new(directory::Directory::default());
    let guard = Arc::new(guard::Guard::default());
    (
        router.layer(Extension(directory)).layer(Extension(guard)),
        api,
    )
}
