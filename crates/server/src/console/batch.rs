//! *CRM Sync → HubSpot → Run Batch Sync*: start a run, a progress bar with the
//! tally (processed/total, created, linked, updated each way, failed, conflicts,
//! ETA, state, pause reason) that updates without reloading, *Cancel*, and the
//! past runs. The page polls its own JSON progress route (a few lines of inline
//! JS) until the run ends. Start, progress and cancel are the API's own functions.
//!
//! The schedule (a cron expression in UTC, or off) is saved through the connector
//! settings API's own `update_settings`, so an expression the API refuses is
//! refused here with the same message and nothing is saved; the next run shown is
//! computed by the scheduler's own parser (`batch::schedule::next_run`).

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::session::AdminUser;
use crate::api::batch::{cancel, progress, start_run};
use crate::api::crm::connector_for;
use crate::api::crm::connectors::{update_settings, UpdateSettings};
use crate::batch::schedule::next_run;
use crate::batch::BatchProgress;
use crate::error::ApiError;
use crate::state::AppState;

/// This page's path.
pub const PATH: &str = "/settings/crm-sync/hubspot/batch-sync";
/// Where the schedule form posts.
pub const SCHEDULE_PATH: &str = "/settings/crm-sync/hubspot/batch-sync/schedule";

/// Polls the progress route and fills the `data-field` elements and the bar,
/// until the run has ended.
const POLL_JS: &str = r#"
(function () {
  var box = document.getElementById('batch');
  if (!box) return;
  var ended = ['done', 'cancelled', 'failed'];
  function show(p) {
    var bar = document.getElementById('batch-bar');
    bar.max = Math.max(p.total, 1);
    bar.value = p.processed;
    box.dataset.state = p.state;
    document.querySelectorAll('#batch [data-field]').forEach(function (el) {
      var v = p[el.dataset.field];
      el.textContent = (v === null || v === undefined) ? '—' : String(v);
    });
    if (ended.indexOf(p.state) >= 0) {
      ['batch-cancel', 'batch-active'].forEach(function (id) {
        var el = document.getElementById(id);
        if (el) el.hidden = true;
      });
      var start = document.getElementById('batch-start');
      if (start) start.hidden = false;
    }
  }
  function tick() {
    fetch(box.dataset.progressUrl, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p) show(p);
        if (!p || ended.indexOf(p.state) < 0) setTimeout(tick, 500);
      })
      .catch(function () { setTimeout(tick, 1000); });
  }
  if (ended.indexOf(box.dataset.state) < 0) tick();
})();
"#;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub run: Option<Uuid>,
    /// `saved` or `off` after the schedule form.
    pub schedule: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    /// A cron expression (UTC); empty switches the schedule off.
    #[serde(default)]
    pub schedule: String,
}

/// What a schedule request adds to the page: its notice and the expression as
/// typed (shown again when it was refused).
#[derive(Debug, Default)]
struct ScheduleNotice<'a> {
    notice: Option<(bool, String)>,
    typed: Option<&'a str>,
}

fn schedule_section(csrf: &str, saved: Option<&str>, extra: &ScheduleNotice<'_>) -> Markup {
    let next = saved.and_then(|s| next_run(s, chrono::Utc::now()));
    html! {
        section #schedule aria-labelledby="schedule-heading" data-schedule=(saved.unwrap_or("")) {
            h2 #schedule-heading { "Schedule" }
            @if let Some((ok, message)) = &extra.notice { (flash(*ok, message)) }
            @match (saved, next) {
                (Some(s), Some(next)) => p {
                    "Runs on the schedule " code { (s) } " (UTC). Next run: "
                    time #next-run datetime=(next.to_rfc3339()) { (next.format("%Y-%m-%d %H:%M UTC")) } "."
                },
                (Some(s), None) => p { "The schedule " code { (s) } " has no next run." },
                (None, _) => p.muted { "No schedule: batch syncs run only when started here." },
            }
            // The fragment brings the browser back to this form's answer.
            form method="post" action={ (SCHEDULE_PATH) "#schedule" } {
                (csrf_input(csrf))
                label for="schedule-input" { "Cron schedule (UTC)" }
                input #schedule-input type="text" name="schedule" value=(extra.typed.or(saved).unwrap_or("")) placeholder="0 2 * * *" autocomplete="off" aria-describedby="schedule-help";
                p #schedule-help .muted { "Minute, hour, day of month, month, day of week; e.g. 0 2 * * * is nightly at 02:00 UTC. Empty switches it off." }
                p { button type="submit" { "Save schedule" } }
            }
            @if saved.is_some() {
                form method="post" action={ (SCHEDULE_PATH) "#schedule" } {
                    (csrf_input(csrf))
                    input type="hidden" name="schedule" value="";
                    button.secondary type="submit" { "Switch off" }
                }
            }
        }
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "—".to_string(), |v| v.to_string())
}

fn run_box(csrf: &str, p: &BatchProgress) -> Markup {
    let field = |name: &str, label: &str, value: String| {
        html! { dt { (label) } dd data-field=(name) { (value) } }
    };
    let active = matches!(p.state.as_str(), "running" | "paused");
    html! {
        section #batch data-state=(p.state) data-progress-url={ (PATH) "/" (p.id) "/progress" } {
            h2 { "Current run" }
            label for="batch-bar" { "Progress" }
            progress #batch-bar max=(p.total.max(1)) value=(p.processed) { (p.processed) " / " (p.total) }
            dl {
                (field("state", "State", p.state.clone()))
                (field("processed", "Processed", p.processed.to_string()))
                (field("total", "Total", p.total.to_string()))
                (field("created", "Created", p.created.to_string()))
                (field("linked", "Linked", p.linked.to_string()))
                (field("updatedToCrm", "Updated in HubSpot", p.updated_to_crm.to_string()))
                (field("updatedFromCrm", "Updated in Keva", p.updated_from_crm.to_string()))
                (field("failed", "Failed", p.failed.to_string()))
                (field("conflicts", "Conflicts", p.conflicts.to_string()))
                (field("eta", "ETA", opt(p.eta.map(|t| t.to_rfc3339()))))
                (field("pauseReason", "Pause reason", opt(p.pause_reason.as_deref())))
                (field("error", "Error", opt(p.error.as_deref())))
            }
            @if active {
                form #batch-cancel method="post" action={ (PATH) "/" (p.id) "/cancel" } {
                    (csrf_input(csrf))
                    button.danger type="submit" { "Cancel" }
                }
            }
        }
        script { (PreEscaped(POLL_JS)) }
    }
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(q): Query<PageQuery>,
) -> Result<Response, ConsoleError> {
    let notice = match q.schedule.as_deref() {
        Some("saved") => Some((true, "Saved the schedule.".to_string())),
        Some("off") => Some((true, "Switched the schedule off.".to_string())),
        _ => None,
    };
    let extra = ScheduleNotice {
        notice,
        typed: None,
    };
    render(&state, &admin, q.run, &extra, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    admin: &AdminUser,
    run: Option<Uuid>,
    extra: &ScheduleNotice<'_>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let user = &admin.0;
    let title = "CRM Sync → HubSpot → Run Batch Sync";
    let connector = match connector_for(state, user.user.workspace_id, None).await {
        Ok(c) => c,
        Err(ApiError::NotFound(_)) => {
            return Ok(super::integrations::connect_first(user, title, Nav::Batch).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let runs = state
        .store
        .list_batches(user.user.workspace_id, connector.id, 10)
        .await?;
    let now = chrono::Utc::now();
    let runs: Vec<BatchProgress> = runs.iter().map(|r| BatchProgress::of(r, now)).collect();
    let current = match run {
        Some(id) => Some(progress(state, user.user.workspace_id, id).await?),
        None => runs.first().cloned(),
    };
    let active = current
        .as_ref()
        .is_some_and(|p| matches!(p.state.as_str(), "running" | "paused"));
    let body = html! {
        h1 { (title) }
        section {
            p { "Syncs every customer of the workspace with HubSpot (portal " (connector.portal_id) "), in chunks, within HubSpot's rate limits." }
            div #batch-active hidden[!active] {
                (flash(true, "A batch sync is running: it must end (or be cancelled) before another starts."))
            }
            form #batch-start method="post" action={ (PATH) "/start" } hidden[active] {
                (csrf_input(&user.csrf))
                button type="submit" { "Run Batch Sync" }
            }
        }
        @if let Some(p) = &current { (run_box(&user.csrf, p)) }
        (schedule_section(&user.csrf, connector.batch_schedule.as_deref(), extra))
        @if !runs.is_empty() {
            section {
                h2 { "Past runs" }
                div style="overflow-x:auto" {
                    table {
                        thead { tr { th { "Started" } th { "State" } th { "Processed" } th { "Created" } th { "Linked" } th { "Failed" } } }
                        tbody {
                            @for r in &runs {
                                tr {
                                    td { a href={ (PATH) "?run=" (r.id) } { (r.started_at.format("%Y-%m-%d %H:%M:%S UTC")) } }
                                    td { (r.state) }
                                    td { (r.processed) " / " (r.total) }
                                    td { (r.created) }
                                    td { (r.linked) }
                                    td { (r.failed) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok((status, page(user, title, Nav::Batch, body)).into_response())
}

/// *Save schedule* / *Switch off*: the connector settings API's validation and
/// save; a refused expression is shown in the form and nothing is saved.
pub async fn save_schedule(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, ConsoleError> {
    let ws = admin.0.user.workspace_id;
    let connector = connector_for(&state, ws, None).await?;
    let typed = form.schedule.trim();
    let body = UpdateSettings {
        batch_schedule: Some((!typed.is_empty()).then(|| typed.to_string())),
        ..UpdateSettings::default()
    };
    match update_settings(&state, ws, connector.id, body).await {
        Ok(c) => {
            let outcome = if c.settings.batch_schedule.is_some() {
                "saved"
            } else {
                "off"
            };
            Ok(Redirect::to(&format!("{PATH}?schedule={outcome}#schedule")).into_response())
        }
        Err(e @ ApiError::Unprocessable(_)) => {
            let extra = ScheduleNotice {
                notice: Some((false, format!("Not saved: {e}."))),
                typed: Some(typed),
            };
            render(&state, &admin, None, &extra, e.status()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// *Run Batch Sync*: to this page, following the new run.
pub async fn start(
    State(state): State<AppState>,
    admin: AdminUser,
) -> Result<Response, ConsoleError> {
    let ws = admin.0.user.workspace_id;
    let connector = connector_for(&state, ws, None).await?;
    let run = start_run(&state, ws, connector.id).await?;
    Ok(Redirect::to(&format!("{PATH}?run={}", run.id)).into_response())
}

fn run_id(raw: &str) -> Result<Uuid, ConsoleError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("batch sync").into())
}

/// The run's progress as JSON, for the page's polling.
pub async fn progress_json(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
) -> Result<axum::Json<BatchProgress>, ConsoleError> {
    let id = run_id(&id)?;
    Ok(axum::Json(
        progress(&state, admin.0.user.workspace_id, id).await?,
    ))
}

/// *Cancel*: the run stops after the chunk in progress.
pub async fn cancel_run(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = run_id(&id)?;
    cancel(&state, admin.0.user.workspace_id, id).await?;
    Ok(Redirect::to(&format!("{PATH}?run={id}")).into_response())
}
