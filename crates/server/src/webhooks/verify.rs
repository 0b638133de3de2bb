//! Who may send a batch: the portals' connectors, the app secret of each
//! connector's workspace (or the service-wide `HUBSPOT_CLIENT_SECRET`), and the
//! signature check itself (`keva_hubspot::webhook::verify_request`, constant-time).
//!
//! A portal can be connected in several workspaces with different apps: the
//! request must verify under at least one secret per portal it names, and only the
//! connectors whose workspace secret verified it receive its events — one
//! workspace's app cannot inject events into another workspace.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use keva_hubspot::signature::SignatureError;
use keva_hubspot::webhook::{verify_request, SignatureVersion, SignedRequest, WebhookEvent};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::directory::{App, Directory};
use super::jobs_from_events::Target;
use crate::state::AppState;

/// Why a parsed batch is refused (401). `workspace_id` says whose log shows it.
#[derive(Debug)]
pub struct Rejection {
    pub reason: String,
    pub workspace_id: Option<Uuid>,
}

/// A verified batch: the connectors per portal, and the scheme that proved it.
#[derive(Debug)]
pub struct Verified {
    pub targets: HashMap<u64, Vec<Target>>,
    pub version: SignatureVersion,
}

fn describe(e: &SignatureError) -> &'static str {
    match e {
        SignatureError::Missing => "missing signature",
        SignatureError::BadTimestamp => "missing or malformed X-HubSpot-Request-Timestamp",
        SignatureError::Expired => "timestamp older than 5 minutes",
        SignatureError::FromTheFuture => "timestamp in the future",
        SignatureError::Mismatch => "signature does not match",
    }
}

/// Checks the request against the apps of every portal its events name.
///
/// `fresh` bypasses the directory's cache (see `directory.rs`): the caller retries
/// a refusal with `fresh = true` before answering 401.
pub async fn verify(
    state: &AppState,
    directory: &Directory,
    req: &SignedRequest<'_>,
    events: &[WebhookEvent],
    now_ms: i64,
    fresh: bool,
) -> Result<Result<Verified, Rejection>, keva_store::StoreError> {
    let portals: BTreeSet<u64> = events.iter().map(|e| e.portal_id).collect();
    let mut apps: HashMap<Uuid, Arc<App>> = HashMap::new();
    // Verification result per distinct secret: a multi-portal batch signed with one
    // app secret is checked once.
    let mut checked: HashMap<String, Result<SignatureVersion, SignatureError>> = HashMap::new();
    let mut targets = HashMap::new();
    let mut version = None;
    let mut first_workspace = None;

    for portal in portals {
        let connectors = directory.connectors(state, portal, fresh).await?;
        let Some(first) = connectors.first() else {
            return Ok(Err(Rejection {
                reason: format!("unknown portal {portal}: no connector"),
                workspace_id: first_workspace,
            }));
        };
        first_workspace.get_or_insert(first.workspace_id);
        let app_ids: BTreeSet<u64> = events
            .iter()
            .filter(|e| e.portal_id == portal)
            .map(|e| e.app_id)
            .collect();

        let mut portal_targets = Vec::new();
        let mut app_known = false;
        let mut last_error = SignatureError::Mismatch;
        for c in connectors.iter() {
            if let Entry::Vacant(slot) = apps.entry(c.workspace_id) {
                slot.insert(directory.app(state, c.workspace_id, fresh).await?);
            }
            let Some(app) = apps.get(&c.workspace_id) else {
                continue;
            };
            // Events from another app than the workspace's are not for it.
            if let Some(id) = &app.app_id {
                if app_ids.iter().any(|a| a.to_string() != *id) {
                    continue;
                }
            }
            app_known = true;
            let Some(secret) = &app.secret else { continue };
            let secret = secret.expose_secret();
            let outcome = checked
                .entry(secret.to_owned())
                .or_insert_with(|| verify_request(req, secret, now_ms))
                .clone();
            match outcome {
                Ok(v) => {
                    version.get_or_insert(v);
                    portal_targets.push(Target {
                        connector_id: c.id,
                        workspace_id: c.workspace_id,
                        app_id: app.app_id.clone(),
                        connected: c.status == keva_store::ConnectorStatus::Connected,
                    });
                }
                Err(e) => last_error = e,
            }
        }
        if !app_known {
            return Ok(Err(Rejection {
                reason: format!(
                    "unknown app {} for portal {portal}",
                    app_ids
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                workspace_id: Some(first.workspace_id),
            }));
        }
        if portal_targets.is_empty() {
            return Ok(Err(Rejection {
                reason: format!("{} (portal {portal})", describe(&last_error)),
                workspace_id: Some(first.workspace_id),
            }));
        }
        targets.insert(portal, portal_targets);
    }
    match version {
        Some(version) => Ok(Ok(Verified { targets, version })),
        // Unreachable with at least one event; refuse rather than trust.
        None => Ok(Err(Rejection {
            reason: "no event to verify".into(),
            workspace_id: first_workspace,
        })),
    }
}
