//! The admin console (issue 12): server-rendered HTML pages (maud templates,
//! checked at compile time; CSS embedded) served by the same router as the API.
//! Pages call the API's own functions, never a second implementation of
//! connecting, disconnecting or syncing.
//!
//! Modules: `session` (cookies, CSRF, passwords, sign-in limits per account and
//! per address, the `ConsoleUser` / `AdminUser` extractors), `error` (failures as
//! HTML pages), `layout` (the page shell), `sign_in` (sign-in, sign-in links,
//! sign-out), `home`, `integrations` (*Settings → Integrations → HubSpot*),
//! `mappings` (*CRM Sync → HubSpot → Field Mappings*, conflict policy, *Test
//! Mapping*) and `automap` (its *Auto-Map Fields* review), `customers` (the list
//! and the profile), `tickets` (the list and a ticket with its sidebar),
//! `crm_panel` (the HubSpot panel the profile and the ticket share: link, *Sync
//! Now* with its outcome, history, company and deals), `batch` (*Run Batch Sync*
//! with live progress and the schedule), `history` (*Sync history* by status and
//! customer), `jobs` (the queue by state, *Retry*), `webhooks` (app and secret,
//! target URL, subscriptions, delivery log) and `users` (creating console users:
//! the CLI and the quickstart). `docs/console.md` is the user's guide.
//!
//! Console routes sit inside the service's request deadline and body limit like
//! the API's, and a signed-in user's requests share the per-caller in-flight limit
//! the API applies to keys.

mod automap;
mod batch;
mod crm_panel;
mod customers;
pub mod error;
mod history;
mod home;
mod integrations;
mod jobs;
pub mod layout;
mod mappings;
pub mod session;
mod sign_in;
mod tickets;
pub mod users;
mod webhooks;

use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

pub use session::ConsoleState;

use crate::state::AppState;

/// The console's routes (merged into the service's router by `app`).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::show))
        .route("/console", get(|| async { Redirect::to("/") }))
        .route(
            "/sign-in",
            get(sign_in::sign_in_page).post(sign_in::sign_in),
        )
        .route(
            "/sign-in/link",
            get(sign_in::link_page).post(sign_in::use_link),
        )
        .route("/sign-out", post(sign_in::sign_out))
        .route(integrations::PATH, get(integrations::show))
        .route(
            "/settings/integrations/hubspot/connect",
            post(integrations::connect),
        )
        .route(
            "/settings/integrations/hubspot/token",
            post(integrations::connect_token),
        )
        .route(
            "/settings/integrations/hubspot/connectors/{id}/disconnect",
            post(integrations::disconnect_connector),
        )
        .route(customers::PATH, get(customers::list))
        .route("/customers/{id}", get(customers::show))
        .route("/customers/{id}/sync-now", post(customers::sync_now))
        .route(tickets::PATH, get(tickets::list))
        .route("/tickets/{id}", get(tickets::show))
        .route("/tickets/{id}/sync-now", post(tickets::sync_now))
        .route(webhooks::PATH, get(webhooks::show))
        .route(webhooks::APP_PATH, post(webhooks::save_app))
        .route(webhooks::CREATE_PATH, post(webhooks::create_subscriptions))
        .route(webhooks::CHECK_PATH, post(webhooks::check_subscriptions))
        .route(history::PATH, get(history::show))
        .route(jobs::PATH, get(jobs::show))
        .route("/settings/jobs/retry", post(jobs::retry))
        .route(batch::PATH, get(batch::show))
        .route(batch::SCHEDULE_PATH, post(batch::save_schedule))
        .route(
            "/settings/crm-sync/hubspot/batch-sync/start",
            post(batch::start),
        )
        .route(
            "/settings/crm-sync/hubspot/batch-sync/{id}/progress",
            get(batch::progress_json),
        )
        .route(
            "/settings/crm-sync/hubspot/batch-sync/{id}/cancel",
            post(batch::cancel_run),
        )
        .route(mappings::PATH, get(mappings::show))
        .route(
            "/settings/crm-sync/hubspot/mappings/add",
            post(mappings::add),
        )
        .route(
            "/settings/crm-sync/hubspot/mappings/remove",
            post(mappings::remove),
        )
        .route(
            "/settings/crm-sync/hubspot/mappings/test",
            post(mappings::test),
        )
        .route(
            "/settings/crm-sync/hubspot/mappings/refresh",
            post(mappings::refresh),
        )
        .route(
            "/settings/crm-sync/hubspot/mappings/conflict-policy",
            post(mappings::conflict_policy),
        )
        .route(
            automap::PATH,
            get(automap::review).post(automap::save_accepted),
        )
        .route_layer(middleware::from_fn_with_state(state, session::csrf_guard))
}
