//! The OAuth connect flow driven as a browser drives it, against the sandbox over
//! HTTP: authorize, the sandbox's consent form (second of two portals), the
//! callback; refreshes with 2-second tokens; revocation at HubSpot and reconnect;
//! bad, reused, expired and foreign states, Deny and a bad code store nothing;
//! disconnect revokes the refresh token and keeps links.

use std::time::Duration;

use keva_core::JobState;
use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::SandboxConfig;
use keva_server::api::crm::oauth::hash_state;
use keva_store::Backend;
use reqwest::{Client, Method};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::harness::{eventually, parts, TestApp};

pub(crate) const SECOND_PORTAL: u64 = 70_000_002;

/// A browser that does not follow redirects (each hop is checked).
fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// A service with OAuth configured for the sandbox's app, on a sandbox with two
/// portals.
pub(crate) async fn oauth_app(backend: Backend) -> TestApp {
    let base = TestApp::builder(backend)
        .sandbox_config(SandboxConfig {
            extra_portals: vec![SECOND_PORTAL],
            control: ControlConfig::without_rate_limits(),
            ..SandboxConfig::default()
        })
        .build()
        .await;
    let (id, secret) = (base.sb().client_id(), base.sb().client_secret());
    let app = base
        .instance_with(move |s| {
            s.server.hubspot_client_id = Some(id);
            s.server.hubspot_client_secret = Some(SecretString::from(secret));
        })
        .await;
    drop(base);
    app
}

/// Starts the flow with `key`'s workspace and clicks `button` on HubSpot's page
/// (choosing the second portal); the redirect's location.
async fn consent_as(app: &TestApp, key: &str, button: &str) -> String {
    let auth = authorize(app, key, json!({})).await;
    let url = auth["authorizeUrl"].as_str().unwrap();
    consent(app, url, button, SECOND_PORTAL).await
}

/// `POST /api/crm/hubspot/oauth/authorize` with `key`.
async fn authorize(app: &TestApp, key: &str, body: Value) -> Value {
    let (s, v) = parts(
        app.http
            .post(format!("{}/api/crm/hubspot/oauth/authorize", app.url))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// Opens `authorize_url` and submits the consent form with `button` on `portal`;
/// returns the redirect (the callback URL with code/error and state).
async fn consent(app: &TestApp, authorize_url: &str, button: &str, portal: u64) -> String {
    let location = keva_sandbox::consent::decide(authorize_url, portal, button)
        .await
        .unwrap();
    assert!(
        location.starts_with(&format!("{}/integrations/hubspot/callback?", app.url)),
        "{location}"
    );
    location
}

/// Follows the callback as a browser: a 303 back to returnTo. Returns the
/// redirect's query.
async fn follow(location: &str) -> (String, Vec<(String, String)>) {
    let resp = browser().get(location).send().await.unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
    let to = resp.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(&format!("http://x{to}")).unwrap();
    (
        url.path().to_string(),
        url.query_pairs().into_owned().collect(),
    )
}

/// The callback with `Accept: application/json`.
async fn follow_json(location: &str) -> (u16, Value) {
    parts(
        browser()
            .get(location)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn q<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The whole flow with the second portal; returns the callback's JSON.
async fn connect_second_portal(app: &TestApp) -> Value {
    let location = consent_as(app, &app.key, "approve").await;
    let (s, v) = follow_json(&location).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn connector_view(app: &TestApp, id: &str) -> Value {
    app.expect(
        app.get(&format!("/api/crm/hubspot/connectors/{id}")),
        200,
        "connector",
    )
    .await
}

/// The connector's saved contact mappings, as the API shows them.
async fn mappings_of(app: &TestApp, id: &str) -> Value {
    let path = format!("/api/crm/hubspot/mappings?connectorId={id}");
    app.expect(app.get(&path), 200, "mappings").await
}

/// No connector in the workspace, nor on the second portal in any workspace.
async fn assert_nothing_connected(app: &TestApp) {
    assert!(connectors(app).await.is_empty());
    let portal = i64::try_from(SECOND_PORTAL).unwrap();
    let anywhere = app.store.connectors_by_portal(portal).await.unwrap();
    assert!(anywhere.is_empty(), "{anywhere:?}");
}

async fn connectors(app: &TestApp) -> Vec<Value> {
    let v = app
        .expect(app.get("/api/crm/hubspot/connectors"), 200, "connectors")
        .await;
    v["data"].as_array().cloned().unwrap_or_default()
}

async fn oauth_approve_with_the_second_portal_connects_and_syncs_through_refreshes(app: TestApp) {
    let auth = authorize(
        &app,
        &app.key,
        json!({"returnTo": "/settings/integrations/hubspot?tab=1"}),
    )
    .await;
    let url = auth["authorizeUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", app.sb().url())),
        "{url}"
    );
    let parsed = reqwest::Url::parse(url).unwrap();
    let query: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q(&query, "client_id"), Some(app.sb().client_id().as_str()));
    assert_eq!(
        q(&query, "redirect_uri").unwrap(),
        format!("{}/integrations/hubspot/callback", app.url)
    );
    let scope = q(&query, "scope").unwrap();
    for s in [
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.schemas.contacts.read",
        "crm.objects.companies.read",
        "crm.objects.deals.read",
    ] {
        assert!(scope.split(' ').any(|x| x == s), "{scope}");
    }
    assert_eq!(
        q(&query, "optional_scope"),
        Some("crm.schemas.contacts.write")
    );
    assert_eq!(q(&query, "state"), auth["state"].as_str());
    assert!(auth["state"].as_str().unwrap().len() >= 22);

    // Short tokens from the start: the install's token lives 2 s too.
    app.sb()
        .control()
        .tokens
        .set_token_lifetime(Duration::from_secs(2));
    let location = consent(&app, url, "approve", SECOND_PORTAL).await;
    let (path, back) = follow(&location).await;
    assert_eq!(path, "/settings/integrations/hubspot");
    assert_eq!(q(&back, "tab"), Some("1"));
    assert_eq!(q(&back, "hubspot"), Some("connected"), "{back:?}");
    assert_eq!(
        q(&back, "portalId"),
        Some(SECOND_PORTAL.to_string().as_str())
    );
    let id = q(&back, "connectorId").unwrap().to_string();

    let c = connector_view(&app, &id).await;
    assert_eq!(c["portalId"], SECOND_PORTAL, "{c}");
    assert_eq!(c["authKind"], "oauth");
    assert_eq!(c["status"], "connected");
    assert!(c["reconnectUrl"].is_null(), "{c}");
    assert!(c["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "crm.objects.contacts.write"));
    assert!(c["connectedUser"].is_string(), "{c}");
    // The state is single-use: the same callback again is refused.
    let (s, v) = follow_json(&location).await;
    assert_eq!(
        (s, v["reason"].as_str()),
        (400, Some("invalid_state")),
        "{v}"
    );

    // Syncs keep working for a minute through refreshes of 2-second tokens.
    let first = app
        .store
        .connector_tokens(app.workspace_id, id.parse().unwrap())
        .await
        .unwrap();
    let soak = std::time::Instant::now();
    let mut customers = Vec::new();
    let mut i = 0;
    while soak.elapsed() < Duration::from_secs(60) {
        let c = app
            .create_customer(json!({"email": format!("soak{i}@example.com")}))
            .await;
        customers.push(c["id"].as_str().unwrap().to_string());
        i += 1;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    app.settle().await;
    for c in &customers {
        let crm = app.crm(c).await;
        assert_eq!(crm["status"], "synced", "{crm}");
    }
    assert!(app.jobs_in(Some(JobState::Failed)).await.is_empty());
    assert!(app.jobs_in(Some(JobState::Dead)).await.is_empty());
    let later = app
        .store
        .connector_tokens(app.workspace_id, id.parse().unwrap())
        .await
        .unwrap();
    assert_ne!(
        first.access_token.expose_secret(),
        later.access_token.expose_secret(),
        "refreshed tokens are persisted"
    );
    assert!(later.expires_at > first.expires_at);
    let c = connector_view(&app, &id).await;
    assert_eq!(c["status"], "connected", "{c}");
}

async fn oauth_revocation_needs_reconnection_and_a_reconnect_keeps_mappings_and_links(
    app: TestApp,
) {
    let done = connect_second_portal(&app).await;
    assert_eq!(done["reconnected"], false);
    let id = done["connectorId"].as_str().unwrap().to_string();
    let customer = app
        .synced_customer(json!({"email": "kept@example.com"}))
        .await;
    let linked = app.crm(&customer).await;
    let mappings_before = mappings_of(&app, &id).await;

    // The user uninstalls the app in HubSpot: the refresh token stops working.
    app.sb()
        .control()
        .tokens
        .set_token_lifetime(Duration::from_secs(1));
    let path = format!(
        "/_sandbox/apps/{}/installs/{SECOND_PORTAL}",
        app.sb().app_id()
    );
    let (s, v) = parts(
        app.http
            .delete(format!("{}{path}", app.sb().url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!((200..300).contains(&s), "{s} {v}");
    // Force a refresh: the stored access token is made stale.
    let tokens = app
        .store
        .connector_tokens(app.workspace_id, id.parse().unwrap())
        .await
        .unwrap();
    app.store
        .update_connector_tokens(
            id.parse().unwrap(),
            &keva_store::ConnectorTokens {
                access_token: SecretString::from("stale"),
                refresh_token: tokens.refresh_token.clone(),
                expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(1)),
            },
        )
        .await
        .unwrap();
    app.state.clients.invalidate(id.parse().unwrap());
    app.edit_customer(&customer, json!({"phone": "+1 555 0100"}))
        .await;
    let c = eventually(15, "needs_reconnection", || async {
        let c = connector_view(&app, &id).await;
        (c["status"] == "needs_reconnection").then_some(c)
    })
    .await;
    assert!(
        c["statusReason"].as_str().is_some_and(|r| !r.is_empty()),
        "{c}"
    );
    assert!(
        c["reconnectUrl"]
            .as_str()
            .is_some_and(|u| u.ends_with("/api/crm/hubspot/oauth/authorize")),
        "{c}"
    );

    // Reconnect: the same connector, connected, mappings and links kept.
    let again = connect_second_portal(&app).await;
    assert_eq!(again["connectorId"], id.as_str(), "{again}");
    assert_eq!(again["reconnected"], true);
    let c = connector_view(&app, &id).await;
    assert_eq!(c["status"], "connected", "{c}");
    assert!(c["statusReason"].is_null(), "{c}");
    assert_eq!(connectors(&app).await.len(), 1);
    let mappings_after = mappings_of(&app, &id).await;
    assert_eq!(mappings_before["mappings"], mappings_after["mappings"]);
    let crm = app.crm(&customer).await;
    assert_eq!(crm["hubspotId"], linked["hubspotId"], "{crm}");
}

async fn oauth_bad_states_deny_and_bad_codes_store_nothing(app: TestApp) {
    let cb = format!("{}/integrations/hubspot/callback", app.url);
    // Unknown state (JSON and page).
    let (s, v) = follow_json(&format!("{cb}?code=x&state=nope")).await;
    assert_eq!(
        (s, v["reason"].as_str()),
        (400, Some("invalid_state")),
        "{v}"
    );
    let page = browser()
        .get(format!("{cb}?code=x&state=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("invalid_state"));
    let (s, _) = follow_json(&format!("{cb}?code=x")).await;
    assert_eq!(s, 400);

    // Expired state.
    app.store
        .insert_oauth_state(
            &hash_state("old-state"),
            app.workspace_id,
            None,
            chrono::Utc::now() - chrono::Duration::seconds(1),
            None,
        )
        .await
        .unwrap();
    let (s, v) = follow_json(&format!("{cb}?code=x&state=old-state")).await;
    assert_eq!(
        (s, v["reason"].as_str()),
        (400, Some("expired_state")),
        "{v}"
    );

    // Deny: back to returnTo with the reason; the state is used up.
    let location = consent_as(&app, &app.key, "deny").await;
    assert!(location.contains("error=access_denied"), "{location}");
    let (path, back) = follow(&location).await;
    assert_eq!(path, "/settings/integrations/hubspot");
    assert_eq!(q(&back, "hubspot"), Some("error"));
    assert_eq!(q(&back, "reason"), Some("access_denied"));
    let (s, v) = follow_json(&location).await;
    assert_eq!(
        (s, v["reason"].as_str()),
        (400, Some("invalid_state")),
        "{v}"
    );

    // A code HubSpot rejects.
    let auth = authorize(&app, &app.key, json!({})).await;
    let (s, v) = follow_json(&format!(
        "{cb}?code=bogus&state={}",
        auth["state"].as_str().unwrap()
    ))
    .await;
    assert_eq!(
        (s, v["reason"].as_str()),
        (400, Some("code_rejected")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("rejected"), "{v}");

    // A state of another workspace connects that workspace, never this one.
    let other_key = app.key_for("other").await;
    let location = consent_as(&app, &other_key, "approve").await;
    let (s, v) = follow_json(&location).await;
    assert_eq!(s, 200, "{v}");
    assert!(connectors(&app).await.is_empty());
    // This workspace connecting the same portal is allowed and reported.
    let mine = connect_second_portal(&app).await;
    assert_eq!(mine["otherWorkspaces"], 1, "{mine}");
    assert_eq!(connectors(&app).await.len(), 1);

    // returnTo must be a same-origin path.
    for bad in ["//evil.example", "https://evil.example/x", "evil"] {
        let (s, v) = parts(
            app.post("/api/crm/hubspot/oauth/authorize", json!({"returnTo": bad}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
}

async fn oauth_denied_bad_code_and_expired_leave_no_connector(app: TestApp) {
    // Nothing from the failures above is stored: a fresh app, failures only.
    let cb = format!("{}/integrations/hubspot/callback", app.url);
    let location = consent_as(&app, &app.key, "deny").await;
    let (_, back) = follow(&location).await;
    assert_eq!(q(&back, "reason"), Some("access_denied"));
    let auth = authorize(&app, &app.key, json!({})).await;
    let (s, _) = follow_json(&format!(
        "{cb}?code=bogus&state={}",
        auth["state"].as_str().unwrap()
    ))
    .await;
    assert_eq!(s, 400);
    assert_nothing_connected(&app).await;
}

async fn oauth_disconnect_revokes_and_a_later_connect_resumes(app: TestApp) {
    let done = connect_second_portal(&app).await;
    let id = done["connectorId"].as_str().unwrap().to_string();
    let customer = app
        .synced_customer(json!({"email": "bye@example.com"}))
        .await;
    let linked = app.crm(&customer).await;
    let old = app
        .store
        .connector_tokens(app.workspace_id, id.parse().unwrap())
        .await
        .unwrap();
    let refresh = old.refresh_token.unwrap();

    let v = app
        .expect(
            app.delete(&format!("/api/crm/hubspot/connectors/{id}")),
            200,
            "disconnect",
        )
        .await;
    assert_eq!(v["revoked"], true, "{v}");
    assert_eq!(v["connector"]["status"], "disconnected", "{v}");
    assert!(v["connector"]["reconnectUrl"].is_string(), "{v}");
    // The sandbox refuses the old refresh token.
    let (s, body) = parts(
        browser()
            .post(format!("{}/oauth/v1/token", app.sb().url()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", app.sb().client_id().as_str()),
                ("client_secret", app.sb().client_secret().as_str()),
                ("refresh_token", refresh.expose_secret()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["status"], "BAD_REFRESH_TOKEN", "{body}");
    // Tokens deleted; no job runs for it.
    assert!(app
        .store
        .connector_tokens(app.workspace_id, id.parse().unwrap())
        .await
        .is_err());
    app.edit_customer(&customer, json!({"phone": "+1 555 0199"}))
        .await;
    app.settle().await;
    assert_eq!(app.busy_jobs().await, 0);

    // Connecting the portal again resumes the same connector and its link.
    let again = connect_second_portal(&app).await;
    assert_eq!(again["connectorId"], id.as_str(), "{again}");
    assert_eq!(again["reconnected"], true);
    let c = connector_view(&app, &id).await;
    assert_eq!(c["status"], "connected", "{c}");
    assert_eq!(app.crm(&customer).await["hubspotId"], linked["hubspotId"]);
}

async fn oauth_authorize_without_configuration_says_what_to_set(app: TestApp) {
    let (s, v) = parts(
        app.post("/api/crm/hubspot/oauth/authorize", json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 503, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HUBSPOT_CLIENT_ID"),
        "{v}"
    );
    let _ = Method::GET;
}

async fn oauth_missing_required_scopes_connect_nothing_and_name_them(app: TestApp) {
    // The portal lets the app read contacts only: writing them is not granted.
    let app_id = app.sb().app_id();
    app.sandbox_ok(
        Method::PUT,
        &format!("/_sandbox/apps/{app_id}/scopes"),
        Some(json!({"scopes": ["oauth", "crm.objects.contacts.read"]})),
        200,
    )
    .await;
    let location = consent_as(&app, &app.key, "approve").await;
    let (s, v) = follow_json(&location).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["reason"], "missing_scopes", "{v}");
    let missing: Vec<&str> = v["missingScopes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(missing.contains(&"crm.objects.contacts.write"), "{v}");
    assert!(!missing.contains(&"crm.objects.contacts.read"), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("crm.objects.contacts.write"),
        "the page names them: {v}"
    );
    assert_nothing_connected(&app).await;
}

keva_store::backend_tests!(with = super::oauth_app;
    oauth_approve_with_the_second_portal_connects_and_syncs_through_refreshes,
    oauth_revocation_needs_reconnection_and_a_reconnect_keeps_mappings_and_links,
    oauth_bad_states_deny_and_bad_codes_store_nothing,
    oauth_denied_bad_code_and_expired_leave_no_connector,
    oauth_disconnect_revokes_and_a_later_connect_resumes,
    oauth_missing_required_scopes_connect_nothing_and_name_them,
);

mod unconfigured {
    keva_store::backend_tests!(with = crate::harness::sandboxed;
        oauth_authorize_without_configuration_says_what_to_set,
    );
    use super::oauth_authorize_without_configuration_says_what_to_set;
}
