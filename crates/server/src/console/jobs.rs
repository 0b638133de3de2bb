//! *Jobs* (what the seed sends admins to a job dashboard for): the workspace's
//! sync jobs by state — queued, retrying (queued again after a failed attempt),
//! running, dead and failed — with attempts, next attempt and last error, and
//! *Retry* on a dead or failed one (the store's `retry_dead`, then the workers are
//! woken, as an enqueue does).

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use keva_core::JobState;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::session::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

/// This page's path.
pub const PATH: &str = "/settings/jobs";
const SHOWN: u32 = 200;

/// The filters offered, as `(query value, label)`.
const FILTERS: [(&str, &str); 6] = [
    ("", "All"),
    ("queued", "Queued"),
    ("retrying", "Retrying"),
    ("running", "Running"),
    ("dead", "Dead"),
    ("failed", "Failed"),
];

#[derive(Debug, Default, Deserialize)]
pub struct JobsQuery {
    pub state: Option<String>,
    pub retried: Option<Uuid>,
}

fn shown_state(j: &keva_store::Job) -> &'static str {
    match j.state {
        JobState::Queued if j.attempts > 0 => "retrying",
        s => s.as_str(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(q): Query<JobsQuery>,
) -> Result<Markup, ConsoleError> {
    let user = &admin.0;
    let filter = q.state.as_deref().unwrap_or("");
    let stored_state = match filter {
        "" => None,
        "retrying" => Some(JobState::Queued),
        other => Some(
            JobState::parse(other)
                .ok_or_else(|| ConsoleError::BadRequest(format!("unknown job state {other:?}")))?,
        ),
    };
    let jobs: Vec<_> = state
        .store
        .list_jobs(user.user.workspace_id, stored_state, SHOWN)
        .await?
        .into_iter()
        .filter(|j| filter != "retrying" || shown_state(j) == "retrying")
        .filter(|j| filter != "queued" || shown_state(j) == "queued")
        .collect();
    let body = html! {
        h1 { "Jobs" }
        @if let Some(id) = q.retried { (flash(true, &format!("Job {id} is queued again."))) }
        nav aria-label="Job state" {
            p {
                @for (value, label) in FILTERS {
                    @if value == filter { strong aria-current="page" { (label) } }
                    @else { a href={ (PATH) @if !value.is_empty() { "?state=" (value) } } { (label) } }
                    " "
                }
            }
        }
        section {
            @if jobs.is_empty() { p.muted { "No jobs." } }
            @else {
                div style="overflow-x:auto" {
                    table {
                        thead { tr { th { "Job" } th { "State" } th { "Trigger" } th { "Attempts" } th { "Next attempt" } th { "Last error" } th { span.muted { "Action" } } } }
                        tbody {
                            @for j in &jobs {
                                tr data-job-id=(j.id) data-state=(shown_state(j)) {
                                    td { (j.kind) br; span.muted { (j.id) } }
                                    td { (shown_state(j)) }
                                    td { (j.trigger.as_str()) }
                                    td { (j.attempts) " / " (j.max_attempts) }
                                    td { @if !j.state.is_terminal() { (j.run_at.format("%Y-%m-%d %H:%M:%S UTC")) } }
                                    td { (j.last_error.as_deref().unwrap_or("")) }
                                    td {
                                        @if matches!(j.state, JobState::Dead | JobState::Failed) {
                                            form.inline method="post" action={ (PATH) "/retry" } {
                                                (csrf_input(&user.csrf))
                                                input type="hidden" name="id" value=(j.id);
                                                button.secondary type="submit" { "Retry" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(user, "Jobs", Nav::Jobs, body))
}

#[derive(Debug, Deserialize)]
pub struct RetryForm {
    pub id: String,
}

/// *Retry* a dead or failed job: queued again with a fresh attempt budget.
pub async fn retry(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<RetryForm>,
) -> Result<Response, ConsoleError> {
    let id = Uuid::parse_str(&form.id).map_err(|_| ApiError::NotFound("job"))?;
    let job = state
        .store
        .retry_dead(admin.0.user.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("dead or failed job"))?;
    state.wake_workers();
    tracing::info!(job_id = %job.id, "job retried from the console");
    Ok(Redirect::to(&format!("{PATH}?retried={}", job.id)).into_response())
}
