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

/// Why a parsed batch is refused (401). `workspace_id` says whose log shows it:
/// only a workspace whose app id the events name (see `verify`), never merely the
/// first workspace on the portal — knowing a portal id must not let anyone write
/// into a workspace's log.
#[derive(Debug)]
pub struct Rejection {
    pub reason: String,
    pub workspace_id: Option<Uuid>,
}

/// A verified batch: the connectors per portal, the scheme that proved it, and the
/// portals the batch named that no connector knows (their events are ignored).
#[derive(Debug)]
pub struct Verified {
    pub targets: HashMap<u64, Vec<Target>>,
    pub version: SignatureVersion,
    pub unknown_portals: BTreeSet<u64>,
}

/// Why a request does not verify under one app, as the log shows it.
pub const LEGACY_REFUSED: &str = "v1/v2 signature refused: this workspace requires \
     X-HubSpot-Signature-v3 (set allowLegacySignatures to accept an older app)";

fn describe(e: &SignatureError) -> &'static str {
    match e {
        SignatureError::Missing => "missing signature",
        SignatureError::BadTimestamp => "missing or malformed X-HubSpot-Request-Timestamp",
        SignatureError::Expired => "timestamp older than 5 minutes",
        SignatureError::FromTheFuture => "timestamp in the future",
        SignatureError::Mismatch => "signature does not match",
    }
}

/// One app's verdict. Without the v3 header, v1/v2 are checked only when the app's
/// workspace opted in: they carry no timestamp (a captured request replays
/// forever) and v1 does not cover the URL.
fn check(
    req: &SignedRequest<'_>,
    secret: &str,
    allow_legacy: bool,
    now_ms: i64,
) -> Result<SignatureVersion, &'static str> {
    if req.signature_v3.is_none() && req.signature.is_some() && !allow_legacy {
        return Err(LEGACY_REFUSED);
    }
    verify_request(req, secret, now_ms).map_err(|e| describe(&e))
}

/// Checks the request against the apps of every portal its events name.
///
/// A portal no connector knows is skipped (reported in `unknown_portals`); a batch
/// naming only unknown portals is refused. Every known portal must verify under
/// the app of at least one of its connectors' workspaces whose app id is the
/// events' `appId`. A refusal is attributed to such a workspace (one whose app id
/// matched, so a wrong secret shows in that admin's log) and to no workspace when
/// no app id matched or the portal is unknown.
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
    // Verification result per distinct secret and policy: a multi-portal batch
    // signed with one app secret is checked once.
    let mut checked: HashMap<(String, bool), Result<SignatureVersion, &'static str>> =
        HashMap::new();
    let mut targets = HashMap::new();
    let mut unknown_portals = BTreeSet::new();
    let mut version = None;

    for portal in portals {
        let connectors = directory.connectors(state, portal, fresh).await?;
        if connectors.is_empty() {
            unknown_portals.insert(portal);
            continue;
        }
        let app_ids: BTreeSet<u64> = events
            .iter()
            .filter(|e| e.portal_id == portal)
            .map(|e| e.app_id)
            .collect();

        let mut portal_targets = Vec::new();
        let mut app_known = false;
        let mut matched_workspace = None;
        let mut last_error = describe(&SignatureError::Mismatch);
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
                matched_workspace.get_or_insert(c.workspace_id);
            }
            app_known = true;
            let Some(secret) = &app.secret else { continue };
            let secret = secret.expose_secret();
            let outcome = *checked
                .entry((secret.to_owned(), app.allow_legacy))
                .or_insert_with(|| check(req, secret, app.allow_legacy, now_ms));
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
                workspace_id: None,
            }));
        }
        if portal_targets.is_empty() {
            return Ok(Err(Rejection {
                reason: format!("{last_error} (portal {portal})"),
                workspace_id: matched_workspace,
            }));
        }
        targets.insert(portal, portal_targets);
    }
    match version {
        Some(version) => Ok(Ok(Verified {
            targets,
            version,
            unknown_portals,
        })),
        // No known portal (or, unreachably, no event): refuse rather than trust.
        None => Ok(Err(Rejection {
            reason: format!("unknown portal {}: no connector", join(&unknown_portals)),
            workspace_id: None,
        })),
    }
}

/// `1,2,3`.
pub fn join(portals: &BTreeSet<u64>) -> String {
    portals
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
