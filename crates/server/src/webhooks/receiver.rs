//! `POST /api/webhooks/hubspot`: HubSpot's deliveries, checked, stored durably in
//! one transaction, then acknowledged.
//!
//! Order of checks: content type (415), size (413), JSON shape (400), then the
//! signature against the app of every portal named (401). Only a verified batch
//! reaches the event table and the job queue; every request, refused or not, gets a
//! line in the webhook request log so admins can see what HubSpot sent. The answer
//! (204) is sent only after the store committed, so an acknowledged event is never
//! lost, even when the process dies right after answering.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use keva_hubspot::webhook::{parse_batch, public_uri, SignedRequest, WebhookEvent};
use keva_store::{NewWebhookRequest, WebhookIngest};
use uuid::Uuid;

use super::counters::{self as m};
use super::directory::Directory;
use super::guard::{Guard, SAMPLE_WINDOW};
use super::jobs_from_events::{echo_candidates, jobs_from_events, LinkBases};
use super::verify::verify;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::state::AppState;

/// The receiver's path, as registered with HubSpot (after the public base URL).
pub const PATH: &str = "/api/webhooks/hubspot";

/// Largest delivery accepted. HubSpot's batches of 100 events are a few tens of KB.
pub const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// A refused request: the API error it is answered with (whose code is also the
/// counter's `result`) and its log line.
struct Refusal {
    error: ApiError,
    log: NewWebhookRequest,
    /// Already charged to the source's and portal's refusal budgets.
    charged: bool,
    /// Over budget: answered 429, logged only as the window's sample.
    limited: bool,
}

/// Receives a HubSpot webhook delivery.
///
/// Public (no API key): the HubSpot signature (`X-HubSpot-Signature-v3`; v2/v1 only
/// for a workspace that set `allowLegacySignatures`) is the only proof. The URI checked is `KEVA_PUBLIC_URL` + this path + the query.
#[utoipa::path(
    post,
    path = "/api/webhooks/hubspot",
    tag = "webhooks",
    security(()),
    request_body(content = Vec<serde_json::Value>, content_type = "application/json",
        description = "HubSpot's JSON array of events, signed"),
    params(
        ("X-HubSpot-Signature-v3" = Option<String>, Header, description = "base64 HMAC-SHA256 (v3)"),
        ("X-HubSpot-Request-Timestamp" = Option<String>, Header, description = "epoch ms (v3)"),
        ("X-HubSpot-Signature" = Option<String>, Header, description = "hex SHA-256 (v1/v2)"),
        ("X-HubSpot-Signature-Version" = Option<String>, Header, description = "v1 or v2"),
    ),
    responses(
        (status = 204, description = "Stored durably; processed asynchronously"),
        (status = 400, description = "Not a JSON array of events", body = ErrorBody),
        (status = 401, description = "Signature missing or wrong, stale timestamp, unknown app or portal", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 429, description = "Too many refused requests from this address or for this portal", body = ErrorBody),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Extension(directory): Extension<Arc<Directory>>,
    Extension(guard): Extension<Arc<Guard>>,
    OriginalUri(uri): OriginalUri,
    request: Request,
) -> Response {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let context = Context {
        state: &state,
        directory: &directory,
        guard: &guard,
        source,
    };
    match intake(&context, &path_and_query, &headers, body).await {
        Ok(()) => {
            m::request("accepted");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(Outcome::Refused(r))
            if r.limited || (!r.charged && !guard.charge(source, r.log.portal_id)) =>
        {
            suppressed(&state, &guard, source, *r).await
        }
        Err(Outcome::Refused(r)) => {
            m::request(r.error.code());
            if let Err(e) = state.store.log_webhook_request(&r.log).await {
                tracing::warn!(error = %e, "could not log a refused webhook request");
            }
            tracing::info!(
                status = r.error.status().as_u16(),
                reason = r.log.reject_reason.as_deref().unwrap_or("-"),
                "webhook request refused"
            );
            r.error.into_response()
        }
        Err(Outcome::Failed(e)) => {
            // Not acknowledged: HubSpot retries a 5xx, so nothing is lost. The log
            // line is best effort: the store is what just failed.
            m::request("error");
            let line = NewWebhookRequest {
                reject_reason: Some("internal error while storing; HubSpot will retry".into()),
                ..NewWebhookRequest::default()
            };
            if let Err(log_error) = state.store.log_webhook_request(&line).await {
                tracing::warn!(error = %log_error, "could not log a failed webhook request");
            }
            ApiError::Internal(e).into_response()
        }
    }
}

/// A refusal over its budget: a counter, one sample log row per source and
/// window, and a 429 (HubSpot itself retries a 429 later).
async fn suppressed(state: &AppState, guard: &Guard, source: IpAddr, r: Refusal) -> Response {
    m::request("rate_limited");
    m::add(m::REFUSALS_SUPPRESSED_TOTAL, 1);
    if guard.sample(source) {
        let reason = r.log.reject_reason.as_deref().unwrap_or("refused");
        let log = NewWebhookRequest {
            reject_reason: Some(format!(
                "rate limited: too many refused requests from {source}; this is a \
                 sample, the next {} s of refusals from it are only counted \
                 ({}): {reason}",
                SAMPLE_WINDOW.as_secs(),
                m::REFUSALS_SUPPRESSED_TOTAL
            )),
            ..r.log
        };
        if let Err(e) = state.store.log_webhook_request(&log).await {
            tracing::warn!(error = %e, "could not log a rate-limited webhook request");
        }
        tracing::warn!(%source, "webhook refusals over the limit; suppressing their log rows");
    }
    let body = ErrorBody {
        error: ErrorDetail {
            code: "rate_limited",
            message: "too many refused webhook requests; retry later".into(),
        },
    };
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(RETRY_AFTER, "10")],
        axum::Json(body),
    )
        .into_response()
}

/// What `intake` works with.
struct Context<'a> {
    state: &'a AppState,
    directory: &'a Directory,
    guard: &'a Guard,
    source: IpAddr,
}

enum Outcome {
    Refused(Box<Refusal>),
    Failed(anyhow::Error),
}

impl From<keva_store::StoreError> for Outcome {
    fn from(e: keva_store::StoreError) -> Self {
        Outcome::Failed(e.into())
    }
}

/// A refusal before the events are parsed: logged with the answer's message.
fn refuse(error: ApiError) -> Outcome {
    let log = NewWebhookRequest {
        reject_reason: Some(error.to_string()),
        ..NewWebhookRequest::default()
    };
    Outcome::Refused(Box::new(Refusal {
        error,
        log,
        charged: false,
        limited: false,
    }))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Outcome> {
    let too_large = || {
        refuse(ApiError::PayloadTooLarge(format!(
            "body is larger than {MAX_WEBHOOK_BODY} bytes"
        )))
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_WEBHOOK_BODY as u64) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_WEBHOOK_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large()),
        Err(_) => Err(refuse(ApiError::BadRequest(
            "could not read the request body".into(),
        ))),
    }
}

async fn intake(
    cx: &Context<'_>,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), Outcome> {
    let (state, directory) = (cx.state, cx.directory);
    if !is_json(headers) {
        return Err(refuse(ApiError::UnsupportedMediaType(
            "expected Content-Type: application/json".into(),
        )));
    }
    let body = read_body(headers, body).await?;
    let mut events = parse_batch(&body).map_err(|e| refuse(ApiError::BadRequest(e.to_string())))?;

    let uri = public_uri(&state.config.public_url, path_and_query);
    let signed = SignedRequest::from_headers("POST", &uri, &body, headers);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let event_count = u32::try_from(events.len()).unwrap_or(u32::MAX);
    let first_portal = events.first().and_then(|e| i64::try_from(e.portal_id).ok());

    let mut outcome = verify(state, directory, &signed, &events, now_ms, false).await?;
    // Cached lookups may be stale (a secret just set): refuse only on fresh data —
    // unless this source or portal is over its refusal budget, whose requests get
    // no uncached lookups.
    let mut limited = false;
    if outcome.is_err() {
        if cx.guard.charge(cx.source, first_portal) {
            outcome = verify(state, directory, &signed, &events, now_ms, true).await?;
        } else {
            limited = true;
        }
    }
    let verified = match outcome {
        Ok(v) => v,
        Err(rejection) => {
            m::add(m::EVENTS_REJECTED_TOTAL, events.len() as u64);
            return Err(Outcome::Refused(Box::new(Refusal {
                charged: true,
                limited,
                error: ApiError::NotVerified(
                    "webhook request could not be verified (see the webhook log)".into(),
                ),
                log: NewWebhookRequest {
                    workspace_id: rejection.workspace_id,
                    portal_id: first_portal,
                    event_count,
                    valid: false,
                    reject_reason: Some(rejection.reason),
                    duplicates: 0,
                },
            })));
        }
    };
    // Events of portals nobody connected are not refused with the rest: they are
    // dropped, counted and named in the (accepted) request's log line.
    let ignored = if verified.unknown_portals.is_empty() {
        None
    } else {
        let before = events.len();
        events.retain(|e| !verified.unknown_portals.contains(&e.portal_id));
        let dropped = before - events.len();
        m::add(m::EVENTS_REJECTED_TOTAL, dropped as u64);
        Some(format!(
            "ignored {dropped} event(s) of unknown portal {}: no connector",
            super::verify::join(&verified.unknown_portals)
        ))
    };
    m::add(m::EVENTS_RECEIVED_TOTAL, events.len() as u64);

    let bases = link_bases(state, &events, &verified.targets).await?;
    let mut planned = jobs_from_events(&events, &verified.targets, &bases);
    for job in &mut planned.jobs {
        job.max_attempts = state.sync.retry.max_attempts;
    }
    let workspace_id = planned.events.iter().find_map(|e| e.workspace_id);
    let ingest = WebhookIngest {
        request: NewWebhookRequest {
            workspace_id,
            portal_id: first_portal,
            event_count,
            valid: true,
            reject_reason: ignored,
            duplicates: 0,
        },
        events: planned.events,
        jobs: planned.jobs,
    };
    let result = state.store.ingest_webhook(&ingest).await?;
    m::add(m::EVENTS_STORED_TOTAL, u64::from(result.inserted));
    m::add(m::EVENTS_DUPLICATE_TOTAL, u64::from(result.duplicates));
    m::add(m::EVENTS_ECHO_TOTAL, u64::from(planned.echoes));
    if result.jobs_enqueued + result.jobs_coalesced > 0 {
        state.wake_workers();
    }
    tracing::debug!(
        version = %verified.version,
        events = event_count,
        inserted = result.inserted,
        duplicates = result.duplicates,
        jobs = result.jobs_enqueued,
        echoes = planned.echoes,
        "webhook batch stored"
    );
    Ok(())
}

/// Reads the links of the contacts whose events may be echoes.
async fn link_bases(
    state: &AppState,
    events: &[WebhookEvent],
    targets: &std::collections::HashMap<u64, Vec<super::jobs_from_events::Target>>,
) -> Result<LinkBases, Outcome> {
    let wanted: HashSet<(Uuid, String)> = echo_candidates(events, targets);
    let mut out = LinkBases::new();
    for (connector_id, object_id) in wanted {
        if let Some(link) = state
            .store
            .link_by_hubspot_id(connector_id, &object_id)
            .await?
        {
            out.insert(
                (connector_id, object_id),
                link.bases.map(|b| b.hubspot).unwrap_or_default(),
            );
        }
    }
    Ok(out)
}
